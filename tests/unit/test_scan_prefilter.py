"""The scanner's fast path finds exactly what the plain one finds.

``scan_text`` runs a secret pattern only on the lines holding one of its literals (found by
substring searches over the whole text), and looks for fields only on lines with ``=`` or ``:``;
``scan_structure`` reads a ``.json`` file with the JSON parser. Each is checked against the
plain algorithm (every search on every line; every file read as YAML) over generated text with
every kind of line break, and over every committed cassette, contract and doc.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape import scan, yaml_read
from contracttape.scan import Finding, scan_document, scan_structure, scan_text
from contracttape.secret_rules import JWT_RE, SECRET_PATTERNS, SECRET_QUERY_PARAMS, is_secret_match
from tests.unit.test_redact import EXAMPLES, jwt

ROOT = Path(__file__).resolve().parents[2]


def plain_scan_text(text: str, path: Path) -> Iterator[Finding]:
    """The reference: every search on every line, as the scanner did before its prefilter."""
    for number, line in enumerate(text.splitlines(), start=1):
        for match in JWT_RE.finditer(line):
            if scan._signed_jwt(match.group(0)):
                yield scan._finding(path, number, "jwt", match.group(0))
        for pattern in SECRET_PATTERNS:
            for match in pattern.regex.finditer(line):
                if is_secret_match(pattern.name, match.group(0)):
                    yield scan._finding(path, number, pattern.name, match.group(0))
        for match in (*scan._FIELD.finditer(line), *scan._MULTIPART_FIELD.finditer(line)):
            if plain_secret_value(match.group("name"), match.group("value")):
                yield scan._finding(path, number, "secret-field", match.group("value"))
        for match in scan._QUERY.finditer(line):
            if plain_secret_value(match.group("name"), match.group("value"), SECRET_QUERY_PARAMS):
                yield scan._finding(path, number, "secret-field", match.group("value"))


def plain_secret_value(name: str, value: str, also: frozenset[str] = frozenset()) -> bool:
    value = re.sub(r"^(?i:bearer|basic|token|digest)\s+", "", value.strip())
    return (
        (scan.is_secret_name(name) or name.lower() in also)
        and value.lower() not in ("bearer", "basic", "token", "digest")
        and not scan.is_placeholder_value(value)
        and not value.startswith(("${", "{{", "<redacted"))
        and not value.endswith("." + scan.REDACTED_SIGNATURE)
        and not JWT_RE.fullmatch(value)
        and scan.looks_random(value)
    )


def plain_structure(text: str, path: Path) -> list[Finding]:
    """The reference for ``scan_structure``: the file read as YAML, whatever its suffix."""
    try:
        document = yaml_read.load(text)
    except yaml.YAMLError:
        return []
    return structure_of(document, text, path)


def structure_of(document: object, text: str, path: Path) -> list[Finding]:
    """The secret-named fields of ``document``, read from ``text``, found as the scanner finds them."""
    lines = text.splitlines()
    found = []
    for name, value in scan._pairs(document):
        if plain_secret_value(name, value):
            number = next((i for i, line in enumerate(lines, start=1) if value in line), 1)
            found.append(scan._finding(path, number, "secret-field", value))
    return found


_BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
_PIECES = st.sampled_from(
    [
        *EXAMPLES.values(),
        *(literal for p in SECRET_PATTERNS for literal in p.literals),
        jwt({"sub": "user-1"}),
        "eyJ",
        "Authorization: Bearer ",
        "password=",
        '"api_key": "',
        "token: ",
        "client_secret=",
        "?key=",
        "&access_token=",
        'name="password"\r\n\r\n',
        'name=\\"password\\"\\r\\n\\r\\n',
        "Zx81Qr7Tp0Lm2Nv5",
        "a1B2c3D4e5F6g7H8",
        " ",
        ":",
        "=",
        '"',
        *_BREAKS,
    ]
)
TEXTS = st.lists(st.one_of(_PIECES, st.text(max_size=10)), max_size=24).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=TEXTS)
def test_the_prefiltered_scan_finds_what_every_search_on_every_line_finds(text: str) -> None:
    path = Path("x.log")
    assert list(scan_text(text, path)) == list(plain_scan_text(text, path))


# JSON documents whose fields hold secrets, look-alikes and ordinary values
_VALUES = st.one_of(_PIECES, st.text(max_size=16), st.integers(), st.booleans(), st.none())
_KEYS = st.sampled_from(["password", "api_key", "token", "name", "value", "id", "note", "accessToken"])
_JSON = st.recursive(
    _VALUES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


# what YAML reads differently from JSON inside a JSON string: the line breaks it folds (NEL,
# LS, PS), the characters it refuses outright (controls, DEL, surrogates, BOM...) and a character
# past U+FFFF escaped as a surrogate pair, which YAML does not join
_YAML_MISREADS = re.compile(
    "[\x85\u2028\u2029\ufeff]"
    "|[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
    "|\\\\u[dD][89abAB][0-9a-fA-F]{2}"
)


@settings(max_examples=300, deadline=None)
@given(document=_JSON, indent=st.sampled_from([None, 2]))
def test_a_json_file_read_as_json_gives_what_reading_it_as_yaml_gives_where_yaml_reads_it_right(
    document: object, indent: int | None
) -> None:
    text = json.dumps(document, indent=indent, ensure_ascii=bool(indent))
    path = Path("run.json")
    found = list(scan_structure(text, path))
    try:
        as_yaml = yaml_read.load(text)
    except yaml.YAMLError:
        as_yaml = None
    if as_yaml == json.loads(text):
        assert found == plain_structure(text, path)
    else:  # YAML refuses the file or misreads a string in it; JSON reads what the file says
        assert _YAML_MISREADS.search(text), text
        assert found == structure_of(json.loads(text), text, path)


def _committed() -> list[Path]:
    return [
        p
        for p in scan.iter_files([ROOT / "cassettes", ROOT / "contracts", ROOT / "docs", ROOT / "README.md"])
    ]


def test_every_committed_file_is_scanned_as_the_plain_algorithm_scans_it() -> None:
    files = _committed()
    assert len(files) > 50
    for file in files:
        text = file.read_bytes().decode("utf-8", errors="replace")
        assert list(scan_text(text, file)) == list(plain_scan_text(text, file)), file
        if file.suffix == ".json":
            assert list(scan_structure(text, file)) == plain_structure(text, file), file


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_json_lines_file_and_broken_json_fall_back_to_yaml(suffix: str) -> None:
    key = EXAMPLES["openai-key"].replace("sk-", "zz-")  # no pattern: only the field finds it
    lines = f'{{"password": "{key}"}}\n{{"password": "{key}"}}\n'
    one = f'password: "{key}"\nnote: [unclosed\n'
    for text in (lines, one):
        path = Path(f"f{suffix}")
        assert [f.fingerprint for f in scan_document(text, path)] == [
            f.fingerprint
            for f in {
                (f.line, f.fingerprint): f
                for f in [*plain_scan_text(text, path), *plain_structure(text, path)]
            }.values()
        ]
