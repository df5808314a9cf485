"""The ``contracttape`` command: record, replay, scan. Record and replay wrap pytest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click

from contracttape import _offline
from contracttape.atomic import write_atomic
from contracttape.config import RecordMode, Target, parse_usd
from contracttape.contracts import book as contract_files
from contracttape.contracts.openapi import document
from contracttape.errors import ContractTapeError
from contracttape.faults import Chaos
from contracttape.run import new_run_id
from contracttape.scan import ALLOWLIST_FILE, load_allowlist, pattern_count, scan_paths
from contracttape.settings import Settings, find_root, load_settings

DEFAULT_SUITE = "tests/integration"
DEFAULT_SCAN_PATHS = ("cassettes", "contracts", "reports", ".contracttape")


class USD(click.ParamType):  # type: ignore[type-arg]
    name = "usd"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_usd(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _report_option(dest: str, help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--report DIR`` of record, replay and drift."""
    return click.option(
        "--report", dest, type=click.Path(path_type=Path, file_okay=False), default=None, help=help_text
    )


def _pytest(args: list[str], isolate: bool = False) -> int:
    command = [sys.executable, "-m", "pytest", *args]
    click.echo("$ " + " ".join(command), err=True)
    if not isolate:
        return subprocess.call(command)
    return _isolated(command)


def _isolated(command: list[str]) -> int:
    """Run ``command`` in an empty network namespace where the kernel allows it (Linux, as root
    or with unprivileged user namespaces); otherwise with the in-process block only. Either way
    the child learns which (``CONTRACTTAPE_ISOLATION``) and says so in its summary."""
    env = dict(os.environ)
    if sys.platform.startswith("linux"):
        env[_offline.ISOLATION_ENV] = _offline.NETNS
        try:
            return subprocess.call(command, env=env, preexec_fn=_offline.enter_empty_network_namespace)
        except (subprocess.SubprocessError, OSError) as exc:
            reason = f"no network namespace here ({exc})"
    else:
        reason = f"no network namespaces on {sys.platform}"
    click.echo(f"contracttape: {reason}; the in-process network block still applies", err=True)
    env[_offline.ISOLATION_ENV] = reason
    return subprocess.call(command, env=env)


def _suite(pytest_args: tuple[str, ...]) -> list[str]:
    """The suite to run: the user's pytest args; with no test named, ``tests/integration`` when
    the project has one, else what pytest's own configuration says (``testpaths``)."""
    # a test is named by a path or a node id; other words are option values (``-n 2``, ``-k x``)
    named = [a for a in pytest_args if "::" in a or (not a.startswith("-") and Path(a).exists())]
    if named or not Path(DEFAULT_SUITE).is_dir():
        return list(pytest_args)
    return [DEFAULT_SUITE, *pytest_args]


