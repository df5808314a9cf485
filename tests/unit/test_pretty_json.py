"""``bodies.pretty_json`` is ``json.dumps(indent=2, ensure_ascii=False)`` plus a line break, byte
for byte, for any JSON value (cassette bodies are stored as that text; a difference would
rewrite every cassette)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape.bodies import pretty_json

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
)
KEYS = st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=5)),
    max_leaves=40,
)


def reference(value: object) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@settings(max_examples=600)
@given(VALUES)
def test_any_value_is_written_as_json_dumps_writes_it(value: object) -> None:
    assert pretty_json(value) == reference(value)


@pytest.mark.parametrize(
    "value",
    [
        {},
        [],
        {"a": {}, "b": [], "c": [[]], "d": [{}]},
        {"data": [{"embedding": [0.1, -2e-05, 1e16, 3.0], "index": 0}], "object": "list"},
        {"n": math.nan, "i": math.inf, "j": -math.inf, 1.5: "float key", True: 1, None: 2, 3: 3},
        ("a", ("b",)),
        '\u2028 \x00 " \\ é 🙂',
        2**100,
    ],
    ids=[
        "empty-object",
        "empty-array",
        "empty-nested",
        "embedding",
        "special-numbers-and-keys",
        "tuples",
        "escapes",
        "big-int",
    ],
)
def test_each_shape_is_written_as_json_dumps_writes_it(value: object) -> None:
    assert pretty_json(value) == reference(value)


@pytest.mark.parametrize("value", [{"x": {1, 2}}, {(1, 2): "tuple key"}, [b"bytes"]])
def test_what_json_refuses_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value, indent=2)
    with pytest.raises(TypeError):
        pretty_json(value)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from('Aa0+/= "\\\x7f\x1f\té'), min_size=60, max_size=90))
def test_long_strings_near_every_escape_are_written_as_json_dumps_writes_them(text: str) -> None:
    assert pretty_json({"v": text, "w": [text]}) == reference({"v": text, "w": [text]})
