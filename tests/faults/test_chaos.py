"""``--chaos`` over the real integration suite: reproducible by seed, whatever the order or the
number of workers, and the summary says which tests failed under which fault."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests import warm_python

ROOT = Path(__file__).resolve().parents[2]


def chaos_run(
    seed: str, *extra: str, hash_seed: str | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    run_id = f"chaos-test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "CONTRACTTAPE_RUN_ID": run_id}
    if hash_seed is not None:  # a fresh interpreter with this hash seed (warm_python runs it cold)
        env["PYTHONHASHSEED"] = hash_seed
    # the framework's own integration tests (docpipe's replay the same clients, four times slower)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "tests/integration",
        "--ignore-glob=*docpipe*",
        "--chaos",
        seed,
    ]
    command += ["-p", "no:cacheprovider"]
    result = warm_python.run(
        [*command, *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    record_path = ROOT / ".contracttape" / "runs" / f"{run_id}.faults.json"
    assert record_path.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    record = json.loads(record_path.read_text())
    record_path.unlink()
    return result, record


@pytest.mark.slow
def test_chaos_is_reproducible_by_seed_twice_and_under_xdist() -> None:
    # four independent runs (each its own run id and record), all at once; the first with a hash
    # seed of its own, so that the same chaos seed is shown to give the same faults whatever the
    # hash seed (the others are warm runs: forks of one interpreter, which share its hash seed)
    runs = [(("7:0.3",), "1"), (("7:0.3",), None), (("7:0.3", "-n", "2"), None), (("8:0.3",), None)]
    with ThreadPoolExecutor(len(runs)) as pool:
        (first, a), (second, b), (spread, c), (_, other) = pool.map(
            lambda run: chaos_run(*run[0], hash_seed=run[1]), runs
        )
    assert a["chaos"] == "7:0.3"
    assert a["tests"] == b["tests"] == c["tests"]
    assert other["tests"] != a["tests"]  # another seed, other faults
    outcomes = {t["outcome"] for t in a["tests"].values()}
    assert outcomes == {"passed", "failed"}, "chaos at 30% should break some tests and not others"
    assert first.returncode == second.returncode == spread.returncode == 1
    # the summary names each failed test and the fault it failed under
    failed = sorted(k for k, t in a["tests"].items() if t["outcome"] == "failed")
    lines = first.stdout.splitlines()
    for nodeid in failed:
        at = lines.index(f"  FAILED {nodeid}")
        assert "(call " in lines[at + 1]
        assert "chaos" in "".join(lines[at + 1 : at + 6]) or "declared" in lines[at + 1]
    assert f"faults served: {a['faults_served']} in {len(a['tests'])} test(s) (chaos 7:0.3)" in first.stdout