class _Group(click.Group):
    """Errors contracttape already describes end as one message and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ContractTapeError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="contracttape")
def main() -> None:
    """Record HTTP traffic once, replay it offline, keep it honest."""


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--target", type=click.Choice([t.value for t in Target]), default=Target.SANDBOX.value)
@click.option("--budget-usd", type=USD(), default=None, help="Spend cap for this run (USD).")
@click.option(
    "--mode",
    type=click.Choice([m.value for m in RecordMode if m.records]),
    default=RecordMode.REWRITE.value,
    show_default=True,
    help="rewrite replaces each cassette with this run's traffic.",
)
@click.option(
    "--plan", is_flag=True, help="Print what re-recording would cost, from the cassettes; send nothing."
)
@click.option("--monthly-cap", type=USD(), default=None, help="Spend cap per calendar month (USD).")
@_report_option("report_dir", "Write the testing summary (md, html, json) of this run to this folder.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def record(
    target: str,
    budget_usd: float | None,
    mode: str,
    plan: bool,
    monthly_cap: float | None,
    report_dir: Path | None,
    pytest_args: tuple[str, ...],
) -> None:
    """Run the suite against the target and write cassettes. PYTEST_ARGS go after `--`."""
    if plan:
        sys.exit(_plan(budget_usd, pytest_args))
    args = [*_suite(pytest_args), f"--record-mode={mode}", f"--target={target}"]
    if not any(a.startswith(("-q", "--quiet", "-v", "--verbose")) for a in pytest_args):
        args.append("-v")  # the spend meter: what each test cost, and the run so far
    if monthly_cap is not None:
        args.append(f"--monthly-cap={monthly_cap}")
    if budget_usd is not None:
        args.append(f"--budget-usd={budget_usd}")
    run_id = _own_run_id()
    sys.exit(_report_after(report_dir, run_id, _pytest(args)))


def _plan(budget_usd: float | None, pytest_args: tuple[str, ...]) -> int:
    """Worst-case cost of re-recording the selected tests: from their cassettes, and for a test
    never recorded (or a request with no price), "cost unknown", counted at the price file's
    conservative default so that the total stays a worst case."""
    from contracttape.budget.guard import estimate_request
    from contracttape.budget.prices import PriceBook
    from contracttape.cassettes import CassetteCache

    settings = _settings()
    catalogue, prices, cache = settings.catalogue(), PriceBook.load(settings.prices), CassetteCache()
    collected = _collected(pytest_args)
    rows: list[tuple[float, float, str, str]] = []
    recorded_tests = set()
    for path in sorted(settings.cassettes.rglob("*.yaml")):
        cassette = cache.load(path)
        if cassette is None:
            continue
        test = str(cassette.meta.get("test") or path.relative_to(settings.cassettes))
        recorded_tests.add(test)
        if collected is not None and test not in collected:
            continue
        priced = [estimate_request(catalogue, prices, i.request, i.cost_usd) for i in cassette.interactions]
        unknown = sum(p.unpriced for p in priced)
        estimate = sum(p.estimate.usd for p in priced) + unknown * prices.default_estimate
        note = f"  ({unknown} unpriced request(s): cost unknown, counted at the default)" if unknown else ""
        rows.append((estimate, sum(i.cost_usd or 0.0 for i in cassette.interactions), test, note))
    for test in sorted((collected or set()) - recorded_tests):
        note = f"  (never recorded: cost unknown, counted at the default ${prices.default_estimate:g})"
        rows.append((prices.default_estimate, 0.0, test, note))
    click.echo(f"{'worst case':>12} {'last run':>12}  test")
    for estimate, recorded, test, note in sorted(rows, reverse=True):
        click.echo(f"{estimate:>12.6f} {recorded:>12.6f}  {test}{note}")
    total = sum(r[0] for r in rows)
    never = sum(1 for r in rows if "never recorded" in r[3])
    click.echo(
        f"{total:>12.6f} {sum(r[1] for r in rows):>12.6f}  total ({len(rows) - never} cassettes"
        + (f", {never} test(s) never recorded" if never else "")
        + ")"
    )
    if budget_usd is None:
        return 0
    if total <= budget_usd:
        click.echo(f"fits: worst case ${total:.6f} within the ${budget_usd:.4f} budget")
        return 0
    over = total - budget_usd
    click.echo(f"does not fit: worst case ${total:.6f} is over the ${budget_usd:.4f} budget by ${over:.6f}")
    return 1


def _collected(pytest_args: tuple[str, ...]) -> set[str] | None:
    """The test ids pytest would run for these arguments (None: it could not collect them)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *_suite(pytest_args),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 5):  # 5: no tests collected
        click.echo(f"contracttape: could not collect the tests ({done.stdout.strip()[-300:]})", err=True)
        return None
    return {line.strip() for line in done.stdout.splitlines() if "::" in line}


