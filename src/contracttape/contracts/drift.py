"""Drift: what changed between a committed contract and one inferred from new traffic, judged
from the consumer's side of a response.

Rule ids and severities are oasdiff's (ERR: a consumer that followed the old contract can stop
working; WARN: it may; INFO: it cannot), plus what no tool has: ``response-property-unobserved``
(a contracted field absent from a sample too small to call it removed), a format change of its
own, SSE event types, and ``response-unclassified-change`` for any difference no rule covers,
never silence. Every finding carries the endpoint, JSON path, rule, severity, before/after and
the sample counts on both sides. ``Overrides`` (``contracts/drift.toml``) change severities or
ignore findings, each with a reason and an optional expiry.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from contracttape.config import read_toml
from contracttape.contracts.book import ContractFile
from contracttape.errors import ConfigError
from contracttape.services.profile import Endpoint

ERR, WARN, INFO = "ERR", "WARN", "INFO"
SEVERITIES = (ERR, WARN, INFO)
# Absent from this many new samples (and seen in as many committed ones) before a field is
# called removed rather than unobserved.
MIN_SAMPLES_FOR_REMOVAL = 3
CHANCE = 0.01  # an absence at least this likely by chance is "unobserved", not "removed"

RULES: dict[str, str] = {
    "response-required-property-removed": ERR,
    "response-optional-property-removed": WARN,
    "response-property-unobserved": INFO,
    "response-required-property-added": INFO,
    "response-optional-property-added": INFO,
    "response-property-became-optional": ERR,
    "response-property-became-required": INFO,
    "response-property-became-nullable": ERR,
    "response-property-became-not-nullable": INFO,
    "response-property-type-changed": ERR,
    "response-property-type-generalized": ERR,
    "response-property-type-specialized": INFO,
    "response-property-list-of-types-widened": ERR,
    "response-property-list-of-types-narrowed": INFO,
    "response-property-format-changed": WARN,
    "response-property-enum-value-added": WARN,  # INFO on an open (x-extensible-enum) set
    "response-property-enum-value-removed": INFO,
    "response-property-one-of-added": ERR,
    "response-property-one-of-removed": INFO,
    "response-property-const-changed": ERR,
    "response-sse-event-type-added": WARN,
    "response-sse-event-type-removed": WARN,
    "response-success-status-removed": ERR,
    "response-success-status-added": INFO,
    "response-non-success-status-added": INFO,
    "response-media-type-changed": ERR,
    "required-response-header-removed": ERR,
    "optional-response-header-removed": WARN,
    "response-header-unobserved": INFO,
    "response-unclassified-change": WARN,
}


@dataclass(frozen=True)
class Finding:
    endpoint: str  # Endpoint.describe()
    path: str  # JSON path in the response ($ is the body)
    rule: str
    severity: str
    before: str
    after: str
    samples_before: int
    samples_after: int
    note: str = ""  # why the severity differs from the rule's default (an override, an open enum)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "path": self.path,
            "rule": self.rule,
            "severity": self.severity,
            "before": self.before,
            "after": self.after,
            "samples": {"before": self.samples_before, "after": self.samples_after},
            "note": self.note,
        }


# -- schema diff ----------------------------------------------------------------------------------


def _types(node: Mapping[str, Any]) -> set[str]:
    """A node's JSON types, whichever way nullability was written (type list, anyOf, oneOf)."""
    kind = node.get("type")
    found: set[str] = set()
    if isinstance(kind, str):
        found = {kind}
    elif isinstance(kind, list):
        found = {str(k) for k in kind}
    for alternative in node.get("anyOf", []):
        if isinstance(alternative, Mapping):
            found |= _types(alternative)
    if "const" in node:
        found.add(type(node["const"]).__name__.replace("str", "string"))
    if node.get("nullable") is True:  # OpenAPI 3.0's way
        found.add("null")
    return found


