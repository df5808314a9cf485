"""Redaction's fast path changes nothing it redacts.

``Redactor.text`` searches a string with the combined secret pattern only when it holds one of
the patterns' literals, skips the ``name=value`` search in a base64 blob, and the
``Authorization:`` search when the word is absent. Each shortcut is checked against the plain
algorithm (every pattern, every search, on every string) over generated text, and every
pattern's declared literals are checked against what the pattern can match.
"""

from __future__ import annotations

import base64
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracttape import bodies
from contracttape.bodies import base64_run
from contracttape.redact import _AUTH_LINE, _BASE64_BLOB, _TEXT_PAIR, Redactor, is_base64_blob
from contracttape.secret_rules import JWT_RE, SECRET_PATTERNS, SecretPattern, placeholder
from tests.unit.test_redact import EXAMPLES

PATTERNS = [p for p in SECRET_PATTERNS if p.redact]


def plain_text(redactor: Redactor, value: str) -> str:
    """The reference: what ``text`` did before the prefilter (no shortcut at all)."""
    alternatives = [f"(?P<jwt>{JWT_RE.pattern})"]
    alternatives += [f"(?P<p{i}>{p.regex.pattern})" for i, p in enumerate(redactor.patterns) if p.redact]
    cleaned = re.compile("|".join(alternatives)).sub(redactor._replace, value)
    if ":" not in cleaned and "=" not in cleaned:
        return cleaned
    cleaned = _AUTH_LINE.sub(lambda m: m.group(1) + placeholder("authorization"), cleaned)
    return _TEXT_PAIR.sub(redactor._replace_pair, cleaned)


def test_every_built_in_pattern_declares_its_literals() -> None:
    assert all(p.literals for p in PATTERNS)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_match_of_a_pattern_holds_one_of_its_literals(data: st.DataObject) -> None:
    pattern = data.draw(st.sampled_from(PATTERNS))
    text = data.draw(st.from_regex(pattern.regex))
    for match in pattern.regex.finditer(text):
        assert any(literal in match.group(0) for literal in pattern.literals), (pattern.name, match.group(0))


# text made of the pieces secrets and look-alikes are made of
_PIECES = st.sampled_from(
    [
        *EXAMPLES.values(),
        "sk-",
        "AKIA",
        "eyJ",
        "Bearer ",
        "authorization: ",
        "AUTHORIZATION=",
        "Author\u0131zation: ",  # dotless i: re's IGNORECASE matches it as i
        "api_key=",
        "password: ",
        "token=",
        "xTokenQ==",
        "://user:",
        "@host",
        " ",
        "\n",
        ":",
        "=",
        '"',
        "sig",
        "abc",
        "Zx81Zx81Zx81Zx81",
    ]
)
TEXTS = st.lists(st.one_of(_PIECES, st.text(max_size=12)), max_size=12).map("".join)


@settings(max_examples=300)
@given(value=TEXTS)
def test_text_redacts_exactly_what_the_plain_algorithm_redacts(value: str) -> None:
    redactor = Redactor()
    if re.fullmatch(r"[A-Za-z0-9+/]{64,}={0,2}", value):
        return  # a base64 blob: the one deliberate difference (next tests)
    assert redactor.text(value) == plain_text(redactor, value)


@settings(max_examples=100)
@given(value=TEXTS)
def test_a_users_pattern_without_literals_is_searched_everywhere(value: str) -> None:
    redactor = Redactor().extended(patterns=[SecretPattern("acme-key", re.compile(r"acme_[0-9]{6}"))])
    mixed = f"{value} acme_123456 {value}"
    cleaned = redactor.text(mixed)
    assert "acme_123456" not in cleaned
    if not re.fullmatch(r"[A-Za-z0-9+/]{64,}={0,2}", mixed):
        assert cleaned == plain_text(redactor, mixed)


@settings(max_examples=100)
@given(raw=st.binary(min_size=48, max_size=4096))
def test_a_base64_blob_is_never_changed_by_its_padding(raw: bytes) -> None:
    blob = base64.b64encode(raw).decode()
    assert Redactor().text(blob) == blob or any(lit in blob for p in PATTERNS for lit in p.literals)


def test_vector_padding_is_not_a_secret_pair() -> None:
    # 'xTokenQ' before '==' reads as a name holding the word "token"; the plain search took the
    # padding for its value and corrupted the vector
    blob = base64.b64encode(bytes(range(60))).decode()[:-4] + "xTokenQ=="
    assert plain_text(Redactor(), blob) != blob
    assert Redactor().text(blob) == blob


def test_a_key_inside_a_base64_blob_is_still_redacted() -> None:
    key = EXAMPLES["aws-access-key-id"]
    blob = base64.b64encode(bytes(96)).decode() + "+" + key + "/" + base64.b64encode(bytes(96)).decode()
    cleaned = Redactor().text(blob)
    assert key not in cleaned
    assert "<redacted:aws-access-key-id>" in cleaned


_BLOB_PIECES = st.text(alphabet=st.sampled_from("Aa0+/=-_.é \n"), max_size=80)


@settings(max_examples=500)
@given(
    st.one_of(
        _BLOB_PIECES,
        st.builds(lambda a, b: a + b, st.text("ABCxyz019+/", min_size=60, max_size=70), _BLOB_PIECES),
    )
)
def test_the_blob_test_is_the_blob_pattern(value: str) -> None:
    assert is_base64_blob(value) == (_BASE64_BLOB.fullmatch(value) is not None)


