"""The pytest plugin: options, marker and fixtures in, one ``TapeSession`` per test out.

Precedence of per-test options (one chain, ``config.merge``): command line >
``@pytest.mark.contracttape(...)`` kwargs > the ``contracttape_config`` fixture > defaults.
"""

from __future__ import annotations

import argparse
import copy
import types
from collections.abc import Generator, Iterator
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from contracttape.config import (
    DEFAULTS,
    RecordMode,
    TapeOptions,
    Target,
    merge,
    parse_record_mode,
    parse_usd,
)
from contracttape.errors import ConfigError, ContractTapeError

if TYPE_CHECKING:  # importing the plugin stays cheap: what a run uses is imported when it runs
    from contracttape import _offline
    from contracttape.budget.guard import Budget
    from contracttape.cassettes import CassetteCache
    from contracttape.contracts.book import ContractBook
    from contracttape.faults import Chaos, FaultPlan
    from contracttape.faults.record import FaultLog
    from contracttape.normalize import Normaliser
    from contracttape.redact import Redactor
    from contracttape.report.results import RunResults
    from contracttape.run import Run
    from contracttape.session import TapeSession

MARKER = "contracttape"


@dataclass
class PluginState:
    """Per-pytest-run state, kept in ``config.stash`` (never a module global)."""

    cli: TapeOptions
    run: Run  # everything the run needs, wired once (run.py)
    cache: CassetteCache
    network_incidents: _offline.Incidents
    fault_log: FaultLog
    stack: ExitStack = field(default_factory=ExitStack)
    normalisers: dict[Redactor, Normaliser] = field(default_factory=dict)
    replayed: int = 0
    recorded: int = 0  # tests whose traffic was recorded
    written: int = 0  # cassettes that changed on disk
    slept_seconds: float = 0.0
    chaos: Chaos | None = None
    fault_record: Path | None = None
    results: RunResults | None = None  # per test, for `contracttape report` (controller only)
    spent: float = 0.0  # what this run's recordings cost so far (the -v spend meter)
    uncovered_mocks: set[str] = field(default_factory=set)  # mocked requests no contract covers

    @property
    def recording(self) -> bool:
        """Whether this run may send requests and write cassettes (``--record-mode`` other than
        ``none``); a replay sends nothing, writes nothing and spends nothing."""
        return self.cli.record_mode not in (None, RecordMode.NONE)

    @property
    def target(self) -> Target:
        return self.run.target

    @property
    def cassette_dir(self) -> Path:
        return self.run.cassettes

    @property
    def contracts(self) -> ContractBook:
        return self.run.contracts

    @property
    def budget(self) -> Budget:
        return self.run.budget

    @property
    def origins(self) -> dict[str, str]:
        return self.run.origins

    def normaliser_for(self, redactor: Redactor) -> Normaliser:
        """One normaliser per redactor for the run (building one compiles the secret patterns)."""
        if redactor not in self.normalisers:
            self.normalisers[redactor] = self.run.normaliser(redactor)
        return self.normalisers[redactor]


STATE = pytest.StashKey[PluginState]()
SESSION = pytest.StashKey["TapeSession"]()
REPORTED = pytest.StashKey[set[str]]()
MOCKS = pytest.StashKey[Any]()
FAULTS_PROPERTY = "contracttape_faults"
COST_PROPERTY = "contracttape_cost"
UNCOVERED_PROPERTY = "contracttape_uncovered_mocks"
SESSION_PROPERTY = "contracttape_session"


