"""Resilience, proven with the real SDKs: faults served in each service's own shape.

The SDKs' own retry logic recovers from injected 429s and 5xx, honouring Retry-After in virtual
time (the seconds they waited are asserted); a client that does not retry fails with the
service's own error type and message; timeouts and resets surface as the libraries' own
exceptions. Recorded once against the sandbox (the faulted calls were never sent), replayed in
every PR; a fault never consumes the recorded answer its retry gets.
"""

from __future__ import annotations

import json

import httpx
import httpx2
import llama_cloud
import openai
import pytest

from contracttape import TapeSession
from contracttape.faults import Fault, FaultPlan
from contracttape.pdf import make_pdf

pytestmark = pytest.mark.contracttape

EMBEDDINGS = {"service": "openai", "endpoint": "POST /v1/embeddings"}
CHAT = {"service": "openai", "endpoint": "POST /v1/chat/completions"}


def _openai(env: dict[str, str], **options: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], **options)  # type: ignore[arg-type]


def _waited(tape: TapeSession, faults: FaultPlan, expected: float) -> None:
    """In replay the sleeps are virtual and counted; recording, they were real."""
    if tape.replaying:
        assert faults.waited == pytest.approx(expected, abs=0.01)


@pytest.mark.contracttape(faults=[Fault(429, **EMBEDDINGS, first=2, retry_after=3)])
def test_openai_sdk_retries_two_429s_honouring_retry_after(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan, tape: TapeSession
) -> None:
    with _openai(contracttape_env) as client:  # max_retries=2 by default: three attempts
        vectors = client.embeddings.create(model="text-embedding-3-small", input="retry me")
    assert len(vectors.data[0].embedding) == 1536
    assert [d.outcome.split(" (")[0] for d in contracttape_faults.served] == ["answered 429"] * 2
    _waited(tape, contracttape_faults, 6.0)  # Retry-After: 3, twice


@pytest.mark.contracttape(faults=[Fault(503, **CHAT, first=1), Fault(502, **CHAT, first=2)])
async def test_async_openai_sdk_recovers_from_503_then_502(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan, tape: TapeSession
) -> None:
    env = contracttape_env
    async with openai.AsyncOpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"]) as client:
        chat = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "after two failures"}]
        )
    assert chat.choices[0].message.content == "Sandbox reply: after two failures"
    # call 1: the 503 (the 502 counts it too); call 2: the 502; call 3 reaches the answer
    assert [d.fault.kind for d in contracttape_faults.served] == [503, 502]
    if tape.replaying:  # the SDK's exponential backoff (0.5 s, 1 s, less up to 25% jitter)
        assert 0.375 * 3 <= contracttape_faults.waited <= 1.5


def test_openai_without_retries_fails_with_the_services_own_error(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan
) -> None:
    contracttape_faults.inject(429, **EMBEDDINGS, first=1, retry_after=20)
    contracttape_faults.inject(401, **CHAT, first=1)
    with _openai(contracttape_env, max_retries=0) as client:
        with pytest.raises(openai.RateLimitError) as limited:
            client.embeddings.create(model="text-embedding-3-small", input="no retry")
        with pytest.raises(openai.AuthenticationError) as refused:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        # the answer was kept for the next call: nothing was consumed by the fault
        assert client.embeddings.create(model="text-embedding-3-small", input="no retry").data
    assert limited.value.status_code == 429
    assert limited.value.code == "rate_limit_exceeded"
    assert "Rate limit reached for text-embedding-3-small" in str(limited.value)
    assert limited.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.value.code == "invalid_api_key"


@pytest.mark.contracttape(
    faults=[
        {"kind": "read_timeout", **EMBEDDINGS, "first": 1},
        {"kind": "reset", **CHAT, "first": 1},
        {"kind": "slow", "delay": 30, **EMBEDDINGS, "every": 2},
    ]
)
def test_openai_timeouts_and_resets_are_the_librarys_own_exceptions(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan, tape: TapeSession
) -> None:
    with _openai(contracttape_env, max_retries=0, timeout=5) as client:
        with pytest.raises(openai.APITimeoutError) as timed_out:
            client.embeddings.create(model="text-embedding-3-small", input="timeout")
        with pytest.raises(openai.APIConnectionError) as reset:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "reset"}]
            )
        with pytest.raises(openai.APITimeoutError) as too_slow:  # 30 s late, the client waits 5
            client.embeddings.create(model="text-embedding-3-small", input="timeout")
    assert isinstance(timed_out.value.__cause__, httpx2.ReadTimeout)
    assert isinstance(reset.value.__cause__, httpx2.ReadError)
    assert isinstance(too_slow.value.__cause__, httpx2.ReadTimeout)
    assert contracttape_faults.served[-1].outcome.startswith("read timeout after 5s")
    _waited(tape, contracttape_faults, 5.0)