def _chaos_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None:
        try:
            Chaos.parse(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


@main.command("init")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=Path("."))
def init_command(directory: Path) -> None:
    """Set contracttape up in an existing project: [tool.contracttape], .gitignore lines, an
    example conftest.py and two GitHub workflows. Adds what is missing, changes nothing else."""
    from contracttape.init_project import init

    for step in init(directory.resolve()):
        click.echo(f"{step.done:>14}  {step.path}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--chaos",
    metavar="SEED[:RATE]",
    default=None,
    callback=_chaos_option,
    help="Serve random transient faults (429, 5xx, timeouts, resets) on a fraction RATE "
    "(default 0.1) of the requests to every service; the same SEED gives the same faults.",
)
@_report_option("report_dir", "Write the testing summary (md, html, json) of this run to this folder.")
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def replay(chaos: str | None, report_dir: Path | None, pytest_args: tuple[str, ...]) -> None:
    """Run the suite from cassettes only, with the network blocked."""
    extra = [f"--chaos={chaos}"] if chaos else []
    run_id = _own_run_id()
    code = _pytest([*_suite(pytest_args), "--record-mode=none", "--block-network", *extra], isolate=True)
    sys.exit(_report_after(report_dir, run_id, code))


def _own_run_id() -> str:
    """The run id the child pytest will use (set here, so the report can find its results)."""
    run_id = new_run_id()
    os.environ["CONTRACTTAPE_RUN_ID"] = run_id
    return run_id


def _report_after(out: Path | None, run_id: str | None, code: int, drift: Path | None = None) -> int:
    """Write the report of the run that just ended (when asked); the run's exit code, or 1 when
    the run passed but its report could not be written."""
    if out is None:
        return code
    from contracttape.report import write_report
    from contracttape.report.facts import Options, gather

    try:
        doc = gather(find_root(Path.cwd()), Options(run=run_id, drift=drift))
        paths = write_report(doc, out)
    except (ContractTapeError, OSError) as exc:
        click.echo(f"contracttape: no report: {exc}", err=True)
        return code or 1
    click.echo("report: " + ", ".join(str(p) for p in paths), err=True)
    return code


@main.command("report")
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".contracttape/report"),
    show_default=True,
    help="Folder the report files go to.",
)
@click.option(
    "--format", "formats", default="md,html,json", show_default=True, help="Comma-separated: md, html, json."
)
@click.option("--run", "run_id", default=None, help="A run id (default: the latest run with results).")
@click.option(
    "--stale-days",
    type=click.IntRange(min=1),
    default=90,
    show_default=True,
    help="A cassette older than this is flagged stale.",
)
@click.option(
    "--live-days",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Readiness: each service recorded against the live service within this many days.",
)
@click.option(
    "--drift",
    "drift_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A drift-report.json (default: .contracttape/drift/drift-report.json).",
)
def report_command(
    out: Path, formats: str, run_id: str | None, stale_days: int, live_days: int, drift_path: Path | None
) -> None:
    """The testing summary of the suite: tests per concern, cassettes, contracts, spend, drift
    and a readiness checklist per service, as Markdown, HTML and JSON (docs/report.md)."""
    from contracttape.report import formats_from, write_report
    from contracttape.report.facts import Options, gather

    try:
        wanted = formats_from(formats)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--format") from None
    _settings()  # a bad pyproject is one clear message
    doc = gather(
        find_root(Path.cwd()),
        Options(run=run_id, stale_days=stale_days, live_days=live_days, drift=drift_path),
    )
    for path in write_report(doc, out, wanted):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--allowlist",
    type=click.Path(path_type=Path),
    default=Path(ALLOWLIST_FILE),
    show_default=True,
    help="Known false positives: [[allow]] tables with fingerprint, reason and optional path.",
)
def scan(paths: tuple[Path, ...], allowlist: Path) -> None:
    """Scan cassettes, contracts, reports and the ledger (or PATHS) for secrets; exit 1 on any finding."""
    settings = _settings()
    defaults = [
        *(Path(p) for p in DEFAULT_SCAN_PATHS),
        settings.cassettes,
        settings.contracts,
        Path(settings.ledger).parent if "://" not in settings.ledger else Path(".contracttape"),
    ]
    unique = {p.resolve(): p for p in reversed(defaults) if p.exists()}
    targets = list(paths) or sorted(unique.values(), key=str)
    missing = [p for p in targets if not p.exists()]
    if missing:
        raise click.UsageError(f"no such file or directory: {', '.join(map(str, missing))}")
    try:
        allowed = load_allowlist(allowlist)
    except ContractTapeError as exc:
        raise click.UsageError(str(exc)) from None
    findings = scan_paths(targets, allowed)
    for finding in findings:
        click.echo(str(finding))
    shown = ", ".join(map(str, targets)) or "nothing"
    if findings:
        click.echo(f"secrets scan: {len(findings)} finding(s) in {shown}; redact and re-record.", err=True)
        sys.exit(1)
    click.echo(f"secrets scan: clean ({pattern_count()} patterns over {shown})")


