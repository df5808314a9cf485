"""``cassettes.dumps`` builds YAML nodes itself, remembers resolved tags, and writes bodies as
literal blocks itself (whole-string work instead of the emitter's per-character work): its output
must be byte for byte what PyYAML and libyaml alone write."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape import cassettes
from contracttape.model import Interaction, RecordedRequest, RecordedResponse

ROOT = Path(__file__).resolve().parents[2]


class PlainDumper(yaml.CSafeDumper):  # type: ignore[misc]
    """PyYAML's own C dumper with only the cassette's one style rule (multi-line: a literal
    block): no node building, resolving or body writing of contracttape's."""


PlainDumper.add_representer(
    str,
    lambda dumper, data: dumper.represent_scalar(
        "tag:yaml.org,2002:str", data, style="|" if "\n" in data else None
    ),
)


def libyaml_dumps(interactions: list[Interaction], meta: dict[str, object]) -> str:
    """The oracle: the same document, written by PyYAML and libyaml alone."""
    data = {
        "contracttape": {"format": cassettes.FORMAT_VERSION, **meta},
        "interactions": [cassettes.interaction_to_dict(i) for i in interactions],
        "version": cassettes.VCR_FORMAT_VERSION,
    }
    text: str = yaml.dump(data, Dumper=PlainDumper, sort_keys=False, allow_unicode=True, width=120)
    return text


def interaction(request_body: bytes, response_body: bytes) -> Interaction:
    return Interaction(
        RecordedRequest("POST", "http://h.test/x", (("content-type", "application/json"),), request_body),
        RecordedResponse(200, "OK", (("content-type", "text/plain"),), response_body),
    )


# bodies at the edges of what libyaml writes as a plain literal block, and just past them
EDGES = [
    '{\n  "a": 1\n}\n',
    "no final break\nsecond line",
    "one line\n",
    "\n",
    "\nstarts with a break\n",
    " starts with a space\nx\n",
    "ends with a space\nx ",
    "ends with two breaks\n\n",
    "ends with three\n\n\n",
    "space before a break \nx\n",
    "blank line\n\nafter\n",
    "line of spaces\n   \nafter\n",
    "  indented second\n    line\n",
    "a\n  indented\n",
    "tab\there\n",
    "carriage\r\nreturn\n",
    "next line\x85x\n",
    "line sep\u2028x\n",
    "para sep\u2029x\n",
    "bom\ufeffx\n",
    "nbsp\xa0and é ü 漢字 🙂\n",
    "control\x07x\n",
    "del\x7fx\n",
    "private\ue000x\n",
    "noncharacter\ufffex\n",
    "# looks like a comment\n- looks like a list\n",
    "key: value\n---\n...\n",
    "| looks like a block\n",
    "x" * 300 + "\n" + "y " * 100 + "\n",
    "body: ct-00000000000000000000000000000000-0\n",
]


def test_a_later_block_after_one_that_keeps_its_breaks() -> None:
    # libyaml ends the document with "..." only if its last block scalar was "|+"
    for first, second in ((b"kept\n\n", b"a\nb\n"), (b"a\nb\n", b"kept\n\n"), (b"\n", b"a\n")):
        cases = [interaction(b"", first), interaction(second, second)]
        assert cassettes.dumps(cases, {}) == libyaml_dumps(cases, {})


# characters on either side of each rule: breaks, spaces, what libyaml prints and what it escapes
NEAR_THE_EDGES = ' \n\r\t\x7f\x85\xa0ab{}":-|#é\u2027\u2028\u2029\u202a\ud7ff\ue000\ufeff\ufffd\ufffe🙂'


def test_each_edge_is_written_as_libyaml_writes_it() -> None:
    for text in EDGES:
        body = text.encode("utf-8")
        cases = [interaction(body, body), interaction(b"", body), interaction(body, b"")]
        assert cassettes.dumps(cases, {}) == libyaml_dumps(cases, {}), repr(text)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
            st.text(alphabet=st.sampled_from(NEAR_THE_EDGES), max_size=40),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_bodies_are_written_as_libyaml_writes_them(bodies: list[tuple[str, str]]) -> None:
    cases = [interaction(a.encode("utf-8"), b.encode("utf-8")) for a, b in bodies]
    assert cassettes.dumps(cases, {"test": "t"}) == libyaml_dumps(cases, {"test": "t"})


def test_every_committed_cassette_is_written_as_libyaml_writes_it() -> None:
    paths = sorted((ROOT / "cassettes").rglob("*.yaml"))
    assert paths
    for path in paths:
        loaded = cassettes.loads(path.read_text(encoding="utf-8"), path)
        meta = dict(loaded.meta)
        assert cassettes.dumps(loaded.interactions, meta) == libyaml_dumps(list(loaded.interactions), meta), (
            path
        )


def test_a_value_met_twice_is_an_anchor_as_pyyaml_writes_it() -> None:
    shared = ["a", "b"]
    meta: dict[str, object] = {
        "first": shared,
        "second": shared,
        "n": 1,
        "x": 1.5,
        "none": None,
        "raw": b"\x00\x01",
    }
    cases = [interaction(b'{\n  "a": 1\n}\n', b"yes\n")]
    text = cassettes.dumps(cases, meta)
    assert text == libyaml_dumps(cases, meta)
    assert "&id001" in text
