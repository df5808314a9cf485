"""The plugin driven through pytester: options, marker, fixtures, diagnostics, xdist."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from contracttape.cassettes import loads
from tests.integration.loopback_app import PLANTED_API_KEY, SIGNING_KEY

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def base_url(pytestconfig, contracttape_origins):
    real = pytestconfig.getoption("--base-url")
    if (pytestconfig.getoption("--record-mode") or "none") != "none":
        contracttape_origins[real] = "http://svc.test"
        return real
    return "http://svc.test"

def pytest_addoption(parser):
    parser.addoption("--base-url", default="http://unused")
"""

TESTS = """
import httpx, pytest

pytestmark = pytest.mark.contracttape

def test_echo(base_url):
    assert httpx.get(base_url + "/echo", params={"q": "1"}).json()["query"] == [["q", "1"]]
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def test_record_then_replay_offline(suite: pytest.Pytester, loopback_url: str) -> None:
    suite.runpytest("--record-mode=once", f"--base-url={loopback_url}").assert_outcomes(passed=1)
    cassette = suite.path / "cassettes" / "test_suite" / "test_echo.yaml"
    assert cassette.exists()
    assert loopback_url not in cassette.read_text()
    replay = suite.runpytest()  # server address unknown: only the cassette can answer
    replay.assert_outcomes(passed=1)
    replay.stdout.fnmatch_lines(["*cassettes replayed: 1, recorded: 0 (0 changed on disk)*"])


def test_miss_fails_with_diagnosis_even_if_the_client_swallows_it(
    suite: pytest.Pytester, loopback_url: str
) -> None:
    suite.runpytest("--record-mode=once", f"--base-url={loopback_url}").assert_outcomes(passed=1)
    suite.makepyfile(
        test_suite="""
import httpx, pytest

pytestmark = pytest.mark.contracttape

def test_echo(base_url):
    try:
        httpx.get(base_url + "/echo", params={"q": "2"})
    except Exception:
        pass  # an SDK retrying or wrapping the error must not hide the miss
"""
    )
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    assert (
        "#0 GET http://svc.test/echo?q=1  [query: recorded-only [('q', '1')], sent-only [('q', '2')]]"
        in result.stdout.str()
    )
    result.stdout.fnmatch_lines(
        [
            "*NoMatchingInteraction: test_suite.py::test_echo: no recorded response for GET http://svc.test/echo?q=2",
            "*cassette: */cassettes/test_suite/test_echo.yaml",
            "*closest recorded requests:",
            "*To re-record just this test: contracttape record -- 'test_suite.py::test_echo'",
        ]
    )


def test_raw_socket_in_replay_is_blocked_and_reported(pytester: pytest.Pytester, loopback_url: str) -> None:
    host, port = loopback_url.removeprefix("http://").split(":")
    pytester.makepyfile(
        f"""
import socket, pytest

@pytest.mark.contracttape
def test_raw():
    try:
        socket.create_connection(("{host}", {port}), timeout=2)
    except OSError:
        pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*NetworkBlocked: test_raw_socket_in_replay_is_blocked_and_reported.py::test_raw: tried to reach the network*"
        ]
    )


def test_marker_typo_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
import pytest

@pytest.mark.contracttape(record_mod="once")
def test_x():
    pass
"""
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_x: unknown contracttape option(s) record_mod; known options are*"])
    # Said once in the report (pytest's short summary repeats it, cut or whole by terminal width).
    report = result.stdout.str().split("short test summary info")[0]
    assert report.count("unknown contracttape option(s)") == 1
    assert "During handling" not in result.stdout.str()


def test_precedence_marker_over_fixture_and_cli_over_marker(
    suite: pytest.Pytester, loopback_url: str
) -> None:
    suite.makepyfile(
        test_suite="""
import pytest

@pytest.fixture
def contracttape_config():
    return {"record_mode": "none", "cassette": "from-fixture"}

@pytest.mark.contracttape(record_mode="rewrite")
def test_modes(tape):
    print("MODE", tape.mode.value, tape.path.name)
"""
    )
    suite.runpytest("-s").stdout.fnmatch_lines(["*MODE rewrite from-fixture.yaml*"])
    suite.runpytest("-s", "--record-mode=all").stdout.fnmatch_lines(["*MODE all from-fixture.yaml*"])


def test_pytest_recording_alongside_is_a_clear_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "tox.ini").unlink()
    result = pytester.runpytest_subprocess("-p", "recording")
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*contracttape and pytest-recording both drive vcrpy*-p no:recording*"])


def test_custom_redaction_rules_from_a_fixture(suite: pytest.Pytester, loopback_url: str) -> None:
    suite.makeconftest(
        CONFTEST
        + """
from contracttape import Redactor

@pytest.fixture(scope="session")
def contracttape_redactor():
    return Redactor().extended(query_params=["q"])
"""
    )
    suite.runpytest("--record-mode=once", f"--base-url={loopback_url}").assert_outcomes(passed=1)
    text = (suite.path / "cassettes" / "test_suite" / "test_echo.yaml").read_text()
    assert "uri: http://svc.test/echo?q=<redacted:q>" in text


def test_live_target_needs_a_budget(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--target=live")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--target live needs a spend cap: pass --budget-usd*"])


@pytest.mark.slow
def test_xdist_workers_share_one_cassette_without_corruption(
    pytester: pytest.Pytester, loopback_url: str
) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        test_many="""
import httpx, pytest

