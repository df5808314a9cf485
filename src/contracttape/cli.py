"""The ``contracttape`` command: record, replay, scan. Record and replay wrap pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from contracttape.config import RecordMode, Target
from contracttape.scan import pattern_count, scan_paths

DEFAULT_SUITE = "tests/integration"
DEFAULT_SCAN_PATHS = ("cassettes", "contracts", "reports")


def _pytest(args: list[str]) -> int:
    command = [sys.executable, "-m", "pytest", *args]
    click.echo("$ " + " ".join(command), err=True)
    return subprocess.call(command)


def _suite(pytest_args: tuple[str, ...]) -> list[str]:
    """The suite to run: the user's pytest args, or the integration suite if they named no test."""
    named = [a for a in pytest_args if not a.startswith("-")]
    return list(pytest_args) if named else [DEFAULT_SUITE, *pytest_args]


@click.group()
@click.version_option(package_name="contracttape")
def main() -> None:
    """Record HTTP traffic once, replay it offline, keep it honest."""


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--target", type=click.Choice([t.value for t in Target]), default=Target.SANDBOX.value)
@click.option("--budget-usd", type=float, default=None, help="Spend cap for this run (USD).")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in RecordMode if m.records]),
    default=RecordMode.REWRITE.value,
    show_default=True,
    help="rewrite replaces each cassette with this run's traffic.",
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def record(target: str, budget_usd: float | None, mode: str, pytest_args: tuple[str, ...]) -> None:
    """Run the suite against the target and write cassettes. PYTEST_ARGS go after `--`."""
    args = [*_suite(pytest_args), f"--record-mode={mode}", f"--target={target}"]
    if budget_usd is not None:
        args.append(f"--budget-usd={budget_usd}")
    sys.exit(_pytest(args))


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def replay(pytest_args: tuple[str, ...]) -> None:
    """Run the suite from cassettes only, with the network blocked."""
    sys.exit(_pytest([*_suite(pytest_args), "--record-mode=none", "--block-network"]))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def scan(paths: tuple[Path, ...]) -> None:
    """Scan cassettes, contracts and reports (or PATHS) for secrets; exit 1 on any finding."""
    targets = list(paths) or [Path(p) for p in DEFAULT_SCAN_PATHS if Path(p).exists()]
    missing = [p for p in targets if not p.exists()]
    if missing:
        raise click.UsageError(f"no such file or directory: {', '.join(map(str, missing))}")
    findings = scan_paths(targets)
    for finding in findings:
        click.echo(str(finding))
    shown = ", ".join(map(str, targets)) or "nothing"
    if findings:
        click.echo(f"secrets scan: {len(findings)} finding(s) in {shown}; redact and re-record.", err=True)
        sys.exit(1)
    click.echo(f"secrets scan: clean ({pattern_count()} patterns over {shown})")
