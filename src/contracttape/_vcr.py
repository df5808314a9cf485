"""The bridge to vcrpy: its client patches (httpx, httpx2, requests/urllib3, aiohttp...) call a
cassette object; ours answers from a ``TapeSession`` instead of vcrpy's linear matcher list.

This is the only module that touches vcrpy. It uses vcrpy's public ``Cassette.use`` entry point
and the cassette methods its stubs call (``can_play_response_for``, ``play_response``,
``append``, ``write_protected``, ``filter_request``); loading and saving are ours.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator, Mapping, Sized
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import ParseResult, urlencode, urlparse

from vcr.cassette import Cassette
from vcr.record_mode import RecordMode as VcrRecordMode
from vcr.request import HeadersDict
from vcr.request import Request as VcrRequest
from vcr.stubs import httpx_stubs

from contracttape.errors import ContractTapeError
from contracttape.faults import transport
from contracttape.model import RecordedRequest, RecordedResponse, header_value, headers_as_lists, make_headers


class Engine(Protocol):
    """What the bridge needs from the record/replay engine (``session.TapeSession``): it asks,
    the engine decides. Declared here so the bridge depends on nothing above it."""

    @property
    def path(self) -> Path: ...
    @property
    def index(self) -> Sized: ...
    @property
    def replaying(self) -> bool: ...
    def passes_through(self, uri: str) -> bool: ...
    def prepare(self, request: RecordedRequest) -> Any: ...
    def can_play(self, shape: Any) -> bool: ...
    def before_send(self, prepared: Any) -> Any: ...
    def play(self, prepared: Any) -> RecordedResponse: ...
    def record(self, prepared: Any, response: RecordedResponse, reservation: Any = None) -> None: ...
    def fault_for(self, prepared: Any) -> Any: ...
    def serve_fault(self, prepared: Any, decision: Any) -> RecordedResponse | str: ...
    def wait_slow(self, decision: Any) -> None: ...


_UNDECIDED = object()


class HttpxRequest(VcrRequest):  # type: ignore[misc]
    """vcrpy's request for an httpx or httpx2 call, made without copying what nobody reads.

    vcrpy's httpx stub builds a ``vcr.request.Request`` for every call: its headers copied into a
    case-insensitive dict one by one, its URL parsed. The engine reads neither (it converts the
    request once, from the httpx headers themselves), so both are made only if something asks.
    It is a full vcrpy request for anything else that reads it."""

    def __init__(self, real_request: Any, body: bytes) -> None:
        self.method = real_request.method
        self._uri = str(real_request.url)
        self._was_file = self._was_iter = False
        self._body = body
        self.real_headers = real_request.headers

    @property
    def uri(self) -> str:
        return self._uri

    @uri.setter
    def uri(self, uri: str) -> None:
        self._uri = uri
        self.__dict__.pop("parsed_uri", None)

    @cached_property
    def parsed_uri(self) -> ParseResult:
        return urlparse(self._uri)

    @property
    def headers(self) -> HeadersDict:
        if "_headers" not in self.__dict__:
            self._headers = HeadersDict(self.real_headers)
        return self._headers

    @headers.setter
    def headers(self, value: Any) -> None:
        self._headers = value if isinstance(value, HeadersDict) else HeadersDict(value)


def _make_httpx_request(real_request: Any, real_request_body: bytes) -> HttpxRequest:
    return HttpxRequest(real_request, real_request_body)


class _LightRequests:
    """vcrpy's httpx stub makes ``HttpxRequest``s while any of our cassettes is in use. Counted,
    so sessions that overlap in threads never leave it replaced, nor put it back early. If a
    vcrpy release renames the function its stub calls, nothing is replaced: its own requests are
    used, as before."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0
        self.original: Any = None

    @contextmanager
    def in_use(self) -> Iterator[None]:
        if not callable(getattr(httpx_stubs, "_make_vcr_request", None)):
            yield
            return
        with self.lock:
            self.users += 1
            if self.users == 1:
                self.original = httpx_stubs._make_vcr_request
                httpx_stubs._make_vcr_request = _make_httpx_request
        try:
            yield
        finally:
            with self.lock:
                self.users -= 1
                if self.users == 0:
                    httpx_stubs._make_vcr_request = self.original


