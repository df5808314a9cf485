"""docpipe's embedding step in unit tests, against contract-checked mocks (contracttape.mocks).

The mocked OpenAI answers are recorded ones (or OpenAI's own error answer), and each is checked
against the committed contract of ``POST /v1/embeddings``: a mock that drifts from the real API
fails here, not in production.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import httpx2
import openai
import pytest

from contracttape.errors import ContractViolation
from contracttape.mocks import ContractMocks
from docpipe.errors import PipelineError
from docpipe.ingest import Embedder
from docpipe.resilience import RateLimiter
from docpipe.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://api.openai.com/v1"
EMBEDDINGS = f"{BASE}/embeddings"
RECORDED = "openai POST /v1/embeddings [encoding_format=base64]"  # what the SDK asks for by default


@pytest.fixture
def mocks() -> ContractMocks:
    return ContractMocks.for_project(ROOT, where="docpipe::embedder")


def _embedder(mocks: ContractMocks, router: object, attempts: int = 3) -> Embedder:
    settings = Settings(
        supabase_url="http://supabase.invalid",
        supabase_anon_key="anon",
        openai_base_url=BASE,
        openai_api_key="sk-unit",
        llama_base_url="http://llama.invalid",
        llama_api_key="llx-unit",
        attempts=attempts,
    )
    embedder = Embedder(settings, RateLimiter(1000))
    embedder.client = openai.AsyncOpenAI(
        base_url=BASE,
        api_key="sk-unit",
        max_retries=attempts - 1,
        http_client=httpx2.AsyncClient(transport=mocks.httpx2(router)),  # type: ignore[arg-type]
    )
    return embedder


def test_a_recorded_answer_embeds_and_reports_the_billed_tokens(mocks: ContractMocks) -> None:
    recorded = mocks.recorded(endpoint=RECORDED)
    router = mocks.router()
    router.post(EMBEDDINGS).mock(return_value=recorded)
    vectors, tokens = asyncio.run(_embedder(mocks, router).embed(["a chunk"]))
    real = recorded.json()
    assert len(vectors) == len(real["data"])
    assert all(len(v) == 1536 for v in vectors)
    assert tokens == real["usage"]["total_tokens"]
    assert mocks.violations == []
    assert mocks.uncovered == []


def test_a_rate_limit_is_retried_by_the_sdk(mocks: ContractMocks) -> None:
    router = mocks.router()
    route = router.post(EMBEDDINGS).mock(
        side_effect=[
            mocks.error("POST", EMBEDDINGS, 429, retry_after=0.01),
            mocks.recorded(endpoint=RECORDED),
        ]
    )
    vectors, _ = asyncio.run(_embedder(mocks, router).embed(["a chunk"]))
    assert vectors
    assert route.call_count == 2
    # no 429 of this endpoint was ever recorded, so no error contract covers it: listed, not hidden
    assert mocks.uncovered == [f"POST {EMBEDDINGS}"]


def test_a_lasting_rate_limit_is_one_pipeline_error_with_openais_message(mocks: ContractMocks) -> None:
    router = mocks.router()
    route = router.post(EMBEDDINGS).mock(return_value=mocks.error("POST", EMBEDDINGS, 429, retry_after=0.01))
    with pytest.raises(PipelineError) as raised:
        asyncio.run(_embedder(mocks, router, attempts=2).embed(["a chunk"]))
    assert route.call_count == 2
    assert raised.value.step == "embed"
    assert "OpenAI answered 429 after 2 attempt(s)" in str(raised.value)
    assert "Rate limit" in str(raised.value)  # OpenAI's own error message, from the error answer


@pytest.mark.parametrize(
    "overrides",
    [
        {"data[0].embedding": "not a vector"},  # the SDK decodes base64: a string is legal here...
        {"usage.total_tokens": "twelve"},  # ...but usage must stay a number
        {"object": 7},
    ],
    ids=["string-embedding-is-base64", "usage-type", "object-type"],
)
def test_a_mock_that_drifts_from_the_contract_fails(
    mocks: ContractMocks, overrides: dict[str, object]
) -> None:
    router = mocks.router()
    router.post(EMBEDDINGS).mock(return_value=mocks.recorded(endpoint=RECORDED, overrides=overrides))
    if "data[0].embedding" in overrides:  # base64 answers carry strings: the contract allows it
        with pytest.raises((PipelineError, ValueError, TypeError)):
            asyncio.run(_embedder(mocks, router, attempts=1).embed(["a chunk"]))
        assert mocks.violations == []
        return
    with pytest.raises((ContractViolation, PipelineError)):
        asyncio.run(_embedder(mocks, router, attempts=1).embed(["a chunk"]))
    assert len(mocks.violations) == 1  # kept even though the SDK wrapped it: the fixture fails the test
    assert "POST /v1/embeddings" in str(mocks.violations[0])


def test_a_hand_written_answer_with_a_renamed_field_fails(mocks: ContractMocks) -> None:
    router = mocks.router()
    router.post(EMBEDDINGS).mock(
        return_value=httpx.Response(200, json={"object": "list", "vectors": [], "model": "m", "usage": {}})
    )
    with pytest.raises((ContractViolation, PipelineError, AttributeError, TypeError)):
        asyncio.run(_embedder(mocks, router, attempts=1).embed(["a chunk"]))
    assert mocks.violations, "a mock without 'data' must break the embeddings contract"
