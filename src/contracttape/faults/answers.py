"""What a fault answers with, shaped like the real service.

An HTTP status is the service's own error answer, from its profile (``fault_answer``). A
truncated, malformed or cut answer is made from the answer this request would have got: the
recorded one in replay (looked at, not consumed), or a small stand-in when there is none
(recording: nothing is sent). Transport faults (timeouts, resets) are not answers: the bridge
raises them as the calling library's own exceptions (``transport``).
"""

from __future__ import annotations

from contracttape.bodies import decoded, media_type
from contracttape.faults.spec import Fault
from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.services.profile import Catalogue, generic_fault_answer, reason_phrase

TRANSPORT = ("read_timeout", "connect_timeout", "reset")
_STAND_IN_JSON = b'{"object": "list", "data": [{"object": "item", "index": 0, "value": "stand-in"}]}'
_STAND_IN_STREAM = b'data: {"index": 0, "delta": "stand-in"}\n\ndata: {"index": 1, "delta": "more"}\n\n'
_MALFORMED = b"<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"


def status_answer(catalogue: Catalogue, request: RecordedRequest, fault: Fault) -> RecordedResponse:
    assert isinstance(fault.kind, int)
    profile = catalogue.serving(request)
    make = profile.fault_answer if profile and profile.fault_answer else generic_fault_answer
    return make(request, fault.kind, fault.retry_after)


def truncated(recorded: RecordedResponse | None) -> RecordedResponse:
    base = (
        decoded(recorded)
        if recorded is not None and recorded.body
        else _stand_in(_STAND_IN_JSON, "application/json")
    )
    return base.with_(body=base.body[: max(len(base.body) // 2, 1) if len(base.body) > 1 else 0])


def malformed(recorded: RecordedResponse | None) -> RecordedResponse:
    base = decoded(recorded) if recorded is not None else _stand_in(b"", "application/json")
    headers = tuple((k, v) for k, v in base.headers if k.lower() != "content-type")
    return base.with_(headers=(("content-type", "application/json"), *headers), body=_MALFORMED)


def stream_cut(recorded: RecordedResponse | None) -> RecordedResponse:
    """The events before the middle of the stream, then half of the next one; no end marker."""
    if recorded is not None and media_type(recorded.headers) == "text/event-stream":
        base = decoded(recorded)
    else:
        base = _stand_in(_STAND_IN_STREAM, "text/event-stream")
    events = [e for e in base.body.split(b"\n\n") if e.strip() and b"[DONE]" not in e]
    kept = events[: len(events) // 2]
    partial = events[len(events) // 2] if events else b"data: {"
    body = b"".join(e + b"\n\n" for e in kept) + partial[: max(len(partial) // 2, 1)]
    return base.with_(body=body)


def _stand_in(body: bytes, content_type: str) -> RecordedResponse:
    return RecordedResponse(200, reason_phrase(200), (("content-type", content_type),), body)


def answer(
    catalogue: Catalogue, request: RecordedRequest, fault: Fault, recorded: RecordedResponse | None
) -> RecordedResponse:
    """The answer a non-transport fault serves."""
    if isinstance(fault.kind, int):
        return status_answer(catalogue, request, fault)
    if fault.kind == "truncated":
        return truncated(recorded)
    if fault.kind == "malformed":
        return malformed(recorded)
    if fault.kind == "stream_cut":
        return stream_cut(recorded)
    raise ValueError(f"fault {fault.kind!r} is not an answer")
