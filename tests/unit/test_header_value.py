"""``model.header_value`` passes over keys of another length without lower-casing them: it must
still find exactly what the plain definition finds, for any names (the Kelvin sign lower-cases
to ``k``; ``İ`` lower-cases to two characters)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from contracttape.model import header_value

_PIECES = st.sampled_from([*"aAkKtTiI-_xX", "\u212a", "\u0130", "i\u0307", "\u0307", "é", "É", "ß"])
_NAMES = st.lists(_PIECES, max_size=5).map("".join)


def plain(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name.lower()), None)


@given(st.lists(st.tuples(_NAMES, st.text(max_size=3)), max_size=6).map(tuple), _NAMES)
@example(((("\u212aey", "kelvin"),)), "key")  # the Kelvin sign: one character, lower-cases to k
@example(((("X-\u0130d", "dotted"),)), "x-i\u0307d")  # İ: one character, lower-cases to two
@example(((("Content-Type", "a"), ("content-type", "b"))), "CONTENT-TYPE")
def test_header_value_finds_what_the_plain_definition_finds(
    headers: tuple[tuple[str, str], ...], name: str
) -> None:
    assert header_value(headers, name) == plain(headers, name)
