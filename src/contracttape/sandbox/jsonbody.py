"""JSON request bodies as the real services read them: strict, or a ValueError.

Python's ``json`` accepts what real servers refuse and what would crash a handler later: lone
UTF-16 surrogates (``"\\ud800"``, which cannot be encoded to UTF-8 for tiktoken or PostgreSQL),
``NaN``/``Infinity``, invalid UTF-8, and nesting deep enough to exhaust the stack. Every sandbox
service parses through ``loads`` and answers a ``ValueError`` with its own 400.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 512


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(raw: bytes | str) -> Any:
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # UnicodeDecodeError is a ValueError
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    _check(value, 0)
    return value


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("JSON nested too deeply")
    if isinstance(value, str):
        value.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError)
        if "\x00" in value:
            raise ValueError("JSON strings may not contain NUL here")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, depth + 1)
            _check(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, depth + 1)