@main.command()
@click.argument("directory", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--origin",
    "origins",
    multiple=True,
    metavar="REAL=LOGICAL",
    help="Rename a recorded origin, e.g. --origin http://127.0.0.1:8000=http://api.test (repeatable).",
)
@click.option("--check", "check_only", is_flag=True, help="Say what would change; write nothing.")
def adopt(directory: Path | None, origins: tuple[str, ...], check_only: bool) -> None:
    """Bring a vcrpy / pytest-recording cassette tree (default: the cassette root) under
    contracttape: redact, decode, normalise, mark as adopted, then build contracts."""
    from contracttape.adopt import adopt_tree
    from contracttape.run import normaliser_for

    settings = _settings()
    root = directory or settings.cassettes
    if not root.is_dir():
        raise click.UsageError(f"{root} is not a folder of cassettes")
    renames = {}
    for pair in origins:
        real, sep, logical = pair.partition("=")
        if not sep or "://" not in real or "://" not in logical:
            raise click.UsageError(
                f"--origin {pair!r}: expected REAL=LOGICAL, two scheme://host[:port] origins"
            )
        renames[real.rstrip("/")] = logical.rstrip("/")
    normaliser = normaliser_for(settings.catalogue(), None, renames)
    report = adopt_tree(root, normaliser, write=not check_only)
    for adoption in report.changed:
        removed = ", ".join(f"{n} {kind}" for kind, n in sorted(adoption.removed.items())) or "no secret"
        verb = "would adopt" if check_only else "adopted"
        click.echo(f"{verb} {adoption.path} ({adoption.interactions} interaction(s); removed: {removed})")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    click.echo(
        f"adopt: {len(report.adopted)} cassette(s), {len(report.changed)} "
        f"{'to change' if check_only else 'changed'}, {len(report.errors)} unreadable"
    )
    if report.errors:
        raise SystemExit(1)
    if check_only:
        raise SystemExit(1 if report.changed else 0)
    ctx = click.get_current_context()
    ctx.invoke(contracts_build, check_only=False)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--target", type=click.Choice([t.value for t in Target]), default=Target.SANDBOX.value)
@click.option("--sandbox-revision", type=click.IntRange(1, 2), default=None, help="Sandbox API revision.")
@click.option("--budget-usd", type=USD(), default=None, help="Cap for the re-recording (required for live).")
@click.option(
    "--cassettes",
    "cassette_dir",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Record nothing: diff the traffic in this folder of cassettes against the contracts.",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(".contracttape/drift"),
    show_default=True,
)
@click.option("--accept", is_flag=True, help="Fold the new evidence (and cassettes) into the committed ones.")
@click.option("--plan", is_flag=True, help="Print the cheapest test selection and its cost; send nothing.")
@_report_option(
    "summary_dir", "Also write the testing summary (md, html, json), with this drift, to this folder."
)
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def drift(
    target: str,
    sandbox_revision: int | None,
    budget_usd: float | None,
    cassette_dir: Path | None,
    report_dir: Path,
    accept: bool,
    plan: bool,
    summary_dir: Path | None,
    pytest_args: tuple[str, ...],
) -> None:
    """Re-record (or read) new traffic, diff it against the committed contracts, classify, report.

    Exit 0: no ERR or WARN finding; 1: drift found; 2: could not check (a failed recording, an
    unreadable file, a refused budget), which is never reported as drift."""
    from contracttape.drift_run import run_drift

    settings = _settings()
    if target == Target.LIVE.value and budget_usd is None and cassette_dir is None and not plan:
        raise click.UsageError("drift against the live services needs --budget-usd")
    code = run_drift(
        settings,
        target=target,
        sandbox_revision=sandbox_revision,
        budget_usd=budget_usd,
        cassette_dir=cassette_dir,
        report_dir=report_dir,
        accept=accept,
        plan_only=plan,
        pytest_args=list(pytest_args),
        run_pytest=_pytest,
        echo=click.echo,
    )
    sys.exit(_report_after(summary_dir, None, code, drift=report_dir / "drift-report.json"))


