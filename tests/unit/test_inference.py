from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from contracttape.bodies import sse_events
from contracttape.contracts.inference import evidence_of, render


def contract(samples: list[Any], required_after: int = 3) -> dict[str, Any]:
    return render(evidence_of(samples), required_after)


def prop(samples: list[Any], key: str = "v") -> dict[str, Any]:
    schema: dict[str, Any] = contract(samples)["properties"][key]
    return schema


UUIDS = [
    "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "3fa85f64-5717-4562-b3fc-2c963f66afa6",
]


@pytest.mark.parametrize(
    ("values", "keyword", "expected"),
    [
        (
            ["2026-01-01T00:00:00Z", "2025-05-06T07:08:09.123+00:00", "2024-02-29T23:59:59Z"],
            "format",
            "date-time",
        ),
        (["2026-01-01", "2025-05-06", "2024-02-29"], "format", "date"),
        (UUIDS, "format", "uuid"),
        (["https://a.test/x", "http://b.test", "https://c.test/y?z=1"], "format", "uri"),
        (["ada@example.com", "bob@example.org", "c@d.io"], "format", "email"),
        (
            ["AAAAPwAAgD8AAAA/AACAPw==", "zczMPc3MTD6amZk+zczMPg==", "AACAPwAAAEAAAEBAAACAQA=="],
            "contentEncoding",
            "base64",
        ),
    ],
)
def test_formats_need_agreement_and_enough_samples(values: list[str], keyword: str, expected: str) -> None:
    assert prop([{"v": v} for v in values])[keyword] == expected
    assert keyword not in prop([{"v": v} for v in values[:2]])  # too few samples
    assert keyword not in prop([{"v": v} for v in [*values, "plain text"]])  # one disagrees


def test_required_nullable_absent_and_empty_are_told_apart() -> None:
    samples = [
        {"always": 1, "sometimes": "a", "nullable": None, "items": []},
        {"always": 2, "nullable": "x", "items": [1]},
        {"always": 3, "sometimes": "b", "nullable": "y", "items": [2, 3]},
    ]
    schema = contract(samples)
    assert schema["required"] == ["always", "items", "nullable"]
    assert schema["properties"]["sometimes"]["type"] == "string"
    counts = {k: v for k, v in schema["properties"]["sometimes"]["x-evidence"].items() if k != "values"}
    assert schema["properties"]["sometimes"]["x-evidence"]["values"] == ["a", "b"]  # kept for drift
    assert counts == {
        "present": 2,
        "of": 3,
        "null": 0,
        "empty_array": 0,
    }
    assert schema["properties"]["nullable"]["type"] == ["string", "null"]
    assert {k: v for k, v in schema["properties"]["nullable"]["x-evidence"].items() if k != "values"} == {
        "present": 3,
        "of": 3,
        "null": 1,
        "empty_array": 0,
    }
    assert schema["properties"]["items"]["x-evidence"]["empty_array"] == 1
    assert schema["properties"]["items"]["items"] == {"type": "integer"}


@pytest.mark.parametrize(
    ("values", "enum"),
    [
        (["queued", "done", "done", "queued", "done"], ["done", "queued"]),
        (["a", "b", "c", "d"], None),  # every value seen once: no evidence of a closed set
        (["x", "x", "x"], None),  # too few samples
        ([f"v{i % 10}" for i in range(40)], None),  # too many distinct values
    ],
)
def test_enums_are_open_and_need_repeated_evidence(values: list[str], enum: list[str] | None) -> None:
    schema = prop([{"v": v} for v in values])
    assert schema.get("x-extensible-enum") == enum
    assert "enum" not in schema


def test_discriminated_items_become_one_of() -> None:
    samples = [
        {
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image", "url": "https://a.test/i.png", "width": 3},
            ]
        },
        {"content": [{"type": "text", "text": "yo"}]},
    ]
    items = contract(samples, required_after=1)["properties"]["content"]["items"]
    variants = {v["properties"]["type"]["const"]: v for v in items["oneOf"]}
    assert set(variants) == {"image", "text"}
    assert variants["text"]["required"] == ["text", "type"]
    assert variants["image"]["required"] == ["type", "url", "width"]
    assert variants["image"]["properties"]["width"]["type"] == "integer"


