"""Server-made ids to stable placeholders, per cassette, so that re-recording an unchanged API
rewrites nothing.

A recording learns the ids its answers introduce (UUIDs anywhere, and random values of ``id`` /
``*_id`` keys such as ``chatcmpl-…``; inside JWT claims too) and gives each a placeholder of the
same shape: ``00000000-0000-4000-8000-<12 hex>``, ``chatcmpl-<digits>``. A placeholder is named
after where the id first appeared: the request that was answered with it (its normalised form,
which holds only placeholders itself), how many times that request had been answered before, and
the id's place in the answer. Not the order of the recording: so concurrent requests, which
finish in any order, still get the same placeholders run after run. Every later request and
answer of the cassette is rewritten with them, so the requests that echo an id
(``GET /jobs/<id>``) still match in replay, where the client only ever sees the placeholders.
Same rules for sandbox and live traffic.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from contracttape.bodies import parse_json, pretty_json, sse_events
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.redact import b64url_decode, is_base64_blob, jwt_segment

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# an id under an id key: an optional alphabetic prefix, then a random-looking tail
_PREFIXED = re.compile(r"(?P<prefix>[A-Za-z]{1,24}[-_])?(?P<tail>[A-Za-z0-9]{8,64})")
_PLACEHOLDER = re.compile(r"0{8}-0{4}-4000-8000-[0-9a-f]{12}|[A-Za-z]{1,24}[-_]\d+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_.-]*")
# A long run of base64 standing alone (an embedding vector, a file's bytes): data, not where an
# id is written. Skipped when ids are rewritten: the one search that finds them in a large body,
# and an id of plain letters and digits can never be "found" inside a vector and corrupt it.
_BLOB = re.compile(r"(?<![A-Za-z0-9+/=_.-])([A-Za-z0-9+/]{256,}={0,2})(?![A-Za-z0-9+/=_.-])")


# Every id is at least this long (a UUID, or a tail of 8+ characters): a text none of whose
# windows of this size starts an id holds none.
_HEAD = 8
# A JSON answer this long is rewritten value by value (``IdMap.response``), not as text.
_LONG = 4096
# Short texts (header values, JSON strings, URIs) remembered as holding none of the ids learned
# so far, so that the next time only the ids learned since are looked for.
_SHORT = 256
_CHECKED_LIMIT = 4096


def _is_id_key(key: str | None) -> bool:
    return key is not None and (key == "id" or key.endswith(("_id", "Id")))


def _random_tail(tail: str) -> bool:
    """Made by a machine: digits and letters mixed (not a word, not a number)."""
    return any(c.isdigit() for c in tail) and any(c.isalpha() for c in tail)


def jwt_claims(segment: str) -> Any:
    """A JWT payload segment, decoded (None when it is not base64url JSON)."""
    try:
        return json.loads(b64url_decode(segment))
    except (ValueError, binascii.Error):
        return None


class IdMap:
    def __init__(self) -> None:
        self._placeholders: dict[str, str] = {}
        self._taken: set[str] = set()
        self._answered: dict[str, int] = {}  # request key -> answers learned from it so far
        self._lock = threading.Lock()
        self._order: list[tuple[str, str]] = []  # (id, placeholder), longest id first
        self._heads: frozenset[str] = frozenset()  # the first _HEAD characters of every id
        self._learned: list[str] = []  # every id, in the order learned
        self._clean: dict[str, int] = {}  # short text -> how many of _learned it holds none of
        self._wheres: dict[str, set[str]] = {}  # id -> every place it appeared (see ``settled``)

    def __len__(self) -> int:
        return len(self._placeholders)

    # -- learning ------------------------------------------------------------------------------

    def learn(
        self, response: RecordedResponse, origin: str = "", parsed_body: tuple[bool, Any] | None = None
    ) -> None:
        """Take note of the ids an answer introduces; ``origin`` names the request it answers
        (its normalised form: the same in every recording of an unchanged flow).
        ``parsed_body``: ``bodies.parse_json`` of the body, when the caller has it already."""
        if parsed_body is not None and isinstance(parsed_body[1], dict | list):  # a body opening { or [
            ok, parsed = parsed_body
        else:
            ok, parsed = parse_json(response.body) if response.body[:1] in (b"{", b"[") else (False, None)
        documents = [parsed] if ok else [e for e in sse_events(response.body) if e is not None]
        found: list[str] = []
        for document in documents:
            self._walk(document, None, found)
        with self._lock:
            answered = self._answered.get(origin, 0)
            self._answered[origin] = answered + 1
            for position, value in enumerate(dict.fromkeys(found)):
                where = f"{origin}\n{answered}\n{position}"
                self._wheres.setdefault(value, set()).add(where)
                if value not in self._placeholders:
                    self._placeholders[value] = self._name(value, where, self._taken)
                    self._learned.append(value)
            if len(self._order) != len(self._placeholders):
                self._heads = frozenset(real[:_HEAD] for real in self._placeholders)
                self._order = sorted(self._placeholders.items(), key=lambda kv: -len(kv[0]))

    def _walk(self, value: Any, key: str | None, found: list[str]) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                self._walk(v, str(k), found)
        elif isinstance(value, list):
            for v in value:
                self._walk(v, key, found)
        elif isinstance(value, str):
            self._value(value, key, found)

    def _value(self, value: str, key: str | None, found: list[str]) -> None:
        if _UUID.fullmatch(value):
            if not _PLACEHOLDER.fullmatch(value):
                found.append(value)
            return
        jwt = _JWT.fullmatch(value)
        if jwt:
            claims = jwt_claims(jwt.group(1))
            if claims is not None:
                self._walk(claims, None, found)
            return
        prefixed = _PREFIXED.fullmatch(value)
        if (
            _is_id_key(key)
            and prefixed
            and _random_tail(prefixed.group("tail"))
            and not _PLACEHOLDER.fullmatch(value)
        ):
            found.append(value)

    @staticmethod
    def _name(value: str, where: str, taken: set[str]) -> str:
        """A placeholder of ``value``'s shape derived from ``where``; never one already taken."""
        for salt in range(1000):
            digest = hashlib.sha256(f"{where}\n{salt}".encode()).hexdigest()
            if _UUID.fullmatch(value):
                name = f"00000000-0000-4000-8000-{digest[:12]}"
            else:
                prefixed = _PREFIXED.fullmatch(value)
                assert prefixed is not None
                prefix, tail = prefixed.group("prefix") or "", prefixed.group("tail")
                name = f"{prefix}{int(digest, 16) % 10 ** len(tail):0{len(tail)}d}"
            if name not in taken:
                taken.add(name)
                return name
        raise AssertionError("no free placeholder")  # pragma: no cover - 1000 collisions in a row

    def settled(self) -> dict[str, str]:
        """Placeholder given while recording -> the placeholder the cassette keeps.

        While recording, an id is named after the first answer it was seen in, which for an id
        that many concurrent answers carry (a project id in every job) depends on which answer
        arrived first. The cassette keeps, for each id, the name of the smallest of all the
        places it appeared (each place: the normalised request answered, its answer count, the
        id's position), which no arrival order changes. Places name requests that may hold other
        placeholders, so this is repeated until no name changes."""
        with self._lock:
            given = dict(self._placeholders)
            wheres = {real: sorted(places) for real, places in self._wheres.items()}
        mapping = {placeholder: placeholder for placeholder in given.values()}
        for _ in range(5):
            rename = _one_pass(mapping)
            best = {real: min(rename(w) for w in wheres.get(real, [""])) for real in given}
            taken: set[str] = set()
            settled = {
                given[real]: self._name(real, best[real], taken)
                for real in sorted(given, key=lambda r: (best[r], r))
            }
            if settled == mapping:
                break
            mapping = settled
        return {old: new for old, new in mapping.items() if old != new}

    # -- rewriting -------------------------------------------------------------------------------

    def _known(self, text: str) -> str:
        learned = self._learned
        count = len(learned)  # ids learned from here on are not looked for this time
        short = len(text) <= _SHORT
        if short:
            clean = self._clean.get(text)
            if clean is not None and not any(real in text for real in learned[clean:count]):
                self._clean[text] = count  # a header value, a media type, a model: seen before
                return text
        original = text
        order, heads = self._order, self._heads
        windows = len(text) - _HEAD + 1
        if windows >= len(order) or any(text[p : p + _HEAD] in heads for p in range(windows)):
            for real, placeholder in order:
                if real in text:
                    text = text.replace(real, placeholder)
        # (else: fewer places to look than ids to look for, and no id starts anywhere in it)
        if short and text is original and count <= len(order):
            if len(self._clean) >= _CHECKED_LIMIT:
                self._clean.clear()
            self._clean[original] = count
        return text

    def text(self, text: str) -> str:
        return _Rewriter(self._known).text(text) if self._placeholders else text

    def request(self, request: RecordedRequest) -> RecordedRequest:
        return _Rewriter(self._known).request(request) if self._placeholders else request

    def response(
        self, response: RecordedResponse, parsed: tuple[bool, Any] | None = None
    ) -> RecordedResponse:
        """``response`` with the known ids replaced. ``parsed``: ``(True, value)`` when its body
        is ``bodies.pretty_json(value)`` (``Normaliser.response_and_json``); a long one is then
        rewritten value by value, so its base64 runs are never searched."""
        if not self._placeholders:
            return response
        rewriter = _Rewriter(self._known)
        if parsed is not None and parsed[0] and len(response.body) >= _LONG:
            value, changed = rewriter.json(parsed[1])
            body = pretty_json(value) if changed else response.body
            return rewriter.response(response, body)
        return rewriter.response(response)


