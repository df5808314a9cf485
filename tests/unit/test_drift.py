"""Drift rules, one fixture pair each: committed samples vs new samples -> (path, rule, severity).

Includes the misses the reference tools had: a body wrapped in an envelope, array -> object,
nullable written three ways, enum growth on an open enum, a field only sometimes present.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from contracttape.contracts.book import ContractFile
from contracttape.contracts.drift import (
    ERR,
    INFO,
    WARN,
    DriftResult,
    Finding,
    _Diff,
    apply_overrides,
    compare,
    diff,
    load_overrides,
)
from contracttape.contracts.inference import evidence_of
from contracttape.errors import ConfigError
from contracttape.services.profile import Endpoint

EP = Endpoint("openai", "POST", "/v1/chat/completions", "2xx", (("stream", "false"),))


def contract(samples: list[Any], media: str = "application/json", endpoint: Endpoint = EP) -> ContractFile:
    return ContractFile(endpoint, evidence_of(samples), len(samples), "2026-01-01", "2026-01-01", [media])


def found(old: list[Any], new: list[Any], **kw: Any) -> set[tuple[str, str, str]]:
    return {(f.path, f.rule, f.severity) for f in diff(contract(old, **kw), contract(new))}


def many(sample: dict[str, Any], n: int = 5) -> list[dict[str, Any]]:
    return [dict(sample) for _ in range(n)]


CASES: list[tuple[str, list[Any], list[Any], set[tuple[str, str, str]]]] = [
    ("unchanged", many({"a": 1, "b": "x"}), many({"a": 2, "b": "x"}), set()),
    (
        "required-removed",
        many({"a": 1, "b": 2}),
        many({"a": 1}),
        {("$.b", "response-required-property-removed", ERR)},
    ),
    (
        "optional-removed",
        [{"a": 1, "b": 2}] * 3 + [{"a": 1}] * 2,
        many({"a": 1}, 12),  # seen in 60% before, absent from 12: not chance
        {("$.b", "response-optional-property-removed", WARN)},
    ),
    (
        "optional-absent-by-chance",
        [{"a": 1, "b": 2}] * 3 + [{"a": 1}] * 2,
        many({"a": 1}, 4),  # 0.4^4 = 2.6%: could be luck, so unobserved
        {("$.b", "response-property-unobserved", INFO)},
    ),
    ("unobserved", [{"a": 1, "b": 2}], [{"a": 1}], {("$.b", "response-property-unobserved", INFO)}),
    (
        "optional-added",
        many({"a": 1}),
        [{"a": 1, "c": True}],
        {("$.c", "response-optional-property-added", INFO)},
    ),
    (
        "required-added",
        many({"a": 1}),
        many({"a": 1, "c": True}),
        {("$.c", "response-required-property-added", INFO)},
    ),
    (
        "became-optional",
        many({"a": 1, "b": 2}),
        [{"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 3}],
        {("$.b", "response-property-became-optional", ERR)},
    ),
    (
        "sometimes-present-stays-quiet",
        [{"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 2}, {"a": 2}],
        [{"a": 1}, {"a": 1, "b": 5}],
        set(),
    ),
    (
        "became-required",
        [{"a": 1, "b": 2}, {"a": 1}, {"a": 1, "b": 2}],
        many({"a": 1, "b": 3}),
        {("$.b", "response-property-became-required", INFO)},
    ),
    ("became-nullable", many({"a": "x"}), [{"a": None}], {("$.a", "response-property-became-nullable", ERR)}),
    (
        "became-not-nullable",
        [{"a": "x"}, {"a": None}],
        [{"a": "x"}],
        {("$.a", "response-property-became-not-nullable", INFO)},
    ),
    ("type-changed", many({"a": 1}), [{"a": "1"}], {("$.a", "response-property-type-changed", ERR)}),
    ("type-generalized", many({"a": 1}), [{"a": 1.5}], {("$.a", "response-property-type-generalized", ERR)}),
    ("type-specialized", many({"a": 1.5}), [{"a": 2}], {("$.a", "response-property-type-specialized", INFO)}),
    (
        "types-widened",
        many({"a": 1}),
        [{"a": 1}, {"a": "x"}],
        {("$.a", "response-property-list-of-types-widened", ERR)},
    ),
    (
        "types-narrowed",
        [{"a": 1}, {"a": "x"}],
        [{"a": 2}],
        {("$.a", "response-property-list-of-types-narrowed", INFO)},
    ),
    (
        "format-changed",
        many({"a": "2026-01-01T00:00:00Z"}),
        many({"a": "0b8e0c8e-1c1e-4c3e-9d1e-1b2c3d4e5f60"}),
        {("$.a", "response-property-format-changed", WARN)},
    ),
    (
        "open-enum-value-added",
        [{"s": "a"}, {"s": "a"}, {"s": "b"}, {"s": "b"}, {"s": "a"}],
        [{"s": "c"}],
        {("$.s", "response-property-enum-value-added", INFO)},
    ),
    (
        "enum-value-removed",
        [{"s": v} for v in "aabba"],
        [{"s": v} for v in "aaaaa"],
        {("$.s", "response-property-enum-value-removed", INFO)},
    ),
    (
        "one-of-added",
        many({"items": [{"type": "text", "text": "x"}, {"type": "image", "url": "u"}]}),
        [
            {
                "items": [
                    {"type": "text", "text": "x"},
                    {"type": "image", "url": "u"},
                    {"type": "audio", "data": "d"},
                ]
            }
        ],
        {("$.items[*]", "response-property-one-of-added", ERR)},
    ),
    (
        "one-of-removed",
        many(
            {
                "items": [
                    {"type": "text", "text": "x"},
                    {"type": "image", "url": "u"},
                    {"type": "audio", "data": "d"},
                ]
            }
        ),
        many({"items": [{"type": "text", "text": "x"}, {"type": "image", "url": "u"}]}),
        {("$.items[*]", "response-property-one-of-removed", INFO)},
    ),
    (
        "sse-event-type-added",
        [[{"type": "delta", "text": "x"}, {"type": "done", "n": 1}]] * 5,
        [[{"type": "delta", "text": "x"}, {"type": "done", "n": 1}, {"type": "error", "message": "m"}]],
        {("$[*]", "response-sse-event-type-added", WARN)},
    ),
    (
        "sse-event-type-removed",
        [[{"type": "delta", "text": "x"}, {"type": "done", "n": 1}, {"type": "ping", "at": 1}]] * 5,
        [[{"type": "delta", "text": "x"}, {"type": "done", "n": 1}]] * 5,
        {("$[*]", "response-sse-event-type-removed", WARN)},
    ),
    (
        "body-wrapped-in-an-envelope",
        many({"id": "x", "value": 1}),
        many({"data": {"id": "x", "value": 1}}),
        {
            ("$.id", "response-required-property-removed", ERR),
            ("$.value", "response-required-property-removed", ERR),
            ("$.data", "response-required-property-added", INFO),
        },
    ),
    (
        "array-to-object",
        many({"a": [1, 2]}),
        many({"a": {"x": 1}}),
        {("$.a", "response-property-type-changed", ERR)},
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), CASES, ids=[c[0] for c in CASES])
def test_rule(name: str, old: list[Any], new: list[Any], expected: set[tuple[str, str, str]]) -> None:
    assert found(old, new) == expected


@pytest.mark.parametrize(
    "nullable",
    [
        {"type": ["string", "null"]},
        {"anyOf": [{"type": "string"}, {"type": "null"}]},
        {"type": "string", "nullable": True},
    ],
    ids=["type-list", "any-of", "openapi-3.0"],
)
def test_nullable_written_three_ways_is_one_change(nullable: dict[str, Any]) -> None:
    work = _Diff("e", 5, 5)
    work.node(
        "$",
        {"type": "object", "properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {"a": nullable}},
    )
    assert [(f.path, f.rule) for f in work.found] == [("$.a", "response-property-became-nullable")]
    same = _Diff("e", 5, 5)
    same.node(
        "$",
        {"type": "object", "properties": {"a": nullable}},
        {"type": "object", "properties": {"a": {"type": ["null", "string"]}}},
    )
    assert same.found == []


def test_a_change_no_rule_describes_is_unclassified() -> None:
    """A map (ids as keys) that becomes a plain list of its values: no rule names it, drift says so."""
    ids = ["0b8e0c8e-1c1e-4c3e-9d1e-1b2c3d4e5f6" + str(n) for n in range(3)]
    old = contract(many({"by_id": {i: {"n": 1} for i in ids}}))
    new = contract(many({"by_id": {i: {"n": 1, "extra": {"deep": [1]}} for i in ids}}))
    work = _Diff("e", 1, 1)
    work.node("$", old.schema, new.schema)
    rules = [f.rule for f in diff(old, new)]
    assert rules, "a real difference was reported as nothing"
    assert set(rules) <= {
        "response-optional-property-added",
        "response-required-property-added",
        "response-unclassified-change",
    }
    loose = diff(contract([{"a": "x"}]), contract([{"a": "x"}]))
    assert loose == []  # no noise where nothing changed


class Fixed(ContractFile):
    """A contract whose schema is given (for shapes inference never writes, like maxLength)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__(EP, {"type": "object"}, 5, "", "", ["application/json"])
        self._fixed = schema

    @property
    def schema(self) -> dict[str, Any]:
        return self._fixed


