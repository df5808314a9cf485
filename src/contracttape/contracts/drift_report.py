"""The drift report: ``drift-report.json`` (versioned, stable) and ``drift-report.md`` (grouped
by service and endpoint, severity first, before/after and sample counts), and the cheapest set
of tests that re-observes every contracted endpoint (``drift --plan``).

JSON format 1::

    {"format": 1, "generated_at": "...", "source": "sandbox revision 2" | "cassettes DIR",
     "summary": {"ERR": n, "WARN": n, "INFO": n, "exit": 0|1},
     "findings": [{"endpoint", "path", "rule", "severity", "before", "after",
                   "samples": {"before", "after"}, "note"}],
     "ignored": [...same...], "not_reobserved": ["openai GET /v1/models 2xx", ...]}
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracttape.atomic import write_atomic
from contracttape.contracts.drift import ERR, INFO, SEVERITIES, WARN, DriftResult
from contracttape.services.profile import Endpoint

FORMAT_VERSION = 1


def report_data(result: DriftResult, source: str) -> dict[str, Any]:
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings = sorted(result.findings, key=lambda f: (order[f.severity], f.endpoint, f.path, f.rule))
    return {
        "format": FORMAT_VERSION,
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "source": source,
        "summary": {
            **{s: sum(f.severity == s for f in result.findings) for s in SEVERITIES},
            "exit": 1 if result.drifted else 0,
        },
        "findings": [f.as_dict() for f in findings],
        "ignored": [f.as_dict() for f in result.ignored],
        "not_reobserved": sorted(result.not_reobserved),
    }


def report_markdown(data: Mapping[str, Any]) -> str:
    summary = data["summary"]
    lines = [
        "# API drift report",
        "",
        f"Source: {data['source']}. {summary[ERR]} breaking (ERR), {summary[WARN]} possibly breaking "
        f"(WARN), {summary[INFO]} informational (INFO).",
        "",
    ]
    if not data["findings"]:
        lines += ["No drift: every re-observed endpoint still matches its contract.", ""]
    by_endpoint: dict[str, list[Mapping[str, Any]]] = {}
    for finding in data["findings"]:
        by_endpoint.setdefault(finding["endpoint"], []).append(finding)
    for endpoint in sorted(
        by_endpoint, key=lambda e: (min(SEVERITIES.index(f["severity"]) for f in by_endpoint[e]), e)
    ):
        lines += [
            f"## {endpoint}",
            "",
            "| severity | path | rule | before | after | samples | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in by_endpoint[endpoint]:
            samples = f"{f['samples']['before']} → {f['samples']['after']}"
            cells = [
                f["severity"],
                f"`{f['path']}`",
                f"`{f['rule']}`",
                f["before"],
                f["after"],
                samples,
                f["note"],
            ]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    if data["not_reobserved"]:
        lines += ["## Not re-observed", "", "No new traffic reached these contracted endpoints:", ""]
        lines += [f"- {e}" for e in data["not_reobserved"]] + [""]
    if data["ignored"]:
        lines += ["## Ignored by contracts/drift.toml", ""]
        lines += [f"- {f['endpoint']} `{f['path']}` `{f['rule']}`: {f['note']}" for f in data["ignored"]] + [
            ""
        ]
    return "\n".join(lines)


def write_reports(directory: Path, data: Mapping[str, Any]) -> tuple[Path, Path]:
    json_path, md_path = directory / "drift-report.json", directory / "drift-report.md"
    write_atomic(json_path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    write_atomic(md_path, report_markdown(data))
    return json_path, md_path


# -- the cheapest set of tests that re-observes every endpoint ----------------------------------------


@dataclass
class Plan:
    tests: list[str] = field(default_factory=list)
    cost_usd: float = 0.0
    covered: set[Endpoint] = field(default_factory=set)
    uncovered: set[Endpoint] = field(default_factory=set)  # contracted, but over budget or never recorded


def cheapest_cover(
    tests: Mapping[str, tuple[float, set[Endpoint]]], wanted: Iterable[Endpoint], budget: float | None
) -> Plan:
    """Greedy weighted set cover: repeatedly take the test with the lowest recorded cost per
    endpoint it newly covers, within the budget. ``tests``: test id -> (recorded cost, endpoints)."""
    plan, missing = Plan(), set(wanted)
    remaining = dict(tests)
    while missing:
        scored = [
            (cost / len(endpoints & missing), test)
            for test, (cost, endpoints) in remaining.items()
            if endpoints & missing and (budget is None or plan.cost_usd + cost <= budget + 1e-12)
        ]
        if not scored:
            break
        _score, test = min(scored)
        cost, endpoints = remaining.pop(test)
        plan.tests.append(test)
        plan.cost_usd += cost
        plan.covered |= endpoints & missing
        missing -= endpoints
    plan.uncovered = missing
    return plan