class _Rewriter:
    """Ids rewritten by one replace function wherever they are written: text (base64 runs left
    alone), the claims of JWTs, UTF-8 bodies, URIs and headers (``content-length`` kept true)."""

    def __init__(self, replace: Callable[[str], str]) -> None:
        self.replace = replace

    def text(self, text: str) -> str:
        if len(text) >= 256:  # room for a base64 run: leave it alone
            parts = _BLOB.split(text)
            if len(parts) > 1:
                return "".join(p if i % 2 else self._plain(p) for i, p in enumerate(parts))
        return self._plain(text)

    def _plain(self, text: str) -> str:
        return self.replace(_JWT.sub(self._jwt, text))

    def _jwt(self, match: re.Match[str]) -> str:
        token = match.group(0)
        claims = jwt_claims(match.group(1))
        if not isinstance(claims, dict):
            return token
        rewritten = json.loads(self.text(json.dumps(claims)))
        if rewritten == claims:
            return token
        header, _, signature = token.split(".", 2)  # the signature may run on over dots
        return f"{header}.{jwt_segment(rewritten)}.{signature}"

    def body(self, body: bytes) -> bytes:
        if not body:
            return body
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body  # binary: ids are text
        rewritten = self.text(text)
        return body if rewritten == text else rewritten.encode("utf-8")

    def request(self, request: RecordedRequest) -> RecordedRequest:
        uri = self.text(request.uri)
        headers = tuple((n, self.text(v)) for n, v in request.headers)
        body = self.body(request.body)
        if uri == request.uri and headers == request.headers and body is request.body:
            return request  # nothing renamed: the very request (``TapeSession.prepare`` keeps its parse)
        return request.with_(uri=uri, headers=headers, body=body)

    def json(self, value: Any) -> tuple[Any, bool]:
        """Parsed JSON with ids rewritten in its keys and strings, and whether anything changed.
        An id is made of ``[A-Za-z0-9_-]``, so in the JSON text each sits inside one key or
        string: the same rewrite as the text's, without scanning its base64 runs."""
        if isinstance(value, str):
            if is_base64_blob(value, shortest=256):
                return value, False  # all of it one base64 run (``_BLOB``): what ``text`` leaves alone
            rewritten = self.text(value)
            return rewritten, rewritten != value
        if isinstance(value, list):
            items = [self.json(v) for v in value]
            if not any(changed for _, changed in items):
                return value, False
            return [v for v, _ in items], True
        if isinstance(value, dict):
            pairs = [(k, self.text(k) if isinstance(k, str) else k, self.json(v)) for k, v in value.items()]
            if all(new == old and not changed for old, new, (_, changed) in pairs):
                return value, False
            return {new: v for _, new, (v, _) in pairs}, True
        return value, False

    def response(self, response: RecordedResponse, body: bytes | None = None) -> RecordedResponse:
        """``body``: the body already rewritten (``json``), else the stored one is."""
        body = self.body(response.body) if body is None else body
        headers = tuple(
            (n, str(len(body)) if n.lower() == "content-length" else self.text(v))
            for n, v in response.headers
        )
        return response.with_(headers=headers, body=body)


def _one_pass(mapping: dict[str, str]) -> Callable[[str], str]:
    """A function replacing every key of ``mapping`` by its value in one pass (no chains: a
    placeholder renamed to another's old name is not renamed again)."""
    changed = {old: new for old, new in mapping.items() if old != new}
    if not changed:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(old) for old in sorted(changed, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: changed[m.group(0)], text)


def renamed(interactions: list[Interaction], mapping: dict[str, str]) -> list[Interaction]:
    """``interactions`` with placeholders renamed (``IdMap.settled``), wherever ids are written."""
    if not mapping:
        return interactions
    rewrite = _Rewriter(_one_pass(mapping))
    return [
        replace(i, request=rewrite.request(i.request), response=rewrite.response(i.response))
        for i in interactions
    ]
