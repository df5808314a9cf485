from __future__ import annotations

import gzip
import json
import zlib

import brotli
import pytest

from contracttape.bodies import decode_body
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.normalize import PINNED_EPOCH, PINNED_HTTP_DATE, Normaliser, pin_instant

PAYLOAD = b'{"b": 1, "a": "x"}'


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        pytest.param("gzip", gzip.compress(PAYLOAD, mtime=0), id="gzip"),
        pytest.param("deflate", zlib.compress(PAYLOAD), id="deflate"),
        pytest.param("br", brotli.compress(PAYLOAD), id="br"),
        pytest.param("identity", PAYLOAD, id="identity"),
        # urllib3 hands over bodies it already decoded
        pytest.param("gzip", PAYLOAD, id="gzip-already-decoded"),
    ],
)
def test_decode_body(coding: str, body: bytes) -> None:
    assert decode_body(body, (("Content-Encoding", coding),)) == PAYLOAD


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-03-04T05:06:07Z", "2026-01-01T00:00:00Z"),
        ("2025-03-04T05:06:07.123456+00:00", "2026-01-01T00:00:00.000000+00:00"),
        # PostgreSQL drops trailing zeros of microseconds: 4 to 6 digits are one shape
        ("2025-03-04T05:06:07.12345+00:00", "2026-01-01T00:00:00.000000+00:00"),
        ("2025-03-04T05:06:07.1234+00:00", "2026-01-01T00:00:00.000000+00:00"),
        ("2025-03-04T05:06:07.123Z", "2026-01-01T00:00:00.000Z"),  # milliseconds stay
        ("2025-03-04T05:06:07.123456789Z", "2026-01-01T00:00:00.000000000Z"),  # nanoseconds stay
        ("2025-03-04 05:06:07+0200", "2026-01-01 00:00:00+0000"),
        ("2025-03-04T05:06", "2026-01-01T00:00"),
        ("not a date", "not a date"),
        ("2025-03-04", "2025-03-04"),
    ],
)
def test_pin_instant_keeps_the_shape(value: str, expected: str) -> None:
    assert pin_instant(value) == expected


def test_response_on_disk_is_decoded_pretty_and_stable() -> None:
    raw = RecordedResponse(
        200,
        "OK",
        (
            ("x-request-id", "req_123"),
            ("Content-Encoding", "gzip"),
            ("content-length", "999"),
            ("date", "Tue, 03 Mar 2026 10:00:00 GMT"),
            ("content-type", "application/json"),
            ("x-ratelimit-limit-requests", "500"),
            ("x-ratelimit-remaining-requests", "497"),
            ("x-ratelimit-reset-requests", "120ms"),
        ),
        gzip.compress(json.dumps({"id": "x", "created": 1795000000, "at": "2025-01-01T10:00:00Z"}).encode()),
    )
    stored = Normaliser().response(raw)
    headers = dict(stored.headers)
    assert json.loads(stored.body) == {"id": "x", "created": PINNED_EPOCH, "at": "2026-01-01T00:00:00Z"}
    assert stored.body.startswith(b'{\n  "id"')
    assert "Content-Encoding" not in headers
    assert headers["content-length"] == str(len(stored.body))
    assert headers["date"] == PINNED_HTTP_DATE
    assert headers["x-request-id"] == "req_normalised"
    assert headers["x-ratelimit-remaining-requests"] == "500"
    assert headers["x-ratelimit-reset-requests"] == "0s"
    assert list(headers) == sorted(headers, key=str.lower)


def test_origins_are_renamed_everywhere() -> None:
    norm = Normaliser(origins={"http://127.0.0.1:5555": "http://svc.test"})
    request = RecordedRequest("GET", "http://127.0.0.1:5555/a?x=1")
    response = RecordedResponse(
        302,
        headers=(("location", "http://127.0.0.1:5555/b"), ("content-type", "application/json")),
        body=b'{"url": "http://127.0.0.1:5555/c"}',
    )
    stored = norm.for_disk(Interaction(request, response))
    assert stored.request.uri == "http://svc.test/a?x=1"
    assert dict(stored.response.headers)["location"] == "http://svc.test/b"
    assert json.loads(stored.response.body) == {"url": "http://svc.test/c"}


