"""Cassettes in every layout vcrpy has written, replayed by the real OpenAI SDK and contracted.

Each file is written here by hand, following vcrpy's own serializers and changelog (not by
re-recording): the httpx stubs' ``{status_code, http_version, headers, content}`` of 2023,
gzip and brotli bodies kept as ``!!binary`` with their ``Content-Encoding``, a body stored
decoded while still labelled gzip, headers written as plain strings, aiohttp's ``url`` key, and
a status without a reason phrase (before vcrpy 8.2). None has a ``contracttape:`` block.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import brotli
import openai
import pytest
import yaml

from contracttape import RecordMode, TapeSession
from contracttape.cassettes import CassetteCache
from contracttape.contracts.book import ContractBook, contracts_from, observations_in
from contracttape.services import default_catalogue

ROOT = Path(__file__).resolve().parents[2]
EMBEDDING = [0.25, -0.5, 0.125]
ANSWER = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": EMBEDDING}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 1, "total_tokens": 1},
}
PAYLOAD = json.dumps(ANSWER).encode()
REQUEST = {
    "method": "POST",
    "uri": "https://api.openai.com/v1/embeddings",
    "body": json.dumps({"input": "hello", "model": "text-embedding-3-small", "encoding_format": "float"}),
    "headers": {"Content-Type": ["application/json"], "Authorization": ["Bearer sk-redacted"]},
}


def standard(body: Any, headers: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"status": status or {"code": 200, "message": "OK"}, "headers": headers, "body": {"string": body}}


LAYOUTS: dict[str, Callable[[], dict[str, Any]]] = {
    "httpx-before-2024": lambda: {
        "status_code": 200,
        "http_version": "HTTP/1.1",
        "headers": {"content-type": ["application/json"]},
        "content": PAYLOAD.decode(),
    },
    "gzip-binary": lambda: standard(
        gzip.compress(PAYLOAD, mtime=0), {"Content-Type": ["application/json"], "Content-Encoding": ["gzip"]}
    ),
    "brotli-binary": lambda: standard(
        brotli.compress(PAYLOAD), {"Content-Type": ["application/json"], "Content-Encoding": ["br"]}
    ),
    "decoded-but-labelled-gzip": lambda: standard(
        PAYLOAD.decode(),
        {"Content-Type": ["application/json"], "Content-Encoding": ["gzip"], "Content-Length": ["57"]},
    ),
    "headers-as-strings": lambda: standard(PAYLOAD.decode(), {"Content-Type": "application/json"}),
    "aiohttp": lambda: {
        **standard(PAYLOAD.decode(), {"Content-Type": ["application/json"]}),
        "url": "https://api.openai.com/v1/embeddings",
    },
    "no-reason-phrase": lambda: standard(
        PAYLOAD.decode(), {"content-type": ["application/json"]}, {"code": 200}
    ),
}


def write(path: Path, response: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"interactions": [{"request": REQUEST, "response": response}], "version": 1}
    path.write_text(yaml.dump(document))  # bytes become !!binary, as vcrpy writes them
    return path


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_each_layout_replays_through_the_openai_sdk(tmp_path: Path, layout: str) -> None:
    cassette = write(tmp_path / f"{layout}.yaml", LAYOUTS[layout]())
    text = cassette.read_text()
    assert "contracttape" not in text
    with (
        TapeSession(cassette, mode=RecordMode.NONE, test_id=layout) as tape,
        openai.OpenAI(base_url="https://api.openai.com/v1", api_key="sk-replay", max_retries=0) as client,
    ):
        result = client.embeddings.create(
            model="text-embedding-3-small", input="hello", encoding_format="float"
        )
    tape.check()
    assert result.data[0].embedding == EMBEDDING
    assert cassette.read_text() == text  # played, never rewritten


def test_every_layout_is_contracted_with_its_sample(tmp_path: Path) -> None:
    for layout, build in LAYOUTS.items():
        write(tmp_path / "cassettes" / f"{layout}.yaml", build())
    observations = observations_in(tmp_path / "cassettes", default_catalogue())
    contracts = contracts_from(observations)
    (contract,) = contracts.values()
    assert contract.endpoint.slug == "post_v1_embeddings__encoding_format=float__2xx"
    assert contract.samples == len(LAYOUTS)
    assert contract.schema["properties"]["data"]["type"] == "array"
    assert contract.schema["required"] == ["data", "model", "object", "usage"]


def test_a_2024_chat_answer_satisfies_the_committed_chat_contract(tmp_path: Path) -> None:
    """Built from few sandbox samples, the committed contract describes ``service_tier`` and
    ``annotations`` without demanding them; a real 2024 gpt-4o-mini answer had neither."""
    answer = {
        "id": "chatcmpl-9abc",
        "object": "chat.completion",
        "created": 1718000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi!", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10},
        "system_fingerprint": "fp_1",
    }
    request = {
        "method": "POST",
        "uri": "https://api.openai.com/v1/chat/completions",
        "body": json.dumps({"messages": [{"role": "user", "content": "hi"}], "model": "gpt-4o-mini"}),
        "headers": {"Content-Type": ["application/json"]},
    }
    path = tmp_path / "chat.yaml"
    document = {
        "interactions": [
            {
                "request": request,
                "response": standard(json.dumps(answer), {"Content-Type": ["application/json"]}),
            }
        ],
        "version": 1,
    }
    path.write_text(yaml.dump(document))
    book = ContractBook(ROOT / "contracts", default_catalogue())
    (interaction,) = CassetteCache().load(path).interactions  # type: ignore[union-attr]
    assert book.check_covered(interaction) == []
