"""Cassette files: naming, the versioned on-disk format, a parse cache, atomic locked writes.

A cassette is a plain vcrpy (format 1) YAML file, so ``vcr.use_cassette`` can load it; the
extra top-level ``contracttape`` block (provenance, format version) and the per-interaction
``contracttape`` block (cost) are ignored by vcrpy. JSON bodies are stored pretty-printed as
YAML block scalars so a review diff reads like the API's answer; binary bodies stay ``!!binary``.
"""

from __future__ import annotations

import gc
import hashlib
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock

from contracttape import yaml_read
from contracttape.atomic import write_atomic
from contracttape.bodies import ascii_of, stale_encoding
from contracttape.errors import CassetteFormatError
from contracttape.model import Interaction, RecordedRequest, RecordedResponse, headers_as_lists, make_headers
from contracttape.parsed_store import ParsedStore, content_digest
from contracttape.yaml_text import WIDTH, BlockWriter

FORMAT_VERSION = 1  # contracttape's own block; vcrpy's "version" stays 1 as well
VCR_FORMAT_VERSION = 1


class _Loader(yaml_read.SafeLoader):  # type: ignore[misc]
    """The C safe loader, resolving only the plain-scalar types cassettes contain.

    Dropping the timestamp/merge/value resolvers keeps every other plain scalar a string (a
    date-like header value stays text) and makes loading about a quarter faster.
    """

    yaml_implicit_resolvers = {
        first: [
            (tag, regex)
            for tag, regex in resolvers
            if tag.rsplit(":", 1)[-1] in {"int", "float", "bool", "null"}
        ]
        for first, resolvers in yaml_read.SafeLoader.yaml_implicit_resolvers.items()
    }


