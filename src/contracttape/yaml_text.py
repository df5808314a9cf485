"""A cassette document written as PyYAML and libyaml write it, without them for what a cassette
is made of.

libyaml costs about 1.3 us per node to represent and as much again to emit, and an interaction
has about 80 nodes, most of them response headers that every answer repeats. ``BlockWriter``
writes the block layout itself (mappings, indentless sequences, ``{}`` and ``[]``, null, booleans,
integers, plain floats) and asks libyaml only how to write each string, once: a string's text is
remembered, keyed by the string and by whether it is a mapping key.

A string's text does not depend on where it stands, with one exception: libyaml folds a string
at a space once the line is past the width (120). A remembered text is therefore used only if it
holds no space or fits before the width where it stands. An item of a top-level sequence (an
interaction) holding anything else (a multi-line string that is not a body token, bytes, a long
key) is written by libyaml alone, as the one item under the same key, and its text put in place.
A container met twice (PyYAML writes an anchor and an alias), or such an item after which
libyaml would end the document with ``...`` (a ``|+`` block), makes ``document`` answer None,
and the caller asks libyaml for the whole document. ``tests/unit/test_yaml_text.py`` checks the
output against PyYAML and libyaml alone, byte for byte.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

WIDTH = 120
_MEMO_LIMIT = 4096
_MEMO_LONGEST = 256  # longer strings are asked for each time, not remembered
_LONGEST_KEY = 100  # libyaml writes a key past 128 characters as "? key"
# what libyaml takes for a line break: a string holding one is written over several lines
_BREAK = re.compile("[\n\r\x85\u2028\u2029]")
_PLAIN_FLOAT = re.compile(r"-?[0-9]+\.[0-9]*(?:e[-+][0-9]+)?")  # what the float resolver reads back


class _Fallback(Exception):
    """Something this writer does not write as libyaml would: let libyaml write the interaction
    it is in, or else the document."""


class _Shared(Exception):
    """A container met twice (PyYAML writes an anchor and an alias): libyaml writes the document."""


def _first_time(container: Any, seen: set[int]) -> None:
    if id(container) in seen:
        raise _Shared
    seen.add(id(container))


def _containers(value: Any, seen: set[int]) -> None:
    """Every dict and list in ``value`` into ``seen`` (as libyaml would meet them)."""
    if type(value) is dict:
        _first_time(value, seen)
        for key, item in value.items():
            _containers(key, seen)
            _containers(item, seen)
    elif type(value) is list:
        _first_time(value, seen)
        for item in value:
            _containers(item, seen)


class BlockWriter:
    """``document(data)``: the text ``dump(data)`` gives, or None where it cannot be sure.

    ``dump`` is the caller's PyYAML call (dumper, width, allow_unicode); strings starting with
    ``verbatim`` (the caller's body tokens, plain by construction) are written as they are."""

    def __init__(self, dump: Callable[[Any], str]) -> None:
        self._dump = dump
        self._values: dict[str, str] = {}
        self._keys: dict[str, str] = {}

    def document(self, data: Mapping[str, Any], verbatim: str | None = None) -> str | None:
        out: list[str] = []
        try:
            self._mapping(data, 0, False, out, set(), verbatim, top=True)
        except (_Fallback, _Shared):
            return None
        return "".join(out)

    def _mapping(
        self,
        mapping: Mapping[Any, Any],
        indent: int,
        inline: bool,
        out: list[str],
        seen: set[int],
        verbatim: str | None,
        top: bool = False,
    ) -> None:
        """``key: value`` lines at ``indent``; with ``inline`` the first one follows a ``- ``."""
        pad = " " * indent
        for key, value in mapping.items():
            if type(key) is not str:
                raise _Fallback
            if inline:
                inline = False
            else:
                out.append(pad)
            text = self._key(key)
            kind = type(value)
            if kind is dict or kind is list:
                _first_time(value, seen)
                if not value:
                    out.append(f"{text}: {{}}\n" if kind is dict else f"{text}: []\n")
                elif kind is dict:
                    out.append(f"{text}:\n")
                    self._mapping(value, indent + 2, False, out, seen, verbatim)
                else:
                    out.append(f"{text}:\n")
                    self._sequence(value, indent, out, seen, verbatim, key if top else None)
            else:
                out.append(f"{text}: {self._scalar(value, indent + len(text) + 2, verbatim)}\n")

    def _sequence(
        self,
        items: list[Any],
        indent: int,
        out: list[str],
        seen: set[int],
        verbatim: str | None,
        top_key: str | None = None,
    ) -> None:
        """``- item`` lines at ``indent`` (PyYAML does not indent a sequence under a key). An item
        of a top-level sequence (an interaction) that this writer leaves to libyaml is written
        by libyaml alone, under the same key: its text is the same there."""
        pad = " " * indent
        for item in items:
            kind = type(item)
            if kind is dict and (top_key is None or not item):
                _first_time(item, seen)
                if item:
                    out.append(f"{pad}- ")
                    self._mapping(item, indent + 2, True, out, seen, verbatim)
                else:
                    out.append(f"{pad}- {{}}\n")
            elif kind is dict and top_key is not None:
                mark, own = len(out), {id(item)}
                try:
                    out.append(f"{pad}- ")
                    self._mapping(item, indent + 2, True, out, own, verbatim)
                except _Fallback:
                    del out[mark:]
                    own = set()
                    _containers(item, own)
                    out.append(self._alone(top_key, item))
                if not own.isdisjoint(seen):
                    raise _Shared
                seen |= own
            elif kind is list:
                _first_time(item, seen)
                if item:
                    raise _Fallback  # "- - x": not in a cassette
                out.append(f"{pad}- []\n")
            else:
                out.append(f"{pad}- {self._scalar(item, indent + 2, verbatim)}\n")

    def _alone(self, key: str, item: Any) -> str:
        """libyaml's text for ``item`` as the one item of the top-level sequence under ``key``."""
        head = f"{self._key(key)}:\n"
        text = self._dump({key: [item]})
        if not text.startswith(head) or text.endswith("\n...\n"):
            raise _Shared  # "...": libyaml ends the document after a "|+" block; let it
        return text[len(head) :]

    def _scalar(self, value: Any, column: int, verbatim: str | None) -> str:
        kind = type(value)
        if kind is str:
            if verbatim is not None and value.startswith(verbatim):
                return str(value)
            text = self._values.get(value)
            if text is None:
                text = self._render(value)
                if len(value) <= _MEMO_LONGEST:
                    if len(self._values) >= _MEMO_LIMIT:
                        self._values.clear()
                    self._values[value] = text
            if column + len(text) > WIDTH and " " in text:
                raise _Fallback  # libyaml may fold it at a space here
            return text
        if value is None:
            return "null"
        if kind is bool:
            return "true" if value else "false"
        if kind is int:
            return str(value)
        if kind is float:
            return _float(value)
        raise _Fallback

    def _render(self, value: str) -> str:
        if _BREAK.search(value) is not None:
            raise _Fallback
        text = self._dump([value])
        if not text.startswith("- ") or text.count("\n") != 1:
            raise _Fallback  # folded, or written over several lines
        return text[2:-1]

    def _key(self, key: str) -> str:
        text = self._keys.get(key)
        if text is None:
            if len(key) > _LONGEST_KEY or _BREAK.search(key) is not None:
                raise _Fallback
            written = self._dump({key: None})
            if not written.endswith(": null\n") or written.count("\n") != 1:
                raise _Fallback
            text = written[: -len(": null\n")]
            if len(self._keys) >= _MEMO_LIMIT:
                self._keys.clear()
            self._keys[key] = text
        return text


def _float(value: float) -> str:
    """PyYAML's spelling of a float (``SafeRepresenter.represent_float``), written plain."""
    if value != value:
        return ".nan"
    if value in (math.inf, -math.inf):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)  # 1e17 is not a YAML float; 1.0e17 is
    if _PLAIN_FLOAT.fullmatch(text) is None:
        raise _Fallback
    return text
