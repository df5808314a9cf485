"""``contracttape init`` on an existing project: adds what is missing, twice is a no-op."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from click.testing import CliRunner

from contracttape.cli import main


def test_init_adds_what_is_missing_and_changes_nothing_the_second_time(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\n')
    (tmp_path / ".gitignore").write_text("__pycache__/\n.env")  # no final newline, one line present
    runner = CliRunner()
    first = runner.invoke(main, ["init", str(tmp_path)])
    assert first.exit_code == 0, first.output
    assert "added to" in first.output
    document = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert document["project"]["name"] == "app"
    assert document["tool"]["contracttape"]["cassettes"] == "cassettes"
    assert (tmp_path / ".gitignore").read_text().splitlines() == ["__pycache__/", ".env", ".contracttape/"]
    for workflow in ("contracttape-replay.yml", "contracttape-drift.yml"):
        parsed = yaml.safe_load((tmp_path / ".github" / "workflows" / workflow).read_text())
        assert "jobs" in parsed
    assert "contracttape_env" in (tmp_path / "tests" / "integration" / "conftest.py").read_text()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    second = runner.invoke(main, ["init", str(tmp_path)])
    assert second.exit_code == 0
    assert second.output.count("already there") == 5
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_init_in_an_empty_folder_creates_a_pyproject(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 0
    assert "[tool.contracttape]" in (tmp_path / "pyproject.toml").read_text()
    assert tomllib.loads((tmp_path / "pyproject.toml").read_text())["tool"]["contracttape"]["sandbox"] == {}
