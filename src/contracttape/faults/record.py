"""The faults a run served, test by test: for the terminal summary and the run record.

Each test's served faults arrive with its pytest reports (``user_properties``, so xdist workers'
reach the controller too). The run record is ``.contracttape/runs/<run id>.faults.json``: no
cassette holds faults, so this is where a run's are kept (and what a report reads).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracttape.atomic import write_atomic
from contracttape.redact import redacted_test_id

RUN_RECORD_VERSION = 1


@dataclass
class TestFaults:
    outcome: str = "passed"
    served: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FaultLog:
    tests: dict[str, TestFaults] = field(default_factory=dict)

    def add(self, nodeid: str, when: str, outcome: str, served: list[dict[str, Any]] | None) -> None:
        """One report: the call's outcome (a failing setup or teardown fails the test too)."""
        nodeid = redacted_test_id(nodeid)  # written to the run record: no secret-shaped parameter
        if not served and nodeid not in self.tests:
            return
        entry = self.tests.setdefault(nodeid, TestFaults())
        if served and len(served) >= len(entry.served):
            entry.served = list(served)
        if when == "call" or outcome == "failed":
            entry.outcome = outcome if entry.outcome != "failed" else "failed"

    @property
    def count(self) -> int:
        return sum(len(t.served) for t in self.tests.values())

    def summary(self, chaos: str | None, limit: int = 40) -> list[str]:
        if not self.tests:
            return (
                [f"chaos {chaos}: no fault was served (no request reached a known service)"] if chaos else []
            )
        failed = {k: v for k, v in self.tests.items() if v.outcome == "failed"}
        lines = [
            f"faults served: {self.count} in {len(self.tests)} test(s)"
            + (f" (chaos {chaos})" if chaos else "")
            + f"; {len(failed)} of those test(s) failed"
        ]
        shown = sorted(self.tests.items(), key=lambda kv: (kv[1].outcome != "failed", kv[0]))
        for nodeid, entry in shown[:limit]:
            lines.append(f"  {entry.outcome.upper()} {nodeid}")
            lines += [f"    {_describe(served)}" for served in entry.served[:5]]
            if len(entry.served) > 5:
                lines.append(f"    ... and {len(entry.served) - 5} more")
        if len(shown) > limit:
            lines.append(f"  ... and {len(shown) - limit} more test(s): see the run record")
        return lines

    def as_dict(self, run_id: str, chaos: str | None) -> dict[str, Any]:
        return {
            "version": RUN_RECORD_VERSION,
            "run_id": run_id,
            "chaos": chaos,
            "faults_served": self.count,
            "tests": {k: {"outcome": v.outcome, "faults": v.served} for k, v in sorted(self.tests.items())},
        }

    def write(self, directory: Path, run_id: str, chaos: str | None) -> Path | None:
        if not self.tests and not chaos:
            return None
        path = directory / f"{run_id}.faults.json"
        write_atomic(path, json.dumps(self.as_dict(run_id, chaos), indent=2) + "\n")
        return path


def _describe(served: dict[str, Any]) -> str:
    where = served.get("endpoint") or served.get("request")
    return f"{served['fault']} on {where} (call {served['call']}, {served['source']}): {served['outcome']}"
