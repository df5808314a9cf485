"""The suite's test ids are the same in every process (pytest-xdist requires it).

xdist workers collect independently and refuse to run when their lists differ, so an id that
depends on the clock (gzip's header mtime), randomness, hash order (``PYTHONHASHSEED``) or the
file system's listing order makes ``make test`` fail at random. Collect twice, in separate
processes, a second apart and with different hash seeds, and compare.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _collect(hash_seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [line for line in proc.stdout.splitlines() if "::" in line]


@pytest.mark.slow
def test_two_collections_a_second_apart_give_the_same_ids() -> None:
    first = _collect("1")
    time.sleep(1.1)
    second = _collect("2")
    assert len(first) > 100
    # raw bytes in an id (pytest escapes them) are the usual way time or randomness gets in
    assert [i for i in first if "\\x" in i] == []
    # so are object reprs (a lambda's address differs per process, hence per xdist worker)
    assert [i for i in first if " at 0x" in i] == []
    assert first == second, "\n".join(
        sorted(set(first).symmetric_difference(second))[:20]
        or ["same ids in a different order (sort what feeds the parametrize list)"]
    )
