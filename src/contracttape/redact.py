"""Secrets out, before the first byte is written.

A ``Redactor`` removes credentials from headers, query strings and bodies (requests and
responses alike) and replaces them with stable placeholders, so that the same secret always
becomes the same text and a re-recording of an unchanged API changes nothing. JWTs keep their
header and payload (clients decode them, e.g. to read an expiry) but lose their signature, so
they cannot be used; their time claims are pinned so they do not churn either.

What is a secret is decided in one place for every container: a field, form field, multipart
field, query parameter or header is a credential by what its *name* means
(``patterns.is_secret_name``: ``accessToken``, ``X-Amz-Signature``, ``x-auth-token``...), plus
the explicit names a service adds; any string anywhere is scanned for secret *patterns*
(provider keys, bearer credentials, PEM blocks, ``password=...`` pairs in free text). JSON is
walked at any depth, including JSON held inside a string, inside SSE events and inside JWT
claims. Values that only stand in for a secret (``********``, ``${SECRET}``) are left alone.

Service modules add their own rules with ``Redactor.extended``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from contracttape.bodies import BASE64_ALPHABET, base64_run
from contracttape.model import Headers
from contracttape.secret_rules import (
    JWT_LITERALS,
    JWT_RE,
    PLACEHOLDER_RE,
    REDACTED_SIGNATURE,
    SECRET_BODY_KEYS,
    SECRET_HEADERS,
    SECRET_PATTERNS,
    SECRET_QUERY_PARAMS,
    SecretPattern,
    is_placeholder_value,
    is_secret_match,
    is_secret_name,
    placeholder,
)

# Pinned JWT time claims: issued 2026-01-01, valid until 2100-01-01, so a replayed session
# never looks expired to a client that checks.
PINNED_IAT = 1767225600
PINNED_EXP = 4102444800
_TIME_CLAIMS = {"iat": PINNED_IAT, "nbf": PINNED_IAT, "auth_time": PINNED_IAT, "exp": PINNED_EXP}


def b64url_decode(segment: str) -> bytes:
    """A JWT segment's bytes (base64url, padding restored)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def jwt_segment(obj: Any) -> str:
    """A JWT header or payload as written back: compact, sorted JSON, base64url without padding."""
    data = json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def neutralise_jwt(
    token: str,
    rewrite: Callable[[str], str] | None = None,
    claims: Callable[[dict[str, Any]], Any] | None = None,
) -> str:
    """A JWT with its signature replaced and its time claims pinned; undecodable -> placeholder.

    ``rewrite`` is applied to string claims (the normaliser renames real origins in ``iss``);
    ``claims`` redacts the payload like any JSON (a key can hide in a claim)."""
    parts = token.split(".")
    if len(parts) != 3:
        return placeholder("jwt")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
    except (ValueError, binascii.Error):
        return placeholder("jwt")
    if not isinstance(header, dict) or not isinstance(payload, dict):
        return placeholder("jwt")
    original = json.loads(json.dumps(payload))
    for claim, value in _TIME_CLAIMS.items():
        if isinstance(payload.get(claim), int | float):
            payload[claim] = value
    methods = payload.get("amr")
    for method in methods if isinstance(methods, list) else []:
        if isinstance(method, dict) and isinstance(method.get("timestamp"), int | float):
            method["timestamp"] = PINNED_IAT  # when the user signed in (GoTrue's amr)
    if claims is not None:
        payload = claims(payload)
    if rewrite is not None:
        payload = {k: rewrite(v) if isinstance(v, str) else v for k, v in payload.items()}
    signature = REDACTED_SIGNATURE if parts[2] else ""  # an unsigned token (alg "none") stays so
    if payload == original:
        return f"{parts[0]}.{parts[1]}.{signature}"
    encoded = [jwt_segment(obj) for obj in (header, payload)]
    return f"{encoded[0]}.{encoded[1]}.{signature}"