@main.group()
def contracts() -> None:
    """Infer, check and export the JSON Schema contracts of recorded endpoints."""


def _settings() -> Settings:
    try:
        return load_settings(find_root(Path.cwd()))
    except ContractTapeError as exc:
        raise click.ClickException(str(exc)) from exc


@contracts.command("build")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Write nothing; exit 1 if the committed contracts are not what the cassettes imply.",
)
def contracts_build(check_only: bool) -> None:
    """Infer one contract per endpoint from every cassette response; write what changed."""
    settings = _settings()
    catalogue = settings.catalogue()
    errors: list[str] = []
    observations = contract_files.observations_in(settings.cassettes, catalogue, errors=errors)
    built = contract_files.contracts_from(observations, settings.required_after)
    for endpoint, count in sorted(contract_files.unreadable_endpoints(observations).items()):
        click.echo(
            f"note {endpoint.describe()}: {count} response(s) without a JSON body, held to their media types",
            err=True,
        )
    services = [p.name for p in catalogue.profiles]
    result = contract_files.write_contracts(built, settings.contracts, services, dry_run=check_only)
    verb = ("stale  ", "extra  ") if check_only else ("wrote  ", "removed")
    for path in result.written:
        click.echo(f"{verb[0]} {path.relative_to(settings.root)}")
    for path in result.removed:
        click.echo(f"{verb[1]} {path.relative_to(settings.root)} (no cassette backs it any more)")
    for error in errors:
        click.echo(f"error   {error}", err=True)
    click.echo(
        f"contracts: {len(built)} endpoint(s), {len(result.written)} "
        f"{'to write' if check_only else 'written'}, {len(result.unchanged)} unchanged, "
        f"{len(result.removed)} {'to remove' if check_only else 'removed'}"
        + (f", {len(errors)} unreadable cassette(s) skipped" if errors else "")
    )
    if errors or (check_only and (result.written or result.removed)):
        if check_only and (result.written or result.removed):
            click.echo(
                "the committed contracts are not what the cassettes imply: run `contracttape contracts build`"
            )
        raise SystemExit(1)


@contracts.command("check")
@click.option(
    "--allow-uncovered",
    is_flag=True,
    help="Do not fail on responses of a known service whose endpoint has no contract.",
)
def contracts_check(allow_uncovered: bool) -> None:
    """Validate every cassette response against its contract; exit 1 on a violation, an
    unreadable file, or (unless allowed) a response no contract covers."""
    settings = _settings()
    report = contract_files.CheckReport()
    for path in sorted(settings.contracts.glob("*/*.schema.json")):
        try:
            contract_files.ContractFile.load(path)  # every contract file reads, used or not
        except ContractTapeError as exc:
            report.errors.append(str(exc))
    book = contract_files.ContractBook(settings.contracts, settings.catalogue())
    found = contract_files.validate_cassettes(settings.cassettes, book)
    report.checked, report.violations, report.uncovered = found.checked, found.violations, found.uncovered
    report.errors.extend(e for e in found.errors if e not in report.errors)
    for path, position, violation in report.violations:
        click.echo(f"{path.relative_to(settings.root)} interaction #{position}: {violation}")
    uncovered = sorted({endpoint.describe() for _p, _i, endpoint in report.uncovered})
    for endpoint in uncovered:
        click.echo(f"uncovered: {endpoint} has no contract (run `contracttape contracts build`)")
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    failed = bool(report.violations or report.errors or (report.uncovered and not allow_uncovered))
    if report.checked == 0 and not report.uncovered and not report.errors:
        click.echo("contracts check: nothing was checked (no recorded response of a known service)")
        raise SystemExit(0 if allow_uncovered else 1)
    if not (report.violations or report.errors or report.uncovered):
        checked = f"contracts check: {report.checked} recorded response(s) checked"
        click.echo(f"{checked}, every one satisfies its contract")
        return
    click.echo(
        f"contracts check: {report.checked} response(s) checked, {len(report.violations)} violation(s), "
        f"{len(report.uncovered)} response(s) with no contract ({len(uncovered)} endpoint(s)), "
        f"{len(report.errors)} unreadable file(s)"
    )
    if failed:
        raise SystemExit(1)


