"""The bridge's light request for httpx calls (``_vcr.HttpxRequest``): what the engine is handed
must equal what vcrpy's own request gave it, for any headers; to anything else it is a vcrpy
request; and vcrpy's stub is put back exactly when the last cassette closes."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import httpx2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from vcr.request import Request as VcrRequest
from vcr.stubs import httpx_stubs

from contracttape import _vcr

HEADER_CASES: list[list[tuple[str | bytes, str | bytes]]] = [
    [],
    [("Authorization", "Bearer sk-x"), ("Content-Type", "application/json")],
    [("X-Dup", "a"), ("x-dup", "b"), ("X-DUP", "c")],  # joined with ", " as vcrpy's dict holds them
    [("Accept", "*/*"), ("Prefer", "return=representation"), ("Range", "0-9")],
    [("X-Utf8", "café ✓".encode())],  # not ASCII: httpx decodes the whole set as UTF-8
    [("X-Latin", "caf\xe9".encode("latin-1")), ("X-Other", "plain")],  # neither: latin-1
    [("Cookie", "a=1"), ("cookie", "b=2"), ("Host", "example.test")],
    [("X-Empty", ""), ("X-Spaces", "  kept  ")],
]


def _pair(
    module: object, headers: list[tuple[str | bytes, str | bytes]], body: bytes
) -> tuple[object, object]:
    real = module.Request("POST", "https://api.example.test:8443/v1/x?b=2&a=1", headers=headers, content=body)  # type: ignore[attr-defined]
    return real, VcrRequest(real.method, str(real.url), body, real.headers)


@pytest.mark.parametrize("module", [httpx, httpx2], ids=["httpx", "httpx2"])
@pytest.mark.parametrize("headers", HEADER_CASES)
def test_the_engine_gets_what_vcrpys_own_request_gave_it(
    module: object, headers: list[tuple[str | bytes, str | bytes]]
) -> None:
    real, theirs = _pair(module, headers, b'{"a": 1}')
    light = _vcr.HttpxRequest(real, b'{"a": 1}')
    assert _vcr.to_recorded_request(light) == _vcr.to_recorded_request(theirs)


_NAMES = st.sampled_from(
    ["accept", "Accept", "X-Trace", "x-trace", "Authorization", "Prefer", "content-type"]
)
_VALUES = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=12
)


@given(
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=8),
    body=st.binary(max_size=40),
    method=st.sampled_from(["GET", "post", "PATCH"]),
)
def test_any_headers_body_and_method_convert_alike(
    headers: list[tuple[str, str]], body: bytes, method: str
) -> None:
    encoded = [(n, v.encode("utf-8")) for n, v in headers]
    real = httpx2.Request(method, "http://127.0.0.1:9/p", headers=encoded, content=body)
    theirs = VcrRequest(real.method, str(real.url), body, real.headers)
    assert _vcr.to_recorded_request(_vcr.HttpxRequest(real, body)) == _vcr.to_recorded_request(theirs)


def test_to_everything_else_it_is_a_vcrpy_request() -> None:
    headers: list[tuple[str | bytes, str | bytes]] = [("X-Dup", "a"), ("x-dup", "b"), ("Accept", "*/*")]
    real, theirs = _pair(httpx2, headers, b"body")
    light = _vcr.HttpxRequest(real, b"body")
    assert isinstance(light, VcrRequest)
    for read in ("method", "uri", "body", "scheme", "host", "port", "path", "query", "url", "protocol"):
        assert getattr(light, read) == getattr(theirs, read), read
    assert dict(light.headers) == dict(theirs.headers)
    assert light._to_dict() == theirs._to_dict()
    assert str(light) == str(theirs)
    # written to, as vcrpy's filters do: the written value is what is read back, and converted
    light.headers["X-Added"] = "1"
    light.uri = "https://other.test/y?z=1"
    assert light.host == "other.test"
    assert light.query == [("z", "1")]
    recorded = _vcr.to_recorded_request(light)
    assert ("X-Added", "1") in recorded.headers
    assert recorded.uri == "https://other.test/y?z=1"


class _Engine:
    """The least an engine needs for the bridge's context to open and close."""

    def __init__(self, tmp: str) -> None:
        from pathlib import Path

        self.path = Path(tmp) / "c.yaml"
        self.index: list[object] = []
        self.replaying = True


def test_the_stub_is_replaced_while_a_cassette_is_in_use_and_put_back_after(tmp_path: object) -> None:
    original = httpx_stubs._make_vcr_request
    with _vcr.cassette_context(_Engine(str(tmp_path))):  # type: ignore[arg-type]
        assert httpx_stubs._make_vcr_request is not original
        made = httpx_stubs._make_vcr_request(httpx2.Request("GET", "http://a.test/"), b"")
        assert type(made) is _vcr.HttpxRequest
    assert httpx_stubs._make_vcr_request is original


def test_overlapping_users_in_threads_never_restore_early_nor_leave_it_replaced() -> None:
    original = httpx_stubs._make_vcr_request
    seen_inside: list[bool] = []
    barrier = threading.Barrier(4)

    def one_session(wait: Callable[[], object]) -> None:
        # the replacement alone: vcrpy's own patches are undone in reverse order of use only,
        # so whole cassettes leaving first-in first-out would leave vcrpy's patches behind
        with _vcr._LIGHT_REQUESTS.in_use():
            barrier.wait()  # all four are inside at once
            wait()
            seen_inside.append(httpx_stubs._make_vcr_request is not original)

    stagger = [threading.Event() for _ in range(4)]
    threads = [threading.Thread(target=one_session, args=(e.wait,)) for e in stagger]
    for t in threads:
        t.start()
    for event, thread in zip(stagger, threads, strict=True):  # they leave one by one
        event.set()
        thread.join(timeout=30)
    assert seen_inside == [True] * 4  # the first to leave did not put it back for the others
    assert httpx_stubs._make_vcr_request is original


def test_a_vcrpy_without_the_function_is_used_as_it_is(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(httpx_stubs, "_make_vcr_request")
    with _vcr.cassette_context(_Engine(str(tmp_path))):  # type: ignore[arg-type]
        assert not hasattr(httpx_stubs, "_make_vcr_request")
    assert not hasattr(httpx_stubs, "_make_vcr_request")
