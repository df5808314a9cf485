"""Recorded data as small frozen values: requests, responses, interactions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

Headers = tuple[tuple[str, str], ...]


def make_headers(raw: Mapping[str, object] | Iterable[tuple[str, str]] | None) -> Headers:
    """Normalise any header container (dict of str or of lists, or pairs) to ordered pairs."""
    if raw is None:
        return ()
    pairs: list[tuple[str, str]] = []
    items = raw.items() if isinstance(raw, Mapping) else raw
    for name, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        for one in values:
            text = one.decode("latin-1") if isinstance(one, bytes) else str(one)
            key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
            pairs.append((key, text))
    return tuple(pairs)


def header_value(headers: Headers, name: str) -> str | None:
    """First value of a header, case-insensitively, or None."""
    lowered = name.lower()
    if lowered.isascii():
        # only a key of the same length can lower-case to an ASCII name (the letters that do
        # are A-Z and the Kelvin sign, one character each): most keys are passed over unlowered
        size = len(lowered)
        for key, value in headers:
            if len(key) == size and key.lower() == lowered:
                return value
        return None
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return None


def headers_as_lists(headers: Headers) -> dict[str, list[str]]:
    """vcrpy's on-disk header shape: name -> list of values, first-seen name casing kept."""
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name, []).append(value)
    return out


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    uri: str
    headers: Headers = ()
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path or "/"

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def describe(self) -> str:
        return f"{self.method.upper()} {self.uri}"

    def with_(self, **changes: object) -> RecordedRequest:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class RecordedResponse:
    status: int
    reason: str = ""
    headers: Headers = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)

    def with_(self, **changes: object) -> RecordedResponse:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Interaction:
    """One request and the response it got, plus contracttape's per-interaction metadata."""

    request: RecordedRequest
    response: RecordedResponse
    # Filled by the budget machinery: what this interaction cost when it was recorded (USD).
    cost_usd: float | None = None
    extra: tuple[tuple[str, object], ...] = field(default=())
