"""The engine without pytest: every record mode against a real loopback server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from contracttape import NoMatchingInteraction, RecordMode, TapeSession
from contracttape.cassettes import loads
from contracttape.normalize import Normaliser

LOGICAL = "http://svc.test"


def run(path: Path, mode: RecordMode, url: str, queries: list[str], **kwargs: object) -> TapeSession:
    norm = Normaliser(origins={url: LOGICAL})
    session = TapeSession(path, mode=mode, test_id="t::x", normaliser=norm, **kwargs)  # type: ignore[arg-type]
    base = LOGICAL if session.replaying else url
    with session, httpx.Client(base_url=base) as client:
        for q in queries:
            client.get("/echo", params={"q": q})
    return session


def stored_queries(path: Path) -> list[str]:
    return [i.request.uri.split("q=")[1] for i in loads(path.read_text(), path).interactions]


def test_once_records_then_replays(tmp_path: Path, loopback_url: str) -> None:
    path = tmp_path / "c.yaml"
    first = run(path, RecordMode.ONCE, loopback_url, ["a", "b"])
    assert not first.replaying
    assert first.written
    second = run(path, RecordMode.ONCE, loopback_url, ["a", "b"])
    assert second.replaying
    assert second.problems() == []
    assert stored_queries(path) == ["a", "b"]


def test_new_episodes_appends_only_the_new(tmp_path: Path, loopback_url: str) -> None:
    path = tmp_path / "c.yaml"
    run(path, RecordMode.REWRITE, loopback_url, ["a"])
    run(path, RecordMode.NEW_EPISODES, loopback_url, ["a", "b"])
    assert stored_queries(path) == ["a", "b"]


def test_all_replaces_rerecorded_and_keeps_the_rest(tmp_path: Path, loopback_url: str) -> None:
    path = tmp_path / "c.yaml"
    run(path, RecordMode.REWRITE, loopback_url, ["a", "b"])
    run(path, RecordMode.ALL, loopback_url, ["b", "c"])
    assert stored_queries(path) == ["b", "c", "a"]


def test_rewrite_keeps_only_this_run(tmp_path: Path, loopback_url: str) -> None:
    path = tmp_path / "c.yaml"
    run(path, RecordMode.REWRITE, loopback_url, ["a", "b"])
    run(path, RecordMode.REWRITE, loopback_url, ["c"])
    assert stored_queries(path) == ["c"]


def test_replay_without_a_cassette_says_so(tmp_path: Path) -> None:
    with pytest.raises(NoMatchingInteraction) as info:
        run(tmp_path / "missing.yaml", RecordMode.NONE, "http://unused", ["a"])
    message = str(info.value)
    assert "t::x: no recorded response for GET http://svc.test/echo?q=a" in message
    assert "never been recorded" in message
    assert "contracttape record -- 't::x'" in message


def test_replay_miss_names_the_closest_request_and_matcher(tmp_path: Path, loopback_url: str) -> None:
    path = tmp_path / "c.yaml"
    run(path, RecordMode.REWRITE, loopback_url, ["a"])
    with pytest.raises(NoMatchingInteraction) as info:
        run(path, RecordMode.NONE, loopback_url, ["zzz"])
    assert (
        "#0 GET http://svc.test/echo?q=a  [query: recorded-only [('q', 'a')], sent-only [('q', 'zzz')]]"
        in str(info.value)
    )


def test_replay_reports_unused_and_extra_repeats(tmp_path: Path, loopback_url: str) -> None:
    path = tmp_path / "c.yaml"
    run(path, RecordMode.REWRITE, loopback_url, ["a", "b"])
    fewer = run(path, RecordMode.NONE, loopback_url, ["a"])
    (problem,) = fewer.problems()
    assert "1 recorded interaction(s)" in str(problem)
    assert "q=b" in str(problem)
    assert run(path, RecordMode.NONE, loopback_url, ["a"], allow_unused=True).problems() == []
    with pytest.raises(NoMatchingInteraction, match=r"recorded 1 time\(s\) and all were already replayed"):
        run(path, RecordMode.NONE, loopback_url, ["a", "a", "b"])
    repeats = run(path, RecordMode.NONE, loopback_url, ["a", "a", "b"], allow_playback_repeats=True)
    assert repeats.problems() == []


def test_gzip_response_is_stored_decoded(tmp_path: Path, loopback_url: str) -> None:
    path = tmp_path / "c.yaml"
    session = TapeSession(
        path, mode=RecordMode.REWRITE, normaliser=Normaliser(origins={loopback_url: LOGICAL})
    )
    with session, httpx.Client(base_url=loopback_url, headers={"accept-encoding": "gzip"}) as client:
        live = client.post("/v1/embeddings", json={"model": "m", "input": ["a", "b", "c"]})
    assert live.headers["content-encoding"] == "gzip"
    (stored,) = loads(path.read_text(), path).interactions
    assert stored.response.header("content-encoding") is None
    assert stored.response.body.startswith(b'{\n  "object": "list"')
    assert stored.response.header("content-length") == str(len(stored.response.body))