def _usd(text: str) -> float:
    try:
        return parse_usd(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _chaos(text: str) -> Chaos:
    from contracttape.faults import Chaos

    try:
        return Chaos.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracttape", "contracttape record/replay")
    shared(
        group,
        "--record-mode",
        default=None,
        choices=[m.value for m in RecordMode],
        help="none (default: replay only), once, new_episodes, all, rewrite.",
    )
    group.addoption(
        "--target",
        default=Target.SANDBOX.value,
        choices=[t.value for t in Target],
        help="Where record/drift traffic goes: the local sandbox (default) or the live services.",
    )
    group.addoption(
        "--budget-usd", type=_usd, default=None, help="Spend cap for this record/drift run, in USD."
    )
    group.addoption(
        "--monthly-cap", type=_usd, default=None, help="Spend cap per calendar month, across runs (USD)."
    )
    group.addoption(
        "--ledger",
        default=None,
        help="Spend ledger: a file (default .contracttape/ledger.json) or a postgresql:// URL.",
    )
    group.addoption("--cassette-dir", default=None, help="Cassette root (default: <rootdir>/cassettes).")
    group.addoption(
        "--sandbox-revision",
        type=int,
        default=None,
        help="Start the sandbox at this API revision when recording against it (2 changes shapes).",
    )
    group.addoption(
        "--no-contract-validation",
        action="store_true",
        default=False,
        help="Record without checking responses against the contracts (what `contracttape drift` does).",
    )
    group.addoption(
        "--chaos",
        type=_chaos,
        default=None,
        metavar="SEED[:RATE]",
        help="Replay with random transient faults (429, 5xx, timeouts, resets) on every service's "
        "requests, a fraction RATE of them (default 0.1); reproducible by SEED.",
    )
    shared(
        group,
        "--block-network",
        action="store_true",
        default=False,
        help="Refuse every outbound connection for the whole run, not only in cassette tests.",
    )
    parser.addini(
        "contracttape_cassette_dir",
        "Cassette root, relative to rootdir (default: [tool.contracttape] cassettes, else cassettes).",
        default="",
    )


def shared(group: pytest.OptionGroup, name: str, **kwargs: Any) -> None:
    """Declare an option pytest-recording may have declared already (pytest_configure explains)."""
    with suppress(ValueError):
        group.addoption(name, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(record_mode=, cassette=, allow_playback_repeats=, allow_unused=, compress_time=, "
        "validate_contracts=): "
        "record/replay this test's HTTP traffic in its own cassette.",
    )
    if config.pluginmanager.has_plugin("recording"):
        raise pytest.UsageError(
            "contracttape and pytest-recording both drive vcrpy and share --record-mode; "
            "disable one of them, e.g. with `-p no:recording`."
        )
    from contracttape import _offline, atomic
    from contracttape.cassettes import CassetteCache
    from contracttape.faults.record import FaultLog
    from contracttape.parsed_store import ParsedStore
    from contracttape.report.results import RunResults
    from contracttape.run import Run, RunOptions

    mode = config.getoption("--record-mode")
    target = Target(config.getoption("--target"))
    if target is Target.LIVE and config.getoption("--budget-usd") is None:
        raise pytest.UsageError(
            "--target live needs a spend cap: pass --budget-usd (make record TARGET=live BUDGET=0.50)."
        )
    options = RunOptions(
        # --cassette-dir, else the ini key (an alias kept for old configs), else pyproject
        cassettes=config.getoption("--cassette-dir") or config.getini("contracttape_cassette_dir") or None,
        ledger=config.getoption("--ledger"),
        budget_usd=config.getoption("--budget-usd"),
        monthly_cap=config.getoption("--monthly-cap"),
        target=target,
        run_id=_run_id(config),
    )
    try:
        run = Run.build(config.rootpath, options)
    except ContractTapeError as exc:
        raise pytest.UsageError(str(exc)) from exc
    chaos = config.getoption("--chaos")
    if chaos is not None and mode not in (None, RecordMode.NONE.value):
        raise pytest.UsageError(
            f"--chaos is for replayed runs (it serves faults over cassettes); drop --record-mode={mode}"
        )
    state = PluginState(
        cli=TapeOptions(record_mode=parse_record_mode(mode, "--record-mode") if mode else None),
        run=run,
        cache=CassetteCache(ParsedStore.default()),  # parsed cassettes kept across runs and workers
        network_incidents=_offline.Incidents(),
        fault_log=FaultLog(),
        chaos=chaos,
    )
    if state.recording:
        atomic.sweep_temporaries(run.cassettes)  # leftovers of a writer killed mid-write
    state.results = RunResults(
        run.budget.run_id,
        "record" if state.recording else "replay",
        run.target.value if state.recording else "cassettes",
        cap_usd=run.budget.cap,
    )
    config.stash[STATE] = state
    config.pluginmanager.register(_Reports(state), "contracttape-reports")
    if config.getoption("--block-network"):
        state.stack.enter_context(_offline.block_network(state.network_incidents, "pytest session"))


def _run_id(config: pytest.Config) -> str:
    """One id for the whole run: xdist workers get the controller's (pytest_configure_node)."""
    worker_input = getattr(config, "workerinput", None)
    if worker_input and "contracttape_run_id" in worker_input:
        return str(worker_input["contracttape_run_id"])
    from contracttape.run import new_run_id

    return new_run_id()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    node.workerinput["contracttape_run_id"] = node.config.stash[STATE].budget.run_id


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The run records: faults served, and each test's results (the controller writes them, for
    every worker)."""
    state = session.config.stash.get(STATE, None)
    if state is None or hasattr(session.config, "workerinput"):
        return
    from contracttape.report.results import runs_dir

    chaos = state.chaos.describe() if state.chaos else None
    runs = runs_dir(state.run.root)
    with suppress(OSError):
        state.fault_record = state.fault_log.write(runs, state.budget.run_id, chaos)
    if state.results is not None:
        with suppress(OSError):
            state.results.write(runs)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.stack.close()


@pytest.fixture
def contracttape_config() -> dict[str, Any]:
    """Override to set contracttape options for a module or directory (below markers and CLI)."""
    return {}


@pytest.fixture(scope="session")
def contracttape_origins(pytestconfig: pytest.Config) -> dict[str, str]:
    """Real origin -> logical origin stored in cassettes (e.g. a sandbox on a random port).

    A fixture that starts a server registers ``origins[real_base_url] = "http://name.test"``
    while recording; during replay clients are pointed at the logical origin directly.
    """
    return pytestconfig.stash[STATE].origins


@pytest.fixture(scope="session")
def contracttape_sandbox_options() -> dict[str, Any]:
    """Override (session scope, in a conftest) to start the sandbox with other ``SandboxConfig``
    options than ``[tool.contracttape.sandbox]`` gives: limits, delays, edge functions..."""
    return {}


@pytest.fixture(scope="session")
def contracttape_env(
    pytestconfig: pytest.Config,
    contracttape_origins: dict[str, str],
    contracttape_sandbox_options: dict[str, Any],
) -> Iterator[dict[str, str]]:
    """The environment clients need (base URLs and keys of Supabase, OpenAI, LlamaParse).

    Replay: logical origins and placeholder keys, nothing started. Recording against the sandbox
    (the default target): the sandbox, started for the session. Recording with ``--target live``:
    the live services, keys from the environment or ``.env``.
    """
    state = pytestconfig.stash[STATE]
    if not state.recording:
        # every profile's logical origins and placeholder keys: nothing is started or sent
        yield {**state.run.catalogue.replay_env(), "CONTRACTTAPE_SANDBOX_REVISION": "replay"}
    elif state.target is Target.LIVE:
        from contracttape.targets import live_env

        try:
            env, refused = live_env(pytestconfig.rootpath, catalogue=state.run.catalogue), None
        except ConfigError as exc:  # an unreadable .env
            env, refused = None, str(exc)
        if env is None:
            pytest.fail(refused or "", pytrace=False)
        yield env  # a missing key is an error only for the test that reads it
    else:
        try:
            start = state.run.settings.sandbox_factory()
        except ConfigError as exc:
            pytest.fail(str(exc), pytrace=False)
        revision = pytestconfig.getoption("--sandbox-revision")
        options = {
            **dict(state.run.settings.sandbox_options),
            **contracttape_sandbox_options,
            **({"revision": revision} if revision else {}),
        }
        with ExitStack() as stack:
            try:
                sandbox, refused = stack.enter_context(start(**options)), None
            except ConfigError as exc:  # a bad option or migration: one message naming it
                refused = str(exc)
            if refused is not None:
                pytest.fail(refused, pytrace=False)
            contracttape_origins.update(sandbox.origins())
            yield sandbox.env()


@pytest.fixture(scope="session")
def contracttape_passthrough(pytestconfig: pytest.Config) -> set[str]:
    """Hosts (``"app.test"``, ``"127.0.0.1:8123"``) of the app under test: its traffic is sent as
    it is, never recorded, priced, faulted or replayed. Starts from ``[tool.contracttape]
    passthrough``; a fixture that serves the app on a random port adds its ``host:port``.
    In replay the network stays blocked: serve the app in-process (``httpx.ASGITransport``)."""
    return pytestconfig.stash[STATE].run.passthrough


@pytest.fixture(scope="session")
def contracttape_redactor() -> Redactor:
    """Override (in a conftest) to add service-specific secret rules: ``Redactor().extended(...)``."""
    from contracttape.redact import Redactor

    return Redactor()


def _options(item: pytest.Item, fixture_config: dict[str, Any]) -> TapeOptions:
    marker = item.get_closest_marker(MARKER)
    if marker is not None and marker.args:
        raise ConfigError(f"{item.nodeid}: @pytest.mark.{MARKER} takes keyword arguments only")
    from_marker = TapeOptions.from_kwargs(marker.kwargs if marker else {}, item.nodeid)
    from_fixture = TapeOptions.from_kwargs(fixture_config, f"{item.nodeid} (contracttape_config fixture)")
    return merge(item.config.stash[STATE].cli, from_marker, from_fixture, DEFAULTS)


def _cassette_for(item: pytest.Item, options: TapeOptions, cassette_dir: Path) -> Path:
    module = item.module.__name__.rsplit(".", 1)[-1] if isinstance(item, pytest.Function) else "tests"
    cls = getattr(item, "cls", None)
    name = options.cassette or (f"{cls.__name__}.{item.name}" if cls else item.name)
    from contracttape.cassettes import cassette_path

    return cassette_path(cassette_dir, module, name)


@pytest.fixture(autouse=True)
def _contracttape_cassette(request: pytest.FixtureRequest) -> Iterator[TapeSession | None]:
    item = request.node
    wanted = getattr(item, "fixturenames", ())
    if (
        item.get_closest_marker(MARKER) is None
        and "tape" not in wanted
        and "contracttape_faults" not in wanted
    ):
        yield None
        return
    from contracttape.faults import FaultPlan
    from contracttape.session import TapeSession  # vcrpy and the clients' stubs: only for cassette tests

    state = item.config.stash[STATE]
    try:
        options = _options(item, request.getfixturevalue("contracttape_config"))
        faults = None
        if options.faults or state.chaos is not None or "contracttape_faults" in wanted:
            faults = FaultPlan(
                state.run.catalogue, test_id=item.nodeid, chaos=state.chaos, faults=list(options.faults or ())
            )
        refused = None
    except ConfigError as exc:  # a bad marker option or fault: one message naming the test
        refused = str(exc)
    if refused is not None:
        pytest.fail(refused, pytrace=False)
    assert options.record_mode is not None
    session = TapeSession(
        _cassette_for(item, options, state.cassette_dir),
        mode=options.record_mode,
        test_id=item.nodeid,
        normaliser=state.normaliser_for(request.getfixturevalue("contracttape_redactor")),
        cache=state.cache,
        target=state.target.value,
        allow_playback_repeats=bool(options.allow_playback_repeats),
        allow_unused=bool(options.allow_unused),
        compress_time=bool(options.compress_time),
        contracts=(
            state.contracts
            if options.validate_contracts and not item.config.getoption("--no-contract-validation")
            else None
        ),
        budget=state.budget,
        distributions=state.run.catalogue.distributions(),
        faults=faults,
        passthrough=state.run.passthrough,
    )
    item.stash[SESSION] = session
    item.stash[REPORTED] = set()
    with session:
        yield session
    # counted from the reports (see _Reports), so that xdist workers' tests count too
    item.user_properties.append(
        (
            SESSION_PROPERTY,
            {
                "replayed": int(session.replaying),
                "recorded": int(not session.replaying and bool(session.recorded)),
                "written": int(session.written),
                "slept": session.incidents.slept_seconds,
                "refused": len(session.refusals),
            },
        )
    )
    _raise_new_problems(item, session)


@pytest.fixture
def tape(_contracttape_cassette: TapeSession | None) -> TapeSession:
    """The test's ``TapeSession`` (requesting it turns record/replay on for the test)."""
    assert _contracttape_cassette is not None
    return _contracttape_cassette


@pytest.fixture
def contracttape_mocks(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Contract-checked mocks for unit tests (``contracttape.mocks``): respx routes whose every
    response is checked against the committed contract of its endpoint."""
    from contracttape.mocks import ContractMocks  # respx: imported when a test asks for mocks

    state = request.config.stash[STATE]
    mocks = ContractMocks(state.contracts, state.run.catalogue, state.cassette_dir, where=request.node.nodeid)
    request.node.stash[MOCKS] = mocks
    yield mocks
    if mocks.uncovered:
        request.node.user_properties.append((UNCOVERED_PROPERTY, sorted(set(mocks.uncovered))))


@pytest.fixture
def contracttape_faults(_contracttape_cassette: TapeSession | None) -> FaultPlan:
    """The test's fault plan, for faults decided inside the test (requesting it turns
    record/replay on): ``contracttape_faults.add(Fault(503, service="supabase", first=1))``;
    ``.served`` lists what was served, ``.waited`` the seconds clients slept meanwhile."""
    assert _contracttape_cassette is not None
    assert _contracttape_cassette.faults is not None
    return _contracttape_cassette.faults


def _raise_new_problems(item: pytest.Item, session: TapeSession, cause: BaseException | None = None) -> None:
    reported = item.stash[REPORTED]
    fresh = [p for p in session.problems() if str(p) not in reported]
    if not fresh:
        return
    reported.update(str(p) for p in fresh)
    first: ContractTapeError = fresh[0]
    raise first from cause


def _failed(session: TapeSession) -> bool:
    return bool(session.refusals or session.misses or session.incidents.blocked or session.violations)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail with the replay diagnosis even when a client swallowed or wrapped the error."""
    try:
        result = yield
    except BaseException as exc:
        session = item.stash.get(SESSION, None)
        _attach_properties(item, session)
        if session is not None and _failed(session):
            _raise_new_problems(item, session, cause=exc)
        _raise_mock_violation(item, cause=exc)
        raise
    session = item.stash.get(SESSION, None)
    _attach_properties(item, session)
    _raise_mock_violation(item)
    if session is not None and _failed(session):
        _raise_new_problems(item, session)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """contracttape's own errors lead with their diagnosis: the frames of the SDK, httpx and
    vcrpy they passed through are left out (``--tb=long`` or ``--tb=short`` keeps them)."""
    error = call.excinfo.value if call.excinfo is not None else None
    hidden = isinstance(error, ContractTapeError) and item.config.getoption("tbstyle") == "auto"
    original = call.excinfo
    if hidden and original is not None:
        call.excinfo = _one_frame(original)
    try:
        report: pytest.TestReport = yield
    finally:
        call.excinfo = original
    if report.failed and hidden:
        report.longrepr = (
            f"contracttape.{type(error).__name__}: {error}\n"
            "(the traceback through the client library is hidden: --tb=long shows it)"
        )
    return report


def _one_frame(excinfo: pytest.ExceptionInfo[BaseException]) -> pytest.ExceptionInfo[BaseException]:
    """What pytest renders of an error whose report is replaced anyway: the same kind of
    exception with its message, one frame, no chain. pytest parses the source file of every frame
    it renders, and a request refused by the budget comes up through 20 frames of the SDK, httpx
    and vcrpy (0.1-0.2 s a failure); a chained cause is rendered in full as well."""
    try:
        shown = copy.copy(excinfo.value)  # a copy carries no __cause__, __context__ or traceback
    except Exception:  # an exception class that cannot be rebuilt from its arguments
        return excinfo
    tb = excinfo.tb
    frame = types.TracebackType(None, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    return pytest.ExceptionInfo.from_exc_info((type(shown), shown, frame))


def _raise_mock_violation(item: pytest.Item, cause: BaseException | None = None) -> None:
    """A mock that broke its contract fails the test with the violation, even when the SDK
    wrapped it (openai turns a transport's exception into APIConnectionError)."""
    mocks = item.stash.get(MOCKS, None)
    if mocks is not None and mocks.violations and cause is not mocks.violations[0]:
        raise mocks.violations[0] from cause


def _attach_properties(item: pytest.Item, session: TapeSession | None) -> None:
    """The faults served, and what the test's recordings cost, travel with its report (to the
    xdist controller too)."""
    if session is None:
        return
    if session.faults is not None and session.faults.served:
        item.user_properties.append((FAULTS_PROPERTY, [d.as_dict() for d in session.faults.served]))
    if session.recorded:
        costs = [i.cost_usd for i in session.recorded if i.cost_usd is not None]
        item.user_properties.append((COST_PROPERTY, round(sum(costs), 9)))


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    """With -v, what a test's recordings cost, and the run's spend so far: the spend meter."""
    if report.when != "call" or not config.getoption("verbose"):
        return None
    cost = dict(report.user_properties).get(COST_PROPERTY)
    state = config.stash.get(STATE, None)
    if not isinstance(cost, int | float) or state is None:
        return None
    cap = state.budget.cap
    meter = f"${cost:.6f}; run so far ${state.spent:.6f}" + (f" of ${cap:.2f}" if cap is not None else "")
    word = report.outcome.upper()
    letter = {"passed": ".", "failed": "F", "skipped": "s"}.get(report.outcome, "?")
    return report.outcome, letter, (f"{word} ({meter})", {"green": report.passed, "red": report.failed})


class _Reports:
    """Adds up what each test's reports carry, in the process that prints the summary (the xdist
    controller too): its session's figures and the faults it was served. Registered per run."""

    def __init__(self, state: PluginState) -> None:
        self.state = state

    @pytest.hookimpl(tryfirst=True)  # before the terminal shows the test (its spend meter)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = dict(report.user_properties)
        served = properties.get(FAULTS_PROPERTY)
        self.state.fault_log.add(
            report.nodeid, report.when, report.outcome, served if isinstance(served, list) else None
        )
        results = self.state.results
        if results is not None:
            results.add(report.nodeid, report.when, report.outcome)
        cost = properties.get(COST_PROPERTY)
        if report.when == "call" and isinstance(cost, int | float):
            self.state.spent += float(cost)
            if results is not None:
                results.note(report.nodeid, cost_usd=float(cost))
        uncovered = properties.get(UNCOVERED_PROPERTY)
        if report.when == "teardown" and isinstance(uncovered, list):
            self.state.uncovered_mocks.update(uncovered)
        figures = properties.get(SESSION_PROPERTY)
        if report.when == "teardown" and isinstance(figures, dict):
            self.state.replayed += int(figures.get("replayed", 0))
            self.state.written += int(figures.get("written", 0))
            self.state.recorded += int(figures.get("recorded", 0))
            self.state.slept_seconds += float(figures.get("slept", 0.0))
            if results is not None and figures.get("refused"):
                results.note(report.nodeid, refused=True)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is None or hasattr(config, "workerinput"):
        return
    try:
        # a replay spends nothing, so it does not read the ledger's history (every PR's run)
        entries = state.budget.ledger.entries(state.budget.run_id) if state.written or state.recording else []
    except ContractTapeError as exc:  # a ledger made unreadable during the run: say so, do not crash
        terminalreporter.write_line(f"contracttape: no spend summary: {exc}", red=True)
        entries = []
    from contracttape import _offline
    from contracttape.budget.spend import spend_summary

    fault_lines = state.fault_log.summary(state.chaos.describe() if state.chaos else None)
    activity = (state.replayed, state.recorded, state.written, state.network_incidents.blocked, entries)
    if not any(activity) and not fault_lines and not state.uncovered_mocks:
        return
    terminalreporter.write_sep("-", "contracttape")
    terminalreporter.write_line(
        f"cassettes replayed: {state.replayed}, recorded: {state.recorded} "
        f"({state.written} changed on disk), sleep skipped in replay: {state.slept_seconds:.1f}s, "
        f"target: {state.target.value}"
    )
    isolation = _offline.isolation_summary(not state.recording)
    if isolation:
        terminalreporter.write_line(isolation)
    for blocked in state.network_incidents.blocked[:10]:
        terminalreporter.write_line(f"blocked outside a cassette: {blocked}")
    for line in spend_summary(entries, state.budget.cap, state.budget.run_id):
        terminalreporter.write_line(line)
    for line in fault_lines:
        terminalreporter.write_line(line)
    if state.uncovered_mocks:
        terminalreporter.write_line(
            f"mocked with no contract to check them against ({len(state.uncovered_mocks)}): "
            + ", ".join(sorted(state.uncovered_mocks)[:10])
        )
    if state.fault_record is not None:
        terminalreporter.write_line(f"faults of this run: {state.fault_record}")
