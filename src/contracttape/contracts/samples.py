"""What a response body says, as a sample for inference: JSON, or an SSE stream's events."""

from __future__ import annotations

from typing import Any

from contracttape.bodies import looks_like_json, media_type, parse_json, sse_events
from contracttape.model import RecordedResponse

NO_SAMPLE = object()  # a body with no JSON shape (binary, plain text, empty)


def sample_of(response: RecordedResponse) -> Any:
    """The JSON value to infer from (a list of events for SSE), or ``NO_SAMPLE``."""
    mtype = media_type(response.headers)
    if mtype == "text/event-stream":
        return sse_events(response.body)
    if not looks_like_json(response.body, response.headers):
        return NO_SAMPLE
    ok, parsed = parse_json(response.body)
    return parsed if ok else NO_SAMPLE
