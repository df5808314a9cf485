"""``contracttape drift``: gather new traffic (re-record into a scratch folder, or read a folder
of cassettes), infer contracts from it, diff them against the committed ones, report, and
optionally accept. The committed cassettes and contracts are never touched unless ``accept``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from contracttape.cassettes import CassetteCache
from contracttape.contracts.book import (
    ContractFile,
    contracts_from,
    observations_in,
    observe,
    write_contracts,
)
from contracttape.contracts.drift import apply_overrides, compare, load_overrides
from contracttape.contracts.drift_report import cheapest_cover, report_data, report_markdown, write_reports
from contracttape.errors import ContractTapeError
from contracttape.services.profile import Endpoint
from contracttape.settings import Settings

DRIFT_SUITE = "tests/integration"
EXIT_CLEAN, EXIT_DRIFT, EXIT_UNCHECKED = 0, 1, 2


def committed_contracts(settings: Settings) -> dict[Endpoint, ContractFile]:
    found = {}
    for path in sorted(settings.contracts.glob("*/*.schema.json")):
        contract = ContractFile.load(path)
        found[contract.endpoint] = contract
    return found


def recorded_tests(settings: Settings) -> dict[str, tuple[float, set[Endpoint]]]:
    """Each committed cassette's test: its recorded cost and the endpoints it exercises."""
    catalogue, cache = settings.catalogue(), CassetteCache()
    tests: dict[str, tuple[float, set[Endpoint]]] = {}
    for path in sorted(settings.cassettes.rglob("*.yaml")):
        cassette = cache.load(path)
        if cassette is None:
            continue
        test = str(cassette.meta.get("test") or path)
        cost = sum(i.cost_usd or 0.0 for i in cassette.interactions)
        endpoints = {o.endpoint for o in observe(cassette.interactions, catalogue, "")}
        tests[test] = (cost, endpoints)
    return tests


def run_drift(
    settings: Settings,
    *,
    target: str,
    sandbox_revision: int | None,
    budget_usd: float | None,
    cassette_dir: Path | None,
    report_dir: Path,
    accept: bool,
    plan_only: bool,
    pytest_args: list[str],
    run_pytest: Callable[[list[str]], int],
    echo: Callable[..., None],
) -> int:
    try:
        committed = committed_contracts(settings)
    except ContractTapeError as exc:
        echo(f"drift: could not check: {exc}", err=True)
        return EXIT_UNCHECKED
    selection = pytest_args
    if cassette_dir is None:
        tests = recorded_tests(settings)
        plan = cheapest_cover(tests, committed, budget_usd)
        full_cost = sum(cost for cost, _ in tests.values())
        if plan_only:
            echo(f"drift plan: {len(plan.tests)} test(s), ${plan.cost_usd:.6f} by their recorded costs")
            echo(f"  (the whole suite: ${full_cost:.6f})")
            for test in plan.tests:
                echo(f"  {test}")
            for endpoint in sorted(plan.uncovered):
                echo(f"  not re-observed: {endpoint.describe()}")
            return EXIT_CLEAN
        if not pytest_args and budget_usd is not None and full_cost > budget_usd:
            selection = plan.tests  # the cheapest set that still re-observes every endpoint it can
            echo(
                f"drift: the whole suite costs ${full_cost:.6f} > ${budget_usd:.4f}; {len(selection)} test(s)"
            )
    scratch = cassette_dir or Path(tempfile.mkdtemp(prefix="contracttape-drift-"))
    failed_run = False
    try:
        if cassette_dir is None:
            args = [
                *(selection or [DRIFT_SUITE]),
                "--record-mode=rewrite",
                f"--target={target}",
                f"--cassette-dir={scratch}",
                "--no-contract-validation",
                "-v",  # a line per test with what it cost and the run's spend so far
                "-p",
                "no:cacheprovider",
            ]
            if sandbox_revision:
                args.append(f"--sandbox-revision={sandbox_revision}")
            if budget_usd is not None:
                args.append(f"--budget-usd={budget_usd}")
            code = run_pytest(args)
            if code != 0 and not any(scratch.rglob("*.yaml")):
                echo(
                    f"drift: could not check: the recording run failed (pytest exit {code}) and recorded "
                    "nothing; an unreachable service or a refused budget is not drift",
                    err=True,
                )
                return EXIT_UNCHECKED
            failed_run = code != 0
        errors: list[str] = []
        observed = contracts_from(
            observations_in(scratch, settings.catalogue(), errors=errors), settings.required_after
        )
        for error in errors:
            echo(f"drift: unreadable: {error}", err=True)
        result = apply_overrides(
            compare(committed, observed), load_overrides(settings.contracts / "drift.toml")
        )
        source = (
            f"cassettes in {cassette_dir}" if cassette_dir else f"{target} (revision {sandbox_revision or 1})"
        )
        data = report_data(result, source)
        json_path, md_path = write_reports(report_dir, data)
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary:
            with open(summary, "a", encoding="utf-8") as handle:
                handle.write(report_markdown(data) + "\n")
        counts = data["summary"]
        echo(
            f"drift: {counts['ERR']} ERR, {counts['WARN']} WARN, {counts['INFO']} INFO; "
            f"{len(result.not_reobserved)} endpoint(s) not re-observed; report: {md_path}, {json_path}"
        )
        for finding in data["findings"]:
            if finding["severity"] != "INFO":
                echo(f"  {finding['severity']} {finding['endpoint']} {finding['path']}: {finding['rule']}")
        if errors:
            return EXIT_UNCHECKED
        if failed_run:
            if not result.drifted:
                echo(
                    "drift: could not check: tests failed while recording, and the traffic they recorded "
                    "shows no drift above INFO (an accepted change your client still rejects, or a "
                    "failure that is not the API's): see the pytest output",
                    err=True,
                )
                return EXIT_UNCHECKED
            echo("drift: tests failed while recording; the drift above is the likely cause", err=True)
        if accept:
            accept_drift(settings, committed, observed, scratch if cassette_dir is None else None, echo)
            return EXIT_CLEAN
        return EXIT_DRIFT if result.drifted else EXIT_CLEAN
    except ContractTapeError as exc:
        echo(f"drift: could not check: {exc}", err=True)
        return EXIT_UNCHECKED
    finally:
        if cassette_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def accept_drift(
    settings: Settings,
    committed: dict[Endpoint, ContractFile],
    observed: dict[Endpoint, ContractFile],
    recorded: Path | None,
    echo: Callable[..., None],
) -> None:
    """Fold the new evidence into the committed contracts (and re-recorded cassettes into the
    cassette tree), after which the same drift is clean."""
    merged = {**committed}
    for endpoint, contract in observed.items():
        merged[endpoint] = committed[endpoint].merged(contract) if endpoint in committed else contract
    result = write_contracts(merged, settings.contracts, services=(), dry_run=False)
    for path in result.written:
        echo(f"accepted {path}")
    if recorded is not None:
        for cassette in sorted(recorded.rglob("*.yaml")):
            destination = settings.cassettes / cassette.relative_to(recorded)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cassette, destination)
            echo(f"accepted {destination}")


__all__ = ["EXIT_CLEAN", "EXIT_DRIFT", "EXIT_UNCHECKED", "run_drift"]
