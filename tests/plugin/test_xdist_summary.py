"""The run summary adds up every xdist worker's tests: ``-n 2`` prints the figures a plain run
prints, when replaying and when recording."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests import warm_python

ROOT = Path(__file__).resolve().parents[2]
SUITE = "tests/integration/test_http_clients.py"


def summary(*args: str) -> str:
    done = warm_python.run(
        [sys.executable, "-m", "contracttape", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    found = re.search(r"cassettes replayed: \d+, recorded: \d+ \(\d+ changed on disk\)", done.stdout)
    assert found, done.stdout[-3000:]
    return found.group(0)


@pytest.mark.slow
def test_replay_summary_is_the_same_with_workers() -> None:
    alone = summary("replay", "--", SUITE)
    assert alone == "cassettes replayed: 4, recorded: 0 (0 changed on disk)"
    assert summary("replay", "--", SUITE, "-n", "2") == alone


@pytest.mark.slow
def test_record_summary_is_the_same_with_workers(tmp_path: Path) -> None:
    alone = summary("record", "--", SUITE, f"--cassette-dir={tmp_path / 'a'}")
    assert alone == "cassettes replayed: 0, recorded: 4 (4 changed on disk)"
    assert summary("record", "--", SUITE, "-n", "2", f"--cassette-dir={tmp_path / 'b'}") == alone
    first = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.yaml"))
    assert first == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.yaml"))
