"""``contracttape init``: set contracttape up in an existing project, idempotently.

It adds what is missing and never changes what is there: a ``[tool.contracttape]`` table in
pyproject.toml, the ``.gitignore`` lines (``.contracttape/`` holds the ledger, run records and
``sandbox.env``; ``.env`` the live keys), an example ``conftest.py`` for the integration suite,
and two GitHub workflows to copy as they are: replay on every pull request, drift every week.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from contracttape.atomic import write_atomic

TOOL_TABLE = """
[tool.contracttape]
cassettes = "cassettes"          # one cassette per test, committed
contracts = "contracts"          # one JSON Schema per endpoint, committed
# services = ["myapp.profiles:PROFILE"]   # your own services (README, "Adding a service")

[tool.contracttape.sandbox]
# migrations = "supabase/migrations"    # found by itself when the project has it
"""
GITIGNORE = (".contracttape/", ".env")
CONFTEST = '''"""The integration suite: real SDK clients, recorded once, replayed offline in every PR.

`contracttape_env` gives the clients their base URLs and keys: the sandbox's while recording
(the default target), the live services' with `--target live`, placeholders in replay.
"""

import pytest

pytestmark = pytest.mark.contracttape


@pytest.fixture
def openai_client(contracttape_env):
    import openai

    with openai.OpenAI(
        base_url=contracttape_env["OPENAI_BASE_URL"], api_key=contracttape_env["OPENAI_API_KEY"]
    ) as client:
        yield client
'''
REPLAY_WORKFLOW = """# Every pull request: the integration suite from cassettes, offline, $0.
name: contracttape replay
on: [pull_request, push]
jobs:
  replay:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install -e ".[dev]"   # your dev dependencies, contracttape among them
      - run: contracttape replay
      - run: contracttape contracts check
      - run: contracttape scan
"""
DRIFT_WORKFLOW = """# Every week: re-record against the live services under a small cap, diff against the
# committed contracts, and keep the report.
name: contracttape drift
on:
  schedule:
    - cron: "17 6 * * 1"
  workflow_dispatch:
jobs:
  drift:
    runs-on: ubuntu-latest
    env:
      OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }}
      SUPABASE_URL: ${{ secrets.SUPABASE_URL }}
      SUPABASE_ANON_KEY: ${{ secrets.SUPABASE_ANON_KEY }}
      SUPABASE_SERVICE_ROLE_KEY: ${{ secrets.SUPABASE_SERVICE_ROLE_KEY }}
      LLAMA_CLOUD_API_KEY: ${{ secrets.LLAMA_CLOUD_API_KEY }}
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: pip install -e ".[dev]"
      - run: contracttape drift --target live --budget-usd 0.25 --report-dir drift-report
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: drift-report
          path: drift-report/
"""


@dataclass(frozen=True)
class Step:
    path: Path
    done: str  # "created", "added to", "already there"


def init(root: Path) -> list[Step]:
    steps = [_pyproject(root / "pyproject.toml"), _gitignore(root / ".gitignore")]
    for relative, text in (
        ("tests/integration/conftest.py", CONFTEST),
        (".github/workflows/contracttape-replay.yml", REPLAY_WORKFLOW),
        (".github/workflows/contracttape-drift.yml", DRIFT_WORKFLOW),
    ):
        steps.append(_file(root / relative, text))
    return steps


def _pyproject(path: Path) -> Step:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "[tool.contracttape]" in text:
        return Step(path, "already there")
    write_atomic(path, text.rstrip() + ("\n" if text else "") + TOOL_TABLE)
    return Step(path, "added to" if text else "created")


def _gitignore(path: Path) -> Step:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip() for line in text.splitlines()}
    missing = [line for line in GITIGNORE if line not in present]
    if not missing:
        return Step(path, "already there")
    write_atomic(path, text + ("" if not text or text.endswith("\n") else "\n") + "\n".join(missing) + "\n")
    return Step(path, "added to" if text else "created")


def _file(path: Path, text: str) -> Step:
    if path.exists():
        return Step(path, "already there")
    write_atomic(path, text)
    return Step(path, "created")
