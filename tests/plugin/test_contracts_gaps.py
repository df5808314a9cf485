"""`contracts check` and `contracts build --check` leave no gap silent: uncovered responses, an
empty project, stale contracts, a body that is not the JSON its contract describes, and one bad
file among good ones (reported by name; the rest are still processed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from contracttape.cassettes import dumps
from contracttape.cli import main
from contracttape.model import Interaction, RecordedRequest, RecordedResponse

JSON = (("content-type", "application/json"),)


def models(n: int) -> Interaction:
    body = json.dumps({"object": "list", "data": [{"id": f"m{n}", "object": "model"}]}).encode()
    return Interaction(
        RecordedRequest("GET", "https://api.openai.com/v1/models", (), b""),
        RecordedResponse(200, "OK", JSON, body),
    )


def not_found(ctype: str, body: bytes) -> Interaction:
    return Interaction(
        RecordedRequest("GET", "https://api.openai.com/v1/models/nope", (), b""),
        RecordedResponse(404, "Not Found", (("content-type", ctype),), body),
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.contracttape]\n")
    return tmp_path


def cassette(root: Path, name: str, interactions: list[Interaction]) -> Path:
    path = root / "cassettes" / "t" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(interactions, {}))
    return path


def ct(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_an_empty_project_is_not_reported_as_all_good(project: Path) -> None:
    result = ct("contracts", "check")
    assert result.exit_code == 1
    assert "nothing was checked" in result.output
    assert "every one satisfies" not in result.output


def test_a_deleted_contract_is_an_uncovered_response(project: Path) -> None:
    cassette(project, "a", [models(1), models(2)])
    assert ct("contracts", "build").exit_code == 0
    assert ct("contracts", "check").exit_code == 0
    (contract,) = (project / "contracts/openai").glob("*.schema.json")
    contract.unlink()
    result = ct("contracts", "check")
    assert result.exit_code == 1
    assert "uncovered: openai GET /v1/models 2xx has no contract" in result.output
    assert ct("contracts", "check", "--allow-uncovered").exit_code == 0


def test_build_check_reports_stale_missing_and_extra_without_writing(project: Path) -> None:
    cassette(project, "a", [models(1)])
    result = ct("contracts", "build", "--check")
    assert result.exit_code == 1
    assert "stale" in result.output
    assert not (project / "contracts").exists()  # nothing written
    assert ct("contracts", "build").exit_code == 0
    assert ct("contracts", "build", "--check").exit_code == 0
    extra = project / "contracts/openai/get_v1_gone__2xx.schema.json"
    extra.write_text((next((project / "contracts/openai").glob("*.schema.json"))).read_text())
    result = ct("contracts", "build", "--check")
    assert result.exit_code == 1
    assert "extra" in result.output
    assert extra.exists()


def test_a_text_body_where_json_is_contracted_is_a_violation(project: Path) -> None:
    cassette(
        project,
        "a",
        [not_found("application/json", b'{"detail": "not found"}')],
    )
    assert ct("contracts", "build").exit_code == 0
    cassette(project, "b", [not_found("text/plain", b"404 page not found")])
    result = ct("contracts", "check")
    assert result.exit_code == 1
    assert "the response is a text/plain body, not JSON" in result.output


def test_one_bad_file_is_named_and_the_rest_are_processed(project: Path) -> None:
    cassette(project, "a", [models(1)])
    bad = project / "cassettes/t/broken.yaml"
    bad.write_text("version: [1\n")
    built = ct("contracts", "build")
    assert built.exit_code == 1
    assert "broken.yaml" in built.output
    assert "1 unreadable cassette(s) skipped" in built.output
    assert list((project / "contracts/openai").glob("*.schema.json"))  # the good one was built
    checked = ct("contracts", "check")
    assert checked.exit_code == 1
    assert "broken.yaml" in checked.output
    assert "1 response(s) checked" in checked.output
    assert "Traceback" not in built.output + checked.output
