"""Volatile values out, readable bodies in: what an interaction looks like on disk.

``Normaliser.for_disk`` turns a raw interaction into the one stored in a cassette:
credentials redacted (``redact.Redactor``), compressed bodies decoded, JSON pretty-printed,
volatile values (dates, request ids, rate-limit counters, JWT time claims) pinned, SDK noise
headers dropped, and real origins (a sandbox on a random port) renamed to stable logical ones.
``Normaliser.for_match`` applies the same rules to an outgoing request, so a request made
during replay and its recorded twin normalise to the same thing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote_plus

from contracttape.bodies import decode_body, looks_like_json, media_type, parse_json, pretty_json
from contracttape.model import Headers, Interaction, RecordedRequest, RecordedResponse, header_value
from contracttape.redact import PINNED_EXP, Redactor, is_base64_blob, map_json

PINNED_HTTP_DATE = "Thu, 01 Jan 2026 00:00:00 GMT"
PINNED_EPOCH = 1767225600  # 2026-01-01T00:00:00Z, for creation timestamps given as epoch seconds

# The generic header rules (HTTP itself, common proxies and SDK generators); each service profile
# adds its own, and ``HeaderRules.extended`` merges them (see ``run.header_rules``).
# Request headers that carry no meaning for the server's answer but change between runs or
# SDK versions; they are neither stored nor matched.
NOISE_REQUEST_HEADERS = frozenset(
    {"user-agent", "accept-encoding", "connection", "content-length", "host", "keep-alive", "te"}
)
NOISE_REQUEST_PREFIXES = ("x-stainless-",)  # Stainless-generated SDKs (OpenAI, LlamaCloud, ...)

# Response headers whose values change on every call; pinned to a stable stand-in.
VOLATILE_RESPONSE_HEADERS: dict[str, str] = {
    "date": PINNED_HTTP_DATE,
    "expires": PINNED_HTTP_DATE,
    "last-modified": PINNED_HTTP_DATE,
    "x-request-id": "req_normalised",
    "request-id": "req_normalised",
    "x-amzn-requestid": "req_normalised",
    "x-correlation-id": "req_normalised",
    "cf-ray": "normalised",
    "x-envoy-upstream-service-time": "0",
    "age": "0",
    "etag": '"normalised"',
}
# Request headers that change what a server answers, for every service.
MATCHED_REQUEST_HEADERS = frozenset({"prefer", "range"})


def _lowered(mapping: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in mapping.items()}


@dataclass(frozen=True)
class HeaderRules:
    """Which headers are noise, volatile or matched: the generic ones plus every profile's."""

    noise: frozenset[str] = NOISE_REQUEST_HEADERS
    noise_prefixes: tuple[str, ...] = NOISE_REQUEST_PREFIXES
    volatile: tuple[tuple[str, str], ...] = tuple(sorted(VOLATILE_RESPONSE_HEADERS.items()))
    matched: frozenset[str] = MATCHED_REQUEST_HEADERS

    def extended(
        self,
        *,
        noise: Iterable[str] = (),
        noise_prefixes: Iterable[str] = (),
        volatile: Mapping[str, str] | None = None,
        matched: Iterable[str] = (),
    ) -> HeaderRules:
        return HeaderRules(
            noise=self.noise | {n.lower() for n in noise},
            noise_prefixes=tuple(sorted({*self.noise_prefixes, *(p.lower() for p in noise_prefixes)})),
            volatile=tuple(sorted({**dict(self.volatile), **_lowered(volatile or {})}.items())),
            matched=self.matched | {m.lower() for m in matched},
        )

    def is_noise(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.noise or lowered.startswith(self.noise_prefixes)


# Headers dropped from stored responses: hop-by-hop, or recomputed on write.
_DROPPED_RESPONSE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "connection", "keep-alive"})