@pytest.mark.contracttape(faults=[Fault("stream_cut", **CHAT, first=1), Fault("truncated", **EMBEDDINGS)])
def test_openai_cut_stream_and_truncated_body(contracttape_env: dict[str, str]) -> None:
    with _openai(contracttape_env, max_retries=0) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "a stream that stops"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)
        with pytest.raises(json.JSONDecodeError):  # what the SDK raises on a body cut short
            client.embeddings.create(model="text-embedding-3-small", input="cut")
        whole = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "a stream that stops"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Sandbox reply: a stream that stops".startswith(text)
    assert len(chunks) < len(whole)
    # what a caller must notice: no finish_reason and no usage ever arrived
    assert not any(c.choices and c.choices[0].finish_reason for c in chunks)
    assert all(c.usage is None for c in chunks)
    assert whole[-1].usage is not None


def test_supabase_rest_retries_a_503_and_a_reset_auth_fails_with_its_own_error(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan, tape: TapeSession
) -> None:
    from supabase import AuthApiError, create_client

    env = contracttape_env
    client = create_client(env["SUPABASE_URL"], env["SUPABASE_ANON_KEY"])
    contracttape_faults.inject(429, service="supabase", endpoint="POST /auth/v1/signup", first=1)
    with pytest.raises(AuthApiError) as limited:
        client.auth.sign_up({"email": "fault-user@example.com", "password": "a fault password"})
    assert limited.value.status == 429
    assert limited.value.code == "over_request_rate_limit"
    assert limited.value.message == "Request rate limit reached"
    session = client.auth.sign_up({"email": "fault-user@example.com", "password": "a fault password"})
    assert session.user is not None

    # postgrest-py retries GET on 503 and on network errors, after 1 s
    contracttape_faults.inject(503, method="GET", url=r"/rest/v1/documents", first=1)
    rows = client.table("documents").select("id").execute().data
    contracttape_faults.inject("reset", method="GET", url=r"/rest/v1/documents", first=1)
    again = client.table("documents").select("id").execute().data
    assert rows == again == []
    kinds = [d.fault.kind for d in contracttape_faults.served]
    assert kinds == [429, 503, "reset"]
    _waited(tape, contracttape_faults, 2.0)


def test_supabase_storage_error_is_storages_own(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan
) -> None:
    from storage3.exceptions import StorageApiError
    from supabase import create_client

    env = contracttape_env
    client = create_client(env["SUPABASE_URL"], env["SUPABASE_SERVICE_ROLE_KEY"])
    contracttape_faults.inject(500, service="supabase", url=r"/storage/v1/object/documents/", first=1)
    with pytest.raises(StorageApiError) as failed:
        client.storage.from_("documents").upload(
            "fault/x.pdf", make_pdf(["x"]), {"content-type": "application/pdf"}
        )
    assert failed.value.status == "500"
    assert failed.value.code == "internal"


@pytest.mark.contracttape(
    faults=[Fault(429, service="llamaparse", endpoint="POST /api/v2/parse/upload", first=1, retry_after=2)]
)
def test_llama_cloud_retries_a_429_honouring_retry_after(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan, tape: TapeSession
) -> None:
    env = contracttape_env
    with llama_cloud.LlamaCloud(
        base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"]
    ) as client:
        job = client.parsing.create(
            tier="fast", version="latest", upload_file=("one.pdf", make_pdf(["One page"]), "application/pdf")
        )
    assert job.id
    (served,) = contracttape_faults.served
    assert served.outcome.startswith("answered 429")
    _waited(tape, contracttape_faults, 2.0)


def test_plain_httpx_does_not_retry_and_says_so(
    contracttape_env: dict[str, str], contracttape_faults: FaultPlan
) -> None:
    contracttape_faults.inject(503, service="openai", endpoint="GET /v1/models", first=1)
    url = f"{contracttape_env['OPENAI_BASE_URL']}/models"
    headers = {"authorization": f"Bearer {contracttape_env['OPENAI_API_KEY']}"}
    response = httpx.get(url, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "The engine is currently overloaded, please try again later"
    with pytest.raises(httpx.HTTPStatusError, match="503 Service Unavailable"):
        response.raise_for_status()
    assert httpx.get(url, headers=headers).json()["object"] == "list"
