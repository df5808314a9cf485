"""How a request made during replay finds its recorded twin.

Every request (recorded or live) is first normalised (``normalize.Normaliser.request``), then
reduced to a ``RequestShape``: method, origin, path, query (order-insensitive), the few headers
that change what a server answers, and a canonical body (JSON parsed and key-sorted; multipart
compared part by part by name, filename, type and content hash, never by its random boundary;
forms as sorted pairs; anything else by hash). Its hash is the index key, so lookup is O(1).

When nothing matches, ``explain`` compares the request with recorded ones matcher by matcher
and returns reasons, which the error message is built from.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from contracttape.bodies import looks_like_json, media_type, multipart, parse_json
from contracttape.model import Interaction, RecordedRequest
from contracttape.normalize import MATCHED_REQUEST_HEADERS

# Request headers that change the answer (``prefer``, ``range``, and what service profiles add,
# e.g. PostgREST's profiles and storage's upsert: ``Normaliser.headers.matched``). Everything
# else (auth, SDK noise) is ignored for matching, except a non-generic ``accept``.
MATCHED_HEADERS = MATCHED_REQUEST_HEADERS
_GENERIC_ACCEPT = frozenset({"", "*/*", "application/json", "application/json, */*", "text/event-stream"})

MATCHERS = ("method", "origin", "path", "query", "headers", "body")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def multipart_parts(body: bytes, content_type: str) -> list[tuple[str, str, str, str]] | None:
    """(name, filename, content-type, sha256) per part, sorted; None if not parseable."""
    parts = multipart(body, content_type)
    if parts is None:
        return None
    return sorted((p.name, p.filename, p.content_type, _sha(p.data)) for p in parts)


def canonical_body(request: RecordedRequest, parsed: tuple[bool, Any] = (False, None)) -> Any:
    """``parsed``: ``(True, value)`` when the body is known to be JSON saying ``value``
    (``Normaliser.request_and_json``), so it is not parsed again."""
    body = request.body
    if not body:
        return ""
    mtype = media_type(request.headers)
    if mtype.startswith("multipart/"):
        parts = multipart_parts(body, request.header("content-type") or "")
        if parts is not None:
            return {"multipart": parts}
    if parsed[0]:
        return {"json": parsed[1]}
    if looks_like_json(body, request.headers):
        ok, parsed = parse_json(body)
        if ok:
            return {"json": parsed}
    if mtype == "application/x-www-form-urlencoded":
        return {"form": sorted(parse_qsl(body.decode("latin-1"), keep_blank_values=True))}
    return {"sha256": _sha(body)}


def _matched_headers(request: RecordedRequest, matched: frozenset[str]) -> list[tuple[str, str]]:
    first: dict[str, str] = {}  # each header's first value, by lower-cased name: one pass
    for name, value in request.headers:
        first.setdefault(name.lower(), value)
    found = [(name, first[name.lower()]) for name in sorted(matched) if first.get(name.lower())]
    accept = first.get("accept", "").strip().lower()
    if accept not in _GENERIC_ACCEPT:
        found.append(("accept", accept))
    return found


@dataclass(frozen=True)
class RequestShape:
    """A normalised request reduced to what matching compares."""

    method: str
    origin: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: tuple[tuple[str, str], ...]
    body: str  # canonical JSON text of the body's canonical form

    @classmethod
    def of(
        cls,
        request: RecordedRequest,
        matched: frozenset[str] = MATCHED_HEADERS,
        parsed: tuple[bool, Any] = (False, None),
    ) -> RequestShape:
        """``parsed``: what ``canonical_body`` may take as the body's JSON, when known."""
        parts = urlsplit(request.uri)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
        return cls(
            method=request.method.upper(),
            origin=f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}",
            path=parts.path or "/",
            query=tuple(sorted(parse_qsl(parts.query, keep_blank_values=True))),
            headers=tuple(_matched_headers(request, matched)),
            body=_CANONICAL.encode(canonical_body(request, parsed)),
        )

    @cached_property
    def key(self) -> str:
        text = _COMPACT.encode([self.method, self.origin, self.path, self.query, self.headers, self.body])
        return _sha(text.encode("utf-8"))


# bump when what a key is made of changes (RequestShape, canonical_body): kept keys go stale
KEY_VERSION = 1


def key_rules(matched: frozenset[str], unordered_params: frozenset[str]) -> str:
    """Everything a recorded request's key depends on besides the request itself."""
    return f"v{KEY_VERSION} matched={sorted(matched)} unordered={sorted(unordered_params)}"


def shape_keys(requests: Sequence[RecordedRequest], matched: frozenset[str]) -> list[str]:
    return [RequestShape.of(r, matched).key for r in requests]


# made once: json.dumps builds an encoder on every call that passes options
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)
_COMPACT = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True)
class Mismatch:
    """One matcher that failed, and why."""

    matcher: str
    detail: str


def _first_json_difference(a: Any, b: Any, path: str = "$") -> str | None:
    if type(a) is not type(b):
        return f"{path}: {json.dumps(b)[:60]} recorded, {json.dumps(a)[:60]} sent"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in b:
                return f"{path}.{key}: sent but not recorded"
            if key not in a:
                return f"{path}.{key}: recorded but not sent"
            found = _first_json_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(b)} items recorded, {len(a)} sent"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = _first_json_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {json.dumps(b)[:60]} recorded, {json.dumps(a)[:60]} sent"


