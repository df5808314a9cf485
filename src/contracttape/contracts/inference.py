"""Schema inference with evidence, built on genson.

genson merges samples into a schema but keeps no evidence: ``required`` is a yes/no
intersection (and not associative once it becomes empty), there are no formats, no enums unless
seeded, no maps, no discriminated unions. Here genson's strategies are extended to *count*: every
node carries an ``x-evidence`` keyword (samples, key presence, nulls, empty arrays, formats seen,
small value sets). Counts add, so merging is associative and commutative: building from all
samples at once, or from partial evidence merged in any grouping, gives the same result.

``render`` then turns evidence into the contract a consumer may rely on:

- ``required``: keys present in every sample, once there are at least ``REQUIRED_AFTER`` samples
  (counts kept in ``x-evidence``): one response is not evidence that a field is always there;
- nullable decided apart from required: ``"type": ["string", "null"]`` when nulls were seen;
- ``format`` / ``contentEncoding`` only when every sample agrees and there are enough samples;
- ``x-extensible-enum`` (open) for small value sets with repeated evidence, never a closed enum;
- maps: objects whose keys are ids become ``additionalProperties``;
- objects with a ``type`` / ``object`` discriminator whose variants differ become ``oneOf``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from genson import SchemaBuilder, SchemaNode
from genson.schema.strategies import Boolean, List, Null, Number, Object, String

from contracttape.contracts import formats

EVIDENCE = "x-evidence"
MIN_FORMAT_SAMPLES = 3
# A field is *required* only when it was in every one of at least this many samples; with fewer,
# the contract describes it without demanding it (``[tool.contracttape] required_after``).
REQUIRED_AFTER = 3
MAX_TRACKED_VALUES = 16
MAX_TRACKED_LENGTH = 40  # longer strings are text or data, never enum members
ENUM_MAX_VALUES = 8
ENUM_MIN_REPEATS = 2
ENUM_MIN_SAMPLES = 4
MAX_VARIANTS = 12
DISCRIMINATORS = ("type", "object", "event")


def _merge_values(a: dict[str, int] | None, b: dict[str, int] | None) -> dict[str, int] | None:
    if a is None or b is None:
        return None
    merged = Counter(a) + Counter(b)
    return dict(merged) if len(merged) <= MAX_TRACKED_VALUES else None


_RANDOM_RUN = re.compile(r"[0-9a-fA-F]{6,}|\d{4,}")


def _enum_like(value: str, detected: str | None) -> bool:
    return detected is None and len(value) <= MAX_TRACKED_LENGTH and not _RANDOM_RUN.search(value)


class _Counting:
    """Mixin for genson strategies: a sample count (and subclass evidence) kept in ``x-evidence``,
    written by ``to_schema`` and merged back by ``add_schema``."""

    KEYWORDS: tuple[str, ...] = ("type", EVIDENCE)
    count: int

    def __init__(self, node_class: type[SchemaNode]) -> None:
        super().__init__(node_class)  # type: ignore[call-arg]
        self.count = 0

    def _evidence(self) -> dict[str, Any]:
        return {"count": self.count}

    def _absorb(self, evidence: dict[str, Any]) -> None:
        self.count += int(evidence.get("count", 0))

    def add_schema(self, schema: dict[str, Any]) -> None:
        super().add_schema(schema)  # type: ignore[misc]
        self._absorb(schema.get(EVIDENCE, {}))

    def to_schema(self) -> dict[str, Any]:
        return {**super().to_schema(), EVIDENCE: self._evidence()}  # type: ignore[misc]


class ENull(_Counting, Null):  # type: ignore[misc]
    def add_object(self, obj: Any) -> None:
        self.count += 1


class EBoolean(ENull, Boolean):  # type: ignore[misc]
    JS_TYPE = "boolean"
    PYTHON_TYPE = bool


class ENumber(_Counting, Number):  # type: ignore[misc]
    def add_object(self, obj: Any) -> None:
        super().add_object(obj)
        self.count += 1


class EString(_Counting, String):  # type: ignore[misc]
    def __init__(self, node_class: type[SchemaNode]) -> None:
        super().__init__(node_class)
        self.formats: Counter[str] = Counter()
        self.values: dict[str, int] | None = {}

    def add_object(self, obj: str) -> None:
        self.count += 1
        detected = formats.detect(obj)
        self.formats[detected or "none"] += 1
        # Only values that could be members of a small enum are kept: ids, dates and long text
        # would make the evidence (and the contract file) churn on every re-record.
        self.values = _merge_values(self.values, {obj: 1} if _enum_like(obj, detected) else None)

    def _absorb(self, evidence: dict[str, Any]) -> None:
        super()._absorb(evidence)
        self.formats.update(evidence.get("formats", {}))
        self.values = _merge_values(self.values, evidence.get("values", {}))

    def _evidence(self) -> dict[str, Any]:
        values = None if self.values is None else dict(sorted(self.values.items()))
        return {**super()._evidence(), "formats": dict(sorted(self.formats.items())), "values": values}


class EList(_Counting, List):  # type: ignore[misc]
    KEYWORDS = ("type", "items", EVIDENCE)

    def __init__(self, node_class: type[SchemaNode]) -> None:
        super().__init__(node_class)
        self.empty = 0

    def add_object(self, obj: list[Any]) -> None:
        super().add_object(obj)
        self.count += 1
        self.empty += not obj

    def _absorb(self, evidence: dict[str, Any]) -> None:
        super()._absorb(evidence)
        self.empty += int(evidence.get("empty", 0))

    def _evidence(self) -> dict[str, Any]:
        return {**super()._evidence(), "empty": self.empty}


class EObject(_Counting, Object):  # type: ignore[misc]
    """Objects: key presence counted, plus key sets per discriminator value."""

    KEYWORDS = ("type", "properties", "required", "patternProperties", EVIDENCE)

    def __init__(self, node_class: type[SchemaNode]) -> None:
        super().__init__(node_class)
        self.keys: Counter[str] = Counter()
        self.variants: dict[str, dict[str, Any]] | None = {}

    def add_object(self, obj: dict[str, Any]) -> None:
        for prop, value in obj.items():
            self._properties[prop].add_object(value)
        self.count += 1
        self.keys.update(obj.keys())
        self._add_variant(_variant_of(obj), {"count": 1, "keys": dict.fromkeys(obj, 1)})

    def _add_variant(self, name: str | None, evidence: dict[str, Any]) -> None:
        if self.variants is None or name is None:
            return
        current = self.variants.setdefault(name, {"count": 0, "keys": {}})
        current["count"] += evidence["count"]
        current["keys"] = dict(Counter(current["keys"]) + Counter(evidence["keys"]))
        if len(self.variants) > MAX_VARIANTS:
            self.variants = None

    def add_schema(self, schema: dict[str, Any]) -> None:
        for prop, subschema in schema.get("properties", {}).items():
            self._properties[prop].add_schema(subschema)
        evidence = schema.get(EVIDENCE, {})
        self._absorb(evidence)
        self.keys.update(evidence.get("keys", {}))
        incoming = evidence.get("variants", {})
        if incoming is None:
            self.variants = None
        for name, variant in sorted((incoming or {}).items()):
            self._add_variant(name, variant)

    def to_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object"}
        if self._properties:
            schema["properties"] = {k: self._properties[k].to_schema() for k in sorted(self._properties)}
        variants = None if self.variants is None else {k: self.variants[k] for k in sorted(self.variants)}
        schema[EVIDENCE] = {**self._evidence(), "keys": dict(sorted(self.keys.items())), "variants": variants}
        return schema


def _variant_of(obj: dict[str, Any]) -> str | None:
    for key in DISCRIMINATORS:
        value = obj.get(key)
        if isinstance(value, str):
            return f"{key}={value}"
    return None


class EvidenceNode(SchemaNode):  # type: ignore[misc]
    STRATEGIES = (ENull, EBoolean, ENumber, EString, EList, EObject)

    def to_schema(self) -> dict[str, Any]:
        # One alternative per type, always as anyOf in type order: deterministic and mergeable.
        alternatives = sorted(
            (s.to_schema() for s in self._active_strategies), key=lambda s: str(s.get("type"))
        )
        if not alternatives:
            return {}
        return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}


class EvidenceBuilder(SchemaBuilder):  # type: ignore[misc]
    """genson's builder with counting strategies; ``to_schema()`` is the mergeable evidence."""

    STRATEGIES = EvidenceNode.STRATEGIES

    def __init__(self) -> None:
        super().__init__(schema_uri=None)


