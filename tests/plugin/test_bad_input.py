"""Bad input, table-driven: one clear message naming the file or option, a non-zero exit, no
traceback, no INTERNALERROR, and nothing half-written.

Each case builds a small project (pyproject, cassette, contract, ledger...), then runs either
pytest with the plugin or the ``contracttape`` command on it, in a subprocess, as a user would.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from contracttape.cassettes import dumps
from contracttape.contracts.book import ContractFile
from contracttape.contracts.inference import evidence_of
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.services.profile import Endpoint

TEST = """
import httpx, pytest

@pytest.mark.contracttape
def test_one():
    assert httpx.get("http://h.test/x").status_code == 200
"""

GOOD_CASSETTE = dumps(
    [
        Interaction(
            RecordedRequest("GET", "http://h.test/x", (), b""),
            RecordedResponse(200, "OK", (("content-type", "application/json"),), b'{"a": 1}'),
        )
    ],
    {},
)
CASSETTE = "cassettes/test_one/test_one.yaml"


def faulty(fault: str) -> str:
    """The test, with a fault declared in its marker."""
    return TEST.replace(
        "@pytest.mark.contracttape\n",
        f"from contracttape.faults import Fault\n\n@pytest.mark.contracttape(faults=[{fault}])\n",
    )


ENDPOINT = Endpoint("openai", "GET", "/v1/models", "2xx")
CONTRACT = "contracts/openai/x.schema.json"


def good_contract() -> dict[str, object]:
    document: dict[str, object] = json.loads(
        ContractFile(ENDPOINT, evidence_of([{"a": 1}]), 1, "2026-01-01", "2026-01-01").to_json()
    )
    return document


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str | bytes]
    command: list[str]  # "pytest ..." or "contracttape ..."
    says: tuple[str, ...]  # all of these appear in the output
    never: tuple[str, ...] = field(default=())  # nor may these (secrets, stray paths)
    absent_files: tuple[str, ...] = field(default=())  # nothing half-written


def contract_with(change: Callable[[dict[str, object]], None]) -> str:
    document = good_contract()
    change(document)
    return json.dumps(document)


def _set_meta(key: str, value: object) -> Callable[[dict[str, object]], None]:
    def change(document: dict[str, object]) -> None:
        meta = document["x-contracttape"]
        assert isinstance(meta, dict)
        meta[key] = value

    return change


CASES = [
    Case(
        "pg-ledger-unreachable",
        {},
        ["pytest", "--ledger", "postgresql://ada:hunter2pw@127.0.0.1:1/db"],
        ("PostgreSQL ledger at 127.0.0.1:1/db cannot be reached",),
        never=("hunter2pw",),
    ),
    Case(
        "tool-contracttape-is-a-string",
        {"pyproject.toml": '[tool]\ncontracttape = "x"\n'},
        ["pytest"],
        ("pyproject.toml", "[tool.contracttape] must be a table"),
    ),
    Case(
        "tool-contracttape-is-a-string-cli",
        {"pyproject.toml": '[tool]\ncontracttape = "x"\n'},
        ["contracttape", "contracts", "build"],
        ("[tool.contracttape] must be a table",),
    ),
    Case(
        "ledger-setting-is-a-list",
        {"pyproject.toml": '[tool.contracttape]\nledger = ["a"]\n'},
        ["pytest"],
        ("[tool.contracttape] ledger must be a non-empty string",),
        absent_files=("['a']",),
    ),
    Case(
        "cassettes-setting-is-a-number",
        {"pyproject.toml": "[tool.contracttape]\ncassettes = 5\n"},
        ["pytest"],
        ("[tool.contracttape] cassettes must be a non-empty string",),
    ),
    Case(
        "unknown-setting",
        {"pyproject.toml": '[tool.contracttape]\ncasettes = "c"\n'},
        ["contracttape", "contracts", "check"],
        ("unknown key(s) ['casettes']",),
    ),
    Case(
        "pyproject-not-toml",
        {"pyproject.toml": "[tool.contracttape\n"},
        ["pytest"],
        ("pyproject.toml: Expected ']'",),
    ),
    Case(
        "ledger-is-a-list",
        {".contracttape/ledger.json": "[]"},
        ["contracttape", "budget", "report"],
        ("ledger.json: not a contracttape ledger",),
    ),
    Case(
        "ledger-entry-has-an-unknown-field",
        {".contracttape/ledger.json": json.dumps({"format": 2, "entries": [{"id": "1", "surprise": True}]})},
        ["contracttape", "budget", "report"],
        ("ledger.json: entry 1: unknown field(s) ['surprise']",),
    ),
    Case(
        "ledger-not-json",
        {".contracttape/ledger.json": "{"},
        ["contracttape", "budget", "report"],
        ("ledger.json: the ledger cannot be read",),
    ),
    Case(
        "ledger-corrupt-during-a-recording",
        {".contracttape/ledger.json": "{", "test_one.py": TEST},
        ["pytest", "--record-mode=rewrite"],
        ("ledger.json: the ledger cannot be read", "contracttape: no spend summary"),
    ),
    Case(
        "cassette-body-is-a-string",
        {CASSETTE: GOOD_CASSETTE.replace("    body:\n      string: '{\"a\": 1}'", "    body: oops")},
        ["pytest"],
        (CASSETTE, "malformed interaction"),
    ),
    Case(
        "cassette-meta-is-a-list",
        {CASSETTE: GOOD_CASSETTE.replace("contracttape:\n  format: 1\n", "contracttape:\n- 1\n", 1)},
        ["pytest"],
        (CASSETTE, "'contracttape' block is not a mapping"),
    ),
    Case(
        "cassette-not-utf8",
        {CASSETTE: b"version: 1\ninteractions: \xff\xfe\n"},
        ["pytest"],
        (CASSETTE, "not UTF-8"),
    ),
    Case("cassette-not-yaml", {CASSETTE: "version: [1\n"}, ["pytest"], (CASSETTE, "not valid cassette YAML")),
    Case(
        "cassette-not-yaml-cli",
        {CASSETTE: "version: [1\n"},
        ["contracttape", "contracts", "build"],
        (CASSETTE,),
    ),
    Case(
        "cassette-dir-is-a-file",
        {"not-a-dir": "x"},
        ["pytest", "--cassette-dir", "not-a-dir"],
        ("--cassette-dir = 'not-a-dir' is a file",),
    ),
    Case(
        "contract-meta-is-a-list",
        {CONTRACT: contract_with(lambda d: d.__setitem__("x-contracttape", []))},
        ["contracttape", "contracts", "check"],
        (CONTRACT, "no x-contracttape object"),
    ),
    Case(
        "contract-evidence-malformed",
        {CONTRACT: contract_with(_set_meta("evidence", {"type": "object", "properties": 3}))},
        ["contracttape", "contracts", "check"],
        (CONTRACT, "malformed x-contracttape block"),
    ),
    Case(
        "contract-samples-not-a-count",
        {CONTRACT: contract_with(_set_meta("samples", "many"))},
        ["contracttape", "contracts", "check"],
        (CONTRACT, "samples must be a non-negative integer"),
    ),
    Case(
        "contract-visible-schema-invalid",
        {CONTRACT: contract_with(lambda d: d.__setitem__("type", "objekt"))},
        ["contracttape", "contracts", "check"],
        (CONTRACT, "not valid JSON Schema"),
    ),
    Case(
        "contract-edited-by-hand",
        {CONTRACT: contract_with(lambda d: d.__setitem__("required", ["b"]))},
        ["contracttape", "contracts", "check"],
        (CONTRACT, "differs from what its evidence gives"),
    ),
    Case(
        "contract-not-json",
        {CONTRACT: "{"},
        ["contracttape", "contracts", "check"],
        (CONTRACT, "not valid JSON"),
    ),
    Case(
        "price-file-is-a-list",
        {"pyproject.toml": '[tool.contracttape]\nprices = "p.yaml"\n', "p.yaml": "- 1\n"},
        ["pytest"],
        ("p.yaml: a price file is a mapping",),
    ),
    Case(
        "budget-not-a-number",
        {},
        ["pytest", "--budget-usd", "abc"],
        ("--budget-usd", "'abc' is not an amount"),
    ),
    Case(
        "allowlist-without-reason",
        {".contracttape-scan-allow.toml": '[[allow]]\nfingerprint = "abc"\n', "cassettes/x.yaml": "a: 1\n"},
        ["contracttape", "scan"],
        ("needs a 'fingerprint'", "and a 'reason'"),
    ),
    Case(
        "fault-kind-unknown",
        {"test_one.py": faulty("Fault('explode')")},
        ["pytest"],
        ("test_one.py::test_one", "fault 'explode': unknown kind", "read_timeout"),
    ),
    Case(
        "fault-service-unknown",
        {"test_one.py": faulty("Fault(429, service='opneai')")},
        ["pytest"],
        ("test_one.py::test_one", "no service named 'opneai'", "known services: openai"),
    ),
    Case(
        "fault-endpoint-unknown",
        {"test_one.py": faulty("Fault(429, service='openai', endpoint='POST /v1/embedding')")},
        ["pytest"],
        ("no endpoint POST /v1/embedding of openai", "known: ", "POST /v1/embeddings"),
    ),
    Case(
        "fault-field-unknown",
        {"test_one.py": faulty("{'kind': 503, 'times': 2}")},
        ["pytest"],
        ("test_one.py::test_one: faults[0]: unknown fault field(s) times", "every, first"),
    ),
    Case(
        "fault-first-and-every",
        {"test_one.py": faulty("Fault(503, first=0)")},
        ["pytest"],
        ("first must be a whole number >= 1",),
    ),
    Case(
        "chaos-not-a-seed",
        {},
        ["pytest", "--chaos", "seven"],
        ("--chaos", "'seven' is not SEED[:RATE]"),
    ),
    Case(
        "chaos-rate-out-of-range",
        {},
        ["pytest", "--chaos", "7:1.5"],
        ("--chaos", "0 < RATE <= 1"),
    ),
    Case(
        "chaos-while-recording",
        {},
        ["pytest", "--chaos", "7", "--record-mode", "all"],
        ("--chaos is for replayed runs",),
    ),
    Case(
        "service-profile-not-importable",
        {"pyproject.toml": '[tool.contracttape]\nservices = ["nowhere.mod:PROFILE"]\n'},
        ["pytest"],
        ("services entry 'nowhere.mod:PROFILE' cannot be imported",),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_clear_message(pytester: pytest.Pytester, case: Case) -> None:
    files = {"test_one.py": TEST, CASSETTE: GOOD_CASSETTE, **case.files}
    for name, content in files.items():
        path = pytester.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    tool, *args = case.command
    module = "pytest" if tool == "pytest" else "contracttape"
    extra = ["-p", "no:cacheprovider", "test_one.py"] if tool == "pytest" else []
    result = pytester.run(sys.executable, "-m", module, *args, *extra, timeout=120)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret != 0, output
    for expected in case.says:
        assert expected in output, output[-3000:]
    for forbidden in ("Traceback", "INTERNALERROR", *case.never):
        assert forbidden not in output, output[-3000:]
    for name in case.absent_files:
        assert not (pytester.path / name).exists()
    assert not list(pytester.path.rglob("*.tmp"))


def test_the_cassettes_setting_is_honoured(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.contracttape]\ncassettes = "recordings"\n')
    pytester.makepyfile(test_one=TEST)
    (pytester.path / "recordings/test_one").mkdir(parents=True)
    (pytester.path / "recordings/test_one/test_one.yaml").write_text(GOOD_CASSETTE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()


def test_written_files_honour_the_umask(tmp_path: Path) -> None:
    import os

    from contracttape.atomic import write_atomic

    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "c.yaml", "a: 1\n")
    finally:
        os.umask(old)
    assert (tmp_path / "c.yaml").stat().st_mode & 0o777 == 0o640


SANDBOX_USER = """
import contextlib