@contracts.command("openapi")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="default: <contracts>/openapi")
def contracts_openapi(out: Path | None) -> None:
    """Write one OpenAPI 3.1 document per service from the committed contracts."""
    settings = _settings()
    out = out or settings.contracts / "openapi"
    by_service: dict[str, list[contract_files.ContractFile]] = {}
    for path in sorted(settings.contracts.glob("*/*.schema.json")):
        contract = contract_files.ContractFile.load(path)
        by_service.setdefault(contract.endpoint.service, []).append(contract)
    for service, group in sorted(by_service.items()):
        target = out / f"{service}.openapi.json"
        write_atomic(target, json.dumps(document(service, group), indent=2, sort_keys=True) + "\n")
        click.echo(f"wrote {target}")


@main.group()
def sandbox() -> None:
    """The local sandbox: Supabase, OpenAI and LlamaParse stand-ins on loopback."""


@sandbox.command("up")
@click.option(
    "--revision", type=click.IntRange(1, 2), default=1, show_default=True, help="2 changes shapes on purpose."
)
@click.option(
    "--env-file",
    type=click.Path(path_type=Path),
    default=Path(".contracttape/sandbox.env"),
    show_default=True,
    help="Where to write the variables a client needs.",
)
@click.option("--job-seconds", type=float, default=0.3, show_default=True, help="How long a parse job takes.")
def sandbox_up(revision: int, env_file: Path, job_seconds: float) -> None:
    """Start the sandbox, write its environment, and serve until interrupted."""
    import signal
    import threading

    settings = _settings()
    start = settings.sandbox_factory()  # [tool.contracttape.sandbox] start, contracttape's by default
    options = {**dict(settings.sandbox_options), "revision": revision, "job_seconds": job_seconds}
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        running_sandbox = start(**options)
    except ContractTapeError as exc:  # a bad option or migration
        raise click.UsageError(str(exc)) from None
    with running_sandbox as running:
        running.write_env(env_file)
        click.echo(running.env_text(), nl=False)
        click.echo(
            f"# sandbox (revision {revision}) up; environment written to {env_file}; Ctrl-C stops it",
            err=True,
        )
        stop.wait()
    click.echo("# sandbox stopped", err=True)


@main.group()
def budget() -> None:
    """Spend recorded in the ledger."""


@budget.command("report")
@click.option("--run", default=None, help="Only this run id.")
@click.option("--ledger", default=None, help="A ledger file or postgresql:// URL (default from pyproject).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def budget_report(run: str | None, ledger: str | None, as_json: bool) -> None:
    """Spend by run, service, endpoint and test."""
    from contracttape.budget import open_ledger
    from contracttape.budget.ledger import release_orphans
    from contracttape.budget.spend import report, report_lines

    settings = _settings()
    try:
        entries = open_ledger(ledger or settings.ledger, settings.root).entries(run)
    except ContractTapeError as exc:
        raise click.ClickException(str(exc)) from None
    release_orphans(entries)  # shown as released even before the next run sweeps them
    data = report(entries)
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        for line in report_lines(data):
            click.echo(line)
