"""The compiled first check (``contracts/fast_check.py``) never calls valid what jsonschema calls
invalid: over every committed contract and its recorded responses, mutated; over edge cases of
types and formats; and only for the keywords it is trusted with. Replay then asks jsonschema only
about responses that fail it, and still reports their violations."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from contracttape.cassettes import CassetteCache
from contracttape.contracts import fast_check
from contracttape.contracts.book import (
    ContractBook,
    ContractFile,
    _format_checker,
    contract_path,
    observations_in,
)
from contracttape.model import Interaction
from contracttape.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def python_valid(schema: dict[str, Any], instance: Any) -> bool:
    validator = Draft202012Validator(schema, format_checker=_format_checker())
    return next(iter(validator.iter_errors(instance)), None) is None


@cache
def committed() -> list[tuple[dict[str, Any], list[Any]]]:
    """(schema, recorded JSON samples) of every committed contract with JSON evidence."""
    settings_ = load_settings(ROOT)
    samples: dict[Any, list[Any]] = {}
    for seen in observations_in(settings_.cassettes, settings_.catalogue()):
        samples.setdefault(seen.endpoint, []).append(seen.sample)
    found = []
    for endpoint, recorded in samples.items():
        path = contract_path(settings_.contracts, endpoint)
        if path.exists():
            contract = ContractFile.load(path)
            if contract.evidence:
                found.append((contract.schema, recorded))
    return found


def test_every_committed_contract_gets_a_compiled_check_that_passes_its_recordings() -> None:
    contracts = committed()
    assert len(contracts) >= 20
    for schema, recorded in contracts:
        check = fast_check.compiled(schema)
        assert check is not None, schema.get("title")
        for sample in recorded:
            assert check(sample), (schema.get("title"), sample)  # the fast path does fire


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=False)
    | st.sampled_from(
        [
            "",
            "x",
            "00000000-0000-4000-8000-000000000001",
            "00000000-0000-4000-8000-00000000000",
            "2026-11-29",
            "2026-13-45",
            "2026-11-29T16:00:00Z",
            "2026-11-29 16:00:00",
            "a@b.co",
            "a@b",
            "https://example.test/x",
            "example.test/x",
            "mailto:a@b.co",
        ]
    )
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def mutate(value: Any, data: st.DataObject) -> Any:
    """The value with one place changed: a leaf or container replaced, a key dropped or added."""
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        action = data.draw(st.sampled_from(["descend", "drop", "replace", "add"]))
        changed = dict(value)
        if action == "descend":
            changed[key] = mutate(value[key], data)
        elif action == "drop":
            del changed[key]
        elif action == "replace":
            changed[key] = data.draw(json_values)
        else:
            changed[data.draw(st.text(max_size=6))] = data.draw(json_values)
        return changed
    if isinstance(value, list) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(0, len(value) - 1))
        changed_list = list(value)
        changed_list[index] = mutate(value[index], data)
        return changed_list
    return data.draw(json_values)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_mutated_recording_the_compiled_check_passes_is_valid_for_jsonschema(data: st.DataObject) -> None:
    schema, recorded = data.draw(st.sampled_from(committed()))
    instance = mutate(copy.deepcopy(data.draw(st.sampled_from(recorded))), data)
    check = fast_check.compiled(schema)
    assert check is not None
    if check(instance):
        assert python_valid(schema, instance), instance


FORMAT_CASES = [
    "00000000-0000-4000-8000-000000000001",
    "00000000000040008000000000000001",
    "2026-11-29",
    "2026-02-30",
    "20261129",
    "2026-11-29T16:00:00Z",
    "2026-11-29T16:00:00",
    "2026-11-29t16:00:00z",
    "a@b.co",
    "a@b",
    "a.b@c",
    "https://example.test/x",
    "http://x",
    "urn:isbn:0451450523",
    "example.test/x",
    "",
]


@pytest.mark.parametrize("name", fast_check.FORMATS)
@pytest.mark.parametrize("value", FORMAT_CASES)
def test_formats_are_judged_as_jsonschema_judges_them(name: str, value: str) -> None:
    schema = {"type": "string", "format": name}
    check = fast_check.compiled(schema)
    assert check is not None
    assert check(value) == python_valid(schema, value)


EDGES: list[tuple[dict[str, Any], Any]] = [
    ({"type": "integer"}, 1.0),
    ({"type": "integer"}, 1.5),
    ({"type": "integer"}, True),
    ({"type": "integer"}, 2**70),
    ({"type": "number"}, True),
    ({"type": "number"}, math.inf),
    ({"type": "number"}, math.nan),
    ({"type": ["string", "null"]}, None),
    ({"type": ["string", "null"]}, 0),
    ({"type": "object", "required": ["a"]}, {"b": 1}),
    ({"type": "object", "required": ["a"]}, []),
    ({"type": "array", "items": {"type": "string"}}, ["a", 1]),
    ({"anyOf": [{"type": "string"}, {"type": "object", "properties": {"a": {"type": "null"}}}]}, {"a": 1}),
    ({"anyOf": [{"type": "string"}, {"type": "object", "properties": {"a": {"type": "null"}}}]}, {"a": None}),
    (
        {"$defs": {"id": {"type": "string", "format": "uuid"}}, "properties": {"id": {"$ref": "#/$defs/id"}}},
        {"id": "x"},
    ),
    ({"properties": {"a": {"type": "string", "x-evidence": {"samples": 3}}}, "x-contracttape": {}}, {"a": 1}),
    ({"type": "string", "contentEncoding": "base64"}, "not base64 at all!"),
]


@pytest.mark.parametrize(("schema", "instance"), EDGES)
def test_edge_cases_are_never_valid_for_one_and_invalid_for_the_other(
    schema: dict[str, Any], instance: Any
) -> None:
    check = fast_check.compiled(schema)
    assert check is not None
    if check(instance):
        assert python_valid(schema, instance)
    if python_valid(schema, instance) and not isinstance(instance, float):
        assert check(instance)  # where both read the value alike, they agree both ways


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "pattern": "^a"},
        {"type": "number", "minimum": 0},
        {"enum": ["a"]},
        {"const": 1},
        {"type": "object", "additionalProperties": False},
        {"oneOf": [{"type": "string"}]},
        {"not": {"type": "string"}},
        {"type": "string", "format": "ipv4"},
        {"$ref": "https://example.test/schema.json"},
        {"properties": {"a": {"$ref": "other.json#/a"}}},
        {"type": "strings"},
        {"items": [{"type": "string"}]},
        {"properties": {"a": {"type": "string", "maxLength": 3}}},
    ],
)
def test_a_schema_with_anything_else_gets_no_compiled_check(schema: dict[str, Any]) -> None:
    assert fast_check.compiled(schema) is None


def recorded_embeddings() -> Interaction:
    """A recorded 200 answer of POST /v1/embeddings from the committed cassettes."""
    settings_ = load_settings(ROOT)
    catalogue = settings_.catalogue()
    cache_ = CassetteCache()
    for path in sorted(settings_.cassettes.rglob("*.yaml")):
        cassette = cache_.load(path)
        for interaction in cassette.interactions if cassette else ():
            endpoint = catalogue.endpoint(
                interaction.request, interaction.response.status, interaction.response
            )
            if endpoint and endpoint.template == "/v1/embeddings" and endpoint.status_class == "2xx":
                return interaction
    raise AssertionError("no recorded embeddings answer")


def test_replay_asks_jsonschema_only_about_responses_the_compiled_check_refuses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings_ = load_settings(ROOT)
    book = ContractBook(settings_.contracts, settings_.catalogue())
    asked: list[Any] = []
    original = Draft202012Validator.iter_errors

    def counted(self: Draft202012Validator, instance: Any) -> Any:
        asked.append(instance)
        return original(self, instance)

    interaction = recorded_embeddings()
    assert book.check(interaction) == []  # loads the contract (checking the schema asks jsonschema)
    monkeypatch.setattr(Draft202012Validator, "iter_errors", counted)
    assert book.check(interaction) == []
    assert asked == []  # answered by the compiled check alone
    broken = dict(json.loads(interaction.response.body), data="not a list")
    changed = dataclasses.replace(
        interaction, response=dataclasses.replace(interaction.response, body=json.dumps(broken).encode())
    )
    violations = book.check(changed)
    assert len(asked) == 1  # refused there: jsonschema gives the verdict and the message
    assert [v.json_path for v in violations] == ["$.data"]