def _describe(types: set[str]) -> str:
    return "|".join(sorted(types)) or "any"


def _branch(node: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """The part of a node for one JSON type (the node itself, or its anyOf branch)."""
    for alternative in node.get("anyOf", []):
        if isinstance(alternative, Mapping) and alternative.get("type") == kind:
            return alternative
    return node


def _variants(node: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """oneOf branches keyed by their discriminator value (``type=message``)."""
    out = {}
    for branch in node.get("oneOf", []):
        for key, prop in (branch.get("properties") or {}).items():
            if isinstance(prop, Mapping) and "const" in prop:
                out[f"{key}={prop['const']}"] = branch
                break
    return out


@dataclass
class _Diff:
    endpoint: str
    before_samples: int
    after_samples: int
    found: list[Finding] = field(default_factory=list)

    def add(
        self, path: str, rule: str, before: Any, after: Any, severity: str | None = None, note: str = ""
    ) -> None:
        self.found.append(
            Finding(
                self.endpoint,
                path,
                rule,
                severity or RULES[rule],
                str(before),
                str(after),
                self.before_samples,
                self.after_samples,
                note,
            )
        )

    # one node of each side, at ``path``
    def node(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any], sse: bool = False) -> None:
        if old == new:
            return
        old_types, new_types = _types(old), _types(new)
        old_variants, new_variants = _variants(old), _variants(new)
        if old_variants or new_variants:
            self.one_of(path, old_variants, new_variants, sse)
            return
        self.nullability(path, old_types, new_types)
        if "null" in old_types and old_types - {"null"} and new_types == {"null"}:  # only nulls now
            self.add(path, "response-property-list-of-types-narrowed", _describe(old_types), "null")
        self.types(path, old_types - {"null"}, new_types - {"null"})
        for kind in sorted((old_types & new_types) - {"null"}):
            self.typed(path, kind, _branch(old, kind), _branch(new, kind))
        if "const" in old and "const" in new and old["const"] != new["const"]:
            self.add(path, "response-property-const-changed", old["const"], new["const"])

    def nullability(self, path: str, old: set[str], new: set[str]) -> None:
        if "null" in new and "null" not in old and old:
            self.add(path, "response-property-became-nullable", _describe(old), _describe(new))
        elif "null" in old and "null" not in new and new:
            self.add(path, "response-property-became-not-nullable", _describe(old), _describe(new))

    def types(self, path: str, old: set[str], new: set[str]) -> None:
        if not old or not new or old == new:
            return
        if old == {"integer"} and new == {"number"}:
            self.add(path, "response-property-type-generalized", "integer", "number")
        elif old == {"number"} and new == {"integer"}:
            self.add(path, "response-property-type-specialized", "number", "integer")
        elif old < new:
            self.add(path, "response-property-list-of-types-widened", _describe(old), _describe(new))
        elif new < old:
            self.add(path, "response-property-list-of-types-narrowed", _describe(old), _describe(new))
        else:
            self.add(path, "response-property-type-changed", _describe(old), _describe(new))

    def typed(self, path: str, kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        if kind == "object":
            self.object(path, old, new)
        elif kind == "array":
            self.node(f"{path}[*]", old.get("items") or {}, new.get("items") or {}, sse=path == "$")
        elif kind == "string":
            self.string(path, old, new)

    def string(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        old_format = old.get("format") or old.get("contentEncoding")
        new_format = new.get("format") or new.get("contentEncoding")
        if old_format and new_format and old_format != new_format:
            self.add(path, "response-property-format-changed", old_format, new_format)
        old_enum, new_enum = _values(old), _values(new)
        if old_enum and new_enum:
            for value in sorted(new_enum - old_enum):
                # contracttape's enums are open (x-extensible-enum): a new value is INFO, not WARN
                self.add(
                    path, "response-property-enum-value-added", sorted(old_enum), value, INFO, "open enum"
                )
            if "x-extensible-enum" in new:  # only a confirmed set can say a value is gone
                for value in sorted(old_enum - new_enum):
                    self.add(path, "response-property-enum-value-removed", value, sorted(new_enum))

    def object(
        self, path: str, old: Mapping[str, Any], new: Mapping[str, Any], presence: bool = True
    ) -> None:
        """``presence``: judge required/optional here (a oneOf branch's properties carry the
        evidence of every item, not of the branch, so a branch does not)."""
        old_props, new_props = old.get("properties") or {}, new.get("properties") or {}
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for key in sorted(set(old_props) | set(new_props)):
            where = f"{path}.{key}"
            if key not in new_props:
                if presence:
                    self.missing(where, key in old_required, old_props[key].get("x-evidence", {}), new)
            elif key not in old_props:
                rule = (
                    "response-required-property-added"
                    if key in new_required
                    else "response-optional-property-added"
                )
                self.add(where, rule, "", _describe(_types(new_props[key])))
            else:
                if presence:
                    self.presence(
                        where,
                        key in old_required,
                        key in new_required,
                        old_props[key].get("x-evidence", {}),
                        new_props[key].get("x-evidence", {}),
                    )
                self.node(where, old_props[key], new_props[key])
        if "additionalProperties" in old or "additionalProperties" in new:
            old_map, new_map = old.get("additionalProperties") or {}, new.get("additionalProperties") or {}
            if isinstance(old_map, Mapping) and isinstance(new_map, Mapping):
                self.node(f"{path}.*", old_map, new_map)

    def missing(
        self, where: str, required: bool, seen: Mapping[str, Any], new_parent: Mapping[str, Any]
    ) -> None:
        """A contracted field no new sample had: removed, or merely not observed this time.

        With ``p`` = how often the committed samples had it, ``n`` new samples all lacking it
        happen by chance with probability (1 - p)^n; at 1% or more (or with too few samples on
        either side) it is unobserved, otherwise removed."""
        old_present, old_of = int(seen.get("present", 0)), int(seen.get("of", 0)) or 1
        new_of = _object_samples(new_parent)
        by_chance = (1 - old_present / old_of) ** new_of
        before, after = f"in {old_present} of {old_of}", f"in 0 of {new_of}"
        if min(old_present, new_of) < MIN_SAMPLES_FOR_REMOVAL:
            note = "too few samples to call it removed"
            self.add(where, "response-property-unobserved", before, after, note=note)
        elif by_chance >= CHANCE:
            self.add(
                where, "response-property-unobserved", before, after, note=f"{by_chance:.0%} likely by chance"
            )
        elif required or old_present == old_of:
            self.add(where, "response-required-property-removed", before, after)
        else:
            self.add(where, "response-optional-property-removed", before, after)

    def presence(
        self,
        where: str,
        was_required: bool,
        is_required: bool,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
    ) -> None:
        present, of = int(after.get("present", 0)), int(after.get("of", 0))
        if was_required and present < of:
            self.add(where, "response-property-became-optional", "required", f"in {present} of {of}")
        elif is_required and int(before.get("present", 0)) < int(before.get("of", 0)):
            shown = f"in {before.get('present')} of {before.get('of')}"
            self.add(where, "response-property-became-required", shown, "required")

    def one_of(
        self, path: str, old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]], sse: bool
    ) -> None:
        added, removed = (
            ("response-sse-event-type-added", "response-sse-event-type-removed")
            if sse
            else ("response-property-one-of-added", "response-property-one-of-removed")
        )
        for name in sorted(set(new) - set(old)):
            self.add(path, added, "", name)
        for name in sorted(set(old) - set(new)):
            if sse and _samples_of(new) < MIN_SAMPLES_FOR_REMOVAL:
                self.add(path, "response-property-unobserved", name, "", note="event type not seen this time")
            else:
                self.add(path, removed, name, "")
        for name in sorted(set(old) & set(new)):
            self.object(f"{path}({name})", old[name], new[name], presence=False)


# Keywords whose presence follows the sample count, judged by their own rules above (required by
# the presence rules, formats and enums by the string rule when both sides have them).
_BY_EVIDENCE = frozenset({"x-evidence", "required", "format", "contentEncoding", "x-extensible-enum"})


def _bare(schema: Any) -> Any:
    """A schema without what follows the sample count: what is left is shape."""
    if isinstance(schema, dict):
        return {k: _bare(v) for k, v in schema.items() if k not in _BY_EVIDENCE and v != {}}
    if isinstance(schema, list):
        return [_bare(v) for v in schema]
    return schema


def _values(node: Mapping[str, Any]) -> set[str]:
    """The values a string node holds: its open enum, or the few values seen below that threshold."""
    return set(node.get("x-extensible-enum") or node.get("x-evidence", {}).get("values") or [])


def _object_samples(node: Mapping[str, Any]) -> int:
    """How many samples of this object the new side has (the largest ``of`` of its properties)."""
    counts = [
        int((p or {}).get("x-evidence", {}).get("of", 0)) for p in (node.get("properties") or {}).values()
    ]
    return max(counts, default=0)


def _samples_of(variants: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(_object_samples(v) for v in variants.values())


def diff(old: ContractFile, new: ContractFile) -> list[Finding]:
    """Findings from the committed contract ``old`` to the one inferred from new traffic."""
    work = _Diff(new.endpoint.describe(), old.samples, new.samples)
    if old.media_types and new.media_types and set(old.media_types) != set(new.media_types):
        work.add("$", "response-media-type-changed", ",".join(old.media_types), ",".join(new.media_types))
    _headers(work, old, new)
    if old.evidence and new.evidence:
        before = old.schema
        same_rule = (
            new
            if new.required_after == old.required_after
            else replace(new, required_after=old.required_after)
        )
        after = same_rule.schema  # both sides judged by the same evidence rule
        work.node("$", before, after)
        if not work.found and _bare(before) != _bare(after):
            work.add("$", "response-unclassified-change", "schema", "schema", note="no rule describes it")
    return work.found


def _headers(work: _Diff, old: ContractFile, new: ContractFile) -> None:
    """Response headers a consumer may read: one always sent and now never sent is removed."""
    if not new.samples or not old.headers:
        return
    answered = max(new.headers.values(), default=0) or new.samples
    for name, seen in sorted(old.headers.items()):
        if new.headers.get(name):
            continue
        always = seen >= old.samples
        by_chance = (1 - min(seen / max(old.samples, 1), 1.0)) ** answered
        before, after = f"in {seen} of {old.samples}", f"in 0 of {answered}"
        if min(seen, answered) < MIN_SAMPLES_FOR_REMOVAL or by_chance >= CHANCE:
            work.add(
                f"header {name}", "response-header-unobserved", before, after, note="too little evidence"
            )
        elif always:
            work.add(f"header {name}", "required-response-header-removed", before, after)
        else:
            work.add(f"header {name}", "optional-response-header-removed", before, after)


# -- a whole set of endpoints -----------------------------------------------------------------------


@dataclass
class DriftResult:
    findings: list[Finding] = field(default_factory=list)
    not_reobserved: list[str] = field(default_factory=list)  # committed endpoints with no new traffic
    ignored: list[Finding] = field(default_factory=list)

    @property
    def worst(self) -> str | None:
        for severity in SEVERITIES:
            if any(f.severity == severity for f in self.findings):
                return severity
        return None

    @property
    def drifted(self) -> bool:
        return any(f.severity in (ERR, WARN) for f in self.findings)


def _route(endpoint: Endpoint) -> tuple[str, str, str, tuple[tuple[str, str], ...]]:
    return (endpoint.service, endpoint.method, endpoint.template, endpoint.variant)


def compare(
    committed: Mapping[Endpoint, ContractFile], observed: Mapping[Endpoint, ContractFile]
) -> DriftResult:
    """Every endpoint's findings, plus statuses that appeared or vanished on a re-observed route."""
    result = DriftResult()
    for endpoint in sorted(set(committed) | set(observed)):
        old, new = committed.get(endpoint), observed.get(endpoint)
        if old is not None and new is not None:
            result.findings.extend(diff(old, new))
        elif old is None and new is not None:
            rule = (
                "response-success-status-added"
                if endpoint.status_class == "2xx"
                else "response-non-success-status-added"
            )
            result.findings.append(
                Finding(
                    endpoint.describe(), "$", rule, RULES[rule], "", endpoint.status_class, 0, new.samples
                )
            )
        elif old is not None:
            same_route = [e for e in observed if _route(e)[:3] == _route(endpoint)[:3]]
            if (
                endpoint.status_class == "2xx"
                and same_route
                and not any(e.status_class == "2xx" for e in same_route)
            ):
                rule = "response-success-status-removed"
                result.findings.append(
                    Finding(
                        endpoint.describe(),
                        "$",
                        rule,
                        RULES[rule],
                        "2xx",
                        ",".join(e.status_class for e in same_route),
                        old.samples,
                        0,
                    )
                )
            else:
                result.not_reobserved.append(endpoint.describe())
    return result


# -- overrides --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    endpoint: str  # glob over Endpoint.describe()
    path: str  # glob over the JSON path
    rule: str  # glob over the rule id
    reason: str
    severity: str | None = None  # None with ignore
    ignore: bool = False
    expires: dt.date | None = None

    def applies(self, finding: Finding, today: dt.date) -> bool:
        return (
            (self.expires is None or today <= self.expires)
            and fnmatch.fnmatchcase(finding.endpoint, self.endpoint)
            and fnmatch.fnmatchcase(finding.path, self.path)
            and fnmatch.fnmatchcase(finding.rule, self.rule)
        )


def load_overrides(path: Path) -> list[Override]:
    """``[[override]]`` tables of ``contracts/drift.toml``: endpoint, path, rule (globs, default
    ``*``), ``severity`` or ``ignore = true``, a required ``reason``, an optional ``expires``."""
    data = read_toml(path)
    overrides = []
    for number, entry in enumerate(data.get("override", []), start=1):
        where = f"{path}: [[override]] {number}"
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("reason"), str)
            or not entry["reason"].strip()
        ):
            raise ConfigError(f"{where} needs a 'reason' saying why")
        severity = entry.get("severity")
        ignore = bool(entry.get("ignore", False))
        if (severity is None) == (not ignore) or (severity is not None and severity not in SEVERITIES):
            raise ConfigError(f'{where}: give either severity = "ERR"|"WARN"|"INFO" or ignore = true')
        expires = entry.get("expires")
        if expires is not None and not isinstance(expires, dt.date):
            raise ConfigError(f"{where}: expires must be a date (expires = 2027-01-31)")
        overrides.append(
            Override(
                str(entry.get("endpoint", "*")),
                str(entry.get("path", "*")),
                str(entry.get("rule", "*")),
                entry["reason"],
                severity,
                ignore,
                expires,
            )
        )
    return overrides


def apply_overrides(
    result: DriftResult, overrides: Iterable[Override], today: dt.date | None = None
) -> DriftResult:
    today = today or dt.date.today()
    rules = list(overrides)
    kept: list[Finding] = []
    for finding in result.findings:
        rule = next((o for o in rules if o.applies(finding, today)), None)
        if rule is None:
            kept.append(finding)
        elif rule.ignore:
            result.ignored.append(replace(finding, note=f"ignored: {rule.reason}"))
        else:
            assert rule.severity is not None
            kept.append(replace(finding, severity=rule.severity, note=f"override: {rule.reason}"))
    result.findings = kept
    return result
