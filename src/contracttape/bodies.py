"""What an HTTP body is: its media type, whether it is JSON, its decoded bytes, its SSE events,
its multipart parts. The ground floor every other module reads bodies through (one definition
of "JSON", one JSON parser, one multipart parser, one SSE reader).
"""

from __future__ import annotations

import email.parser
import email.policy
import gzip
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

from contracttape.model import Headers, RecordedRequest, RecordedResponse, header_value

# -- media types and JSON ------------------------------------------------------------------------


def media_type(headers: Headers) -> str:
    return (header_value(headers, "content-type") or "").split(";", 1)[0].strip().lower()


def is_json_type(mtype: str) -> bool:
    return mtype == "application/json" or mtype.endswith("+json") or mtype.endswith("/json")


def looks_like_json(body: bytes, headers: Headers) -> bool:
    """Worth parsing as JSON: a JSON media type, or a body that opens like an object or array."""
    return bool(body) and (is_json_type(media_type(headers)) or body.lstrip()[:1] in (b"{", b"["))


def parse_json(body: bytes | str) -> tuple[bool, Any]:
    """``(True, value)`` for a JSON body, ``(False, None)`` for anything else."""
    try:
        return True, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False, None


def json_or_none(body: bytes | str) -> Any:
    return parse_json(body)[1]


def json_object(request: RecordedRequest) -> dict[str, Any]:
    """A request's JSON object body, or ``{}`` (not JSON, or not an object)."""
    if not looks_like_json(request.body, request.headers):
        return {}
    parsed = json_or_none(request.body)
    return parsed if isinstance(parsed, dict) else {}


def pretty_json(value: Any) -> bytes:
    """``json.dumps(value, indent=2, ensure_ascii=False)`` and a final line break, as UTF-8.

    The standard library writes indented JSON with its pure-Python encoder, a generator per
    level; this writes the same text into one list (tests/unit/test_pretty_json.py checks it
    byte for byte against ``json.dumps``)."""
    out: list[str] = []
    _write(value, "\n", out)
    out.append("\n")
    return "".join(out).encode("utf-8")


_encode_string = json.encoder.encode_basestring  # the C one when built; what ensure_ascii=False uses


def ascii_of(value: str, allowed: bytes) -> bool:
    """Whether ``value`` is ASCII made only of the bytes in ``allowed``: the alphabet deleted from
    its bytes in one C loop, many times faster than a regex over a long value (a vector)."""
    return value.isascii() and not value.encode("ascii").translate(None, allowed)


# printable ASCII but the two characters JSON escapes: a string made only of these is its own text
_JSON_PLAIN = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')

BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# One long JSON string (a vector, a file's bytes) is asked whether it is a base64 run by
# redaction, then normalisation, then the JSON printer and the id rewriter: its answer is kept by
# identity for the next questions (the entry holds the string, so its id cannot be reused while
# it is kept). Only strings of 1-64 KB: a short one is cheap to check again, and the memo never
# holds more than a few MB.
_RUNS: dict[int, tuple[str, int]] = {}
_RUN_MEMO = (1024, 65536, 64)  # shortest and longest string kept, most entries


def base64_run(value: str) -> int:
    """The length of ``value`` without its padding when it is a run of the standard base64
    alphabet with at most two ``=`` of padding, else -1."""
    kept = _RUN_MEMO[0] <= len(value) <= _RUN_MEMO[1]
    found = _remembered_run(value) if kept else None
    if found is not None:
        return found
    core = value.rstrip("=")
    found = len(core) if len(value) - len(core) <= 2 and ascii_of(core, BASE64_ALPHABET) else -1
    if kept:
        if len(_RUNS) >= _RUN_MEMO[2]:
            _RUNS.clear()
        _RUNS[id(value)] = (value, found)
    return found


def _remembered_run(value: str) -> int | None:
    """``base64_run``'s answer for this very string if the memo holds it (no scan), else None."""
    seen = _RUNS.get(id(value))
    return seen[1] if seen is not None and seen[0] is value else None


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        if len(value) > 64:
            run = _remembered_run(value)  # a base64 run is plain: no need to look again
            if (run is not None and run >= 0) or ascii_of(value, _JSON_PLAIN):
                return '"' + value + '"'  # a vector, a file's bytes: no escape to look for
        return _encode_string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (math.inf, -math.inf):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    return None


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _encode_string(key)
    text = _scalar(key)
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
    return _encode_string(text)


