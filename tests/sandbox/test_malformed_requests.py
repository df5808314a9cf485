"""The sandbox answers malformed requests with the service's own 4xx error, never a 500.

A table of the inputs that once crashed a handler (and reset the next keep-alive request), then
a property-based fuzz (hypothesis): valid requests to every service with one field replaced by
arbitrary JSON (lone surrogates, huge numbers, NaN/Infinity, deep nesting, wrong types), and
random object names and query values. Every answer must be < 500, carry no driver message, and
leave the connection usable.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracttape.sandbox import Sandbox, SandboxConfig

FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(job_seconds=0.2)) as running:
        yield running


class Caller:
    """One keep-alive client per service, with its credentials: what a real SDK holds."""

    def __init__(self, sandbox: Sandbox) -> None:
        env = sandbox.env()
        self.anon = env["SUPABASE_ANON_KEY"]
        self.clients = {
            "openai": httpx.Client(
                base_url=env["OPENAI_BASE_URL"].removesuffix("/v1"),
                headers={"authorization": f"Bearer {env['OPENAI_API_KEY']}"},
            ),
            "llamaparse": httpx.Client(
                base_url=env["LLAMA_CLOUD_BASE_URL"],
                headers={"authorization": f"Bearer {env['LLAMA_CLOUD_API_KEY']}"},
            ),
            "supabase": httpx.Client(base_url=env["SUPABASE_URL"], headers={"apikey": self.anon}),
        }
        email = f"fuzz-{uuid.uuid4().hex[:8]}@example.com"
        session = self.send(
            "supabase",
            "POST",
            "/auth/v1/signup",
            body=json.dumps({"email": email, "password": "correct horse battery"}).encode(),
        ).json()
        self.uid = session["user"]["id"]
        self.refresh = session["refresh_token"]
        self.clients["supabase"].headers["authorization"] = f"Bearer {session['access_token']}"
        self.send("supabase", "POST", f"/storage/v1/object/documents/{self.uid}/a.txt", body=b"hello")

    def send(
        self, service: str, method: str, path: str, body: bytes | None = None, ctype: str = "application/json"
    ) -> httpx.Response:
        headers = {"content-type": ctype} if body is not None else {}
        return self.clients[service].request(method, path, content=body, headers=headers)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


@pytest.fixture(scope="module")
def caller(sandbox: Sandbox) -> Iterator[Caller]:
    made = Caller(sandbox)
    yield made
    made.close()


def assert_answered(caller: Caller, service: str, response: httpx.Response) -> None:
    assert response.status_code < 500, (response.request.method, response.request.url, response.text[:500])
    assert "psycopg" not in response.text
    assert "Traceback" not in response.text
    # the connection survived: the next request on the same keep-alive client works
    probe = {"openai": "/v1/models", "llamaparse": "/api/v2/parse?page_size=1", "supabase": "/auth/v1/user"}
    assert caller.send(service, "GET", probe[service]).status_code < 500


# -- the cases found by hand ---------------------------------------------------------------------

SURROGATE = '"\\ud800"'


def cases(uid: str) -> list[tuple[str, str, str, bytes | None]]:
    mine = f"{uid}/a.txt"
    return [
        (
            "openai",
            "POST",
            "/v1/embeddings",
            b'{"model": "text-embedding-3-small", "input": ' + SURROGATE.encode() + b"}",
        ),
        ("openai", "POST", "/v1/embeddings", b'{"model": "text-embedding-3-small", "input": [[-1]]}'),
        ("openai", "POST", "/v1/embeddings", b'{"model": "text-embedding-3-small", "input": [99999999]}'),
        (
            "openai",
            "POST",
            "/v1/embeddings",
            b'{"model": "text-embedding-3-small", "input": "x", "dimensions": 1e400}',
        ),
        (
            "openai",
            "POST",
            "/v1/chat/completions",
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": '
            + SURROGATE.encode()
            + b"}]}",
        ),
        (
            "openai",
            "POST",
            "/v1/chat/completions",
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": "yes"}',
        ),
        (
            "openai",
            "POST",
            "/v1/chat/completions",
            b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": NaN}',
        ),
        (
            "supabase",
            "POST",
            "/auth/v1/signup",
            b'{"email": ' + SURROGATE.encode() + b', "password": "correct horse"}',
        ),
        ("supabase", "POST", "/auth/v1/token?grant_type=refresh_token", b'{"refresh_token": 12345}'),
        ("supabase", "POST", "/auth/v1/token?grant_type=refresh_token", b'{"refresh_token": "\\u0000"}'),
        ("supabase", "GET", "/rest/v1/documents?select=*&limit=%C2%B2", None),
        ("supabase", "GET", "/rest/v1/documents?select=*&offset=%C2%B2", None),
        ("supabase", "POST", "/storage/v1/object/list/documents", b'{"prefix": "", "offset": "abc"}'),
        ("supabase", "POST", "/storage/v1/object/list/documents", b'{"prefix": "", "limit": {"a": 1}}'),
        ("supabase", "POST", "/storage/v1/object/list/documents", b'{"prefix": "", "limit": 1e400}'),
        ("supabase", "POST", f"/storage/v1/object/documents/{uid}/{'n' * 300}", b"x"),
        ("supabase", "POST", "/storage/v1/object/documents/" + uid + "/a" * 2000, b"x"),
        ("supabase", "POST", f"/storage/v1/object/documents/{uid}/dir/", b"x"),
        ("supabase", "POST", f"/storage/v1/object/sign/documents/{mine}", b'{"expiresIn": Infinity}'),
        ("supabase", "POST", "/storage/v1/object/sign/documents", b'{"expiresIn": 60, "paths": 5}'),
        ("supabase", "DELETE", "/storage/v1/bucket/nope%00", None),
        (
            "supabase",
            "POST",
            "/storage/v1/object/move",
            json.dumps(
                {"bucketId": "documents", "sourceKey": mine, "destinationKey": f"{mine}/child"}
            ).encode(),
        ),
        (
            "supabase",
            "POST",
            "/storage/v1/object/move",
            json.dumps({"bucketId": "documents", "sourceKey": mine, "destinationKey": {}}).encode(),
        ),
        (
            "supabase",
            "POST",
            "/storage/v1/object/copy",
            json.dumps({"bucketId": "documents", "sourceKey": mine, "destinationKey": {}}).encode(),
        ),
        ("llamaparse", "POST", "/api/v2/parse", b'{"tier": ' + SURROGATE.encode() + b"}"),
        ("llamaparse", "POST", "/api/v2/parse", b"[" * 5000 + b"]" * 5000),
    ]


def test_each_case_found_by_hand_gets_a_4xx(caller: Caller) -> None:
    found = cases(caller.uid)
    assert len(found) >= 22
    for service, method, path, body in found:
        response = caller.send(service, method, path, body)
        assert_answered(caller, service, response)
    # the move to "<uid>/a.txt/child" either moved it (S3 keys are flat) or refused: never half
    listing = caller.send(
        "supabase", "POST", "/storage/v1/object/list/documents", json.dumps({"prefix": caller.uid}).encode()
    ).json()
    assert {e["name"] for e in listing} <= {"a.txt", "n" * 300}  # a 300-character name is a valid key


# -- fuzzing -------------------------------------------------------------------------------------

NASTY = st.sampled_from(
    ["\ud800", "\udfff", "\x00", "²", "", " ", "../..", "a/", "٣", "1e400", "-1", 10**400]
)
JSON_LEAVES = (
    NASTY
    | st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([10**400, -1, 0, 2**63])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(blacklist_categories=()), max_size=40)  # includes lone surrogates
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def valid_bodies(uid: str, refresh: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    mine = f"{uid}/a.txt"
    return [
        (
            "openai",
            "POST",
            "/v1/embeddings",
            {"model": "text-embedding-3-small", "input": "hi", "dimensions": 8},
        ),
        (
            "openai",
            "POST",
            "/v1/chat/completions",
            {
                "model": "gpt-4o-mini",
                "messages": [{"role": "user", "content": "hi"}],
                "max_tokens": 3,
                "n": 1,
            },
        ),
        (
            "llamaparse",
            "POST",
            "/api/v2/parse",
            {"tier": "fast", "version": "latest", "source_url": "http://127.0.0.1:9/x.pdf"},
        ),
        ("supabase", "POST", "/auth/v1/signup", {"email": "f@example.com", "password": "correct horse"}),
        (
            "supabase",
            "POST",
            "/auth/v1/token?grant_type=password",
            {"email": "f@example.com", "password": "x"},
        ),
        ("supabase", "POST", "/auth/v1/token?grant_type=refresh_token", {"refresh_token": refresh}),
        ("supabase", "POST", "/rest/v1/documents", {"filename": "a.pdf", "pages": 1}),
        ("supabase", "PATCH", "/rest/v1/documents?id=eq.1", {"pages": 2}),
        ("supabase", "POST", "/rest/v1/rpc/match_chunks", {"query_embedding": [0.0], "match_count": 1}),
        ("supabase", "POST", "/storage/v1/object/list/documents", {"prefix": uid, "limit": 10, "offset": 0}),
        ("supabase", "POST", f"/storage/v1/object/sign/documents/{mine}", {"expiresIn": 60}),
        ("supabase", "POST", "/storage/v1/object/sign/documents", {"expiresIn": 60, "paths": [mine]}),
        (
            "supabase",
            "POST",
            "/storage/v1/object/copy",
            {"bucketId": "documents", "sourceKey": mine, "destinationKey": f"{uid}/b.txt"},
        ),
        (
            "supabase",
            "POST",
            "/storage/v1/object/move",
            {"bucketId": "documents", "sourceKey": f"{uid}/b.txt", "destinationKey": f"{uid}/c.txt"},
        ),
        ("supabase", "DELETE", "/storage/v1/object/documents", {"prefixes": [f"{uid}/c.txt"]}),
        ("supabase", "POST", "/storage/v1/bucket", {"id": "fuzz", "public": False}),
        ("supabase", "POST", "/functions/v1/hello", {"name": "x"}),
    ]


ENDPOINTS = [f"{m} {p.split('?')[0]}" for _s, m, p, _b in valid_bodies("uid", "r")]


@pytest.mark.parametrize("endpoint", range(len(ENDPOINTS)), ids=ENDPOINTS)
@FUZZ
@given(data=st.data())
def test_one_field_replaced_by_anything(caller: Caller, endpoint: int, data: st.DataObject) -> None:
    service, method, path, body = valid_bodies(caller.uid, caller.refresh)[endpoint]
    key = data.draw(st.sampled_from([*body, "extra"]))
    mutated = {**body, key: data.draw(JSON_VALUES)}
    response = caller.send(service, method, path, json.dumps(mutated).encode())
    assert_answered(caller, service, response)


@pytest.mark.slow
@FUZZ
@given(body=JSON_VALUES)
def test_any_json_document_as_a_body(caller: Caller, body: Any) -> None:
    for service, method, path, _ in valid_bodies(caller.uid, caller.refresh)[::3]:
        response = caller.send(service, method, path, json.dumps(body).encode())
        assert_answered(caller, service, response)


NAMES = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30), min_size=1, max_size=4
)


@pytest.mark.slow
@FUZZ
@given(segments=NAMES, value=st.text(max_size=12))
def test_any_object_name_and_query_value(caller: Caller, segments: list[str], value: str) -> None:
    name = quote("/".join([caller.uid, *segments]), safe="/")
    for method, path in (
        ("POST", f"/storage/v1/object/documents/{name}"),
        ("GET", f"/storage/v1/object/authenticated/documents/{name}"),
        ("POST", f"/storage/v1/object/sign/documents/{name}"),
        ("POST", f"/storage/v1/object/upload/sign/documents/{name}"),
    ):
        assert_answered(caller, "supabase", caller.send("supabase", method, path, b"{}"))
    for param in ("limit", "offset", "order", "select", "id"):
        path = f"/rest/v1/documents?{param}={quote(value)}"
        assert_answered(caller, "supabase", caller.send("supabase", "GET", path))