_BaseDumper: type[Any] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Multi-line strings as literal blocks: pretty JSON bodies stay readable in diffs."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        """The implicit tag of a scalar, remembered: libyaml asks twice per scalar, through a
        Python call that tries the resolvers' regexes, and a cassette repeats its scalars
        (header names, methods, media types) on every interaction."""
        if kind is not yaml.ScalarNode or len(value) > 64:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_RESOLVED) >= 8192:
                _RESOLVED.clear()
            _RESOLVED[key] = tag
        return tag

    def represent(self, data: Any) -> None:
        """The nodes PyYAML's representer would build, built directly for the plain dicts,
        lists and strings a cassette is made of (its generic dispatch costs more than the
        emitter); anything else goes through that dispatch. A container met twice would be
        an anchor and an alias there, so such a document is represented the generic way."""
        try:
            node = _node(self, data, set())
        except _Shared:
            node = self.represent_data(data)
        self.serialize(node)
        self.represented_objects: dict[int, Any] = {}
        self.object_keeper: list[Any] = []
        self.alias_key = None


class _Shared(Exception):
    pass


_RESOLVED: dict[tuple[str, Any], str] = {}
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _node(dumper: Any, value: Any, seen: set[int]) -> Any:
    kind = type(value)
    if kind is str:
        return yaml.ScalarNode(_STR, value, style=_style(value))
    if kind is dict or kind is list:
        if id(value) in seen:
            raise _Shared
        seen.add(id(value))
        if kind is dict:
            pairs = [(_node(dumper, k, seen), _node(dumper, v, seen)) for k, v in value.items()]
            return yaml.MappingNode(_MAP, pairs, flow_style=False)
        return yaml.SequenceNode(_SEQ, [_node(dumper, v, seen) for v in value], flow_style=False)
    return dumper.represent_data(value)


def _style(text: str) -> str | None:
    """Multi-line strings as literal blocks, the rest as libyaml chooses."""
    return "|" if "\n" in text else None


def _represent_str(dumper: Any, data: str) -> Any:
    return dumper.represent_scalar(_STR, data, style=_style(data))


_Dumper.add_representer(str, _represent_str)

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_.\-\[\]]")
_MAX_NAME = 150


def safe_name(name: str) -> str:
    """A file-system-safe cassette name; long names keep a hash suffix so they stay unique."""
    cleaned = _UNSAFE_NAME.sub("-", name)
    if len(cleaned) > _MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        cleaned = f"{cleaned[: _MAX_NAME - 13]}-{digest}"
    return cleaned


def cassette_path(cassette_dir: Path, module: str, test_name: str) -> Path:
    """``<cassette_dir>/<test module>/<test name>.yaml``."""
    return cassette_dir / safe_name(module) / f"{safe_name(test_name)}.yaml"


@dataclass(frozen=True)
class CassetteFile:
    path: Path
    interactions: tuple[Interaction, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    # the SHA-256 of the bytes it was read from (``parsed_store.content_digest``), when known
    digest: str = field(default="", compare=False)

    @property
    def foreign(self) -> bool:
        """Written by plain vcrpy / pytest-recording (no contracttape block): requests as recorded,
        not normalised."""
        return not self.meta


# -- (de)serialisation ------------------------------------------------------------------------


def _text_or_bytes(body: bytes) -> str | bytes | None:
    if not body:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body


def _to_bytes(value: object) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"body of type {type(value).__name__}")


def interaction_to_dict(interaction: Interaction) -> dict[str, Any]:
    req, resp = interaction.request, interaction.response
    out: dict[str, Any] = {
        "request": {
            "method": req.method,
            "uri": req.uri,
            "body": _text_or_bytes(req.body),
            "headers": headers_as_lists(req.headers),
        },
        "response": {
            "status": {"code": resp.status, "message": resp.reason},
            "headers": headers_as_lists(resp.headers),
            "body": {"string": _text_or_bytes(resp.body) or ""},
        },
    }
    meta: dict[str, Any] = {"cost_usd": interaction.cost_usd}
    meta.update(dict(interaction.extra))
    out["contracttape"] = meta
    return out


def interaction_from_dict(data: Mapping[str, Any]) -> Interaction:
    """One interaction in any layout vcrpy has written (4.x to 9.x; httpx, requests/urllib3,
    aiohttp), read as vcrpy plays it; see ``_response_from``."""
    req, resp = data["request"], data["response"]
    meta = dict(data.get("contracttape") or {})
    cost = meta.pop("cost_usd", None)
    body = req.get("body")
    if isinstance(body, Mapping):  # some stubs wrote the request body like a response body
        body = body.get("string")
    return Interaction(
        request=RecordedRequest(
            method=str(req["method"]).upper(),
            uri=str(req["uri"]),
            headers=make_headers(req.get("headers")),
            body=_to_bytes(body),
        ),
        response=_response_from(resp),
        cost_usd=None if cost is None else float(cost),
        extra=tuple(sorted(meta.items())),
    )


def _response_from(resp: Mapping[str, Any]) -> RecordedResponse:
    if "status_code" in resp:
        # vcrpy's httpx stubs until 2024: {status_code, http_version, headers, content}
        status, reason, body = int(resp["status_code"]), "", resp.get("content")
    else:
        raw_status = resp["status"]
        if isinstance(raw_status, Mapping):  # {code, message}; message absent before vcrpy 8.2
            status, reason = int(raw_status["code"]), str(raw_status.get("message") or "")
        else:
            status, reason = int(raw_status), ""
        raw_body = resp.get("body") or {}
        if not isinstance(raw_body, Mapping):
            raise TypeError(f"response body is a {type(raw_body).__name__}, not {{string: ...}}")
        body = raw_body.get("string")
    headers = make_headers(resp.get("headers"))
    data = _to_bytes(body)
    if stale_encoding(data, headers):
        # stored decoded, label left behind: vcrpy would hand the client a body that fails to
        # decode; play it as what it is
        headers = tuple((n, v) for n, v in headers if n.lower() not in ("content-encoding", "content-length"))
    return RecordedResponse(status=status, reason=reason, headers=headers, body=data)


def dumps(interactions: Iterable[Interaction], meta: Mapping[str, Any]) -> str:
    blocks = Blocks()
    data = document(interactions, meta, blocks)
    text = _WRITER.document(data, verbatim=blocks.prefix) or _libyaml(data)
    if blocks.held and text.endswith("\n...\n"):
        # libyaml ends a document with "..." when its last block scalar keeps its final line
        # breaks ("|+"); a block written here that came later would have cleared that
        return _libyaml(blocks.restored(data))
    return blocks.put_back(text)


def document(interactions: Iterable[Interaction], meta: Mapping[str, Any], blocks: Blocks) -> dict[str, Any]:
    """The YAML document of a cassette, its literal-block bodies held by ``blocks``."""
    return {
        "contracttape": {"format": FORMAT_VERSION, **dict(meta)},
        "interactions": [blocks.take(interaction_to_dict(i)) for i in interactions],
        "version": VCR_FORMAT_VERSION,
    }


def _libyaml(data: Any) -> str:
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=WIDTH)
    return text


_WRITER = BlockWriter(_libyaml)  # libyaml's layout, asking libyaml only how to write each string


# -- bodies as literal blocks, written without the emitter's per-character work -----------------
#
# libyaml examines and writes a scalar one character at a time; bodies (pretty JSON, a base64
# vector per line) are most of a cassette's bytes. ``dumps`` therefore hands the emitter a short
# token in place of each body that libyaml would write as a plain literal block (``|`` or ``|-``),
# and writes the block itself with whole-string operations, byte for byte as libyaml would
# (tests/unit/test_cassette_blocks.py checks that against libyaml). Any other body is left to
# libyaml: one starting with a space or a line break (an indentation indicator), ending with a
# space or more than one line break (other chomping), holding a space before a line break (double
# quoted), or a character libyaml does not print as it is (a tab, a control, \r, U+0085, U+2028,
# U+2029, a BOM, a surrogate, anything past U+FFFF).
_BLOCK_TEXT = re.compile("[\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*")
_BLOCK_ASCII = bytes([0x0A, *range(0x20, 0x7F)])
# ``" \n" in value`` compares two characters at every position; re's literal search is 1.5-3x
# faster on bodies (55 -> 19 us on a 66 KB embeddings answer)
_SPACE_BEFORE_BREAK = re.compile(" \n")


def literal_block_as_libyaml(value: str) -> bool:
    """Whether libyaml writes ``value`` (a mapping's value) as a plain literal block scalar."""
    return (
        "\n" in value
        and value[0] not in " \n"
        and not value.endswith((" ", "\n\n"))
        and _SPACE_BEFORE_BREAK.search(value) is None
        and (ascii_of(value, _BLOCK_ASCII) if value.isascii() else _BLOCK_TEXT.fullmatch(value) is not None)
    )


def _bodies(interaction: dict[str, Any]) -> tuple[tuple[dict[str, Any], str], ...]:
    """Where ``interaction_to_dict`` puts the two bodies: (mapping, key)."""
    return ((interaction["request"], "body"), (interaction["response"]["body"], "string"))


class Blocks:
    def __init__(self) -> None:
        self.nonce = uuid.uuid4().hex
        self.prefix = f"ct-{self.nonce}-"
        self.held: list[tuple[str, str]] = []  # (key, body)

    def take(self, interaction: dict[str, Any]) -> dict[str, Any]:
        for holder, key in _bodies(interaction):
            value = holder.get(key)
            if isinstance(value, str) and literal_block_as_libyaml(value):
                holder[key] = f"{self.prefix}{len(self.held)}"
                self.held.append((key, value))
        return interaction

    def restored(self, data: dict[str, Any]) -> dict[str, Any]:
        for interaction in data["interactions"]:
            for holder, key in _bodies(interaction):
                value = holder.get(key)
                if isinstance(value, str) and value.startswith(self.prefix):
                    holder[key] = self.held[int(value.rsplit("-", 1)[1])][1]
        return data

    def put_back(self, text: str) -> str:
        """Each ``key: <token>`` line made ``key: |`` and the body's lines, indented two past the
        key's column (libyaml's best indent under a block mapping)."""
        marker = f": ct-{self.nonce}-"
        out: list[str] = []
        done = 0
        while (found := text.find(marker, done)) >= 0:
            end = text.find("\n", found)
            key, value = self.held[int(text[found + len(marker) : end])]
            column = found - len(key) - (text.rfind("\n", 0, found) + 1)
            indent = " " * (column + 2)
            head, lines = ("|", value[:-1]) if value.endswith("\n") else ("|-", value)
            out.append(text[done:found])
            out.append(f": {head}\n")
            if "\n\n" in lines:  # libyaml leaves an empty line unindented
                out.append("\n".join(indent + line if line else "" for line in lines.split("\n")))
            else:
                out.append(indent + lines.replace("\n", "\n" + indent))
            done = end
        out.append(text[done:])
        return "".join(out)


def loads(text: str, path: Path) -> CassetteFile:
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise CassetteFormatError(path, f"not valid cassette YAML ({exc}); re-record it") from exc
    if not isinstance(data, dict) or data.get("version") != VCR_FORMAT_VERSION:
        raise CassetteFormatError(path, "not a vcrpy format-1 cassette; delete it and re-record")
    if not isinstance(data.get("contracttape") or {}, dict):
        raise CassetteFormatError(path, "its 'contracttape' block is not a mapping; delete it and re-record")
    if not isinstance(data.get("interactions") or [], list):
        raise CassetteFormatError(path, "its 'interactions' is not a list; delete it and re-record")
    meta = dict(data.get("contracttape") or {})
    fmt = meta.pop("format", FORMAT_VERSION)
    if not isinstance(fmt, int) or fmt > FORMAT_VERSION:
        raise CassetteFormatError(
            path, f"written by a newer contracttape (format {fmt}, this one reads {FORMAT_VERSION}); upgrade"
        )
    try:
        interactions = tuple(interaction_from_dict(i) for i in data.get("interactions") or [])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CassetteFormatError(path, f"malformed interaction ({exc!r}); re-record this test") from exc
    return CassetteFile(path=path, interactions=interactions, meta=meta)


# -- files --------------------------------------------------------------------------------------


class CassetteCache:
    """Parsed cassettes, once per file version per process (keyed by path, mtime and size), and,
    given a ``ParsedStore``, across processes and runs (keyed by the file's content)."""

    def __init__(self, store: ParsedStore | None = None) -> None:
        self._entries: dict[Path, tuple[tuple[int, int], CassetteFile]] = {}
        self._keys: dict[tuple[str, str], list[str]] = {}
        self.store = store

    def load(self, path: Path) -> CassetteFile | None:
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._entries.get(path)
        if cached and cached[0] == stamp:
            return cached[1]
        data = read_bytes(path)
        digest = content_digest(data)
        with collection_paused():
            kept = self.store.get(digest) if self.store is not None else None
            if kept is not None:
                parsed = CassetteFile(path=path, interactions=kept[0], meta=kept[1], digest=digest)
            else:
                parsed = replace(loads(decode_text(data, path), path), digest=digest)
        if kept is None and self.store is not None:
            self.store.put(digest, parsed.interactions, dict(parsed.meta))
        self._entries[path] = (stamp, parsed)
        return parsed

    def index_keys(self, cassette: CassetteFile, rules: str, compute: Callable[[], list[str]]) -> list[str]:
        """The index keys of ``cassette``'s requests under matching ``rules``: worked out once per
        cassette version and rules (``compute``), kept in the store beside the parse."""
        if not cassette.digest:
            return compute()
        memo = (cassette.digest, rules)
        found = self._keys.get(memo)
        if found is None and self.store is not None:
            found = self.store.get_keys(cassette.digest, rules, len(cassette.interactions))
        if found is None:
            found = compute()
            if self.store is not None:
                self.store.put_keys(cassette.digest, rules, found)
        self._keys[memo] = found
        return found


@contextmanager
def collection_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a cassette's objects are built: a burst of
    allocations otherwise sets off collections that walk every object built so far (half the
    time of loading a 10,000-interaction cassette). What is built there holds no cycles."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def read_text(path: Path) -> str:
    """A cassette's text; one that is not UTF-8 (or cannot be read) is a ``CassetteFormatError``."""
    return decode_text(read_bytes(path), path)


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError as exc:
        raise CassetteFormatError(path, "is a directory, not a cassette file; move it aside") from exc


def decode_text(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        why = f"not UTF-8 text ({exc.reason} at byte {exc.start}); re-record it"
        raise CassetteFormatError(path, why) from exc


def lock_for(path: Path) -> FileLock:
    """A cross-process lock for one cassette, kept outside the cassette tree."""
    lock_dir = Path(tempfile.gettempdir()) / "contracttape-locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return FileLock(str(lock_dir / f"{digest}.lock"), timeout=120)


def same_traffic(old: Sequence[Interaction], new: Sequence[Interaction]) -> bool:
    """The same interactions, in the same order for each request; different requests may come in
    any order (concurrent requests finish in any order, and replay matches each request on its
    own): so a re-record of an unchanged concurrent flow rewrites nothing. The cost notes
    (``extra``: units such as bytes on the wire, before normalisation) are not compared: they
    follow from the traffic, except for what normalisation hides (a timestamp's digits)."""
    if len(old) != len(new):
        return False

    def key(interaction: Interaction) -> tuple[str, str, str, bytes]:
        request = interaction.request
        return (request.method, request.uri, repr(request.headers), request.body)

    def seen(interactions: Sequence[Interaction]) -> list[tuple[object, ...]]:
        ordered = sorted(interactions, key=key)  # stable: each request keeps its own order
        return [(i.request, i.response, i.cost_usd) for i in ordered]

    return seen(old) == seen(new)


def update(
    path: Path,
    build: Callable[[CassetteFile | None], tuple[list[Interaction], Mapping[str, Any]] | None],
) -> bool:
    """Rewrite a cassette under its lock from its current on-disk state.

    ``build`` gets what is on disk now (another worker may have written it) and returns the
    interactions and metadata to write, or None to leave the file alone. The file is only
    written when its interactions change, so an unchanged re-record leaves no diff at all.
    Returns whether the file was written.
    """
    with lock_for(path):
        current = loads(read_text(path), path) if path.exists() else None
        result = build(current)
        if result is None:
            return False
        interactions, meta = result
        if current is not None and same_traffic(current.interactions, interactions):
            return False
        write_atomic(path, dumps(interactions, meta), locked=True)
        return True