_LIGHT_REQUESTS = _LightRequests()


def to_recorded_request(request: Any) -> RecordedRequest:
    if type(request) is HttpxRequest and "_headers" not in request.__dict__:
        # httpx's own items(): lower-cased names, repeated headers joined by ", ", as vcrpy's
        # header dict would hold them
        return RecordedRequest(
            method=str(request.method).upper(),
            uri=request.uri,
            headers=tuple(request.real_headers.items()),
            body=request.body or b"",
        )
    headers = make_headers(dict(request.headers.items()))
    raw = getattr(request, "_body", None)
    structured = isinstance(raw, Mapping | tuple) or (
        isinstance(raw, list) and not all(isinstance(part, bytes) for part in raw)
    )
    body = raw if structured else request.body_bytes
    if isinstance(body, str):
        body = body.encode("utf-8")
    elif body is not None and not isinstance(body, bytes):
        # aiohttp's stub hands over ``json=`` and ``data=`` values as they were given
        if caller().json_body:
            body, content_type = json.dumps(body).encode(), "application/json"
        else:
            pairs = body.items() if isinstance(body, Mapping) else body
            body, content_type = urlencode(list(pairs)).encode(), "application/x-www-form-urlencoded"
        if header_value(headers, "content-type") is None:
            headers = (*headers, ("Content-Type", content_type))
    return RecordedRequest(
        method=str(request.method).upper(), uri=str(request.uri), headers=headers, body=body or b""
    )


