"""``yaml_text.BlockWriter`` writes a cassette document byte for byte as PyYAML and libyaml alone
write it, or answers None (and the caller asks libyaml): never a third text."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from contracttape import cassettes
from contracttape.yaml_text import BlockWriter
from tests.unit.test_cassette_blocks import PlainDumper

ROOT = Path(__file__).resolve().parents[2]


def libyaml(data: Any) -> str:
    """The oracle: PyYAML's C dumper with only the cassette's style rule (multi-line: a block)."""
    text: str = yaml.dump(data, Dumper=PlainDumper, sort_keys=False, allow_unicode=True, width=120)
    return text


def writers() -> list[BlockWriter]:
    """A fresh writer over the oracle, and cassettes' own (with what it has remembered so far)."""
    return [BlockWriter(libyaml), cassettes._WRITER]


def check(data: Any) -> str | None:
    expected = libyaml(data)
    written = None
    for writer in writers():
        written = writer.document(data)
        assert written is None or written == expected, (written, expected)
        again = writer.document(data)  # now from what it remembered
        assert again is None or again == expected, (again, expected)
    return written


# what a resolver or libyaml's analysis treats specially, and what it prints as it is
SPECIAL = [
    "",
    " ",
    "null",
    "Null",
    "~",
    "true",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "0",
    "-1",
    "007",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1.5",
    "1e5",
    "1.0e+5",
    ".inf",
    "-.Inf",
    ".nan",
    "2024-01-01",
    "2024-01-01 10:00:00",
    "12:30:45",
    "<<",
    "=",
    "- x",
    "-x",
    "? x",
    ": x",
    "a: b",
    "a:b",
    "a #b",
    "a#b",
    "#x",
    "&a",
    "*a",
    "!x",
    "|",
    ">",
    "%x",
    "@x",
    "`x",
    "'q'",
    '"q"',
    "{a}",
    "[a]",
    "a,b",
    "x ",
    " x",
    "a  b",
    "tab\tx",
    "bell\x07",
    "del\x7f",
    "nbsp\xa0x",
    "é ü 漢字",
    "🙂",
    "\ufeffbom",
    "\ue000",
    "\ufffe",
    "\u2028",
    "a\rb",
    "a\x85b",
    "Thu, 01 Jan 2026 00:00:00 GMT",
    "Bearer <redacted:authorization>",
    "application/json; charset=utf-8",
    "http://openai.sandbox.contracttape.test/v1/embeddings?a=1&b=two%20words",
]

words = st.one_of(
    st.sampled_from(SPECIAL),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
    st.text(alphabet=st.sampled_from(" abc:#-'\"{},&*!|>%@`?.0123456789\t\x85\xa0é🙂"), max_size=16),
)
# long strings with spaces, to reach the width at every indentation
long_text = st.lists(
    st.sampled_from(["word", "x", "a-much-longer-word", ":", "#", "'", " "]), max_size=60
).map(" ".join)
scalars = st.one_of(
    words,
    long_text,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.binary(max_size=8),
)
keys = st.one_of(words, st.text(min_size=90, max_size=140), st.integers())
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=30,
)


@pytest.mark.slow  # 500 generated documents: started first under xdist (tests/conftest.py)
@settings(max_examples=500, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=5))
@example({"k": ["- - x"]})
@example({"k": [["nested"]]})
@example({"k": [{}, [], {"a": {}}]})
@example({"k": {"a": [{"b": [{"c": "x " * 50}]}]}})
@example({"x" * 129: "long key"})
@example({"k": -0.0, "f": 1e17, "g": 1.5e20, "h": 5e-324, "n": math.nan})
def test_any_document_is_written_as_libyaml_writes_it_or_left_to_it(data: dict[Any, Any]) -> None:
    check(data)


