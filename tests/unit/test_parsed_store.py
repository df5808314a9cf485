"""The parsed-cassette store: what it gives back is exactly what parsing the YAML gives, it is
never stale, a damaged or planted entry is ignored, and processes share it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape.cassettes import CassetteCache, dumps, loads, read_text
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.parsed_store import ParsedStore
from tests import separate_processes

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "cassettes").rglob("*.yaml"))


def test_every_committed_cassette_comes_back_as_parsed(tmp_path: Path) -> None:
    store = ParsedStore(tmp_path)
    assert len(COMMITTED) > 40
    for path in COMMITTED:
        parsed = loads(read_text(path), path)
        cold = CassetteCache(store).load(path)  # parses the YAML, keeps it
        warm = CassetteCache(store).load(path)  # from the store
        assert cold == parsed
        assert warm == parsed, path
    assert len(list(tmp_path.rglob("*.json"))) == len({p.read_bytes() for p in COMMITTED})


_text = st.text(max_size=40)
_headers = st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), _text), max_size=4)
_interactions = st.builds(
    Interaction,
    request=st.builds(
        RecordedRequest,
        st.sampled_from(["GET", "POST"]),
        st.just("https://h.test/x?q=1"),
        _headers,
        st.binary(),
    ),
    response=st.builds(RecordedResponse, st.integers(100, 599), _text, _headers, st.binary(max_size=300)),
    cost_usd=st.one_of(st.none(), st.floats(0, 10)),
    extra=st.lists(
        st.tuples(st.sampled_from(["cost_basis", "cost_units"]), _text), max_size=2, unique_by=lambda e: e[0]
    ).map(lambda items: tuple(sorted(items))),
)


@settings(max_examples=60, deadline=None)
@given(interactions=st.lists(_interactions, max_size=4))
def test_any_cassette_round_trips_through_the_store(
    tmp_path_factory: pytest.TempPathFactory, interactions: list[Interaction]
) -> None:
    folder = tmp_path_factory.mktemp("store")
    path = folder / "c.yaml"
    path.write_text(dumps(interactions, {"target": "sandbox"}), encoding="utf-8")
    parsed = loads(read_text(path), path)
    CassetteCache(ParsedStore(folder / "store")).load(path)
    assert CassetteCache(ParsedStore(folder / "store")).load(path) == parsed


def _cassette(path: Path, body: bytes) -> None:
    interaction = Interaction(
        RecordedRequest("GET", "https://h.test/x"), RecordedResponse(200, "OK", (), body)
    )
    path.write_text(dumps([interaction], {}), encoding="utf-8")


def test_an_edited_cassette_is_never_served_from_an_old_entry(tmp_path: Path) -> None:
    store, path = ParsedStore(tmp_path / "store"), tmp_path / "c.yaml"
    _cassette(path, b"first")
    assert CassetteCache(store).load(path).interactions[0].response.body == b"first"  # type: ignore[union-attr]
    _cassette(path, b"second")
    assert CassetteCache(store).load(path).interactions[0].response.body == b"second"  # type: ignore[union-attr]
    assert len(list((tmp_path / "store").rglob("*.json"))) == 2


@pytest.mark.parametrize(
    "planted",
    [b"", b"not json", b"[]", b'{"interactions": [[1, 2]], "meta": {}}', b'{"meta": {}}', b"\xff\xfe"],
    ids=["empty", "not-json", "a-list", "short-interaction", "no-interactions", "not-utf8"],
)
def test_a_damaged_or_planted_entry_is_ignored_and_replaced(tmp_path: Path, planted: bytes) -> None:
    store, path = ParsedStore(tmp_path / "store"), tmp_path / "c.yaml"
    _cassette(path, b"real")
    CassetteCache(store).load(path)
    (entry,) = (tmp_path / "store").rglob("*.json")
    entry.write_bytes(planted)
    assert CassetteCache(store).load(path).interactions[0].response.body == b"real"  # type: ignore[union-attr]
    assert entry.read_bytes() != planted  # removed, and the good parse kept again


def test_the_store_is_off_or_where_the_environment_says(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CONTRACTTAPE_CACHE_DIR", "off")
    assert ParsedStore.default() is None
    monkeypatch.setenv("CONTRACTTAPE_CACHE_DIR", str(tmp_path))
    assert ParsedStore.default().root == tmp_path / "cassettes"  # type: ignore[union-attr]
    monkeypatch.delenv("CONTRACTTAPE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert ParsedStore.default().root == tmp_path / "xdg" / "contracttape" / "cassettes"  # type: ignore[union-attr]


def _load(args: tuple[str, str]) -> bytes:
    store, path = args
    loaded = CassetteCache(ParsedStore(Path(store))).load(Path(path))
    assert loaded is not None
    return loaded.interactions[-1].response.body


def test_processes_loading_at_once_all_get_the_cassette(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    interactions = [
        Interaction(RecordedRequest("GET", f"https://h.test/{n}"), RecordedResponse(200, "OK", (), b"x" * n))
        for n in range(300)
    ]
    path.write_text(dumps(interactions, {}), encoding="utf-8")
    with separate_processes.context().Pool(4) as pool:
        bodies = pool.map(_load, [(str(tmp_path / "store"), str(path))] * 8)
    assert bodies == [b"x" * 299] * 8
    assert len(list((tmp_path / "store").rglob("*.json"))) == 1
    assert not list((tmp_path / "store").rglob("*.tmp"))


def test_a_store_that_cannot_be_written_only_costs_the_next_parse(tmp_path: Path) -> None:
    blocked = tmp_path / "store"
    blocked.write_text("a file where the store's folder should be")
    path = tmp_path / "c.yaml"
    _cassette(path, b"body")
    for _ in range(2):
        assert CassetteCache(ParsedStore(blocked)).load(path).interactions[0].response.body == b"body"  # type: ignore[union-attr]
    assert blocked.read_text() == "a file where the store's folder should be"
