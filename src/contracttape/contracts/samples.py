"""What a response body says, as a sample for inference: JSON, or an SSE stream's events."""

from __future__ import annotations

from typing import Any

from contracttape.bodies import decode_body, looks_like_json, media_type, parse_json, sse_events
from contracttape.model import RecordedResponse

NO_SAMPLE = object()  # a body with no JSON shape (binary, plain text, empty)


def sample_of(response: RecordedResponse) -> Any:
    """The JSON value to infer from (a list of events for SSE), or ``NO_SAMPLE``.

    The body is read decoded (a gzip ``!!binary`` body from a vcrpy cassette is JSON too)."""
    body = decode_body(response.body, response.headers)
    mtype = media_type(response.headers)
    if mtype == "text/event-stream":
        return sse_events(body)
    if not looks_like_json(body, response.headers):
        return NO_SAMPLE
    ok, parsed = parse_json(body)
    return parsed if ok else NO_SAMPLE


def unreadable_reason(response: RecordedResponse) -> str:
    """Why a response gave no sample: for a violation or a finding, never a silent pass."""
    mtype = media_type(response.headers) or "no content type"
    if not response.body:
        return f"an empty body ({mtype})"
    body = decode_body(response.body, response.headers)
    if looks_like_json(body, response.headers):
        return f"a {mtype} body that is not valid JSON"
    return f"a {mtype} body, not JSON"
