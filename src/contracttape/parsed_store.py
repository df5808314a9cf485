"""Parsed cassettes kept on disk, by the hash of their YAML: replay skips the YAML parser.

Parsing a cassette's YAML costs about a millisecond per interaction, most of a large cassette's
replay. The store keeps what a parse produced, as JSON (never pickle: a file planted in the store
can give wrong answers at worst, never run code), named by the SHA-256 of the cassette's bytes and
of this encoding's version. So an entry is never stale (an edited cassette has another name), the
store is safe to delete at any time, and xdist workers share it (each entry is written once,
atomically; readers see a whole file or none).

Beside a parse it keeps the index keys of the cassette's recorded requests (``<hash>.keys``),
named by the cassette's hash and the matching rules they were made under
(``matching.key_rules``), so a replay need not reduce every recorded request to its shape.

It lives outside the project (``$CONTRACTTAPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/contracttape``,
else ``~/.cache/contracttape``), so it is never committed and a pull request cannot plant one.
``CONTRACTTAPE_CACHE_DIR=off`` turns it off. An entry that cannot be read is ignored (and
removed): the YAML is parsed as if there were none.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from contracttape.atomic import write_atomic
from contracttape.model import Interaction, RecordedRequest, RecordedResponse

# bump when the encoding below, or what parsing a cassette produces, changes
STORE_VERSION = 1


class ParsedStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def default(cls) -> ParsedStore | None:
        """The user's cache folder, or ``None`` when ``CONTRACTTAPE_CACHE_DIR=off``."""
        chosen = os.environ.get("CONTRACTTAPE_CACHE_DIR", "")
        if chosen.lower() in ("off", "0", "none", "false"):
            return None
        if chosen:
            return cls(Path(chosen) / "cassettes")
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "contracttape" / "cassettes")

    def _entry(self, content: str, kind: str, suffix: str) -> Path:
        digest = hashlib.sha256(f"contracttape-{kind}\n{content}".encode()).hexdigest()
        return self.root / digest[:2] / f"{digest}{suffix}"

    def _parse_entry(self, content: str) -> Path:
        return self._entry(content, f"parsed-{STORE_VERSION}", ".json")

    def _keys_entry(self, content: str, rules: str) -> Path:
        return self._entry(f"{content}\n{rules}", "keys", ".keys")

    def get(self, content: str) -> tuple[tuple[Interaction, ...], dict[str, Any]] | None:
        """The parse of the cassette whose bytes hash to ``content`` (``content_digest``)."""
        entry = self._parse_entry(content)
        try:
            document = json.loads(entry.read_bytes())
            return tuple(_interaction(i) for i in document["interactions"]), dict(document["meta"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            _drop(entry)  # damaged or foreign: parse the YAML instead, and keep a good one
            return None

    def put(self, content: str, interactions: tuple[Interaction, ...], meta: dict[str, Any]) -> None:
        """Keep a parse (best effort: a read-only or full disk only costs the next parse)."""
        entry = self._parse_entry(content)
        if entry.exists():
            return
        document = {"interactions": [_encoded(i) for i in interactions], "meta": meta}
        with contextlib.suppress(OSError, TypeError, ValueError):
            write_atomic(entry, json.dumps(document, ensure_ascii=False, separators=(",", ":")))

    def get_keys(self, content: str, rules: str, count: int) -> list[str] | None:
        """The index keys of a cassette's ``count`` requests under matching ``rules`` (what the
        key depends on besides the requests: ``matching.key_rules``), if kept."""
        entry = self._keys_entry(content, rules)
        try:
            keys = json.loads(entry.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            keys = None
        if isinstance(keys, list) and len(keys) == count and all(_is_key(k) for k in keys):
            return keys
        _drop(entry)
        return None

    def put_keys(self, content: str, rules: str, keys: list[str]) -> None:
        entry = self._keys_entry(content, rules)
        if not entry.exists():
            with contextlib.suppress(OSError):
                write_atomic(entry, json.dumps(keys, separators=(",", ":")))


def content_digest(data: bytes) -> str:
    """What the store names a cassette's entries by: the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def _is_key(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64


def _drop(entry: Path) -> None:
    with contextlib.suppress(OSError):
        entry.unlink()


def _bytes(text: str) -> bytes:
    return text.encode("latin-1")  # bodies are kept as latin-1 text: every byte round-trips


def _encoded(i: Interaction) -> list[Any]:
    req, resp = i.request, i.response
    return [
        [req.method, req.uri, [list(h) for h in req.headers], req.body.decode("latin-1")],
        [resp.status, resp.reason, [list(h) for h in resp.headers], resp.body.decode("latin-1")],
        i.cost_usd,
        [list(e) for e in i.extra],
    ]


def _headers(pairs: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple([(str(n), str(v)) for n, v in pairs])


def _interaction(data: list[Any]) -> Interaction:
    (method, uri, req_headers, req_body), (status, reason, resp_headers, resp_body), cost, extra = data
    return Interaction(
        request=RecordedRequest(str(method), str(uri), _headers(req_headers), _bytes(req_body)),
        response=RecordedResponse(int(status), str(reason), _headers(resp_headers), _bytes(resp_body)),
        cost_usd=None if cost is None else float(cost),
        extra=tuple((str(k), v) for k, v in extra),
    )