@settings(max_examples=200)
@given(
    parts=st.lists(
        st.tuples(
            st.sampled_from(["", "=", "==", "===", "-", "_", " ", "\n", "é", "\x00"]),
            st.integers(0, 3),  # where the odd piece goes: start, middle, end, nowhere
            st.integers(200, 70_000),  # around the memo's bounds (1 KB, 64 KB)
        ),
        min_size=1,
        max_size=8,
    ),
    shortest=st.sampled_from([64, 256]),
)
def test_a_long_string_asked_again_gets_the_answer_a_fresh_look_gives(
    parts: list[tuple[str, int, int]], shortest: int
) -> None:
    """``bodies.base64_run`` keeps the answer for a long string by identity: every string,
    asked about once or many times, in any order and past the memo's size, gets the answer of
    the blob pattern."""
    values = []
    for odd, where, length in parts:
        run = base64.b64encode(bytes(range(256)) * (length // 342 + 1)).decode()[:length].rstrip("=")
        placed = [odd + run, run[: length // 2] + odd + run[length // 2 :], run + odd, run][where]
        values.append(placed)
    for _ in range(3):
        for value in [*values, *reversed(values)]:
            expected = _BASE64_BLOB.fullmatch(value) is not None and len(value.rstrip("=")) >= shortest
            assert is_base64_blob(value, shortest) == expected
            core = value.rstrip("=")
            plain = len(value) - len(core) <= 2 and re.fullmatch("[A-Za-z0-9+/]*", core) is not None
            assert base64_run(value) == (len(core) if plain else -1)
    run = "QUJD" * 300
    for _ in range(3):  # equal lengths, equal text built anew: each string its own answer
        assert is_base64_blob(run)
        assert not is_base64_blob(run[:-1] + "-")
        assert is_base64_blob("".join(["QUJD"] * 300))
        assert not is_base64_blob("-" + run[1:])
    for n in range(200):  # more strings than the memo holds: it stays bounded
        assert is_base64_blob(("QUJD" * 300) + "A" * (n % 4))
    assert len(bodies._RUNS) <= bodies._RUN_MEMO[2]


_ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_a_blob_is_not_searched_for_cannot_be_written_in_base64(data: st.DataObject) -> None:
    """A base64 run is searched only for patterns marked ``in_base64`` (and never for a JWT):
    every match of the others holds a character outside the alphabet."""
    outside = [p.regex for p in PATTERNS if not p.in_base64] + [JWT_RE]
    regex = data.draw(st.sampled_from(outside))
    match = data.draw(st.from_regex(regex, fullmatch=True))
    assert not set(match) <= _ALPHABET, (regex.pattern, match)


_BLOB_SECRETS = st.sampled_from(
    [
        "AKIAQ2IOSFODNN7EXAMP",
        "ASIAZ7ABCDEFGH234567",
        "AIza" + "SyA-1234567890abcdefghijklmnopqrstu"[:35],
        "AKIA",
        "AIza",
    ]
)


@settings(max_examples=300)
@given(
    parts=st.lists(
        st.one_of(_BLOB_SECRETS, st.text(alphabet="AKIAaz09+/", min_size=1, max_size=20)),
        min_size=4,
        max_size=12,
    )
)
def test_a_blob_is_redacted_as_every_pattern_would_redact_it(parts: list[str]) -> None:
    value = "".join(parts).replace("-", "+").replace("_", "/")
    value = (value * (1 + 64 // max(1, len(value))))[:200]
    if not is_base64_blob(value):
        return
    redactor = Redactor()
    alternatives = [f"(?P<jwt>{JWT_RE.pattern})"]
    alternatives += [f"(?P<p{i}>{p.regex.pattern})" for i, p in enumerate(redactor.patterns) if p.redact]
    every_pattern = re.compile("|".join(alternatives)).sub(redactor._replace, value)
    assert redactor.text(value) == every_pattern


# A run of mostly zero bytes (``AAAA…``, a sparse vector) with the built-in blob literals, their
# letters and near misses ("AKAIA": K and I with an A between) planted in it.
_ZERO_HEAVY = st.lists(
    st.sampled_from(
        ["A" * 8, "A" * 64, "zczMPQ", "KI", "SI", "Iza", "AKIA", "ASIA", "AIza", "AKAIA", "Iz", "A"]
    ),
    min_size=10,
    max_size=60,
).map("".join)


@given(value=_ZERO_HEAVY | st.binary(min_size=48, max_size=400).map(lambda b: base64.b64encode(b).decode()))
@settings(max_examples=400)
def test_the_squeezed_search_finds_a_literal_exactly_when_the_plain_search_does(value: str) -> None:
    """``_blob_may_hold_a_literal`` deletes the ``A``s of a zero-heavy run before searching."""
    redactor = Redactor()
    assert redactor._blob_squeezed  # the built-in literals keep two letters each without A
    plain = any(literal in value for literal in redactor._blob_literals)
    assert redactor._blob_may_hold_a_literal(value) == plain


def test_literals_that_would_squeeze_to_almost_nothing_turn_the_squeeze_off() -> None:
    for literal in ("AAAA", "AB"):  # nothing, and one letter, left without their A's
        user = SecretPattern("user-key", re.compile(re.escape(literal) + "[0-9]{4}"), literals=(literal,))
        redactor = Redactor().extended(patterns=[user])
        assert redactor._blob_squeezed is None
        run = "A" * 300 + literal + "1234" + "A" * 300
        assert redactor._blob_may_hold_a_literal(run)
