"""A run's results per test, written by the plugin as ``.contracttape/runs/<run id>.results.json``
(the controller writes it for every xdist worker, from the reports it receives).

    {"format": 1, "run": "<run id>", "mode": "replay" | "record", "target": "sandbox" | "live",
     "started_at": "...", "finished_at": "...", "cap_usd": 0.5 | null,
     "tests": {"<node id>": {"concern": "docpipe_rls", "outcome": "passed" | "failed" |
               "skipped" | "error", "refused_by_budget": false, "cost_usd": 0.0075}}}
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracttape.atomic import write_atomic
from contracttape.redact import redacted_test_id

FORMAT_VERSION = 1


def runs_dir(root: Path) -> Path:
    """Where a project's run records live: ``<run>.results.json`` and ``<run>.faults.json``."""
    return root / ".contracttape" / "runs"


def concern_of(nodeid: str) -> str:
    """A test's concern: its module, without the ``test_`` prefix (``test_docpipe_rls.py`` ->
    ``docpipe_rls``)."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return module.removeprefix("test_") or module


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass
class RunResults:
    run: str
    mode: str
    target: str
    cap_usd: float | None = None
    started_at: str = field(default_factory=now)
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, nodeid: str, when: str, outcome: str) -> None:
        """One report of a test (setup, call or teardown): a failing setup or teardown is an
        error, a skip in any phase a skip."""
        entry = self.tests.setdefault(
            redacted_test_id(nodeid),
            {"concern": concern_of(nodeid), "outcome": "passed", "refused_by_budget": False, "cost_usd": 0.0},
        )
        if outcome == "skipped":
            entry["outcome"] = "skipped"
        elif outcome == "failed":
            entry["outcome"] = "failed" if when == "call" else "error"

    def note(self, nodeid: str, cost_usd: float | None = None, refused: bool = False) -> None:
        entry = self.tests.get(redacted_test_id(nodeid))
        if entry is None:
            return
        if cost_usd is not None:
            entry["cost_usd"] = round(float(cost_usd), 9)
        if refused:
            entry["refused_by_budget"] = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_VERSION,
            "run": self.run,
            "mode": self.mode,
            "target": self.target,
            "cap_usd": self.cap_usd,
            "started_at": self.started_at,
            "finished_at": now(),
            "tests": dict(sorted(self.tests.items())),
        }

    def write(self, directory: Path) -> Path | None:
        if not self.tests:
            return None
        path = directory / f"{self.run}.results.json"
        write_atomic(path, json.dumps(self.as_dict(), indent=1, sort_keys=True) + "\n")
        return path


def latest(directory: Path, run: str | None = None) -> dict[str, Any] | None:
    """The results of ``run``, or of the latest run recorded in ``directory`` (None: none)."""
    if run is not None:
        paths = [directory / f"{run}.results.json"]
    else:
        paths = sorted(directory.glob("*.results.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == FORMAT_VERSION:
            return data
    return None
