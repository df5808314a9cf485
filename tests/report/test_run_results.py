"""The plugin writes each run's results per test, from every xdist worker, for the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracttape.report.results import concern_of
from tests import warm_python

SUITE = """
import pytest

def test_passes():
    pass

def test_fails():
    assert False

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass

@pytest.fixture
def broken():
    raise RuntimeError("setup broke")

def test_errors(broken):
    pass
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_results_per_test_from_every_worker(pytester: pytest.Pytester, workers: list[str]) -> None:
    pytester.makeini("[pytest]\naddopts = -p no:recording\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_outcomes=SUITE)
    result = pytester.runpytest_subprocess(*workers, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=1, errors=1)
    [path] = (pytester.path / ".contracttape" / "runs").glob("*.results.json")
    data = json.loads(path.read_text())
    assert (data["format"], data["mode"], data["target"]) == (1, "replay", "cassettes")
    outcomes = {nodeid.rsplit("::", 1)[1]: t["outcome"] for nodeid, t in data["tests"].items()}
    assert outcomes == {
        "test_passes": "passed",
        "test_fails": "failed",
        "test_skipped": "skipped",
        "test_errors": "error",
    }
    assert {t["concern"] for t in data["tests"].values()} == {"outcomes"}
    assert path.name == f"{data['run']}.results.json"


@pytest.mark.parametrize(
    ("nodeid", "concern"),
    [
        ("tests/integration/test_docpipe_rls.py::test_isolation_matrix", "docpipe_rls"),
        ("tests/integration/test_faults.py::TestX::test_y[a-1]", "faults"),
        ("checks.py::test_z", "checks"),
        ("test_.py::test_w", "test_"),
    ],
)
def test_concern_is_the_module(nodeid: str, concern: str) -> None:
    assert concern_of(nodeid) == concern


def test_a_report_after_a_replay_run(tmp_path: Path) -> None:
    """`contracttape replay --report DIR` writes the report of that very run."""
    import sys

    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\naddopts = '-p no:recording'\n")
    (tmp_path / "test_one.py").write_text("def test_ok():\n    pass\n")
    done = warm_python.run(
        [
            sys.executable,
            "-m",
            "contracttape",
            "replay",
            "--report",
            "out",
            "--",
            "test_one.py",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["tests"]["by_concern"] == {
        "one": {"passed": 1, "failed": 0, "skipped": 0, "error": 0, "refused_by_budget": 0}
    }
    assert "report: " in done.stderr