def _body_detail(sent: str, recorded: str) -> str:
    a, b = json.loads(sent), json.loads(recorded)
    if isinstance(a, dict) and isinstance(b, dict) and "json" in a and "json" in b:
        return "JSON body differs at " + (_first_json_difference(a["json"], b["json"]) or "$")
    if isinstance(a, dict) and isinstance(b, dict) and "multipart" in a and "multipart" in b:
        sent_parts = {tuple(p[:2]): p for p in a["multipart"]}
        rec_parts = {tuple(p[:2]): p for p in b["multipart"]}
        names = sorted(set(sent_parts) ^ set(rec_parts)) or sorted(
            k for k in sent_parts if sent_parts[k] != rec_parts.get(k)
        )
        return "multipart parts differ: " + ", ".join(f"{n}({f})" if f else n for n, f in names)
    return "body differs"


def explain(sent: RequestShape, recorded: RequestShape) -> list[Mismatch]:
    """Matchers that fail between a sent request and a recorded one, with reasons."""
    out: list[Mismatch] = []
    if sent.method != recorded.method:
        out.append(Mismatch("method", f"{recorded.method} recorded, {sent.method} sent"))
    if sent.origin != recorded.origin:
        out.append(Mismatch("origin", f"{recorded.origin} recorded, {sent.origin} sent"))
    if sent.path != recorded.path:
        out.append(Mismatch("path", f"{recorded.path} recorded, {sent.path} sent"))
    if sent.query != recorded.query:
        missing = sorted(set(recorded.query) - set(sent.query))
        extra = sorted(set(sent.query) - set(recorded.query))
        out.append(Mismatch("query", f"recorded-only {missing}, sent-only {extra}"))
    if sent.headers != recorded.headers:
        out.append(Mismatch("headers", f"{list(recorded.headers)} recorded, {list(sent.headers)} sent"))
    if sent.body != recorded.body:
        out.append(Mismatch("body", _body_detail(sent.body, recorded.body)))
    return out


# -- the index: recorded interactions by request shape ------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A recorded request close to one that found no match, with the matchers that failed."""

    position: int
    interaction: Interaction
    mismatches: tuple[Mismatch, ...]


class InteractionIndex:
    """Serves each recorded interaction once, identical requests in the order recorded."""

    def __init__(
        self,
        interactions: Sequence[Interaction],
        allow_repeats: bool = False,
        matched: frozenset[str] = MATCHED_HEADERS,
        keys: Sequence[str] | None = None,
    ) -> None:
        """``keys``: each interaction's ``RequestShape.key`` under ``matched``, when already
        known (``cassettes.CassetteCache.index_keys``); otherwise worked out here."""
        self.interactions = tuple(interactions)
        self.allow_repeats = allow_repeats
        self._matched = matched
        if keys is None:
            keys = [shape.key for shape in self._shapes]
        self._by_key: dict[str, list[int]] = defaultdict(list)
        for position, key in enumerate(keys):
            self._by_key[key].append(position)
        self._next: dict[str, int] = defaultdict(int)
        self.played: set[int] = set()

    @cached_property
    def _shapes(self) -> list[RequestShape]:
        return [RequestShape.of(i.request, self._matched) for i in self.interactions]

    def __len__(self) -> int:
        return len(self.interactions)

    def available(self, shape: RequestShape) -> bool:
        positions = self._by_key.get(shape.key)
        if not positions:
            return False
        return self._next[shape.key] < len(positions) or self.allow_repeats

    def take(self, shape: RequestShape) -> tuple[int, Interaction] | None:
        """The next unplayed interaction for this request (or the last one, if repeats are allowed)."""
        positions = self._by_key.get(shape.key)
        if not positions:
            return None
        nth = self._next[shape.key]
        if nth >= len(positions):
            if not self.allow_repeats:
                return None
            nth = len(positions) - 1
        self._next[shape.key] = nth + 1
        position = positions[nth]
        self.played.add(position)
        return position, self.interactions[position]

    def peek(self, shape: RequestShape) -> Interaction | None:
        """What ``take`` would serve next, without serving it."""
        positions = self._by_key.get(shape.key)
        if not positions:
            return None
        nth = min(self._next[shape.key], len(positions) - 1)
        return self.interactions[positions[nth]]

    def times_recorded(self, shape: RequestShape) -> int:
        return len(self._by_key.get(shape.key, ()))

    def recorded_cost(self, shape: RequestShape) -> float | None:
        """The cost recorded for the last interaction with this request, if any."""
        costs = [self.interactions[p].cost_usd for p in self._by_key.get(shape.key, ())]
        known = [c for c in costs if c is not None]
        return known[-1] if known else None

    def unused(self) -> list[int]:
        return [p for p in range(len(self.interactions)) if p not in self.played]

    def closest(self, shape: RequestShape, limit: int = 3) -> list[Candidate]:
        """Recorded requests that fail the fewest matchers (linear, only on a miss)."""
        scored = []
        for position, recorded in enumerate(self._shapes):
            mismatches = explain(shape, recorded)
            if len(mismatches) < len(MATCHERS):
                scored.append((len(mismatches), position, mismatches))
        scored.sort(key=lambda item: (item[0], item[1]))
        return [Candidate(p, self.interactions[p], tuple(m)) for _, p, m in scored[:limit]]
