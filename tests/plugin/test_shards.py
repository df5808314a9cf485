"""One cap across CI jobs: a suite recorded in 3 shards (pytest-split's ``--splits 3 --group k``),
each shard its own process with 2 xdist workers, all at once, sharing one run id and one
PostgreSQL ledger. Spend never crosses the cap; every test runs in exactly one shard; refused
tests are the failed ones and keep no new cassette."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contracttape.budget import open_ledger
from tests import warm_python
from tests.plugin.test_budget_plugin import AI_SANDBOX, SUITE

pytestmark = pytest.mark.slow  # subprocess suites: scheduled first (tests/conftest.py)

CAP = 0.6
SHARDS = 3


def test_three_shards_with_two_workers_each_share_one_cap(tmp_path: Path, postgres_url: str) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "sharded"\n\n[tool.contracttape.sandbox]\nstart = "ai_sandbox:start"\n'
    )
    (tmp_path / "ai_sandbox.py").write_text(AI_SANDBOX)
    (tmp_path / "test_costs.py").write_text(SUITE.replace("range(10)", "range(12)"))
    env = {**os.environ, "COST_SEED": "3", "CONTRACTTAPE_RUN_ID": "ci-4242-1", "PYTHONPATH": str(tmp_path)}
    shards = [
        warm_python.WarmPopen(
            [
                sys.executable,
                "-m",
                "pytest",
                "test_costs.py",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:recording",
                "--splits",
                str(SHARDS),
                "--group",
                str(group),
                "-n",
                "2",
                "--record-mode=rewrite",
                f"--budget-usd={CAP}",
                f"--ledger={postgres_url}",
                "-rA",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for group in range(1, SHARDS + 1)
    ]
    outputs = [shard.communicate(timeout=600)[0] for shard in shards]
    ran: list[str] = []
    failed: set[str] = set()
    for output in outputs:
        for line in output.splitlines():
            if line.startswith(("PASSED ", "FAILED ")):
                test = line.split()[1].split("::")[-1]
                ran.append(test)
                if line.startswith("FAILED"):
                    failed.add(test)
    assert sorted(ran) == sorted(f"test_parse[{n}]" for n in range(12)), "\n".join(outputs)

    entries = open_ledger(postgres_url, tmp_path).entries("ci-4242-1")
    assert len({e.owner.split(":")[2] for e in entries}) >= SHARDS  # several processes reserved
    spent = sum(e.amount for e in entries)
    assert spent <= CAP + 1e-9
    assert spent > CAP / 3
    refused = {e.test.split("::")[-1] for e in entries if e.state == "refused"}
    assert refused, "the suite costs more than the cap"
    assert failed == refused
    written = {p.stem for p in (tmp_path / "cassettes" / "test_costs").glob("*.yaml")}
    assert written == set(ran) - refused