# genson's metaclass builds a plain SchemaNode class from STRATEGIES; ours also orders its output.
EvidenceBuilder.NODE_CLASS = EvidenceNode


def evidence_of(samples: list[Any], *partial: dict[str, Any]) -> dict[str, Any]:
    """Evidence for samples, merged with evidence built earlier (in any grouping)."""
    builder = EvidenceBuilder()
    for evidence in partial:
        if evidence:
            builder.add_schema(evidence)
    for sample in samples:
        builder.add_object(sample)
    schema: dict[str, Any] = builder.to_schema()
    schema.pop("$schema", None)
    return schema


# -- rendering: evidence -> contract ---------------------------------------------------------------


def _alternatives(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    return list(evidence.get("anyOf", [evidence] if evidence else []))


def _count(alternatives: list[dict[str, Any]], js_type: str) -> int:
    return sum(a.get(EVIDENCE, {}).get("count", 0) for a in alternatives if a.get("type") == js_type)


def render(evidence: dict[str, Any], required_after: int = REQUIRED_AFTER) -> dict[str, Any]:
    """The contract schema for a node of evidence."""
    alternatives = _alternatives(evidence)
    nullable = any(a.get("type") == "null" for a in alternatives)
    rendered = [_render_typed(a, required_after) for a in alternatives if a.get("type") != "null"]
    if not rendered:
        return {"type": "null"} if nullable else {}
    if len(rendered) == 1:
        (single,) = rendered
        if nullable and isinstance(single.get("type"), str):
            single["type"] = [single["type"], "null"]
        elif nullable:
            single = {"anyOf": [single, {"type": "null"}]}
        return single
    simple = all(set(r) == {"type"} for r in rendered)
    if simple:
        return {"type": sorted(r["type"] for r in rendered) + (["null"] if nullable else [])}
    return {"anyOf": rendered + ([{"type": "null"}] if nullable else [])}


def _render_typed(evidence: dict[str, Any], required_after: int) -> dict[str, Any]:
    js_type = evidence.get("type")
    if js_type == "string":
        return _render_string(evidence[EVIDENCE])
    if js_type == "array":
        out: dict[str, Any] = {"type": "array"}
        if evidence.get("items"):
            out["items"] = render(evidence["items"], required_after)
        return out
    if js_type == "object":
        return _render_object(evidence, required_after)
    return {"type": js_type}


def _render_string(evidence: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string"}
    count, seen = evidence["count"], evidence.get("formats", {})
    agreed = next(iter(seen)) if len(seen) == 1 else "none"
    if agreed != "none" and count >= MIN_FORMAT_SAMPLES:
        out["contentEncoding" if agreed == "base64" else "format"] = agreed
        return out
    values = evidence.get("values")
    if (
        values
        and len(values) <= ENUM_MAX_VALUES
        and count >= ENUM_MIN_SAMPLES
        and min(values.values()) >= ENUM_MIN_REPEATS
        and len(values) < count
    ):
        out["x-extensible-enum"] = sorted(values)
    elif values and len(values) <= ENUM_MAX_VALUES:
        # too little evidence for an enum, but what was seen is kept: drift compares it
        out[EVIDENCE] = {"values": sorted(values)}
    return out


def _merged(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    return evidence_of([], *nodes)


def _render_object(evidence: dict[str, Any], required_after: int) -> dict[str, Any]:
    meta = evidence[EVIDENCE]
    properties: dict[str, Any] = evidence.get("properties", {})
    count, keys = meta["count"], meta.get("keys", {})
    if len(properties) >= 2 and all(formats.is_id_like(k) for k in properties):
        return {
            "type": "object",
            "additionalProperties": render(_merged(list(properties.values())), required_after),
            "x-evidence": {"map": True, "distinct_keys": len(properties), "samples": count},
        }
    out: dict[str, Any] = {"type": "object", "properties": {}}
    for key in sorted(properties):
        schema = render(properties[key], required_after)
        schema[EVIDENCE] = {
            **schema.get(EVIDENCE, {}),
            **_property_evidence(properties[key], keys.get(key, 0), count),
        }
        out["properties"][key] = schema
    required = sorted(k for k in properties if keys.get(k, 0) == count >= required_after)
    if required:
        out["required"] = required
    variants = meta.get("variants") or {}
    key_sets = {frozenset(v["keys"]) for v in variants.values()}
    if len(variants) >= 2 and len(key_sets) >= 2:
        return {
            "oneOf": [_render_variant(name, v, out, required_after) for name, v in sorted(variants.items())]
        }
    return out


def _render_variant(
    name: str, variant: dict[str, Any], whole: dict[str, Any], required_after: int
) -> dict[str, Any]:
    disc, value = name.split("=", 1)
    properties = {k: whole["properties"][k] for k in sorted(variant["keys"]) if k in whole["properties"]}
    properties[disc] = {"const": value, EVIDENCE: {"present": variant["count"], "of": variant["count"]}}
    required = sorted(k for k, n in variant["keys"].items() if n == variant["count"] >= required_after)
    return {"type": "object", "properties": properties, "required": required}


def _property_evidence(node: dict[str, Any], present: int, of: int) -> dict[str, int]:
    alternatives = _alternatives(node)
    empty = sum(a.get(EVIDENCE, {}).get("empty", 0) for a in alternatives if a.get("type") == "array")
    return {"present": present, "of": of, "null": _count(alternatives, "null"), "empty_array": empty}
