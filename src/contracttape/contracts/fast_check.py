"""A compiled "is this valid?" for the contracts contracttape writes (jsonschema-rs), ahead of
jsonschema's own validation, which stays the judge.

Replay validates every response. jsonschema costs about 0.06 ms for a typical response of the
integration suite and about 94 ms for a 1,000-row PostgREST answer; the compiled check 0.008 ms
and 3.9 ms (``tools/bench_contract_check.py``). So a response is first asked of the compiled
validator: valid there is valid; anything else (invalid, or an error in it) goes to jsonschema,
which gives the verdict and the messages. That is sound only where the two agree that a response
is valid, so the compiled validator is made only for schemas built from what contracttape's
inference writes: ``type``, ``properties``, ``required``, ``items``, ``anyOf``, the five formats
it detects (checked by the same function as jsonschema's checker), ``$ref`` inside the document,
and annotations (``contentEncoding`` among them, as 2020-12 has it). A schema with any other
keyword (a ``pattern``, a ``minimum``, a remote ``$ref``...) gets none and is validated by
jsonschema alone. ``tests/unit/test_fast_check.py`` holds the two to the same verdicts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from contracttape.contracts import formats

FORMATS = ("uuid", "date-time", "date", "email", "uri")

# keywords whose meaning both validators share for what contracttape writes
_ASSERTIONS = frozenset({"type", "properties", "required", "items", "anyOf", "format", "$ref"})
# keywords that assert nothing (2020-12 annotations)
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$id",
        "$comment",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentEncoding",  # in 2020-12 an annotation for both: ``base64`` is not checked
        "contentMediaType",
    }
)
_TYPES = frozenset({"object", "array", "string", "number", "integer", "boolean", "null"})

Check = Callable[[Any], bool]


def format_holds(name: str, value: Any) -> bool:
    """The format rule both validators apply: a string must be detected as ``name``."""
    return not isinstance(value, str) or formats.detect(value) == name


def compiled(schema: Mapping[str, Any]) -> Check | None:
    """A function telling whether an instance is valid, or None when this schema is not one the
    compiled validator is trusted with."""
    if not _supported(schema):
        return None
    import jsonschema_rs  # compiled; imported only when a contract is checked

    checks = {name: (lambda value, name=name: format_holds(name, value)) for name in FORMATS}
    try:
        validator = jsonschema_rs.validator_for(dict(schema), formats=checks, validate_formats=True)
    except Exception:  # a schema it cannot take: jsonschema alone decides
        return None

    def check(instance: Any) -> bool:
        try:
            return bool(validator.is_valid(instance))
        except Exception:  # a value it cannot take (a huge integer): ask jsonschema
            return False

    return check


def _supported(node: Any) -> bool:
    if isinstance(node, bool):
        return True  # true / false schemas
    if not isinstance(node, Mapping):
        return False
    for key, value in node.items():
        if not isinstance(key, str):
            return False
        if key.startswith("x-") or key in _ANNOTATIONS:
            continue
        if key in ("$defs", "definitions"):  # subschemas a ``$ref`` names
            if not isinstance(value, Mapping) or not all(_supported(v) for v in value.values()):
                return False
        elif key not in _ASSERTIONS or not _assertion_supported(key, value):
            return False
    return True


def _assertion_supported(key: str, value: Any) -> bool:
    if key == "type":
        names = value if isinstance(value, list) else [value]
        return bool(names) and all(isinstance(n, str) and n in _TYPES for n in names)
    if key == "properties":
        return isinstance(value, Mapping) and all(_supported(v) for v in value.values())
    if key == "required":
        return isinstance(value, list) and all(isinstance(n, str) for n in value)
    if key == "items":
        return _supported(value)
    if key == "anyOf":
        return isinstance(value, list) and bool(value) and all(_supported(v) for v in value)
    if key == "format":
        return value in FORMATS
    if key == "$ref":
        return isinstance(value, str) and value.startswith("#")  # never fetched from anywhere
    return False
