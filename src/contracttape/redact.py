"""Secrets out, before the first byte is written.

A ``Redactor`` removes credentials from headers, query strings and bodies (requests and
responses alike) and replaces them with stable placeholders, so that the same secret always
becomes the same text and a re-recording of an unchanged API changes nothing. JWTs keep their
header and payload (clients decode them, e.g. to read an expiry) but lose their signature, so
they cannot be used; their time claims are pinned so they do not churn either.

Service modules add their own rules with ``Redactor.extended``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from contracttape.model import Headers
from contracttape.patterns import (
    JWT_RE,
    REDACTED_SIGNATURE,
    SECRET_BODY_KEYS,
    SECRET_HEADERS,
    SECRET_PATTERNS,
    SECRET_QUERY_PARAMS,
    SecretPattern,
    placeholder,
)

# Pinned JWT time claims: issued 2026-01-01, valid until 2100-01-01, so a replayed session
# never looks expired to a client that checks.
PINNED_IAT = 1767225600
PINNED_EXP = 4102444800
_TIME_CLAIMS = {"iat": PINNED_IAT, "nbf": PINNED_IAT, "auth_time": PINNED_IAT, "exp": PINNED_EXP}

SecretRule = SecretPattern  # the pluggable unit: a named regex whose matches are secrets


def _b64url_decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def neutralise_jwt(token: str, rewrite: Callable[[str], str] | None = None) -> str:
    """A JWT with its signature replaced and its time claims pinned; undecodable -> placeholder.

    ``rewrite`` is applied to string claims (the normaliser renames real origins in ``iss``)."""
    parts = token.split(".")
    if len(parts) != 3:
        return placeholder("jwt")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        payload = json.loads(_b64url_decode(parts[1]))
    except (ValueError, binascii.Error):
        return placeholder("jwt")
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return placeholder("jwt")
    for claim, value in _TIME_CLAIMS.items():
        if isinstance(payload.get(claim), int | float):
            payload[claim] = value
    if rewrite is not None:
        payload = {k: rewrite(v) if isinstance(v, str) else v for k, v in payload.items()}
    encoded = [
        _b64url_encode(json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())
        for obj in (header, payload)
    ]
    return f"{encoded[0]}.{encoded[1]}.{REDACTED_SIGNATURE}"


def map_json(value: Any, leaf: Callable[[str | None, Any], Any], key: str | None = None) -> Any:
    """Rebuild parsed JSON with every scalar passed through ``leaf(parent key, scalar)``."""
    if isinstance(value, dict):
        return {k: map_json(v, leaf, k) for k, v in value.items()}
    if isinstance(value, list):
        return [map_json(v, leaf, key) for v in value]
    return leaf(key, value)


@dataclass(frozen=True)
class Redactor:
    """Credential removal rules. Immutable; ``extended`` returns a widened copy."""

    header_names: frozenset[str] = SECRET_HEADERS
    query_params: frozenset[str] = SECRET_QUERY_PARAMS
    body_keys: frozenset[str] = SECRET_BODY_KEYS
    patterns: tuple[SecretRule, ...] = SECRET_PATTERNS
    claim_rewrite: Callable[[str], str] | None = field(default=None, compare=False)
    _combined: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        alternatives = [f"(?P<jwt>{JWT_RE.pattern})"]
        alternatives += [f"(?P<p{i}>{p.regex.pattern})" for i, p in enumerate(self.patterns) if p.redact]
        object.__setattr__(self, "_combined", re.compile("|".join(alternatives)))

    def extended(
        self,
        *,
        header_names: Iterable[str] = (),
        query_params: Iterable[str] = (),
        body_keys: Iterable[str] = (),
        patterns: Iterable[SecretRule] = (),
    ) -> Redactor:
        return replace(
            self,
            header_names=self.header_names | {h.lower() for h in header_names},
            query_params=self.query_params | {q.lower() for q in query_params},
            body_keys=self.body_keys | {k.lower() for k in body_keys},
            patterns=self.patterns + tuple(patterns),
        )

    # -- text ---------------------------------------------------------------------------

    def _replace(self, match: re.Match[str]) -> str:
        if match.group("jwt") is not None:
            return neutralise_jwt(match.group(0), self.claim_rewrite)
        name = match.lastgroup or ""
        return placeholder(self.patterns[int(name[1:])].name) if name.startswith("p") else match.group(0)

    def text(self, value: str) -> str:
        """Replace every secret-looking substring."""
        return self._combined.sub(self._replace, value)

    def raw(self, body: bytes) -> bytes:
        """Secret patterns over a body of unknown encoding (latin-1 round-trips any bytes)."""
        if not body:
            return body
        text = body.decode("latin-1")
        cleaned = self.text(text)
        return body if cleaned == text else cleaned.encode("latin-1")

    # -- structures ----------------------------------------------------------------------

    def json_value(self, value: Any) -> Any:
        """Walk parsed JSON: named keys are replaced whole, other strings pattern-scanned."""
        return map_json(value, self.json_leaf)

    def json_leaf(self, key: str | None, value: Any) -> Any:
        """One JSON scalar, given the key it sits under (a list's items share the list's key)."""
        if not isinstance(value, str):
            return value
        if key is not None and value and key.lower() in self.body_keys:
            return (
                neutralise_jwt(value, self.claim_rewrite)
                if JWT_RE.fullmatch(value)
                else placeholder(key.lower())
            )
        return self.text(value)

    def headers(self, headers: Headers) -> Headers:
        out = []
        for name, value in headers:
            if name.lower() in self.header_names:
                scheme = value.split(" ", 1)[0] if " " in value else ""
                kept = f"{scheme} " if scheme.lower() in {"bearer", "basic", "token"} else ""
                value = kept + placeholder(name.lower())
            else:
                value = self.text(value)
            out.append((name, value))
        return tuple(out)

    def query_pairs(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [
            (k, placeholder(k.lower()) if k.lower() in self.query_params else self.text(v)) for k, v in pairs
        ]

    def uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        netloc = parts.netloc
        if "@" in netloc:  # credentials in the authority
            netloc = placeholder("url-credentials") + "@" + netloc.rsplit("@", 1)[1]
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            cleaned = self.query_pairs(pairs)
            if cleaned != pairs:
                query = urlencode(cleaned, safe="<>:")
        return urlunsplit((parts.scheme, netloc, self.text(parts.path), query, parts.fragment))

    def form(self, body: bytes) -> bytes:
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
        merged = self.query_params | self.body_keys
        cleaned = [(k, placeholder(k.lower()) if k.lower() in merged else self.text(v)) for k, v in pairs]
        return body if cleaned == pairs else urlencode(cleaned, safe="<>:").encode("latin-1")