def test_a_difference_no_node_rule_covers_is_never_silent() -> None:
    before = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}}
    after = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 9}}}
    (finding,) = diff(Fixed(before), Fixed(after))
    assert (finding.rule, finding.severity) == ("response-unclassified-change", WARN)
    assert diff(Fixed(before), Fixed(before)) == []


def test_media_type_and_statuses() -> None:
    assert found([{"a": 1}], [{"a": 1}], media="application/x-ndjson") == {
        ("$", "response-media-type-changed", ERR)
    }
    ok, err = EP, Endpoint("openai", "POST", "/v1/chat/completions", "4xx")
    result = compare({ok: contract([{"a": 1}])}, {err: contract([{"error": {}}], endpoint=err)})
    assert {(f.endpoint, f.rule, f.severity) for f in result.findings} == {
        (err.describe(), "response-non-success-status-added", INFO),
        (ok.describe(), "response-success-status-removed", ERR),
    }
    quiet = compare({ok: contract([{"a": 1}])}, {})
    assert quiet.findings == []
    assert quiet.not_reobserved == [ok.describe()]


def test_every_finding_carries_counts_and_values() -> None:
    (finding,) = diff(contract(many({"a": 1}, 7)), contract([{"a": "1"}, {"a": "2"}]))
    assert (finding.samples_before, finding.samples_after, finding.before, finding.after) == (
        7,
        2,
        "integer",
        "string",
    )


