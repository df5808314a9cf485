"""Plain httpx (sync and async) and requests: query order, JSON bodies, gzip, multipart."""

from __future__ import annotations

import hashlib

import httpx
import pytest
import requests

from contracttape import TapeSession

pytestmark = pytest.mark.contracttape


def test_httpx_sync_query_and_json(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        got = client.get("/echo", params={"b": "2", "a": "1"}).json()
        posted = client.post("/echo", json={"z": 1, "a": [1, 2]}).json()
    assert got["query"] == [["a", "1"], ["b", "2"]]
    assert posted["method"] == "POST"


async def test_httpx_async_gzip_embeddings(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, headers={"accept-encoding": "gzip"}) as client:
        response = await client.post("/v1/embeddings", json={"model": "m", "input": ["alpha", "beta"]})
    body = response.json()
    assert [len(d["embedding"]) for d in body["data"]] == [64, 64]
    assert body["data"][1]["embedding"][0] == 0.04


def test_multipart_upload_matches_by_parts(base_url: str) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 8
    files = {"file": ("report.pdf", pdf, "application/pdf")}
    with httpx.Client(base_url=base_url) as client:
        body = client.post("/upload", files=files, data={"tier": "fast"}).json()
    by_name = {p["name"]: p for p in body["parts"]}
    assert by_name["file"]["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert by_name["tier"]["value"] == "fast"


def test_requests_client(base_url: str, tape: TapeSession) -> None:
    response = requests.get(f"{base_url}/echo", params={"q": "x"}, timeout=10)
    assert response.json()["query"] == [["q", "x"]]
    if tape.replaying:  # urllib3's path through vcrpy is served by the same index as httpx's
        assert [i.request.describe() for i in tape.index.interactions] == [
            "GET http://loopback.contracttape.test/echo?q=x"
        ]
        assert tape.index.unused() == []
