"""Start-up: what importing the plugin and collecting a small suite cost, against pytest-recording.

import        a fresh ``python -c "import pytest; import <plugin>"`` minus ``import pytest``
              alone (best of ROUNDS): contracttape.plugin vs pytest_recording.plugin
collect       ``pytest --co -q`` of a generated suite of 40 cassette tests in 4 files, with
              only one of the two plugins enabled (best of ROUNDS)

  python tools/bench_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = """
import pytest

@pytest.mark.{marker}
@pytest.mark.parametrize("n", range(10))
def test_call(n):
    assert n >= 0
"""


def best(command: list[str], rounds: int, cwd: Path | None = None) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def import_time(module: str, rounds: int) -> float:
    code = f"import time, pytest; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        for _ in range(rounds)
    ]
    return min(float(r.stdout) for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    ours = import_time("contracttape.plugin", rounds)
    theirs = import_time("pytest_recording.plugin", rounds)
    with tempfile.TemporaryDirectory() as tmp:
        collected = {}
        for name, marker, options in (
            ("contracttape", "contracttape", ["-p", "no:recording"]),
            ("pytest-recording", "vcr", ["-p", "no:contracttape"]),
        ):
            suite = Path(tmp) / name
            suite.mkdir()
            (suite / "pytest.ini").write_text("[pytest]\n")
            for k in range(4):
                (suite / f"test_suite_{k}.py").write_text(SUITE.format(marker=marker))
            command = [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", *options]
            collected[name] = best(command, rounds, cwd=suite)
    print(f"start-up (best of {rounds} fresh processes):")
    print(f"{'':>28} {'contracttape':>13} {'pytest-recording':>17} {'ratio':>7}")
    print(f"{'plugin import':>28} {ours * 1e3:>10.1f} ms {theirs * 1e3:>14.1f} ms {ours / theirs:>6.2f}x")
    c, r = collected["contracttape"], collected["pytest-recording"]
    print(f"{'pytest --co (40 tests)':>28} {c * 1e3:>10.0f} ms {r * 1e3:>14.0f} ms {c / r:>6.2f}x")


if __name__ == "__main__":
    main()
