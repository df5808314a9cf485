"""What real clients and real recordings showed the OpenAI stand-in got wrong (round 2)."""

from __future__ import annotations

import gzip

import httpx
import openai
import pytest

from contracttape.sandbox import Sandbox
from contracttape.services.openai import go_duration


def test_embeddings_arrive_gzip_compressed_when_the_client_accepts_it(sandbox: Sandbox) -> None:
    env = sandbox.env()
    url = f"{env['OPENAI_BASE_URL']}/embeddings"
    headers = {"authorization": f"Bearer {env['OPENAI_API_KEY']}"}
    body = {"model": "text-embedding-3-small", "input": "compress me"}
    with httpx.Client() as client:
        raw = client.post(url, json=body, headers={**headers, "accept-encoding": "gzip"})
        plain = client.post(url, json=body, headers={**headers, "accept-encoding": "identity"})
    assert raw.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert raw.json()["data"][0]["embedding"] == plain.json()["data"][0]["embedding"]
    assert int(raw.headers["content-length"]) < len(plain.content)
    with pytest.raises(gzip.BadGzipFile):  # httpx decoded it: what arrived was gzip
        gzip.decompress(raw.content)


def test_the_sdk_decodes_compressed_answers(oai: openai.OpenAI) -> None:
    raw = oai.embeddings.with_raw_response.create(model="text-embedding-3-small", input="x")
    assert raw.headers["content-encoding"] == "gzip"  # the SDK sends accept-encoding: gzip, deflate
    assert len(raw.parse().data[0].embedding) == 1536


def test_streams_are_not_compressed(oai: openai.OpenAI) -> None:
    raw = oai.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "stream"}], stream=True
    )
    assert "content-encoding" not in raw.headers
    assert raw.headers["content-type"].startswith("text/event-stream")


@pytest.mark.parametrize(
    ("seconds", "written"),
    [(0.006, "6ms"), (0.012, "12ms"), (8.64, "8.64s"), (90, "1m30s"), (1396.298, "23m16.298s"), (1, "1s")],
)
def test_reset_durations_are_written_as_go_durations(seconds: float, written: str) -> None:
    assert go_duration(seconds) == written


def test_the_reset_header_is_a_go_duration(oai: openai.OpenAI) -> None:
    raw = oai.embeddings.with_raw_response.create(model="text-embedding-3-small", input="x")
    assert raw.headers["x-ratelimit-reset-requests"] == "6ms"  # 60 s / 10,000 requests


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18"),
        ("gpt-4o", "gpt-4o-2024-08-06"),
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
    ],
)
def test_a_model_family_answers_with_its_dated_snapshot(
    oai: openai.OpenAI, asked: str, answered: str
) -> None:
    chat = oai.chat.completions.create(model=asked, messages=[{"role": "user", "content": "hi"}])
    assert chat.model == answered
    chunks = list(
        oai.chat.completions.create(model=asked, messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    assert {c.model for c in chunks} == {answered}


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/completions"), ("POST", "/v1/responses"), ("GET", "/v1/files"), ("GET", "/v1/embeddings")],
)
def test_unknown_routes_answer_like_the_real_service(sandbox: Sandbox, method: str, path: str) -> None:
    env = sandbox.env()
    origin = env["OPENAI_BASE_URL"].removesuffix("/v1")
    with httpx.Client() as client:
        no_key = client.request(method, f"{origin}{path}", json={})
        found = client.request(
            method, f"{origin}{path}", json={}, headers={"authorization": f"Bearer {env['OPENAI_API_KEY']}"}
        )
    assert no_key.status_code == 401  # the key is checked first
    assert found.status_code == 404
    assert found.headers["content-type"] == "application/json; charset=utf-8"
    assert found.json() == {
        "error": {
            "message": f"Invalid URL ({method} {path})",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_unknown_routes_through_the_sdk_are_not_found_errors(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match=r"Invalid URL \(POST /v1/responses\)"):
        oai.responses.create(model="gpt-4o-mini", input="hi")


def test_errors_carry_the_real_content_type(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        oai.embeddings.create(model="no-such-model", input="x")
    assert info.value.response.headers["content-type"] == "application/json; charset=utf-8"
