"""The testing summary of a project whose contents are known: every figure in the JSON is the one
the facts imply, and the Markdown says the same."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from contracttape.budget.ledger import FileLedger, new_entry
from contracttape.cassettes import dumps
from contracttape.contracts.book import contracts_from, observe, write_contracts
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.report import markdown, write_report
from contracttape.report.facts import Options, gather, held_back
from contracttape.report.results import RunResults
from contracttape.services import default_catalogue
from tests import warm_python

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
JSON = (("content-type", "application/json"),)


def _embeddings(n: int) -> Interaction:
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1] * 3}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": n, "total_tokens": n},
    }
    return Interaction(
        RecordedRequest(
            "POST", "https://api.openai.com/v1/embeddings", JSON, b'{"input": "x", "model": "m"}'
        ),
        RecordedResponse(200, "OK", JSON, json.dumps(body).encode()),
        cost_usd=0.001,
    )


def _documents() -> Interaction:
    return Interaction(
        RecordedRequest("GET", "https://abc.supabase.co/rest/v1/documents?select=id"),
        RecordedResponse(200, "OK", JSON, b'[{"id": "d1"}]'),
    )


def _models() -> Interaction:
    return Interaction(
        RecordedRequest("GET", "https://api.openai.com/v1/models"),
        RecordedResponse(200, "OK", JSON, b'{"object": "list", "data": []}'),
    )


CASSETTES = {
    # path: (target, recorded_at, interactions)
    "test_embed/test_live_embeddings.yaml": ("live", "2026-11-20T00:00:00+00:00", [_embeddings(5)]),
    "test_embed/test_sandbox_embeddings.yaml": ("sandbox", "2026-11-27T00:00:00+00:00", [_embeddings(7)]),
    "test_db/test_old_documents.yaml": ("sandbox", "2026-01-01T00:00:00+00:00", [_documents(), _models()]),
}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text('[tool.contracttape]\ncassettes = "cassettes"\n')
    interactions = []
    for name, (target, recorded_at, items) in CASSETTES.items():
        path = tmp_path / "cassettes" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "recorded_at": recorded_at,
            "target": target,
            "test": f"tests/{name}",
            "versions": {"openai": "3.1"},
        }
        path.write_text(dumps(items, meta))
        interactions += items
    catalogue = default_catalogue()
    write_contracts(
        contracts_from(observe(interactions, catalogue)), tmp_path / "contracts", ["openai", "supabase"]
    )
    (tmp_path / "contracts/openai/get_v1_models__2xx.schema.json").unlink()  # recorded, not contracted

    ledger = FileLedger(tmp_path / ".contracttape" / "ledger.json")
    for run, month_cost in (("run-a", 0.02), ("run-b", 0.03)):
        for service, share in (("openai", 0.75), ("llamaparse", 0.25)):
            entry = new_entry(run, f"tests/x.py::t_{service}", service, "POST /x", "POST /x", 1.0, "test")
            ledger.reserve(entry, None, None)
            ledger.settle(entry.id, month_cost * share)

    runs = tmp_path / ".contracttape" / "runs"
    results = RunResults("run-b", "record", "sandbox", cap_usd=0.5)
    for nodeid, when, outcome in [
        ("tests/integration/test_embed.py::test_a", "call", "passed"),
        ("tests/integration/test_embed.py::test_b", "call", "failed"),
        ("tests/integration/test_embed.py::test_c", "setup", "skipped"),
        ("tests/integration/test_db.py::test_d", "call", "passed"),
        ("tests/integration/test_db.py::test_e", "setup", "failed"),
    ]:
        results.add(nodeid, "setup", "passed")
        results.add(nodeid, when, outcome)
    results.note("tests/integration/test_embed.py::test_b", cost_usd=0.01, refused=True)
    results.write(runs)
    (runs / "run-b.faults.json").write_text(
        json.dumps(
            {
                "tests": {
                    "t1": {
                        "faults": [
                            {"fault": "429 (Retry-After: 3)", "endpoint": "openai POST /v1/embeddings"}
                        ]
                    },
                    "t2": {"faults": [{"fault": "503", "endpoint": "openai POST /v1/embeddings"}]},
                    "t3": {"faults": [{"fault": "read_timeout", "endpoint": "openai POST /v1/embeddings"}]},
                    "t4": {"faults": [{"fault": "503", "endpoint": "supabase GET /rest/v1/{table}"}]},
                }
            }
        )
    )
    drift = tmp_path / ".contracttape" / "drift"
    drift.mkdir(parents=True)
    (drift / "drift-report.json").write_text(
        json.dumps(
            {
                "format": 1,
                "generated_at": "2026-11-27T00:00:00+00:00",
                "source": "live",
                "summary": {"ERR": 1, "WARN": 0, "INFO": 2, "exit": 1},
                "findings": [
                    {
                        "endpoint": "supabase GET /rest/v1/{table} [select=id, table=documents] 2xx",
                        "path": "$[*].id",
                        "rule": "response-property-type-changed",
                        "severity": "ERR",
                    },
                    {
                        "endpoint": "openai POST /v1/embeddings 2xx",
                        "path": "$.x",
                        "rule": "r",
                        "severity": "INFO",
                    },
                    {
                        "endpoint": "openai POST /v1/embeddings 2xx",
                        "path": "$.y",
                        "rule": "r",
                        "severity": "INFO",
                    },
                ],
            }
        )
    )
    return tmp_path


def test_every_figure_comes_from_the_facts(project: Path) -> None:
    doc = gather(project, Options(now=NOW, stale_days=90, live_days=30))
    assert doc["format"] == 1
    assert doc["run"]["run"] == "run-b"
    assert doc["tests"]["by_concern"] == {
        "db": {"passed": 1, "failed": 0, "skipped": 0, "error": 1, "refused_by_budget": 0},
        "embed": {"passed": 1, "failed": 1, "skipped": 1, "error": 0, "refused_by_budget": 1},
    }
    assert doc["tests"]["total"]["passed"] == 2

    cassettes = doc["cassettes"]
    assert (cassettes["count"], cassettes["by_target"], cassettes["live_share"]) == (
        3,
        {"live": 1, "sandbox": 2},
        0.333,
    )
    assert cassettes["stale"] == 1  # recorded in January: 331 days old
    ages = {c["path"]: c["age_days"] for c in cassettes["items"]}
    assert ages["cassettes/test_embed/test_live_embeddings.yaml"] == 8.5

    spend = doc["spend"]
    assert spend["this_run"] == {
        "run": "run-b",
        "total_usd": 0.03,
        "cap_usd": 0.5,
        "by_service": {"llamaparse": 0.0075, "openai": 0.0225},
        "by_test": {"tests/x.py::t_llamaparse": 0.0075, "tests/x.py::t_openai": 0.0225},
    }
    assert spend["by_run"] == {"run-a": 0.02, "run-b": 0.03}
    assert spend["by_month"] == {dt.datetime.now(dt.UTC).strftime("%Y-%m"): 0.05}  # the ledger's clock

    contracts = doc["contracts"]
    assert contracts["uncovered"] == ["openai GET /v1/models 2xx"]
    assert contracts["by_service"]["openai"]["uncovered"] == 1
    assert contracts["by_service"]["supabase"] == {"endpoints": 1, "samples": 1, "uncovered": 0}

    assert doc["drift"]["summary"] == {"ERR": 1, "WARN": 0, "INFO": 2}
    assert doc["drift"]["last_observed_live"] == {
        "openai POST /v1/embeddings [encoding_format=float] 2xx": "2026-11-20T00:00:00+00:00"
    }

    openai, supabase = doc["readiness"]["openai"], doc["readiness"]["supabase"]
    assert {k: c["status"] for k, c in openai["checks"].items()} == {
        "recorded_live": "pass",  # 8.5 days ago, within 30
        "no_breaking_drift": "pass",  # its findings are INFO
        "every_endpoint_contracted": "fail",  # GET /v1/models
        "resilience_tested": "pass",  # 429, 503, read_timeout
    }
    assert {k: c["status"] for k, c in supabase["checks"].items()} == {
        "recorded_live": "fail",
        "no_breaking_drift": "fail",
        "every_endpoint_contracted": "pass",
        "resilience_tested": "fail",  # a 503 only: no 429, no timeout
    }
    assert "missing: rate limit (429), timeout" in supabase["checks"]["resilience_tested"]["detail"]
    assert openai["ready"] is supabase["ready"] is False


def test_markdown_says_what_the_json_says(project: Path) -> None:
    doc = gather(project, Options(now=NOW))
    text = markdown.render(doc)
    assert "| embed | 1 | 1 | 1 | 0 | 1 |" in text
    assert "| **total** | 2 | 1 | 1 | 1 | 1 |" in text
    assert "This run: **$0.030000** of a $0.500000 cap" in text
    assert (
        "3 cassette(s): 1 live, 2 sandbox; 33% recorded against the live services; 1 older than 90 days."
        in text
    )
    assert "- no contract: openai GET /v1/models 2xx" in text
    assert "| ERR | supabase GET /rest/v1/{table} [select=id, table=documents] 2xx | $[*].id |" in text


def test_written_files_and_the_ci_step_summary(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path_factory.mktemp("ci") / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    out = project / "out"
    paths = write_report(gather(project, Options(now=NOW)), out)
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]
    assert json.loads((out / "report.json").read_text())["tests"]["total"]["failed"] == 1
    assert summary.read_text().startswith("earlier step\n# Testing summary:")


def test_held_back_fields_are_the_ones_too_few_samples_stand_behind() -> None:
    from contracttape.contracts.inference import evidence_of

    two = evidence_of([{"a": 1, "b": {"c": 1}}, {"a": 2, "b": {"c": 2}, "d": 1}])
    assert held_back(two, 3) == ["$.a", "$.b", "$.b.c"]  # d was missing once: optional anyway
    three = evidence_of([{"a": 1}, {"a": 2}, {"a": 3}])
    assert held_back(three, 3) == []


def test_cli_errors_are_one_clear_message(project: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return warm_python.run(
            [sys.executable, "-m", "contracttape", "report", *args],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
        )

    bad = cli("--format", "md,xml")
    assert bad.returncode == 2
    assert "unknown format(s) xml; choose from md, html, json" in bad.stderr
    missing = cli("--run", "no-such-run")
    assert missing.returncode == 1
    assert "no results for run no-such-run" in missing.stderr
    assert "Traceback" not in missing.stderr
    done = cli("--out", "r", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert (project / "r" / "report.json").exists()
    assert not (project / "r" / "report.md").exists()