def map_json(value: Any, leaf: Callable[[str | None, Any], Any], key: str | None = None) -> Any:
    """Rebuild parsed JSON with every scalar passed through ``leaf(parent key, scalar)``."""
    if isinstance(value, dict):
        return {k: map_json(v, leaf, k) for k, v in value.items()}
    if isinstance(value, list):
        return [map_json(v, leaf, key) for v in value]
    return leaf(key, value)


_TEXT_PAIR = re.compile(
    # (``name::value`` is a scope, not a pair: a pytest node id such as ``test_secrets.py::test_x``)
    r"(?P<q>[\"']?)(?P<name>[A-Za-z][A-Za-z0-9_.-]{1,60})(?P=q)\s*(?P<sep>=|:(?!:))\s*"
    r"(?:(?P<vq>[\"'])(?P<quoted>(?!<redacted)[^\"'\n]{1,200})(?P=vq)|(?P<value>(?!<redacted)[^\"'\s,;&}<>]+))"
)
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest"})
# "Authorization: Bearer <anything>" written out in free text (a log line, an echoed request)
_AUTH_LINE = re.compile(
    r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?)"
    r"(?!<redacted)([^\s\"',;<>]+)"
)


# A long run of the standard base64 alphabet with at most its padding (an embedding vector, a
# file's bytes): its '=' pads the end and assigns nothing, so no ``name=value`` pair is in it
# (searched for one, the padding of a vector could even be taken for a value). The secret
# patterns still look at it.
_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/]{64,}={0,2}")
_BASE64_CHARS = frozenset(BASE64_ALPHABET.decode("ascii") + "=")  # with the padding


def is_base64_blob(value: str, shortest: int = 64) -> bool:
    """``_BASE64_BLOB.fullmatch(value)``: at least ``shortest`` characters of the alphabet and at
    most two of padding, answered by deleting the alphabet from the bytes (a C loop over the
    string, several times faster than the regex on a vector; ``bodies.base64_run``)."""
    return len(value) >= shortest and base64_run(value) >= shortest