class Fake:
    def __enter__(self):
        return self
    def __exit__(self, *exc):
        return None
    def env(self):
        return {"FAKE_URL": "http://fake.test"}
    def origins(self):
        return {}

def start(**options):
    return Fake()
"""


@pytest.mark.parametrize(
    ("setting", "outcome"),
    [
        ("fake_target:start", "passed"),
        ("nowhere.mod:start", "sandbox entry 'nowhere.mod:start' cannot be imported"),
    ],
)
def test_the_sandbox_target_is_a_setting(pytester: pytest.Pytester, setting: str, outcome: str) -> None:
    """The framework starts the sandbox by name ([tool.contracttape] sandbox), never by import."""
    pytester.makepyprojecttoml(f'[tool.contracttape]\nsandbox = "{setting}"\n')
    pytester.makepyfile(
        fake_target=SANDBOX_USER,
        test_env="def test_env(contracttape_env):\n    assert contracttape_env['FAKE_URL'] == 'http://fake.test'\n",
    )
    result = pytester.runpytest_subprocess("--record-mode=rewrite", "-p", "no:cacheprovider")
    output = result.stdout.str()
    assert outcome in output
    assert "Traceback" not in output


@pytest.mark.parametrize("mode", [[], ["--record-mode=none"]])
def test_a_replay_never_reads_the_ledger(pytester: pytest.Pytester, mode: list[str]) -> None:
    """A replay spends nothing: a ledger it cannot read (or a long history) costs it nothing."""
    pytester.makepyfile(test_one=TEST)
    (pytester.path / CASSETTE).parent.mkdir(parents=True, exist_ok=True)
    (pytester.path / CASSETTE).write_text(GOOD_CASSETTE)
    (pytester.path / ".contracttape").mkdir()
    (pytester.path / ".contracttape/ledger.json").write_text("{")
    result = pytester.runpytest_subprocess(*mode, "-p", "no:cacheprovider")
    output = result.stdout.str() + result.stderr.str()
    assert result.ret == 0, output
    assert "cassettes replayed: 1" in output
    assert "ledger.json" not in output
    assert "no spend summary" not in output
