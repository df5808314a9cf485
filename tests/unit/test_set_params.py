"""Query parameters that are sets (PostgREST's ``columns``): any order the client writes gives
one stored and matched form; nothing else in the URI changes."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from contracttape.normalize import sorted_set_params
from contracttape.run import default_normaliser

names = st.text(alphabet="abcdefghij_,", min_size=1, max_size=8)


@given(st.lists(names, min_size=1, max_size=6, unique=True), st.randoms())
def test_every_order_gives_one_form(columns: list[str], rnd: object) -> None:
    shuffled = list(columns)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]

    def uri(order: list[str]) -> str:
        value = ",".join(f'"{c}"' for c in order)
        return f"http://s.test/rest/v1/chunks?on_conflict=document_id%2Cidx&columns={quote(value, safe='')}#f"

    a = sorted_set_params(uri(columns), frozenset({"columns"}))
    b = sorted_set_params(uri(shuffled), frozenset({"columns"}))
    assert a == b
    assert a.startswith("http://s.test/rest/v1/chunks?on_conflict=document_id%2Cidx&columns=")
    assert a.endswith("#f")


def test_other_parameters_and_uris_without_the_name_are_untouched() -> None:
    uri = "http://s.test/rest/v1/t?select=b%2Ca&order=z,a"
    assert sorted_set_params(uri, frozenset({"columns"})) == uri
    assert sorted_set_params("http://s.test/x", frozenset({"columns"})) == "http://s.test/x"


def test_the_built_in_supabase_rules_sort_columns() -> None:
    normaliser = default_normaliser()
    assert "columns" in normaliser.unordered_params
    assert normaliser.set_params_sorted("http://s.test/t?columns=%22b%22%2C%22a%22") == (
        "http://s.test/t?columns=%22a%22%2C%22b%22"
    )