def test_id_keyed_objects_become_maps() -> None:
    samples = [
        {"by_id": {UUIDS[0]: {"n": 1}, UUIDS[1]: {"n": 2}}},
        {"by_id": {UUIDS[2]: {"n": 3, "extra": True}}},
    ]
    by_id = prop(samples, "by_id")
    assert "properties" not in by_id
    assert by_id["additionalProperties"]["properties"]["n"]["type"] == "integer"
    assert by_id["additionalProperties"]["required"] == ["n"]


def test_word_keys_are_not_maps() -> None:
    usage = prop([{"v": {"prompt_tokens": 1, "total_tokens": 2}}] * 2)
    assert set(usage["properties"]) == {"prompt_tokens", "total_tokens"}


SAMPLES: list[Any] = [
    {"id": UUIDS[0], "status": "done", "n": 1, "tags": [], "meta": None},
    {"id": UUIDS[1], "status": "queued", "n": 2.5, "tags": ["a"]},
    {"id": UUIDS[2], "status": "done", "tags": ["b", "c"], "meta": {"k": "v"}},
    {
        "id": UUIDS[0],
        "status": "done",
        "n": 3,
        "tags": [],
        "extra": [{"type": "x", "a": 1}, {"type": "y", "b": 2}],
    },
    {"id": UUIDS[1], "status": "queued", "n": None, "tags": ["d"], "meta": {"k": "w", "j": 1}},
]


@pytest.mark.parametrize("cut", [(1, 3), (2, 4), (1, 4), (3, 4)])
def test_merging_is_associative_and_order_free(cut: tuple[int, int]) -> None:
    whole = json.dumps(evidence_of(SAMPLES), sort_keys=True)
    a, b = cut
    parts = [SAMPLES[:a], SAMPLES[a:b], SAMPLES[b:]]
    for order in itertools.permutations(parts):
        left = evidence_of(order[2], evidence_of(order[0] + order[1]))
        right = evidence_of([], evidence_of(order[0]), evidence_of(order[1] + order[2]))
        assert json.dumps(left, sort_keys=True) == whole
        assert json.dumps(right, sort_keys=True) == whole


def test_rendering_is_deterministic() -> None:
    once = json.dumps(render(evidence_of(SAMPLES)), sort_keys=True)
    assert all(
        json.dumps(render(evidence_of(list(p))), sort_keys=True) == once
        for p in itertools.permutations(SAMPLES)
    )


def test_sse_streams_are_inferred_per_event_type() -> None:
    body = (
        b'event: response.created\ndata: {"id": "r1", "status": "in_progress"}\n\n'
        b'event: response.output_text.delta\ndata: {"delta": "Hi"}\n\n'
        b'event: response.output_text.delta\ndata: {"delta": "!"}\n\n'
        b": keep-alive comment\n\n"
        b"data: [DONE]\n\n"
    )
    events = sse_events(body)
    assert [e["type"] for e in events] == [
        "response.created",
        "response.output_text.delta",
        "response.output_text.delta",
    ]
    schema = contract([events], required_after=1)
    kinds = {v["properties"]["type"]["const"]: v["required"] for v in schema["items"]["oneOf"]}
    assert kinds == {
        "response.created": ["id", "status", "type"],
        "response.output_text.delta": ["delta", "type"],
    }


def test_one_newer_sample_does_not_make_a_field_required() -> None:
    """Many old responses without ``service_tier``, one new one with it: the field is described,
    not demanded, so an old response still satisfies the contract."""
    from jsonschema import Draft202012Validator

    old = [{"id": f"c{i}", "model": "gpt-4o-mini"} for i in range(5)]
    new = [{"id": "c9", "model": "gpt-4o-mini", "service_tier": "default"}]
    schema = contract(old + new)
    assert schema["required"] == ["id", "model"]
    assert schema["properties"]["service_tier"]["x-evidence"]["present"] == 1
    assert list(Draft202012Validator(schema).iter_errors(old[0])) == []


@pytest.mark.parametrize(("samples", "required"), [(1, []), (2, []), (3, ["a"]), (12, ["a"])])
def test_a_field_in_every_one_of_enough_samples_is_required(samples: int, required: list[str]) -> None:
    assert contract([{"a": n} for n in range(samples)]).get("required", []) == required


def test_the_threshold_is_a_setting() -> None:
    assert contract([{"a": 1}], required_after=1)["required"] == ["a"]
