"""`contracttape record` and `replay` run the real suite through pytest in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import warm_python

ROOT = Path(__file__).resolve().parents[2]
TEST = "tests/integration/test_http_clients.py::test_httpx_sync_query_and_json"


def test_replay_runs_the_suite_offline(pytester: pytest.Pytester) -> None:
    pytester.chdir()
    result = pytester.run(
        sys.executable,
        "-m",
        "contracttape",
        "replay",
        "--",
        str(ROOT / "tests/integration/test_http_clients.py"),
        "--rootdir",
        str(ROOT),
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*4 passed*"])
    result.stderr.fnmatch_lines(["*pytest*--record-mode=none --block-network*"])


def test_record_writes_only_where_told(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = pytester.run(
        sys.executable,
        "-m",
        "contracttape",
        "record",
        "--mode",
        "rewrite",
        "--",
        str(ROOT / TEST),
        "--rootdir",
        str(ROOT),
        f"--cassette-dir={tmp_path}",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == 0, result.stdout.str()
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert written == ["test_http_clients/test_httpx_sync_query_and_json.yaml"]
    assert "target: sandbox" in (tmp_path / written[0]).read_text()


def test_contracts_check_and_openapi_on_the_committed_suite(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return warm_python.run(
            [sys.executable, "-m", "contracttape", *args], cwd=ROOT, capture_output=True, text=True
        )

    check = run("contracts", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "recorded response(s) checked, every one satisfies its contract" in check.stdout
    assert not check.stdout.startswith("contracts check: 0 ")
    exported = run("contracts", "openapi", "--out", str(tmp_path))
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "llamaparse.openapi.json",
        "loopback.openapi.json",
        "openai.openapi.json",
        "supabase.openapi.json",
    ]
