"""The real openai SDK (httpx2 underneath): retries after a 500, sync and async."""

from __future__ import annotations

import openai
import pytest

from contracttape import TapeSession

pytestmark = pytest.mark.contracttape

FAKE_KEY = "sk-test-" + "k" * 32


def test_sdk_retries_a_500_then_succeeds(base_url: str, tape: TapeSession) -> None:
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key=FAKE_KEY, max_retries=2) as client:
        completion = client.chat.completions.create(
            model="flaky-model", messages=[{"role": "user", "content": "retry me"}]
        )
    assert completion.choices[0].message.content == "echo: retry me"
    if tape.replaying:
        # the SDK backed off before its retry; replay skipped that sleep instead of waiting
        assert tape.incidents.slept_seconds > 0
        assert [i.response.status for i in tape.index.interactions] == [500, 200]


async def test_async_sdk_chat_and_embeddings(base_url: str) -> None:
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key=FAKE_KEY, max_retries=0) as client:
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello there"}]
        )
        embedding = await client.embeddings.create(
            model="text-embedding-3-small", input="alpha", encoding_format="float"
        )
    assert completion.choices[0].message.content == "echo: hello there"
    assert len(embedding.data[0].embedding) == 64
