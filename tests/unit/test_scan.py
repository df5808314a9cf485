from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from contracttape.cli import main
from contracttape.redact import Redactor
from contracttape.scan import pattern_count, scan_text
from tests.unit.test_redact import EXAMPLES, jwt


def kinds(text: str) -> set[str]:
    return {f.kind for f in scan_text(text, Path("x.yaml"))}


def test_at_least_fifteen_patterns() -> None:
    assert pattern_count() >= 15


@pytest.mark.parametrize(("name", "secret"), sorted(EXAMPLES.items()))
def test_each_provider_secret_is_found_and_masked(name: str, secret: str) -> None:
    (finding,) = [f for f in scan_text(f"value: {secret}\n", Path("c.yaml")) if f.kind == name]
    assert secret not in str(finding)
    assert str(finding).startswith("c.yaml:1: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("token: " + jwt({"sub": "u"}), {"jwt"}),
        ("Authorization: Bearer abcdefghijklmnop1234", {"bearer-token"}),
        ('"refresh_token": "a1b2c3d4e5f6"', {"secret-field"}),
        ("-----BEGIN RSA PRIVATE KEY-----", {"private-key-block"}),
    ],
)
def test_leak_evidence(text: str, expected: set[str]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '"tests/integration/test_polling_and_secrets.py::test_planted_secrets_never_replay": {',
        "FAILED tests/test_api_secrets.py::test_rotate_keys_daily - AssertionError",
        "  PASSED tests/test_secret_store.py::TestVault::test_read_back_value",
    ],
)
def test_pytest_node_ids_are_not_fields(text: str) -> None:
    assert kinds(text) == set()


def test_redacted_output_scans_clean() -> None:
    body = {
        "access_token": jwt({"sub": "u", "exp": 1}),
        "refresh_token": "abcdefgh1234",
        "k": list(EXAMPLES.values()),
    }
    cleaned = Redactor().json_value(body)
    assert kinds(repr(cleaned).replace("'", '"')) == set()
    assert kinds("authorization: Bearer <redacted:authorization>") == set()


def test_cli_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "clean.yaml").write_text("a: 1\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["scan", str(tmp_path)])
    assert ok.exit_code == 0
    assert "clean" in ok.output
    (tmp_path / "leak.json").write_text('{"k": "' + EXAMPLES["openai-key"] + '"}')
    bad = runner.invoke(main, ["scan", str(tmp_path)])
    assert bad.exit_code == 1
    assert "leak.json:1: openai-key" in bad.output
    assert EXAMPLES["openai-key"] not in bad.output
    missing = runner.invoke(main, ["scan", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert "no such file" in missing.output


def test_default_paths_include_the_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".contracttape").mkdir()
    (tmp_path / ".contracttape" / "ledger.json").write_text(
        '{"request": "GET https://h/x?password=' + "Zq81" * 5 + '"}'
    )
    result = CliRunner().invoke(main, ["scan"])
    assert result.exit_code == 1
    assert ".contracttape/ledger.json:1: secret-field" in result.output


def test_the_allowlist_silences_a_fingerprint_with_a_reason(tmp_path: Path) -> None:
    leak = tmp_path / "c.yaml"
    leak.write_text("k: " + EXAMPLES["openai-key"] + "\n")
    runner = CliRunner()
    first = runner.invoke(main, ["scan", str(leak), "--allowlist", str(tmp_path / "none.toml")])
    assert first.exit_code == 1
    fingerprint = first.output.split("[fingerprint ")[1].split("]")[0]
    allow = tmp_path / "allow.toml"
    allow.write_text(f'[[allow]]\nfingerprint = "{fingerprint}"\nreason = "a documented test key"\n')
    assert runner.invoke(main, ["scan", str(leak), "--allowlist", str(allow)]).exit_code == 0
    allow.write_text(f'[[allow]]\nfingerprint = "{fingerprint}"\n')
    bad = runner.invoke(main, ["scan", str(leak), "--allowlist", str(allow)])
    assert bad.exit_code == 2
    assert "needs a 'fingerprint'" in bad.output
    assert "and a 'reason'" in bad.output
