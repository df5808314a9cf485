"""The bridge to vcrpy: its client patches (httpx, httpx2, requests/urllib3, aiohttp...) call a
cassette object; ours answers from a ``TapeSession`` instead of vcrpy's linear matcher list.

This is the only module that touches vcrpy. It uses vcrpy's public ``Cassette.use`` entry point
and the cassette methods its stubs call (``can_play_response_for``, ``play_response``,
``append``, ``write_protected``, ``filter_request``); loading and saving are ours.
"""

from __future__ import annotations

from collections.abc import Sized
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from vcr.cassette import Cassette
from vcr.record_mode import RecordMode as VcrRecordMode

from contracttape.errors import ContractTapeError
from contracttape.model import RecordedRequest, RecordedResponse, headers_as_lists, make_headers


class Engine(Protocol):
    """What the bridge needs from the record/replay engine (``session.TapeSession``): it asks,
    the engine decides. Declared here so the bridge depends on nothing above it."""

    @property
    def path(self) -> Path: ...
    @property
    def index(self) -> Sized: ...
    @property
    def replaying(self) -> bool: ...
    def prepare(self, request: RecordedRequest) -> Any: ...
    def can_play(self, shape: Any) -> bool: ...
    def before_send(self, prepared: Any) -> Any: ...
    def play(self, prepared: Any) -> RecordedResponse: ...
    def record(self, prepared: Any, response: RecordedResponse, reservation: Any = None) -> None: ...


_UNDECIDED = object()


def to_recorded_request(request: Any) -> RecordedRequest:
    body = request.body_bytes
    if isinstance(body, str):
        body = body.encode("utf-8")
    return RecordedRequest(
        method=str(request.method).upper(),
        uri=str(request.uri),
        headers=make_headers(dict(request.headers.items())),
        body=body or b"",
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
        return request

    def can_play_response_for(self, request: Any) -> bool:
        prepared = self._prepared(request)
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
        response = self.session.play(self._prepared(request))
        return to_vcr_response(response)

    def append(self, request: Any, response: dict[str, Any]) -> None:
        reservation = getattr(request, "_contracttape_reservation", None)
        assert not isinstance(reservation, ContractTapeError), "a refused request was sent"
        self.session.record(self._prepared(request), to_recorded_response(response), reservation)

    def __contains__(self, request: Any) -> bool:
        return self.can_play_response_for(request)

    def __len__(self) -> int:
        return len(self.session.index)


def cassette_context(session: Engine) -> AbstractContextManager[Any]:
    """vcrpy's patches installed, answering from ``session``."""
    context: AbstractContextManager[Any] = SessionCassette.use(path=str(session.path), session=session)
    return context
