from __future__ import annotations

import math

import httpx
import openai
import pytest

from contracttape.sandbox import AI_SERVICES, Sandbox, SandboxConfig
from contracttape.tokenizer import count


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("model", "dimensions", "expected"),
    [
        ("text-embedding-3-small", None, 1536),
        ("text-embedding-3-large", None, 3072),
        ("text-embedding-3-small", 256, 256),
    ],
)
def test_embeddings_decode_to_the_right_dims(
    oai: openai.OpenAI, model: str, dimensions: int | None, expected: int
) -> None:
    kwargs = {"dimensions": dimensions} if dimensions else {}
    response = oai.embeddings.create(
        model=model, input=["alpha beta", "gamma"], **kwargs
    )  # SDK asks for base64
    assert [len(d.embedding) for d in response.data] == [expected, expected]
    assert math.isclose(sum(v * v for v in response.data[0].embedding), 1.0, rel_tol=1e-5)


def test_embeddings_are_stable_and_similar_texts_land_near(oai: openai.OpenAI) -> None:
    texts = ["invoice total due in march", "the invoice total is due in march", "penguins live in antarctica"]
    first = [d.embedding for d in oai.embeddings.create(model="text-embedding-3-small", input=texts).data]
    with Sandbox(SandboxConfig(), services=AI_SERVICES) as other:  # a second sandbox instance: same vectors
        env = other.env()
        with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"]) as client:
            again = [
                d.embedding
                for d in client.embeddings.create(model="text-embedding-3-small", input=texts).data
            ]
    assert all(
        math.isclose(a, b, abs_tol=1e-6)
        for x, y in zip(first, again, strict=True)
        for a, b in zip(x, y, strict=True)
    )
    assert cosine(first[0], first[1]) > 0.5 > cosine(first[0], first[2])


def test_float_format_and_token_array_inputs(oai: openai.OpenAI) -> None:
    response = oai.embeddings.create(
        model="text-embedding-3-small", input=[[9906, 1917]], encoding_format="float"
    )
    assert len(response.data[0].embedding) == 1536
    assert response.usage.prompt_tokens == 2


def test_usage_equals_tiktoken_count(oai: openai.OpenAI) -> None:
    texts = ["The quick brown fox jumps over the lazy dog.", "Überraschung! 数字 12345 tokens"]
    response = oai.embeddings.create(model="text-embedding-3-small", input=texts)
    assert response.usage.prompt_tokens == sum(count(t) for t in texts)
    assert response.usage.total_tokens == response.usage.prompt_tokens


def test_chat_completion_and_its_usage(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hi"}]
    )
    reply = completion.choices[0].message.content
    assert reply == "Sandbox reply: Say hi"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == count(reply)
    assert completion.choices[0].finish_reason == "stop"
    short = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hi"}], max_tokens=2
    )
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None
    assert short.usage.completion_tokens == 2


def test_streamed_chat_yields_chunks_then_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "stream me please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Sandbox reply: stream me please"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count(text)
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"


async def test_async_client(sandbox: Sandbox) -> None:
    env = sandbox.env()
    async with openai.AsyncOpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"]) as client:
        models = await client.models.list()
        response = await client.embeddings.create(model="text-embedding-3-small", input="x")
    assert "text-embedding-3-small" in [m.id for m in models.data]
    assert len(response.data[0].embedding) == 1536


def test_sdk_retry_recovers_from_a_429_with_retry_after() -> None:
    with Sandbox(SandboxConfig(openai_rpm=1), rate_window=1.0, services=AI_SERVICES) as limited:
        env = limited.env()
        with openai.OpenAI(
            base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=2
        ) as client:
            client.embeddings.create(model="text-embedding-3-small", input="first")
            raw = client.embeddings.with_raw_response.create(model="text-embedding-3-small", input="second")
        assert raw.retries_taken == 1  # the second call was refused once, waited retry-after, then passed
        with (
            openai.OpenAI(
                base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0
            ) as client,
            pytest.raises(openai.RateLimitError) as info,
        ):
            client.embeddings.create(model="text-embedding-3-small", input="third")
    assert info.value.code == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "1"
    assert "Rate limit reached for text-embedding-3-small" in info.value.message