def to_recorded_response(response: dict[str, Any]) -> RecordedResponse:
    body = response["body"]["string"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    return RecordedResponse(
        status=int(response["status"]["code"]),
        reason=str(response["status"].get("message") or ""),
        headers=make_headers(response.get("headers")),
        body=body or b"",
    )


def to_vcr_response(response: RecordedResponse) -> dict[str, Any]:
    return {
        "status": {"code": response.status, "message": response.reason},
        "headers": headers_as_lists(response.headers),
        "body": {"string": response.body},
    }


class SessionCassette(Cassette):  # type: ignore[misc]
    """A vcrpy cassette whose storage and matching are a ``TapeSession``."""

    def __init__(self, path: str, session: Engine, **kwargs: Any) -> None:
        mode = VcrRecordMode.NONE if session.replaying else VcrRecordMode.NEW_EPISODES
        super().__init__(path, record_mode=mode, **kwargs)
        self.session = session

    def _load(self) -> None:  # the session has already loaded (and cached) the file
        return None

    def _save(self, force: bool = False) -> None:  # the session saves, under a lock
        return None

    def _prepared(self, request: Any) -> Any:
        # Stubs may ask twice about one request (connect, then getresponse), and append it
        # after sending: normalise it once.
        cached = getattr(request, "_contracttape_prepared", None)
        if cached is None:
            cached = self.session.prepare(to_recorded_request(request))
            request._contracttape_prepared = cached
        return cached

    @property
    def write_protected(self) -> bool:
        return self.session.replaying

    def filter_request(self, request: Any) -> Any:
        # None tells vcrpy's stubs "not the cassette's business": sent as it is, even in replay
        return None if self.session.passes_through(str(request.uri)) else request

    def _fault(self, request: Any) -> Any:
        """The fault this request gets, decided once (stubs may ask twice about one request)."""
        decided = getattr(request, "_contracttape_fault", _UNDECIDED)
        if decided is _UNDECIDED:
            decided = self.session.fault_for(self._prepared(request))
            if decided is not None and decided.fault.kind == "slow":
                timeout = caller().read_timeout
                if timeout is not None and timeout < decided.fault.delay:
                    decided.timed_out_after = timeout  # the client gives up first
            request._contracttape_fault = decided
        return decided

    def can_play_response_for(self, request: Any) -> bool:
        if self.session.passes_through(str(request.uri)):
            return False  # the app under test: sent to it untouched, never recorded
        prepared = self._prepared(request)
        fault = self._fault(request)
        if fault is not None and fault.replaces:
            return True  # served here: never sent, never priced, never recorded
        if self.session.can_play(prepared.shape):
            return True
        # It will be sent: price and reserve it first, once per request (stubs may ask twice); a
        # refusal is remembered too, so asking again can never let the request through.
        decided = getattr(request, "_contracttape_reservation", _UNDECIDED)
        if decided is _UNDECIDED:
            try:
                decided = self.session.before_send(prepared)
            except ContractTapeError as refused:  # over budget, or no price to judge it by
                decided = refused
            request._contracttape_reservation = decided
        if isinstance(decided, ContractTapeError):
            raise decided
        return False

    def play_response(self, request: Any) -> dict[str, Any]:
        fault = self._fault(request)
        if fault is not None and fault.replaces:
            served = self.session.serve_fault(self._prepared(request), fault)
            if isinstance(served, RecordedResponse):
                return to_vcr_response(served)
            error = transport.error(served, caller(), str(request.uri), fault.timed_out_after)
            fault.outcome += f": {type(error).__module__}.{type(error).__qualname__}"
            raise error
        if fault is not None:
            self.session.wait_slow(fault)
        response = self.session.play(self._prepared(request))
        return to_vcr_response(response)

    def append(self, request: Any, response: dict[str, Any]) -> None:
        if self.session.passes_through(str(request.uri)):
            return
        reservation = getattr(request, "_contracttape_reservation", None)
        assert not isinstance(reservation, ContractTapeError), "a refused request was sent"
        self.session.record(self._prepared(request), to_recorded_response(response), reservation)
        fault = self._fault(request)
        if fault is not None:  # a slow answer, recorded as it came, handed over late
            self.session.wait_slow(fault)

    def __contains__(self, request: Any) -> bool:
        return self.can_play_response_for(request)

    def __len__(self) -> int:
        return len(self.session.index)


def caller() -> transport.Caller:
    """Which client library is asking: the nearest vcrpy stub on the stack, and what it holds
    (the httpx module and request, urllib3's connection, aiohttp's timeouts)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        found = frame.f_locals
        if module == "vcr.stubs.httpx_stubs" and "httpx" in found and "real_request" in found:
            httpx, request = found["httpx"], found["real_request"]
            read = (getattr(request, "extensions", {}).get("timeout") or {}).get("read")
            return transport.Caller(httpx.__name__, httpx, request, read_timeout=_seconds(read))
        if module == "vcr.stubs.aiohttp_stubs" and "self" in found and "kwargs" in found:
            timeout = found["kwargs"].get("timeout") or getattr(found["self"], "timeout", None)
            read = getattr(timeout, "sock_read", None) or getattr(timeout, "total", None)
            json_body = found["kwargs"].get("json") is not None
            return transport.Caller("aiohttp", read_timeout=_seconds(read), json_body=json_body)
        if module == "vcr.stubs" and hasattr(found.get("self"), "real_connection"):
            connection = found["self"].real_connection
            library = "urllib3" if type(connection).__module__.startswith("urllib3") else "http.client"
            return transport.Caller(
                library, connection=connection, read_timeout=_seconds(getattr(connection, "timeout", None))
            )
        frame = frame.f_back  # type: ignore[assignment]
    return transport.Caller("unknown")


def _seconds(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@contextmanager
def cassette_context(session: Engine) -> Iterator[None]:
    """vcrpy's patches installed, answering from ``session``."""
    with _LIGHT_REQUESTS.in_use(), SessionCassette.use(path=str(session.path), session=session):
        yield
