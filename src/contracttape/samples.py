"""What a response body says, as a sample for inference: JSON, or an SSE stream's events."""

from __future__ import annotations

import json
from typing import Any

from contracttape.model import RecordedResponse
from contracttape.normalize import is_json_type, media_type, parse_json

NO_SAMPLE = object()  # a body with no JSON shape (binary, plain text, empty)


def sse_events(body: bytes) -> list[Any]:
    """The JSON events of a ``text/event-stream`` body (``[DONE]`` and comments skipped).

    Each event's ``event:`` name, when the stream gives one and the data has no ``type``, is
    kept as ``type`` so inference can tell event kinds apart.
    """
    events: list[Any] = []
    for block in body.decode("utf-8", "replace").replace("\r\n", "\n").split("\n\n"):
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        text = "\n".join(data)
        if not text or text == "[DONE]":
            continue
        try:
            event = json.loads(text)
        except ValueError:
            continue
        if name and isinstance(event, dict) and "type" not in event:
            event = {"type": name, **event}
        events.append(event)
    return events


def sample_of(response: RecordedResponse) -> Any:
    """The JSON value to infer from (a list of events for SSE), or ``NO_SAMPLE``."""
    mtype = media_type(response.headers)
    if mtype == "text/event-stream":
        return sse_events(response.body)
    if not response.body or not (is_json_type(mtype) or response.body[:1] in (b"{", b"[")):
        return NO_SAMPLE
    ok, parsed = parse_json(response.body)
    return parsed if ok else NO_SAMPLE
