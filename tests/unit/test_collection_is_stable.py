"""The suite's test ids are the same in every process (pytest-xdist requires it).

xdist workers collect independently and refuse to run when their lists differ, so an id that
depends on the clock (gzip's header mtime), randomness, hash order (``PYTHONHASHSEED``) or the
file system's listing order makes ``make test`` fail at random. Collect twice, in separate
processes, a second apart and with different hash seeds, and compare.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests import warm_python

ROOT = Path(__file__).resolve().parents[2]


# each collection also says its hash of a fixed string, which shows the two hash seeds differ
_COLLECT = (
    "import sys, pytest; print('hash', hash('contracttape'), flush=True); "
    "sys.exit(pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests']))"
)


def _collect(hash_seed: str | None) -> tuple[int, list[str]]:
    """This suite's ids and the run's string hash; ``hash_seed``: a fresh interpreter with that
    seed; ``None``: this session's (a warm run when the harness has one: the zygote's)."""
    env = {**os.environ, **({"PYTHONHASHSEED": hash_seed} if hash_seed else {})}
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = warm_python.run(
        [sys.executable, "-c", _COLLECT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cold=hash_seed is not None,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    first, *lines = proc.stdout.splitlines()
    return int(first.split()[1]), [line for line in lines if "::" in line]


@pytest.mark.slow
def test_two_collections_a_second_apart_give_the_same_ids() -> None:
    # a fresh interpreter with a seed that is not this session's, then one with this session's
    hash_1, first = _collect("2" if os.environ.get("PYTHONHASHSEED") == "1" else "1")
    time.sleep(1.1)
    hash_2, second = _collect(None)
    assert hash_1 != hash_2, "both collections had the same hash seed"
    assert len(first) > 100
    # raw bytes in an id (pytest escapes them) are the usual way time or randomness gets in
    assert [i for i in first if "\\x" in i] == []
    # so are object reprs (a lambda's address differs per process, hence per xdist worker)
    assert [i for i in first if " at 0x" in i] == []
    assert first == second, "\n".join(
        sorted(set(first).symmetric_difference(second))[:20]
        or ["same ids in a different order (sort what feeds the parametrize list)"]
    )
