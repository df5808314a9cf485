"""Contract-checked mocks: a mock that answers what the real API's contract forbids fails, one
built from a recording passes, an override that breaks the contract fails; through httpx (respx)
and through httpx2 (the openai SDK)."""

from __future__ import annotations

from pathlib import Path

import httpx
import httpx2
import openai
import pytest

from contracttape.errors import ConfigError, ContractViolation
from contracttape.mocks import ContractMocks

ROOT = Path(__file__).resolve().parents[2]
EMBEDDINGS = "https://api.openai.com/v1/embeddings"
FLOAT = {"model": "text-embedding-3-small", "input": "x", "encoding_format": "float"}


@pytest.fixture
def mocks() -> ContractMocks:
    return ContractMocks.for_project(ROOT, where="t::mocks")


def test_a_mock_the_contract_forbids_fails_with_the_replay_message(mocks: ContractMocks) -> None:
    with mocks.router() as router:
        # a renamed field's old name is allowed (few samples make no field required yet), but
        # a field of the wrong type never is
        router.post(EMBEDDINGS).mock(
            return_value=httpx.Response(200, json={"object": "list", "data": {"embedding": [0.1, 0.2]}})
        )
        with pytest.raises(ContractViolation) as info:
            httpx.post(EMBEDDINGS, json=FLOAT)
    message = str(info.value)
    assert message.startswith(
        "t::mocks: openai POST /v1/embeddings [encoding_format=float] 2xx: response violates"
    )
    assert "contract: " in message
    assert "post_v1_embeddings__encoding_format=float__2xx.schema.json" in message
    assert (
        "the mock for POST https://api.openai.com/v1/embeddings answers what the real API's contract forbids"
        in message
    )


def test_a_mock_built_from_a_recording_passes_and_an_override_is_checked(mocks: ContractMocks) -> None:
    recorded = mocks.recorded(endpoint="openai POST /v1/embeddings [encoding_format=float]")
    assert recorded.json()["object"] == "list"
    with mocks.router() as router:
        router.post(EMBEDDINGS).mock(
            return_value=mocks.recorded(
                endpoint="openai POST /v1/embeddings [encoding_format=float]",
                overrides={"data[0].embedding": [0.25] * 8},
            )
        )
        assert httpx.post(EMBEDDINGS, json=FLOAT).json()["data"][0]["embedding"] == [0.25] * 8
    with mocks.router() as router:
        router.post(EMBEDDINGS).mock(
            return_value=mocks.recorded(
                endpoint="openai POST /v1/embeddings [encoding_format=float]",
                overrides={"data[0].embedding": "not a vector"},
            )
        )
        with pytest.raises(ContractViolation, match=r"\$\.data\[0\]\.embedding"):
            httpx.post(EMBEDDINGS, json=FLOAT)


def test_the_openai_sdk_over_httpx2_is_checked_too(mocks: ContractMocks) -> None:
    router = mocks.router(assert_all_called=False)
    router.post(EMBEDDINGS).mock(
        return_value=mocks.recorded(endpoint="openai POST /v1/embeddings [encoding_format=base64]")
    )
    router.post("https://api.openai.com/v1/chat/completions").mock(
        return_value=httpx.Response(200, json={"id": "x", "choices": "none"})
    )
    client = openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx2.Client(transport=mocks.httpx2(router))
    )
    vectors = client.embeddings.create(model="text-embedding-3-small", input="x")
    assert len(vectors.data[0].embedding) == 1536
    with pytest.raises(ContractViolation, match=r"\$\.choices: 'none' is not of type 'array'"):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert len(mocks.violations) == 1  # kept: the plugin fails the test with it even if an SDK wraps it


def test_error_answers_are_the_services_own(mocks: ContractMocks) -> None:
    with mocks.router() as router:
        router.post(EMBEDDINGS).mock(return_value=mocks.error("POST", EMBEDDINGS, 429, retry_after=2))
        answer = httpx.post(EMBEDDINGS, json=FLOAT)
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "2"
    assert answer.json()["error"]["code"] == "rate_limit_exceeded"


def test_uncovered_endpoints_are_reported_or_refused(mocks: ContractMocks) -> None:
    with mocks.router() as router:
        router.get("https://api.openai.com/v1/files").mock(
            return_value=httpx.Response(200, json={"data": []})
        )
        httpx.get("https://api.openai.com/v1/files")
    assert mocks.uncovered == ["GET https://api.openai.com/v1/files"]
    strict = ContractMocks.for_project(ROOT, where="t::strict", uncovered="error")
    with strict.router() as router:
        router.get("https://api.openai.com/v1/files").mock(
            return_value=httpx.Response(200, json={"data": []})
        )
        with pytest.raises(ContractViolation, match="no committed contract covers that endpoint"):
            httpx.get("https://api.openai.com/v1/files")


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"endpoint": "openai GET /v1/nothing"}, "no recorded answer of 'openai GET /v1/nothing'"),
        ({"cassette": "nope/none.yaml"}, "no such cassette"),
        ({"cassette": "test_sandbox_services/test_openai_embeddings_and_chat.yaml", "index": 99}, "not #99"),
        ({}, "needs a cassette"),
        (
            {"endpoint": "openai POST /v1/embeddings [encoding_format=float]", "overrides": {"data[7].x": 1}},
            "has no 7 there",
        ),
    ],
)
def test_bad_requests_for_recordings_say_what_is_wrong(
    mocks: ContractMocks, kwargs: dict[str, object], says: str
) -> None:
    with pytest.raises(ConfigError, match=says):
        mocks.recorded(**kwargs)  # type: ignore[arg-type]