@dataclass(frozen=True)
class Redactor:
    """Credential removal rules. Immutable; ``extended`` returns a widened copy.

    ``header_names``, ``query_params`` and ``body_keys`` are names that are secret *in addition*
    to every name ``is_secret_name`` recognises (e.g. ``key`` as a query parameter)."""

    header_names: frozenset[str] = SECRET_HEADERS
    query_params: frozenset[str] = SECRET_QUERY_PARAMS
    body_keys: frozenset[str] = SECRET_BODY_KEYS
    patterns: tuple[SecretPattern, ...] = SECRET_PATTERNS
    claim_rewrite: Callable[[str], str] | None = field(default=None, compare=False)
    _combined: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _literals: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _literal_re: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _blob_literals: tuple[str, ...] = field(init=False, repr=False, compare=False)
    # the blob literals without their "A"s (see ``_blob_may_hold_a_literal``), if all keep two
    _blob_squeezed: tuple[bytes, ...] | None = field(init=False, repr=False, compare=False)
    _unfiltered: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """One pattern for every secret shape (one pass per string), and its prefilter: the
        literals every match of a pattern contains. A text holding none of them can only match
        the patterns that declare no literals, so only those are searched (``_unfiltered``)."""
        alternatives = [f"(?P<jwt>{JWT_RE.pattern})"]
        unfiltered = []
        literals = list(JWT_LITERALS)
        for i, p in enumerate(self.patterns):
            if not p.redact:
                continue
            alternatives.append(f"(?P<p{i}>{p.regex.pattern})")
            if p.literals:
                literals.extend(p.literals)
            else:
                unfiltered.append(alternatives[-1])
        object.__setattr__(self, "_combined", re.compile("|".join(alternatives)))
        unique = tuple(dict.fromkeys(literals))
        object.__setattr__(self, "_literals", unique)
        object.__setattr__(self, "_literal_re", re.compile("|".join(map(re.escape, unique))))
        # A base64 blob is searched only for the patterns a run of its alphabet can match (not a
        # JWT: it has two dots), by those of their literals written in that alphabet.
        in_blob = [lit for p in self.patterns if p.redact and p.in_base64 for lit in p.literals or ()]
        blob_literals = tuple(dict.fromkeys(lit for lit in in_blob if set(lit) <= _BASE64_CHARS))
        object.__setattr__(self, "_blob_literals", blob_literals)
        squeezed = tuple(dict.fromkeys(lit.replace("A", "").encode("ascii") for lit in blob_literals))
        usable = blob_literals and all(len(lit) >= 2 for lit in squeezed)
        object.__setattr__(self, "_blob_squeezed", squeezed if usable else None)
        object.__setattr__(self, "_unfiltered", re.compile("|".join(unfiltered)) if unfiltered else None)

    def extended(
        self,
        *,
        header_names: Iterable[str] = (),
        query_params: Iterable[str] = (),
        body_keys: Iterable[str] = (),
        patterns: Iterable[SecretPattern] = (),
    ) -> Redactor:
        return replace(
            self,
            header_names=self.header_names | {h.lower() for h in header_names},
            query_params=self.query_params | {q.lower() for q in query_params},
            body_keys=self.body_keys | {k.lower() for k in body_keys},
            patterns=self.patterns + tuple(patterns),
        )

    # -- names ----------------------------------------------------------------------------

    def secret_header(self, name: str) -> bool:
        return name.lower() in self.header_names or is_secret_name(name)

    def secret_param(self, name: str) -> bool:
        return name.lower() in self.query_params or name.lower() in self.body_keys or is_secret_name(name)

    def secret_key(self, name: str) -> bool:
        return name.lower() in self.body_keys or is_secret_name(name)

    # -- text ---------------------------------------------------------------------------

    def _replace(self, match: re.Match[str]) -> str:
        if match.lastgroup == "jwt":
            return self.jwt(match.group(0))
        name = match.lastgroup or ""
        if not name.startswith("p"):
            return match.group(0)
        pattern = self.patterns[int(name[1:])]
        if not is_secret_match(pattern.name, match.group(0)):
            return match.group(0)
        return placeholder(pattern.name)

    def _replace_pair(self, match: re.Match[str]) -> str:
        group = "quoted" if match.group("quoted") is not None else "value"
        value = match.group(group)
        if (
            not self.secret_key(match.group("name"))
            or value.lower() in _AUTH_SCHEMES
            or is_placeholder_value(value)
            or value.endswith("." + REDACTED_SIGNATURE)  # a JWT already neutralised
        ):
            return match.group(0)
        start, end = match.span(group)
        whole = match.group(0)
        offset = match.start()
        return whole[: start - offset] + placeholder(match.group("name")) + whole[end - offset :]

    def text(self, value: str) -> str:
        """Replace every secret-looking substring, and the value of every ``secret-name: value``."""
        blob = is_base64_blob(value)
        if self._may_hold_a_literal(value, blob):
            cleaned = self._combined.sub(self._replace, value)
        elif self._unfiltered is not None:
            cleaned = self._unfiltered.sub(self._replace, value)
        else:
            cleaned = value
        if blob or (":" not in cleaned and "=" not in cleaned):
            return cleaned
        if "authorization" in cleaned.lower().replace("\u0131", "i"):  # re's IGNORECASE takes dotless i for i
            cleaned = _AUTH_LINE.sub(lambda m: m.group(1) + placeholder("authorization"), cleaned)
        return _TEXT_PAIR.sub(self._replace_pair, cleaned)

    def _may_hold_a_literal(self, value: str, blob: bool) -> bool:
        if blob:  # a long value: one fast substring search per literal beats a regex scan
            return self._blob_may_hold_a_literal(value)
        if len(value) > 256:
            return any(literal in value for literal in self._literals)
        return self._literal_re.search(value) is not None

    def _blob_may_hold_a_literal(self, value: str) -> bool:
        """Whether a base64 run holds one of the blob literals. A vector of many zero bytes is
        mostly ``A``s, over which Python's substring search crawls (the literals hold ``A``s
        too): with its ``A``s deleted it is short, and a literal in the run is, without its
        ``A``s, in what is left (deleting a character keeps a substring a substring). Only
        when that is so are the literals searched for in the run itself."""
        squeezed = self._blob_squeezed
        if squeezed is not None and "AAAA" in value[:256]:  # zero bytes show early; cheap to ask
            rest = value.encode("ascii").translate(None, b"A")  # a run is ASCII (is_base64_blob)
            if not any(literal in rest for literal in squeezed):
                return False
        return any(literal in value for literal in self._blob_literals)

    def raw(self, body: bytes) -> bytes:
        """Secret patterns over a body of unknown encoding (latin-1 round-trips any bytes)."""
        if not body:
            return body
        text = body.decode("latin-1")
        cleaned = self.text(text)
        return body if cleaned == text else cleaned.encode("latin-1")

    def jwt(self, token: str) -> str:
        return neutralise_jwt(token, self.claim_rewrite, self.json_value)

    # -- structures ----------------------------------------------------------------------

    def json_value(self, value: Any) -> Any:
        """Walk parsed JSON: secret-named keys are replaced whole, other strings scanned."""
        return map_json(self.named_values(value), self.json_leaf)

    def named_values(self, value: Any) -> Any:
        """``{"name": "DB_PASSWORD", "value": ...}`` (form echoes, env lists, tags): the value of
        an object that names a secret is redacted as if the name were its key."""
        if isinstance(value, list):
            return [self.named_values(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {k: self.named_values(v) for k, v in value.items()}
        lowered = {k.lower(): k for k in out if isinstance(k, str)}
        label = next((out[lowered[n]] for n in ("name", "key") if n in lowered), None)
        holder = lowered.get("value")
        if isinstance(label, str) and holder is not None and self.secret_key(label):
            inner = out[holder]
            if isinstance(inner, str) and inner and not is_placeholder_value(inner):
                out[holder] = placeholder(label)
        return out

    def json_leaf(self, key: str | None, value: Any) -> Any:
        """One JSON scalar, given the key it sits under (a list's items share the list's key)."""
        if isinstance(value, int | float) and not isinstance(value, bool) and key and _is_pin(key):
            return placeholder(key)
        if not isinstance(value, str):
            return value
        if key is not None and value and self.secret_key(key) and not is_placeholder_value(value):
            return self.jwt(value) if JWT_RE.fullmatch(value) else placeholder(key)
        return self.json_string(value)

    def json_string(self, value: str) -> str:
        """A string; one that holds JSON (``"{\\"password\\": ...}"``) is redacted as JSON."""
        stripped = value.strip()
        if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
            try:
                inner = json.loads(stripped)
            except ValueError:
                inner = None
            if isinstance(inner, dict | list):
                cleaned = self.json_value(inner)
                return value if cleaned == inner else json.dumps(cleaned, ensure_ascii=False)
        return self.text(value)

    def headers(self, headers: Headers) -> Headers:
        out = []
        for name, value in headers:
            if self.secret_header(name) and not is_placeholder_value(value):
                scheme = value.split(" ", 1)[0] if " " in value else ""
                kept = f"{scheme} " if scheme.lower() in _AUTH_SCHEMES else ""
                value = kept + placeholder(name.lower())
            else:
                value = self.text(value)
            out.append((name, value))
        return tuple(out)

    def query_pairs(self, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(k, self._param(k, v)) for k, v in pairs]

    def _param(self, name: str, value: str) -> str:
        if value and self.secret_param(name) and not is_placeholder_value(value):
            return placeholder(name.lower())
        return self.json_string(value)

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
        cleaned = self.query_pairs(pairs)
        return body if cleaned == pairs else urlencode(cleaned, safe="<>:").encode("latin-1")

    def multipart(self, body: bytes, boundary: bytes) -> bytes:
        """A multipart body with each form field redacted by name and each part's content by
        its kind (JSON at any depth, a form, text); a binary file gets the patterns only.
        Nothing is reformatted: a part changes only where a secret was."""
        delimiter = b"--" + boundary
        chunks = body.split(delimiter)
        cleaned = delimiter.join([chunks[0], *(self._part(chunk) for chunk in chunks[1:])])
        return body if cleaned == body else cleaned

    def _part(self, chunk: bytes) -> bytes:
        head, sep, rest = chunk.partition(b"\r\n\r\n")
        if not sep or chunk.startswith(b"--"):
            return chunk
        data, trailer = (rest[:-2], b"\r\n") if rest.endswith(b"\r\n") else (rest, b"")
        headers = _part_headers(head)
        disposition = dict(headers).get("content-disposition", "")
        name = _disposition_param(disposition, "name")
        filename = _disposition_param(disposition, "filename")
        if not filename and name and data and self.secret_param(name):
            text = data.decode("latin-1")
            if not is_placeholder_value(text):
                return head + sep + placeholder(name.lower()).encode() + trailer
        if filename and not _texty(headers):
            cleaned = self.raw(data)  # a file (a PDF): patterns only, over its bytes
        elif "x-www-form-urlencoded" in dict(headers).get("content-type", ""):
            cleaned = self.form(data)
        elif _utf8(data):
            cleaned = self.json_string(data.decode("utf-8")).encode("utf-8")
        else:
            cleaned = self.raw(data)
        return chunk if cleaned == data else head + sep + cleaned + trailer

    def sse(self, body: bytes) -> bytes:
        """An event stream with each ``data:`` line redacted (as JSON when it is JSON)."""
        text = body.decode("utf-8", "replace") if _utf8(body) else None
        if text is None:
            return self.raw(body)
        lines = text.split("\n")
        for position, line in enumerate(lines):
            if line.startswith("data:"):
                payload = line[5:].rstrip("\r")
                cleaned = self.json_string(payload.strip())
                if cleaned != payload.strip():
                    lines[position] = "data: " + cleaned + ("\r" if line.endswith("\r") else "")
            else:
                lines[position] = self.text(line)
        cleaned_text = "\n".join(lines)
        return body if cleaned_text == text else cleaned_text.encode("utf-8")


def _is_pin(key: str) -> bool:
    """Numeric secrets exist only under a few names (a PIN, a numeric password or OTP)."""
    return key.lower() in {"pin", "password", "passcode", "otp"}


def _utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _part_headers(head: bytes) -> Headers:
    pairs = []
    for line in head.decode("latin-1").split("\r\n"):
        if ":" in line:
            name, value = line.split(":", 1)
            pairs.append((name.strip().lower(), value.strip()))
    return tuple(pairs)


def _disposition_param(disposition: str, param: str) -> str:
    found = re.search(rf'(?:^|;)\s*{param}="([^"]*)"|(?:^|;)\s*{param}=([^;\s]+)', disposition)
    return (found.group(1) if found.group(1) is not None else found.group(2)) if found else ""


def _texty(headers: Headers) -> bool:
    ctype = dict(headers).get("content-type", "text/plain").lower()
    return ctype.startswith("text/") or "json" in ctype or "x-www-form-urlencoded" in ctype


__all__ = ["PLACEHOLDER_RE", "Redactor", "map_json", "neutralise_jwt"]


@cache
def _default_redactor() -> Redactor:
    return Redactor()


def redacted_test_id(nodeid: str) -> str:
    """A test id as it may be written to a run record: a parametrised id can hold a
    secret-shaped value (``test_headers[Authorization-Bearer sk-...]``), redacted like any text,
    with a short digest of the real id so that two tests never share one record."""
    cleaned = _default_redactor().text(nodeid)
    if cleaned == nodeid:
        return nodeid
    return f"{cleaned} #{hashlib.sha256(nodeid.encode()).hexdigest()[:8]}"