def test_tokens_per_minute_and_quota() -> None:
    def refused(config: SandboxConfig, text: str) -> openai.RateLimitError:
        with Sandbox(config, services=AI_SERVICES) as limited:
            env = limited.env()
            with openai.OpenAI(
                base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0
            ) as client:
                client.embeddings.create(model="text-embedding-3-small", input="ok")
                with pytest.raises(openai.RateLimitError) as info:
                    client.embeddings.create(model="text-embedding-3-small", input=text)
        return info.value

    tpm = refused(SandboxConfig(openai_tpm=5), "one two three four five six seven")
    assert tpm.code == "rate_limit_exceeded"
    assert tpm.body["type"] == "tokens"  # type: ignore[index]
    quota = refused(SandboxConfig(openai_quota_tokens=10), "word " * 60)
    assert quota.code == "insufficient_quota"
    assert quota.body["type"] == "insufficient_quota"  # type: ignore[index]


@pytest.mark.parametrize(
    ("call", "status", "code", "param"),
    [
        (lambda c: c.embeddings.create(model="nope", input="x"), 404, "model_not_found", None),
        (
            lambda c: c.embeddings.create(model="text-embedding-3-small", input=["x"] * 2049),
            400,
            None,
            "input",
        ),
        (lambda c: c.embeddings.create(model="text-embedding-3-small", input=""), 400, None, "input"),
        (lambda c: c.embeddings.create(model="text-embedding-3-small", input=[""]), 400, None, "input"),
        (
            lambda c: c.embeddings.create(model="text-embedding-3-small", input="x " * 9000),
            400,
            None,
            "input",
        ),
        (
            lambda c: c.embeddings.create(model="text-embedding-ada-002", input="x", dimensions=8),
            400,
            None,
            "dimensions",
        ),
        (lambda c: c.chat.completions.create(model="gpt-4o-mini", messages=[]), 400, None, "messages"),
        (
            lambda c: c.chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "x"}]),
            404,
            "model_not_found",
            None,
        ),
    ],
)
def test_bad_input_gets_the_real_error_envelope(
    oai: openai.OpenAI, call, status: int, code: str | None, param: str | None
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(openai.APIStatusError) as info:
        call(oai)
    assert info.value.status_code == status
    assert info.value.code == code
    assert info.value.param == param
    assert info.value.type == "invalid_request_error"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"model": 5, "input": "x"}',
        b'{"model": "text-embedding-3-small", "input": {"a": 1}}',
        b'{"model": "text-embedding-3-small", "input": "x", "encoding_format": "hex"}',
    ],
)
def test_malformed_requests_never_500(sandbox: Sandbox, body: bytes) -> None:
    env = sandbox.env()
    response = httpx.post(
        f"{env['OPENAI_BASE_URL']}/embeddings",
        content=body,
        headers={"authorization": f"Bearer {env['OPENAI_API_KEY']}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("key", ["sk-proj-" + "a" * 40, "", "llx-" + "b" * 30])
def test_non_sandbox_keys_are_refused(sandbox: Sandbox, key: str) -> None:
    with (
        openai.OpenAI(base_url=sandbox.env()["OPENAI_BASE_URL"], api_key=key or "x", max_retries=0) as client,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        client.models.list()
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"


def test_headers_as_the_real_api_sends(oai: openai.OpenAI) -> None:
    raw = oai.embeddings.with_raw_response.create(model="text-embedding-3-small", input="x")
    for header in (
        "x-request-id",
        "openai-processing-ms",
        "openai-version",
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-requests",
    ):
        assert header in raw.headers
    assert raw.headers["x-request-id"].startswith("req_")
