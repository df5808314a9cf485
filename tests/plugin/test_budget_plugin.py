"""A recorded suite whose cost exceeds its cap stops at the cap, never above, with 1 or 4 workers."""

from __future__ import annotations

import json
import sys

import pytest

from contracttape.budget.ledger import FileLedger

pytestmark = pytest.mark.slow  # subprocess suites: scheduled first (tests/conftest.py)

SUITE = """
import os, random
import llama_cloud, pytest
from contracttape.pdf import make_pdf

SEED = int(os.environ["COST_SEED"])

@pytest.mark.parametrize("n", range(10))
@pytest.mark.contracttape
def test_parse(contracttape_env, n):
    pages = random.Random(SEED * 100 + n).randint(1, 4)  # randomised cost: 1-4 pages at 45 credits
    env = contracttape_env
    with llama_cloud.LlamaCloud(base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"], max_retries=0) as client:
        job = client.parsing.create(tier="agentic_plus", version="latest",
                                    upload_file=("d.pdf", make_pdf(["page"] * pages), "application/pdf"))
        client.parsing.wait_for_completion(job.id, polling_interval=0.05, backoff="constant")
"""

CAP = 0.5

AI_SANDBOX = '''
from contracttape.sandbox import AI_SERVICES, Sandbox, config_from

def start(**options):
    """OpenAI and LlamaParse only: these suites need no Supabase (no PostgreSQL per worker)."""
    return Sandbox(config_from(options), services=AI_SERVICES)
'''


@pytest.fixture(autouse=True)
def _ai_sandbox(pytester: pytest.Pytester) -> None:
    """The suites here call OpenAI and LlamaParse only: the sandbox they record against starts
    those two (``[tool.contracttape.sandbox] start``), not a PostgreSQL per worker as well."""
    pytester.makepyprojecttoml('[tool.contracttape.sandbox]\nstart = "ai_sandbox:start"\n')
    pytester.makepyfile(ai_sandbox=AI_SANDBOX)


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("seed", [1, 2])
def test_the_cap_is_never_crossed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: int, seed: int
) -> None:
    monkeypatch.setenv("COST_SEED", str(seed))
    pytester.makepyfile(test_costs=SUITE)
    args = ["--record-mode=rewrite", f"--budget-usd={CAP}", "-p", "no:cacheprovider"]
    if workers > 1:
        args += ["-n", str(workers)]
    result = pytester.runpytest_subprocess(*args)
    outcomes = result.parseoutcomes()
    entries = FileLedger(pytester.path / ".contracttape" / "ledger.json").entries()
    spent = sum(e.amount for e in entries)
    assert spent <= CAP + 1e-9
    assert spent > CAP / 3, "the suite should have spent a good part of the cap"
    refused_tests = {e.test for e in entries if e.state == "refused"}
    assert refused_tests, "the suite costs more than the cap"
    assert outcomes.get("failed", 0) == len(refused_tests)
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 10
    assert "BudgetExceeded" in result.stdout.str()
    written = (
        {p.stem for p in (pytester.path / "cassettes" / "test_costs").glob("*.yaml")}
        if (pytester.path / "cassettes").exists()
        else set()
    )
    assert {t.split("::")[1] for t in refused_tests}.isdisjoint(
        written
    )  # refused tests keep their old cassettes
    assert len(written) == outcomes.get("passed", 0)
    if workers == 1:
        result.stdout.fnmatch_lines(
            [
                "*spend this run*of a $0.5000 cap*",
                "*not re-recorded (refused by the budget, old cassettes kept)*",
            ]
        )


def test_plan_and_report(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COST_SEED", "3")
    pytester.makepyfile(test_costs=SUITE)
    pytester.runpytest_subprocess("--record-mode=rewrite", "-p", "no:cacheprovider").assert_outcomes(
        passed=10
    )
    plan = pytester.run(sys.executable, "-m", "contracttape", "record", "--plan", "--budget-usd", "0.5")
    assert plan.ret == 1, plan.stdout.str()
    plan.stdout.fnmatch_lines(["*test_costs.py::test_parse[[]0[]]*", "*does not fit*0.5*"])
    fits = pytester.run(sys.executable, "-m", "contracttape", "record", "--plan", "--budget-usd", "10")
    assert fits.ret == 0
    fits.stdout.fnmatch_lines(["*fits*"])
    report = pytester.run(sys.executable, "-m", "contracttape", "budget", "report", "--json")
    data = json.loads(report.stdout.str())
    assert set(data["by_service"]) == {"llamaparse"}
    assert data["total_usd"] == pytest.approx(sum(data["by_test"].values()))
    assert len(data["by_test"]) == 10


def test_a_model_without_a_price_fails_the_test_clearly_and_sends_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_unpriced="""
import openai, pytest

@pytest.mark.contracttape
def test_chat(contracttape_env):
    env = contracttape_env
    with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini-unpriced", messages=[{"role": "user", "content": "x"}])
"""
    )
    result = pytester.runpytest_subprocess(
        "--record-mode=rewrite", "--budget-usd=1", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*BudgetExceeded:*no price for 'gpt-4o-mini-unpriced' under openai.chat in *prices.yaml*"]
    )
    assert not (pytester.path / "cassettes").exists()


def test_a_model_not_found_test_records_without_a_cap(pytester: pytest.Pytester) -> None:
    """With no cap an unpriced model is sent: an error-path test can be recorded and replayed."""
    pytester.makepyfile(
        test_unpriced="""
import openai, pytest

@pytest.mark.contracttape
def test_unknown_model(contracttape_env):
    env = contracttape_env
    with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0) as client:
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="gpt-9-unpriced", messages=[{"role": "user", "content": "x"}])
"""
    )
    recorded = pytester.runpytest_subprocess("--record-mode=rewrite", "-p", "no:cacheprovider")
    recorded.assert_outcomes(passed=1)
    assert (pytester.path / "cassettes" / "test_unpriced" / "test_unknown_model.yaml").exists()
    plan = pytester.run(sys.executable, "-m", "contracttape", "record", "--plan", "--", "test_unpriced.py")
    assert plan.ret == 0, plan.stdout.str() + plan.stderr.str()
    plan.stdout.fnmatch_lines(["*test_unknown_model*unpriced request(s): cost unknown*"])
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.parametrize("cap", ["-1", "nan", "inf"])
@pytest.mark.parametrize("option", ["--budget-usd", "--monthly-cap"])
def test_an_unusable_cap_is_a_usage_error(pytester: pytest.Pytester, option: str, cap: str) -> None:
    pytester.makepyfile(test_nothing="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess(f"{option}={cap}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*argument {option}: '{cap}' is not a usable cap*"])