_ISO_INSTANT = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?P<frac>\.\d+)?(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def pin_instant(value: str) -> str:
    """An ISO-8601 date-time pinned to 2026-01-01T00:00:00, keeping its shape; a fraction of 4 to
    6 digits becomes 6 (PostgreSQL drops a microsecond's trailing zeros: ``.12345`` is
    ``.123450``, so the digit count of one value says nothing about the API)."""
    m = _ISO_INSTANT.match(value)
    if not m:
        return value
    sep = value[10]
    time = "00:00:00"[: len(m.group("time"))]
    digits = len(m.group("frac")) - 1 if m.group("frac") else 0
    frac = "." + "0" * (6 if 4 <= digits <= 6 else digits) if digits else ""
    tz = m.group("tz") or ""
    if tz and tz != "Z":
        tz = tz[0] + "00" + (":" if ":" in tz else "") + "00"
    return f"2026-01-01{sep}{time}{frac}{tz}"


_BOUNDARY = re.compile(r'boundary="?([^";,\s]+)"?', re.IGNORECASE)
_EPOCH_KEYS = frozenset({"created", "created_at", "updated_at"})
_EXPIRY_KEYS = frozenset({"expires_at"})
# Random per request by design (PKCE, replay protection): pinned so requests match on replay.
VOLATILE_BODY_KEYS = frozenset({"code_challenge", "code_verifier", "nonce"})


def _is_epoch(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 10**9 <= value < 10**10


def sorted_headers(headers: Headers) -> Headers:
    """Headers ordered by name (values of one name keep their order): clients differ in order."""
    return tuple(sorted(headers, key=lambda pair: pair[0].lower()))


def stable_boundary(headers: Headers, body: bytes) -> tuple[Headers, bytes]:
    """Replace a multipart body's random boundary by one derived from its content."""
    ctype = header_value(headers, "content-type") or ""
    found = _BOUNDARY.search(ctype) if ctype.lower().startswith("multipart/") else None
    if not found or not body:
        return headers, body
    old = found.group(1).encode("latin-1")
    new = b"contracttape-" + hashlib.sha256(body.replace(old, b"")).hexdigest()[:24].encode()
    new_ctype = ctype[: found.start(1)] + new.decode() + ctype[found.end(1) :]
    fixed = tuple((n, new_ctype if n.lower() == "content-type" else v) for n, v in headers)
    return fixed, body.replace(b"--" + old, b"--" + new)


_OUTSIDE_QUOTES = re.compile(r',(?=(?:[^"]*"[^"]*")*[^"]*$)')


def sorted_set_params(uri: str, names: frozenset[str]) -> str:
    """``uri`` with the comma-separated items of each parameter in ``names`` sorted (commas
    inside double quotes are part of an item); every other byte of the URI is kept as it was."""
    if not names or "?" not in uri:
        return uri
    head, _, rest = uri.partition("?")
    query, hash_, fragment = rest.partition("#")
    pairs = query.split("&")
    for i, pair in enumerate(pairs):
        name, eq, value = pair.partition("=")
        if eq and unquote_plus(name) in names:
            items = _OUTSIDE_QUOTES.split(unquote_plus(value))
            pairs[i] = f"{name}={quote(','.join(sorted(items)), safe='')}"
    return f"{head}?{'&'.join(pairs)}{hash_}{fragment}"


_UNSEEN = object()


def _kept(memo: dict[Any, Any], key: Any, value: Any) -> Any:
    """``value``, remembered under ``key`` in a memo of at most 4,096 entries (emptied when full)."""
    if len(memo) >= 4096:
        memo.clear()
    memo[key] = value
    return value


@dataclass(frozen=True)
class Normaliser:
    """The rules that make an interaction safe and stable on disk, and matchable."""

    redactor: Redactor = field(default_factory=Redactor)
    # real origin (scheme://host:port) -> logical origin stored in cassettes
    origins: Mapping[str, str] = field(default_factory=dict)
    pin_timestamps: bool = True
    headers: HeaderRules = field(default_factory=HeaderRules)
    unordered_params: frozenset[str] = frozenset()
    _volatile: dict[str, str] = field(init=False, repr=False, compare=False)
    # request header (name, value) -> as stored, or None for noise; for the origins it was made with
    _header_memo: dict[tuple[str, str], tuple[str, str] | None] = field(init=False, repr=False, compare=False)
    # a short JSON string under its key -> as stored; for the origins it was made with
    _leaf_memo: dict[tuple[str | None, str], Any] = field(init=False, repr=False, compare=False)
    _memo_origins: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_volatile", dict(self.headers.volatile))
        object.__setattr__(self, "_header_memo", {})
        object.__setattr__(self, "_leaf_memo", {})
        object.__setattr__(self, "_memo_origins", ())
        # JWT claims are base64 inside the token: let the redactor rename origins in them too.
        object.__setattr__(self, "redactor", replace(self.redactor, claim_rewrite=self.rename_origins))

    # -- values ---------------------------------------------------------------------------

    def _memos_for_today(self) -> None:
        """Forget what the memos learned under other origins (registered as services start)."""
        origins = tuple(self.origins.items())
        if origins != self._memo_origins:
            self._header_memo.clear()
            self._leaf_memo.clear()
            object.__setattr__(self, "_memo_origins", origins)

    def _json(self, value: Any) -> Any:
        return map_json(self.redactor.named_values(value), self._json_leaf)

    def _json_leaf(self, key: str | None, value: Any) -> Any:
        """One JSON scalar as stored. The same short strings come back in request after request
        (models, roles, kinds), so each (key, string) is worked out once (a bounded memo)."""
        if type(value) is not str or len(value) > 256:
            return self._json_scalar(key, value)
        found = self._leaf_memo.get((key, value), _UNSEEN)
        if found is _UNSEEN:
            found = _kept(self._leaf_memo, (key, value), self._json_scalar(key, value))
        return found

    def _json_scalar(self, key: str | None, value: Any) -> Any:
        if key in VOLATILE_BODY_KEYS and isinstance(value, str) and value:
            return f"<volatile:{key}>"
        value = self.redactor.json_leaf(key, value)
        if isinstance(value, str):
            if is_base64_blob(value):
                return value  # a vector or a file's bytes: no origin (':') or instant ('-') in it
            value = self.rename_origins(value)
            return pin_instant(value) if self.pin_timestamps else value
        if self.pin_timestamps and key in _EPOCH_KEYS and _is_epoch(value):
            return PINNED_EPOCH
        if self.pin_timestamps and key in _EXPIRY_KEYS and _is_epoch(value):
            return PINNED_EXP  # far in the future: a replayed session never looks expired
        return value

    def set_params_sorted(self, uri: str) -> str:
        return sorted_set_params(uri, self.unordered_params)

    def rename_origins(self, text: str) -> str:
        for real, logical in self.origins.items():
            if real in text:
                text = text.replace(real, logical)
        return text

    def body(self, body: bytes, headers: Headers) -> bytes:
        """A body cleaned of secrets and volatile values; JSON comes out pretty-printed."""
        return self._body(body, headers)[0]

    def _body(self, body: bytes, headers: Headers) -> tuple[bytes, tuple[bool, Any]]:
        """``body``, and ``(True, value)`` when it is JSON (``value`` what the bytes say), else
        ``(False, None)``: a reader of the stored body need not parse it again."""
        self._memos_for_today()
        if not body:
            return body, (False, None)
        ok, parsed = parse_json(body) if looks_like_json(body, headers) else (False, None)
        if ok:
            cleaned = self._json(parsed)
            return pretty_json(cleaned), (True, cleaned)
        return self._other_body(body, headers), (False, None)

    def _other_body(self, body: bytes, headers: Headers) -> bytes:
        mtype = media_type(headers)
        if mtype == "application/x-www-form-urlencoded":
            return self.rename_origins_bytes(self.redactor.form(body))
        if mtype == "text/event-stream":
            return self.rename_origins_bytes(self.redactor.sse(body))
        found = _BOUNDARY.search(header_value(headers, "content-type") or "")
        if mtype.startswith("multipart/") and found:
            return self.rename_origins_bytes(self.redactor.multipart(body, found.group(1).encode("latin-1")))
        return self.rename_origins_bytes(self.redactor.raw(body))

    def rename_origins_bytes(self, body: bytes) -> bytes:
        if not self.origins:
            return body
        text = body.decode("latin-1")
        renamed = self.rename_origins(text)
        return body if renamed == text else renamed.encode("latin-1")

    # -- requests and responses ------------------------------------------------------------

    def request(self, request: RecordedRequest) -> RecordedRequest:
        """The stored (and matched) form of a request."""
        return self.request_and_json(request)[0]

    def request_and_json(self, request: RecordedRequest) -> tuple[RecordedRequest, tuple[bool, Any]]:
        """The stored form of a request, and its JSON body parsed as ``bodies.parse_json`` would
        parse the stored bytes (``(False, None)`` when the body is not JSON)."""
        body, parsed = self._body(decode_body(request.body, request.headers), request.headers)
        memo: dict[tuple[str, str], Any] = self._header_memo  # current: ``_body`` saw to it
        headers: list[tuple[str, str]] = []
        for pair in request.headers:
            found = memo.get(pair, _UNSEEN)
            if found is _UNSEEN:
                found = _kept(memo, pair, self._request_header(*pair))
            if found is not None:
                headers.append(found)
        kept, body = stable_boundary(tuple(headers), body)
        stored = RecordedRequest(
            method=request.method.upper(),
            uri=self.set_params_sorted(self.redactor.uri(self.rename_origins(request.uri))),
            headers=sorted_headers(kept),
            body=body,
        )
        return stored, parsed

    def _request_header(self, name: str, value: str) -> tuple[str, str] | None:
        """A request header as stored (``None``: noise, or the body's coding, which is undone:
        dropped). Clients send the same few headers with every request, so ``request_and_json``
        works each pair out once (a bounded memo)."""
        if self.headers.is_noise(name) or name.lower() == "content-encoding":
            return None
        return (name, self.rename_origins(self.redactor.headers(((name, value),))[0][1]))

    def response(self, response: RecordedResponse) -> RecordedResponse:
        return self.response_and_json(response)[0]

    def response_and_json(self, response: RecordedResponse) -> tuple[RecordedResponse, tuple[bool, Any]]:
        """The stored response, and its JSON body parsed as ``bodies.parse_json`` would."""
        body, parsed = self._body(decode_body(response.body, response.headers), response.headers)
        headers = sorted_headers(self._response_headers(self.redactor.headers(response.headers), len(body)))
        return RecordedResponse(response.status, response.reason, headers, body), parsed

    def _response_headers(self, headers: Headers, length: int) -> Headers:
        limits = {n.lower(): v for n, v in headers if n.lower().startswith("x-ratelimit-limit-")}
        out: list[tuple[str, str]] = []
        for name, value in headers:
            lowered = name.lower()
            if lowered in _DROPPED_RESPONSE_HEADERS:
                continue
            if lowered == "content-length":
                value = str(length)
            elif lowered in self._volatile:
                value = self._volatile[lowered]
            elif lowered.startswith("x-ratelimit-remaining-"):
                value = limits.get(
                    "x-ratelimit-limit-" + lowered.removeprefix("x-ratelimit-remaining-"), value
                )
            elif lowered.startswith("x-ratelimit-reset-"):
                value = "0s"
            elif lowered == "location":
                value = self.redactor.uri(self.rename_origins(value))
            out.append((name, value))
        return tuple(out)

    def as_sent(self, request: RecordedRequest) -> RecordedRequest:
        """The request as the service receives it, under its logical origin: for pricing.

        Nothing is redacted or pinned (a secret-shaped string in a prompt is billed as sent)."""
        return RecordedRequest(
            method=request.method.upper(),
            uri=self.rename_origins(request.uri),
            headers=request.headers,
            body=decode_body(request.body, request.headers),
        )

    def for_disk(self, interaction: Interaction) -> Interaction:
        return Interaction(
            request=self.request(interaction.request),
            response=self.response(interaction.response),
            cost_usd=interaction.cost_usd,
            extra=interaction.extra,
        )