@pytest.mark.parametrize("n", range(16))
@pytest.mark.contracttape(cassette="shared", allow_unused=True)
def test_n(base_url, n):
    assert httpx.get(base_url + "/echo", params={"n": str(n)}).status_code == 200
"""
    )
    recorded = pytester.runpytest_subprocess(
        "-n", "4", "--record-mode=new_episodes", f"--base-url={loopback_url}"
    )
    recorded.assert_outcomes(passed=16)
    path = pytester.path / "cassettes" / "test_many" / "shared.yaml"
    uris = sorted(i.request.uri for i in loads(path.read_text(), path).interactions)
    assert uris == sorted(f"http://svc.test/echo?n={n}" for n in range(16))
    pytester.runpytest_subprocess("-n", "4").assert_outcomes(passed=16)


@pytest.mark.slow
def test_integration_suite_round_trip_keeps_secrets_off_disk(pytester: pytest.Pytester) -> None:
    """Record the real integration suite into a scratch dir, scan it, replay it offline."""
    shutil.copytree(
        ROOT / "tests",
        pytester.path / "tests",
        # the resilience tests really wait out their Retry-After while recording (~16 s): their
        # record-mode guarantees are proven in tests/faults, their replay in every run; the
        # docpipe suite (2 minutes to record) is scanned where it is committed (`contracttape scan`)
        ignore=shutil.ignore_patterns(
            "__pycache__", "plugin", "unit", "faults", "test_faults.py", "test_docpipe_*.py"
        ),
    )
    (pytester.path / "tox.ini").unlink()  # use the project's own settings instead
    shutil.copy(ROOT / "pyproject.toml", pytester.path / "pyproject.toml")
    shutil.copytree(ROOT / "supabase", pytester.path / "supabase")  # the schema the cassettes saw
    recorded = pytester.runpytest_subprocess(
        "tests/integration", "--record-mode=rewrite", "-p", "no:cacheprovider"
    )
    recorded.assert_outcomes(passed=12)
    texts = "\n".join(p.read_text() for p in (pytester.path / "cassettes").rglob("*.yaml"))
    assert PLANTED_API_KEY not in texts
    assert "hunter2" not in texts
    assert "sk-test-kkkk" not in texts
    assert SIGNING_KEY.decode() not in texts
    scan = pytester.run(sys.executable, "-m", "contracttape", "scan", "cassettes")
    assert scan.ret == 0, scan.stdout.str()
    replayed = pytester.runpytest_subprocess("tests/integration", "--block-network", "-p", "no:cacheprovider")
    replayed.assert_outcomes(passed=12)


def test_replayed_response_breaking_its_contract_fails_the_test(
    suite: pytest.Pytester, loopback_url: str
) -> None:
    (suite.path / "tox.ini").unlink()
    suite.makepyprojecttoml(
        """
[tool.pytest.ini_options]
addopts = "-p no:recording"
asyncio_default_fixture_loop_scope = "function"

[tool.contracttape]
services = ["svc_profile:PROFILE"]
"""
    )
    suite.makepyfile(
        svc_profile="""
from contracttape.services.profile import Route, ServiceProfile
PROFILE = ServiceProfile("svc", ("svc.test",), (Route("GET", "/echo"),))
"""
    )
    suite.runpytest("--record-mode=once", f"--base-url={loopback_url}").assert_outcomes(passed=1)
    built = suite.run(sys.executable, "-m", "contracttape", "contracts", "build")
    assert built.ret == 0, built.stdout.str()
    assert (suite.path / "contracts" / "svc" / "get_echo__2xx.schema.json").exists()
    suite.runpytest().assert_outcomes(passed=1)

    cassette = suite.path / "cassettes" / "test_suite" / "test_echo.yaml"
    cassette.write_text(cassette.read_text().replace('"method": "GET"', '"method": 7'))
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ContractViolation: test_suite.py::test_echo: svc GET /echo 2xx: response violates its contract at $.method: *",
            '*expected: type "string"',
            "*actual:   7",
            "*contract: */contracts/svc/get_echo__2xx.schema.json",
            "*contracttape contracts build*",
        ]
    )
    suite.makepyfile(
        test_suite=TESTS.replace(
            "pytestmark = pytest.mark.contracttape",
            "pytestmark = pytest.mark.contracttape(validate_contracts=False)",
        )
    )
    suite.runpytest().assert_outcomes(passed=1)


def test_live_target_uses_live_keys_and_never_the_sandbox(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (
        "OPENAI_API_KEY",
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "LLAMA_CLOUD_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(
        """
import pytest

@pytest.mark.contracttape
def test_needs_env(contracttape_env):
    assert contracttape_env["OPENAI_API_KEY"]
    print("BASE", contracttape_env["OPENAI_BASE_URL"])
"""
    )
    missing = pytester.runpytest("--target=live", "--budget-usd=0.1", "--record-mode=rewrite")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["*recording against the live services needs OPENAI_API_KEY (for openai)*"])
    assert "SUPABASE" not in missing.stdout.str()  # only what the test uses is asked for
    assert "During handling" not in missing.stdout.str()
    (pytester.path / ".env").write_text("OPENAI_API_KEY=placeholder\n")
    live = pytester.runpytest("--target=live", "--budget-usd=0.1", "--record-mode=rewrite", "-s")
    live.assert_outcomes(passed=1)
    live.stdout.fnmatch_lines(["*BASE https://api.openai.com/v1*"])