def _write(value: Any, newline: str, out: list[str]) -> None:
    text = _scalar(value)
    if text is not None:
        out.append(text)
        return
    inner = newline + "  "
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        separator = "{" + inner
        for key, item in value.items():
            out.append(separator + _key(key) + ": ")
            _write(item, inner, out)
            separator = "," + inner
        out.append(newline + "}")
    elif isinstance(value, list | tuple):
        if not value:
            out.append("[]")
            return
        separator = "[" + inner
        for item in value:
            out.append(separator)
            _write(item, inner, out)
            separator = "," + inner
        out.append(newline + "]")
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# -- content codings ----------------------------------------------------------------------------


def decode_body(body: bytes, headers: Headers) -> bytes:
    """Undo Content-Encoding (gzip, deflate, br, zstd; stacked codings in reverse order).

    Some clients (urllib3) hand over a body they already decoded while the header still names
    the coding; a body that does not decode is therefore taken as already decoded.
    """
    decoded = decoded_or_none(body, headers)
    return body if decoded is None else decoded


# headers that describe how a body travelled, not what it is: wrong once the body is decoded
FRAMING_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding"})


def decoded(response: RecordedResponse, dropping: frozenset[str] = FRAMING_HEADERS) -> RecordedResponse:
    """The answer with its body decoded, without the headers ``dropping`` names (by default
    those of its old encoding and length)."""
    return response.with_(
        body=decode_body(response.body, response.headers),
        headers=tuple((k, v) for k, v in response.headers if k.lower() not in dropping),
    )


_CODING = frozenset({"content-encoding"})


def coding_undone(response: RecordedResponse) -> RecordedResponse:
    """The answer with its Content-Encoding undone and that header gone; its other headers (a
    ``content-length`` the normaliser rewrites) as they came. Decoding it again is a no-op,
    where a body decoded but still labelled would be decoded twice if it was coded twice."""
    if header_value(response.headers, "content-encoding") is None:
        return response
    return decoded(response, dropping=_CODING)


def decoded_or_none(body: bytes, headers: Headers) -> bytes | None:
    """The body with its Content-Encoding undone, or None when it does not decode as labelled
    (already decoded, or not what the header says)."""
    try:
        return _decode(body, (header_value(headers, "content-encoding") or "").lower())
    except (OSError, EOFError, zlib.error, ValueError):
        return None


def stale_encoding(body: bytes, headers: Headers) -> bool:
    """A body labelled with a coding it is not in: stored decoded, header left behind."""
    coding = (header_value(headers, "content-encoding") or "").strip().lower()
    return bool(body) and coding not in ("", "identity") and decoded_or_none(body, headers) is None


def _decode(body: bytes, coding: str) -> bytes:
    for step in reversed([c.strip() for c in coding.split(",") if c.strip()]):
        if step in ("gzip", "x-gzip"):
            body = gzip.decompress(body)
        elif step == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif step == "br":
            body = _brotli_decompress(body)
        elif step == "zstd":
            body = _zstd_decompress(body)
        elif step != "identity":
            raise ValueError(f"unsupported content-encoding {step!r}")
    return body


def _brotli_decompress(body: bytes) -> bytes:
    try:
        import brotli  # optional dependency: pip install 'contracttape[brotli]'
    except ImportError as exc:
        raise ValueError(
            "a br-encoded body needs the brotli package: pip install 'contracttape[brotli]'"
        ) from exc
    data: bytes = brotli.decompress(body)
    return data


def _zstd_decompress(body: bytes) -> bytes:
    try:
        import zstandard  # optional: a zstd body needs the zstandard package
    except ImportError as exc:
        raise ValueError("a zstd-encoded body needs the zstandard package: pip install zstandard") from exc
    data: bytes = zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 30)
    return data


# -- server-sent events --------------------------------------------------------------------------


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
        ok, event = parse_json(text)
        if not ok:
            continue
        if name and isinstance(event, dict) and "type" not in event:
            event = {"type": name, **event}
        events.append(event)
    return events


# -- multipart -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    name: str
    filename: str
    content_type: str
    data: bytes


def multipart(body: bytes, content_type: str) -> list[Part] | None:
    """The parts of a multipart body in order (stdlib email parser), or None if it is not one."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        return None
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        parts.append(
            Part(
                name=str(part.get_param("name", header="content-disposition") or ""),
                filename=str(part.get_filename() or ""),
                content_type=part.get_content_type(),
                data=payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts


def multipart_fields(request: RecordedRequest) -> dict[str, bytes]:
    """Form fields and files of a multipart request, by name (the first part of each name)."""
    if not media_type(request.headers).startswith("multipart/"):
        return {}
    fields: dict[str, bytes] = {}
    for part in multipart(request.body, request.header("content-type") or "") or []:
        fields.setdefault(part.name, part.data)
    return fields
