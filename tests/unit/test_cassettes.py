from __future__ import annotations

from pathlib import Path

import pytest
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from contracttape import atomic, cassettes
from contracttape.errors import CassetteFormatError
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from tests import separate_processes


def sample(n: int = 0) -> Interaction:
    return Interaction(
        RecordedRequest(
            "POST", f"http://h.test/x/{n}", (("content-type", "application/json"),), b'{\n  "n": %d\n}\n' % n
        ),
        RecordedResponse(
            200, "OK", (("content-type", "application/json"),), b'{\n  "ok": true,\n  "n": %d\n}\n' % n
        ),
        cost_usd=0.25 if n else None,
    )


def test_round_trip_is_exact_and_readable() -> None:
    binary = Interaction(
        RecordedRequest("PUT", "http://h.test/b", (), bytes(range(256))), RecordedResponse(204)
    )
    text = cassettes.dumps([sample(1), binary], {"target": "sandbox"})
    loaded = cassettes.loads(text, Path("c.yaml"))
    assert loaded.interactions == (sample(1), binary)
    assert loaded.meta == {"target": "sandbox"}
    assert '    body: |\n      {\n        "n": 1\n      }\n' in text  # pretty JSON, a YAML block


def test_plain_vcrpy_reads_our_cassettes() -> None:
    requests, responses = deserialize(cassettes.dumps([sample(1)], {}), yamlserializer)[:2]
    assert requests[0].uri == "http://h.test/x/1"
    assert requests[0].method == "POST"
    assert responses[0]["status"]["code"] == 200
    assert b'"ok": true' in responses[0]["body"]["string"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("interactions: []\nversion: 1\ncontracttape: {format: 99}\n", "newer contracttape (format 99"),
        ("- request: {}\n", "not a vcrpy format-1 cassette"),
        ("version: 1\ninteractions:\n- request: {method: GET}\n", "malformed interaction"),
        ("version: 1\ninteractions: [\n", "not valid cassette YAML"),
    ],
)
def test_bad_files_get_clear_errors(text: str, message: str) -> None:
    with pytest.raises(CassetteFormatError, match=r"bad\.yaml") as info:
        cassettes.loads(text, Path("bad.yaml"))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("test_a[x/y]", "test_a[x-y]"),
        ("test b:c", "test-b-c"),
        ("t" * 400, None),
    ],
)
def test_safe_names(name: str, expected: str | None) -> None:
    result = cassettes.safe_name(name)
    assert len(result) <= 150
    if expected is not None:
        assert result == expected
    assert cassettes.safe_name(name + "1") != cassettes.safe_name(name + "2")


def test_cache_parses_each_file_version_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(cassettes.dumps([sample(1)], {}))
    calls = []
    real = cassettes.loads
    monkeypatch.setattr(cassettes, "loads", lambda text, p: calls.append(p) or real(text, p))
    cache = cassettes.CassetteCache()
    first, second = cache.load(path), cache.load(path)
    assert first is second
    assert len(calls) == 1
    path.write_text(cassettes.dumps([sample(1), sample(2)], {}))
    assert len(cache.load(path).interactions) == 2  # type: ignore[union-attr]
    assert cache.load(tmp_path / "missing.yaml") is None


def test_failed_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    atomic.write_atomic(path, "old")

    with pytest.raises(TypeError):
        atomic.write_atomic(path, 12345)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]


def test_update_writes_only_on_change(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.yaml"
    assert cassettes.update(path, lambda cur: ([sample(1)], {"recorded_at": "1"}))
    assert not cassettes.update(path, lambda cur: ([sample(1)], {"recorded_at": "2"}))
    assert "recorded_at: '1'" in path.read_text()
    assert not cassettes.update(path, lambda cur: None)


def _append_many(path: str, worker: int) -> None:
    for i in range(10):
        n = worker * 100 + i
        cassettes.update(Path(path), lambda cur, n=n: ([*(cur.interactions if cur else ()), sample(n)], {}))


def test_parallel_writers_never_lose_or_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "shared.yaml"
    ctx = separate_processes.context()
    procs = [ctx.Process(target=_append_many, args=(str(path), w)) for w in range(1, 5)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    loaded = cassettes.loads(path.read_text(), path)
    assert sorted(i.request.uri for i in loaded.interactions) == sorted(
        f"http://h.test/x/{w * 100 + i}" for w in range(1, 5) for i in range(10)
    )


def _write_forever(path: str) -> None:
    from contracttape.cassettes import update
    from contracttape.model import Interaction, RecordedRequest, RecordedResponse

    big = b"x" * 2_000_000
    n = 0
    while True:
        n += 1
        body = big + str(n).encode()
        update(
            Path(path),
            lambda _current, body=body: (
                [
                    Interaction(
                        RecordedRequest("GET", "http://h/", (), b""), RecordedResponse(200, "OK", (), body)
                    )
                ],
                {},
            ),
        )


@pytest.mark.slow
def test_writers_killed_mid_write_leave_whole_cassettes_and_no_leftovers(tmp_path: Path) -> None:
    import os
    import random
    import signal
    import time

    from contracttape.cassettes import CassetteCache, update

    target = tmp_path / "c.yaml"
    ctx = separate_processes.context()
    rng = random.Random(7)
    for _ in range(8):
        writer = ctx.Process(target=_write_forever, args=(str(target),))
        writer.start()
        time.sleep(0.6 + rng.random() * 0.4)
        os.kill(writer.pid or 0, signal.SIGKILL)
        writer.join(10)
        if target.exists():  # old or new, always whole
            assert len(CassetteCache().load(target).interactions) == 1  # type: ignore[union-attr]
    (tmp_path / ".c.yaml.planted.tmp").write_text("a dead writer's half")  # at least one leftover
    # the next write under the lock removes every dead writer's temporary
    update(target, lambda _current: ([], {"after": "kills"}))
    assert list(tmp_path.glob(".c.yaml.*.tmp")) == []


def test_a_re_record_in_another_order_of_requests_rewrites_nothing(tmp_path: Path) -> None:
    """Concurrent requests finish in any order: the same traffic in another order across
    requests is the same cassette; another order of one request's answers is not."""
    from contracttape.cassettes import same_traffic, update
    from contracttape.model import Interaction, RecordedRequest, RecordedResponse

    def exchange(uri: str, body: bytes) -> Interaction:
        return Interaction(RecordedRequest("GET", uri), RecordedResponse(200, "OK", (), body))

    a1, a2 = exchange("http://s.test/a", b"pending"), exchange("http://s.test/a", b"done")
    b = exchange("http://s.test/b", b"b")
    assert same_traffic([a1, a2, b], [b, a1, a2])
    assert same_traffic([a1, b, a2], [a1, a2, b])
    assert not same_traffic([a1, a2, b], [a2, a1, b])  # a poll's answers keep their order
    assert not same_traffic([a1, b], [a1, a2, b])
    path = tmp_path / "c.yaml"
    assert update(path, lambda current: ([a1, a2, b], {}))
    before = path.read_text()
    assert not update(path, lambda current: ([b, a1, a2], {}))
    assert path.read_text() == before