# bodies libyaml writes in other styles: quoted, "|2", "|+", "!!binary"
multi_line = st.one_of(
    st.sampled_from(["a\nb", "a\r\nb", "kept\n\n", "\n", " lead\nx", "x\n ", "é\n漢\n", "a \nb", "\x85\n"]),
    st.text(alphabet=st.sampled_from("ab \n\r\t:#é"), max_size=20),
    st.binary(max_size=12),
)
interaction_items = st.fixed_dictionaries(
    {
        "request": st.fixed_dictionaries({"method": words, "body": st.one_of(words, multi_line)}),
        "response": st.fixed_dictionaries(
            {
                "headers": st.dictionaries(words, st.lists(words, max_size=2), max_size=3),
                "body": st.one_of(words, multi_line),
            }
        ),
        "contracttape": st.dictionaries(words, scalars, max_size=2),
    }
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(words, scalars, max_size=3), st.lists(interaction_items, max_size=4))
def test_interactions_libyaml_writes_are_written_by_it_in_place(
    meta: dict[str, Any], items: list[Any]
) -> None:
    check({"contracttape": meta, "interactions": items, "version": 1})


def test_a_container_shared_with_an_interaction_left_to_libyaml_is_an_anchor() -> None:
    shared: list[Any] = ["x"]
    empty: dict[str, Any] = {}
    plain = {"request": {"body": "a", "headers": shared}}
    odd = {"request": {"body": "two\nlines", "headers": shared}}
    for items in ([plain, odd], [odd, plain], [odd, odd], [{"a": empty}, {"b": empty}]):
        data = {"interactions": items, "version": 1}
        assert "&id001" in libyaml(data)
        assert check(data) is None


def test_an_interaction_ending_in_a_block_that_keeps_its_breaks_is_left_to_libyaml() -> None:
    data = {"interactions": [{"body": "kept\n\n"}, {"body": "plain"}], "version": 1}
    assert libyaml(data).endswith("\n...\n")
    assert check(data) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=40), long_text)
def test_a_remembered_string_deeper_down_is_still_folded_as_libyaml_folds_it(depth: int, text: str) -> None:
    shallow: dict[str, Any] = {"v": text}
    deep: dict[str, Any] = {"v": text}
    for n in range(depth):
        deep = {f"level{n}": deep}
    check(shallow)  # remembered here, where it fits
    check({"a": shallow, "b": deep, "c": [text, {"x": [text]}]})


def test_a_string_that_would_be_folded_is_left_to_libyaml() -> None:
    text = "word " * 30
    data = {"a": {"b": {"c": text.strip()}}}
    assert "\n" in libyaml(data).split("c: ", 1)[1].rstrip("\n")  # libyaml folds it
    assert BlockWriter(libyaml).document(data) is None


def libyaml_writes_it_itself(interaction: dict[str, Any]) -> bool:
    """A body that is bytes (``!!binary``), or text over several lines that libyaml writes in a
    style other than a plain literal block (quoted, or with an indicator)."""
    bodies = (interaction["request"]["body"], interaction["response"]["body"]["string"])
    return any(isinstance(body, bytes) or (isinstance(body, str) and "\n" in body) for body in bodies)


def test_every_committed_cassette_is_written_without_libyaml_and_as_libyaml_writes_it() -> None:
    paths = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert paths
    for path in paths:
        loaded = cassettes.loads(path.read_text(encoding="utf-8"), path)
        blocks = cassettes.Blocks()  # bodies held back as tokens, as dumps does
        data = cassettes.document(loaded.interactions, dict(loaded.meta), blocks)
        written = cassettes._WRITER.document(data, verbatim=blocks.prefix)
        assert written is not None or any(map(libyaml_writes_it_itself, data["interactions"])), path
        assert written is None or written == libyaml(data), path
        check(data)


def test_floats_are_written_in_pyyamls_spelling_without_libyaml() -> None:
    data = {"f": 1e17, "g": 4e-08, "h": 0.1, "i": -0.0, "j": math.inf, "k": -math.inf, "l": math.nan}
    assert BlockWriter(libyaml).document(data) == libyaml(data)
