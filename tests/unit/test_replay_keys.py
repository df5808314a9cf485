"""Replay's shortcuts to a request's index key must give the key its stored form gets.

- ``TapeSession.prepare`` builds a live request's key from the JSON the normaliser parsed, not by
  parsing the stored bytes again: for any request it must equal ``RequestShape.of`` the stored
  request, which is how the recorded twin's key is made.
- Recorded requests' keys are kept beside the parse in the store: what comes back must be what
  computing them gives, per matching rules, and a damaged or planted keys file is ignored.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracttape import RecordMode, TapeSession
from contracttape.cassettes import CassetteCache, dumps, loads, read_text
from contracttape.matching import RequestShape, key_rules, shape_keys
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.parsed_store import ParsedStore

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = sorted((ROOT / "cassettes").rglob("*.yaml"))

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["sk-proj-" + "a" * 40, "2026-03-04T05:06:07.123Z", "http://127.0.0.1:54321/x"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["password", "id", "created", "model", "input", "k"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)
_CONTENT_TYPES = [
    None,
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.pgrst.object+json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=b0undary",
]


def _session(tmp: Path) -> TapeSession:
    return TapeSession(tmp / "c.yaml", mode=RecordMode.NEW_EPISODES)


def _same_key(tape: TapeSession, request: RecordedRequest) -> None:
    prepared = tape.prepare(request)
    stored_key = RequestShape.of(prepared.request, tape.normaliser.headers.matched).key
    assert prepared.shape.key == stored_key, request


@settings(max_examples=300, deadline=None)
@given(
    value=_json,
    content_type=st.sampled_from(_CONTENT_TYPES),
    gzipped=st.booleans(),
    query=st.sampled_from(["", "?select=b,a&id=eq.1", "?a=1&a=2"]),
)
def test_a_live_key_is_the_key_of_its_stored_form(
    tmp_path_factory: pytest.TempPathFactory, value: Any, content_type: str | None, gzipped: bool, query: str
) -> None:
    tape = _session(tmp_path_factory.mktemp("k"))
    body = json.dumps(value).encode()
    headers: list[tuple[str, str]] = [("accept", "application/json")]
    if content_type is not None:
        headers.append(("content-type", content_type))
    if gzipped:
        body = gzip.compress(body)
        headers.append(("content-encoding", "gzip"))
    _same_key(tape, RecordedRequest("POST", f"http://127.0.0.1:54321/rest/v1/t{query}", tuple(headers), body))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b""),
        ("application/json", b"not json"),
        ("application/json", b'"a string"'),
        ("application/json", b"  [1, 2]  "),
        ("text/plain", b'{"looks": "like json"}'),
        ("multipart/form-data; boundary=xyz", b'{"a": 1}'),  # says multipart, is not
        (
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="f"\r\n\r\n{"a": 1}\r\n--xyz--\r\n',
        ),
        ("application/x-www-form-urlencoded", b"b=2&a=1&password=x"),
        ("application/octet-stream", b"\x00\x01\xff"),
    ],
    ids=[
        "json-empty",
        "json-not-json",
        "json-string",
        "json-padded-array",
        "text-like-json",
        "multipart-that-is-json",
        "multipart",
        "form",
        "binary",
    ],
)
def test_odd_bodies_keep_the_key_of_their_stored_form(tmp_path: Path, content_type: str, body: bytes) -> None:
    tape = _session(tmp_path)
    _same_key(
        tape, RecordedRequest("POST", "http://127.0.0.1:54321/x", (("content-type", content_type),), body)
    )


def test_a_request_whose_ids_were_renamed_is_keyed_by_its_renamed_bytes(tmp_path: Path) -> None:
    tape = _session(tmp_path)
    answer = RecordedResponse(200, "OK", (("content-type", "application/json"),), b'{"id": "job-7f3a9c21"}')
    tape.ids.learn(answer, "origin")
    request = RecordedRequest(
        "POST",
        "http://127.0.0.1:54321/jobs",
        (("content-type", "application/json"),),
        b'{"job": "job-7f3a9c21"}',
    )
    prepared = tape.prepare(request)
    assert b"job-7f3a9c21" not in prepared.request.body  # renamed: the case this test is about
    _same_key(tape, request)


def test_kept_keys_are_the_computed_keys_for_every_committed_cassette(tmp_path: Path) -> None:
    assert len(COMMITTED) > 40
    matched = frozenset({"prefer", "range"})
    rules = key_rules(matched, frozenset())
    for path in COMMITTED:
        computed = shape_keys([i.request for i in loads(read_text(path), path).interactions], matched)
        cold_cache = CassetteCache(ParsedStore(tmp_path))
        cold = cold_cache.index_keys(cold_cache.load(path), rules, lambda c=computed: list(c))  # type: ignore[arg-type]
        warm_cache = CassetteCache(ParsedStore(tmp_path))

        def never() -> list[str]:
            raise AssertionError("the kept keys were not used")

        warm = warm_cache.index_keys(warm_cache.load(path), rules, never)  # type: ignore[arg-type]
        assert cold == warm == computed, path
    assert len(list(tmp_path.rglob("*.keys"))) == len({p.read_bytes() for p in COMMITTED})


def _cassette(path: Path) -> list[Interaction]:
    interactions = [
        Interaction(
            RecordedRequest("GET", f"https://h.test/{n}", (("prefer", f"count={n % 2}"),)),
            RecordedResponse(200, "OK", (), b"%d" % n),
        )
        for n in range(4)
    ]
    path.write_text(dumps(interactions, {"target": "sandbox"}), encoding="utf-8")
    return interactions


def test_other_matching_rules_get_their_own_keys(tmp_path: Path) -> None:
    path, store = tmp_path / "c.yaml", ParsedStore(tmp_path / "store")
    requests = [i.request for i in _cassette(path)]
    for matched in (frozenset(), frozenset({"prefer"})):
        cache = CassetteCache(store)
        loaded = cache.load(path)
        assert loaded is not None
        keys = cache.index_keys(
            loaded, key_rules(matched, frozenset()), lambda m=matched: shape_keys(requests, m)
        )  # type: ignore[misc]
        assert keys == shape_keys(requests, matched)
    assert shape_keys(requests, frozenset()) != shape_keys(requests, frozenset({"prefer"}))
    assert len(list((tmp_path / "store").rglob("*.keys"))) == 2


@pytest.mark.parametrize(
    "planted",
    [b"", b"not json", b"{}", b'["short"]', b'["' + b"a" * 64 + b'"]', b"[1, 2, 3, 4]", b"\xff"],
    ids=["empty", "not-json", "object", "short-key", "too-few", "numbers", "not-utf8"],
)
def test_a_damaged_or_planted_keys_file_is_ignored_and_replaced(tmp_path: Path, planted: bytes) -> None:
    path, store = tmp_path / "c.yaml", ParsedStore(tmp_path / "store")
    requests = [i.request for i in _cassette(path)]
    rules = key_rules(frozenset({"prefer"}), frozenset())
    cache = CassetteCache(store)
    cache.index_keys(cache.load(path), rules, lambda: shape_keys(requests, frozenset({"prefer"})))  # type: ignore[arg-type]
    (entry,) = (tmp_path / "store").rglob("*.keys")
    entry.write_bytes(planted)
    fresh = CassetteCache(store)
    keys = fresh.index_keys(fresh.load(path), rules, lambda: shape_keys(requests, frozenset({"prefer"})))  # type: ignore[arg-type]
    assert keys == shape_keys(requests, frozenset({"prefer"}))
    assert entry.read_bytes() != planted


def test_replay_from_kept_keys_serves_what_a_cold_replay_serves(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    _cassette(path)
    store = ParsedStore(tmp_path / "store")
    served = []
    for _ in range(2):  # cold (keys computed and kept), then warm (keys read back)
        tape = TapeSession(path, mode=RecordMode.NONE, cache=CassetteCache(store))
        bodies = []
        for n in (3, 1, 0, 2):
            request = RecordedRequest("GET", f"https://h.test/{n}", (("prefer", f"count={n % 2}"),))
            bodies.append(tape.play(tape.prepare(request)).body)
        served.append(bodies)
    assert served == [[b"3", b"1", b"0", b"2"]] * 2
    assert list((tmp_path / "store").rglob("*.keys"))