def overrides_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drift.toml"
    path.write_text(text)
    return path


def test_overrides_change_severity_ignore_and_expire(tmp_path: Path) -> None:
    path = overrides_file(
        tmp_path,
        '[[override]]\nendpoint = "openai POST *"\npath = "$.created"\nseverity = "INFO"\nreason = "we parse both"\n'
        '[[override]]\nrule = "response-optional-property-added"\nignore = true\nreason = "new fields are fine"\n'
        '[[override]]\npath = "$.gone"\nignore = true\nreason = "old"\nexpires = 2020-01-01\n',
    )
    findings = [
        Finding(EP.describe(), "$.created", "response-property-type-changed", ERR, "integer", "string", 1, 1),
        Finding(EP.describe(), "$.extra", "response-optional-property-added", INFO, "", "string", 1, 1),
        Finding(EP.describe(), "$.gone", "response-required-property-removed", ERR, "x", "", 5, 5),
    ]
    result = apply_overrides(
        DriftResult(findings=list(findings)), load_overrides(path), dt.date(2026, 11, 28)
    )
    assert [(f.path, f.severity) for f in result.findings] == [("$.created", INFO), ("$.gone", ERR)]
    assert result.findings[0].note == "override: we parse both"
    assert [f.path for f in result.ignored] == ["$.extra"]
    assert result.drifted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[override]]\npath = "$.a"\nignore = true\n', "needs a 'reason'"),
        ('[[override]]\nreason = "r"\n', "either severity"),
        ('[[override]]\nreason = "r"\nseverity = "FATAL"\n', "either severity"),
        ('[[override]]\nreason = "r"\nignore = true\nexpires = "soon"\n', "expires must be a date"),
        ("[[override\n", "not valid TOML"),
    ],
)
def test_bad_overrides(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_overrides(overrides_file(tmp_path, text))


def with_headers(samples: int, headers: dict[str, int]) -> ContractFile:
    made = contract([{"a": 1}] * samples)
    made.headers = headers
    return made


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            (5, {"x-request-id": 5, "openai-version": 5}),
            (5, {"x-request-id": 5}),
            ("required-response-header-removed", ERR),
        ),
        ((10, {"x-cache": 6}), (12, {"other": 12}), ("optional-response-header-removed", WARN)),
        ((1, {"openai-version": 1}), (1, {"other": 1}), ("response-header-unobserved", INFO)),
    ],
    ids=["always-sent-now-never", "sometimes-sent-now-never", "too-little-evidence"],
)
def test_response_headers(
    old: tuple[int, dict[str, int]], new: tuple[int, dict[str, int]], expected: tuple[str, str]
) -> None:
    findings = [f for f in diff(with_headers(*old), with_headers(*new)) if f.path.startswith("header ")]
    assert [(f.rule, f.severity) for f in findings] == [expected]