def test_noise_headers_are_not_stored_and_boundaries_are_stable() -> None:
    def upload(boundary: str) -> RecordedRequest:
        body = f'--{boundary}\r\nContent-Disposition: form-data; name="f"\r\n\r\nhi\r\n--{boundary}--\r\n'.encode()
        return RecordedRequest(
            "POST",
            "http://h.test/u",
            (
                ("User-Agent", "sdk/1"),
                ("x-stainless-os", "Linux"),
                ("content-type", f"multipart/form-data; boundary={boundary}"),
            ),
            body,
        )

    one, two = Normaliser().request(upload("r4nd0m1")), Normaliser().request(upload("0th3r2"))
    assert one == two
    assert [name for name, _ in one.headers] == ["content-type"]
    assert b"r4nd0m1" not in one.body


def test_normalising_is_idempotent() -> None:
    norm = Normaliser()
    request = RecordedRequest(
        "post",
        "http://h.test/a?token=secret",
        (("authorization", "Bearer x"), ("content-type", "application/json")),
        b'{"password": "p", "when": "2025-01-01T00:00:00Z", "key": "sk-' + b"z" * 30 + b'"}',
    )
    once = norm.request(request)
    assert norm.request(once) == once


def test_random_per_request_values_are_pinned() -> None:
    def signup(challenge: str) -> RecordedRequest:
        body = json.dumps(
            {"email": "a@b.c", "code_challenge": challenge, "code_challenge_method": "s256"}
        ).encode()
        return RecordedRequest(
            "POST", "http://h.test/auth/v1/signup", (("content-type", "application/json"),), body
        )

    one, two = Normaliser().request(signup("MoaReZjau0iuGd")), Normaliser().request(signup("_3qQ297IV-Tb3b"))
    assert one == two
    assert json.loads(one.body)["code_challenge"] == "<volatile:code_challenge>"


def test_origins_are_renamed_inside_jwt_claims() -> None:
    from tests.unit.test_redact import jwt

    token = jwt({"iss": "http://127.0.0.1:5555/auth/v1", "sub": "u"})
    body = json.dumps({"access_token": token}).encode()
    norm = Normaliser(origins={"http://127.0.0.1:5555": "http://svc.test"})
    stored = json.loads(
        norm.response(RecordedResponse(200, headers=(("content-type", "application/json"),), body=body)).body
    )
    payload = stored["access_token"].split(".")[1]
    import base64

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "http://svc.test/auth/v1"


def test_what_the_memos_learned_is_forgotten_when_an_origin_is_registered() -> None:
    """Request headers and short JSON strings are each worked out once (memos); an origin
    registered later (services start one by one) must still be renamed in both."""
    origins: dict[str, str] = {}
    normaliser = Normaliser(origins=origins)
    body = json.dumps({"url": "http://127.0.0.1:5999/v1/x", "role": "user"}).encode()
    request = RecordedRequest(
        "POST",
        "http://127.0.0.1:5999/v1/x",
        (("content-type", "application/json"), ("x-origin", "http://127.0.0.1:5999")),
        body,
    )
    before = normaliser.request(request)
    assert b"127.0.0.1:5999" in before.body
    assert ("x-origin", "http://127.0.0.1:5999") in before.headers
    origins["http://127.0.0.1:5999"] = "https://api.openai.test"
    after = normaliser.request(request)
    assert json.loads(after.body) == {"url": "https://api.openai.test/v1/x", "role": "user"}
    assert ("x-origin", "https://api.openai.test") in after.headers
    response = RecordedResponse(200, "OK", (("content-type", "application/json"),), body)
    assert b"https://api.openai.test/v1/x" in normaliser.response(response).body


def test_a_coded_request_body_is_stored_decoded_without_its_coding_header() -> None:
    normaliser = Normaliser()
    for coding, encode in (("gzip", gzip.compress), ("deflate", zlib.compress), ("br", brotli.compress)):
        request = RecordedRequest(
            "POST",
            "http://h.test/x",
            (("Content-Encoding", coding), ("content-type", "application/json")),
            encode(b'{"a": 1}'),
        )
        for _ in range(2):  # the second time from the header memo
            stored = normaliser.request(request)
            assert json.loads(stored.body) == {"a": 1}
            assert [n for n, _ in stored.headers] == ["content-type"]
