"""OpenAI embeddings as docpipe uses them: dimensions, the SDK's base64 default, batching, and
usage turned into cost."""

from __future__ import annotations

import dataclasses
import json

import httpx2
import pytest

from docpipe.chunking import count_tokens
from docpipe.costs import Costs
from docpipe.ingest import Embedder
from docpipe.resilience import RateLimiter
from tests.integration.docpipe_kit import pdf, running_app, settings_for, sign_up

pytestmark = pytest.mark.contracttape

TEXTS = ["invoice total due", "payment within thirty days", "lease deposit", "tenant address", "late fees"]


async def test_dimensions_base64_default_and_usage_cost(docpipe_env: dict[str, str]) -> None:
    settings = settings_for(docpipe_env)
    sent: list[dict[str, object]] = []

    async def capture(request: httpx2.Request) -> None:
        sent.append(json.loads(request.content))

    embedder = Embedder(settings, RateLimiter(50))
    embedder.client = embedder.client.with_options(
        http_client=httpx2.AsyncClient(event_hooks={"request": [capture]})
    )
    try:
        vectors, tokens = await embedder.embed(TEXTS[:2])
    finally:
        await embedder.aclose()
    assert [len(v) for v in vectors] == [1536, 1536]
    assert sent[0]["encoding_format"] == "base64"  # what the SDK sends unless told otherwise
    assert tokens == sum(count_tokens(t) for t in TEXTS[:2])
    assert Costs(settings).embed_cost(tokens) == pytest.approx(tokens * 0.02 / 1_000_000)


async def test_chunks_are_embedded_in_batches(docpipe_env: dict[str, str]) -> None:
    user = sign_up(docpipe_env, "batches@example.com")
    settings = dataclasses.replace(settings_for(docpipe_env), embed_batch=2, chunk_tokens=12)
    pages = [f"# Part {n}\n\n{text}" for n, text in enumerate(TEXTS, 1)]
    async with running_app(settings) as app:
        document = await app.upload(user, "batched.pdf", pdf(*pages))
        answer = (await app.ingest(user, document["id"])).json()
    assert answer["document"]["chunk_count"] == 5
    assert (answer["embedded"], answer["embed_calls"]) == (5, 3)  # 2 + 2 + 1
