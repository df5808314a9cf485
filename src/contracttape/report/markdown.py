"""The report as Markdown: what a team reads after a run (and what CI appends to
``$GITHUB_STEP_SUMMARY``). Rendered from the facts document only."""

from __future__ import annotations

from typing import Any

from contracttape.report.facts import OUTCOMES

MARK = {"pass": "pass", "fail": "FAIL", "unknown": "unknown"}
CHECKS = {
    "recorded_live": "recorded live recently",
    "no_breaking_drift": "no open ERR drift",
    "every_endpoint_contracted": "every endpoint contracted",
    "resilience_tested": "resilience tests (429, 5xx, timeout)",
}


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(cell(v) for v in row) + " |" for row in rows),
        "",
    ]


def _usd(value: Any) -> str:
    return "-" if value is None else f"${float(value):.6f}"


def render(doc: dict[str, Any]) -> str:
    run = doc["run"]
    lines = [f"# Testing summary: {doc['project']}", ""]
    if run:
        lines += [
            f"Run `{run['run']}` ({run['mode']}, {run['target']}), {run['started_at']} to "
            f"{run['finished_at']}. Generated {doc['generated_at']}.",
            "",
        ]
    else:
        lines += [f"No run results yet (run the suite first). Generated {doc['generated_at']}.", ""]

    lines += ["## Readiness", ""]
    services = doc["readiness"]
    lines += _table(
        ["service", "ready", *CHECKS.values()],
        [
            [name, "yes" if r["ready"] else "no", *(MARK[r["checks"][c]["status"]] for c in CHECKS)]
            for name, r in services.items()
        ],
    )
    for name, r in services.items():
        notes = [
            f"{CHECKS[c]}: {r['checks'][c]['detail']}" for c in CHECKS if r["checks"][c]["status"] != "pass"
        ]
        if notes:
            lines.append(f"- **{name}**: " + "; ".join(notes))
    lines.append("")

    tests = doc["tests"]
    lines += ["## Tests per concern", ""]
    columns = [*OUTCOMES, "refused_by_budget"]
    lines += _table(
        ["concern", *[c.replace("_", " ") for c in columns]],
        [[concern, *(row[c] for c in columns)] for concern, row in tests["by_concern"].items()]
        + [["**total**", *(tests["total"][c] for c in columns)]],
    )

    spend = doc["spend"]
    lines += ["## Spend", ""]
    if "error" in spend:
        lines += [f"The ledger could not be read: {spend['error']}", ""]
    else:
        this = spend["this_run"]
        cap = f" of a {_usd(this['cap_usd'])} cap" if this["cap_usd"] is not None else ""
        lines += [
            f"This run: **{_usd(this['total_usd'])}**{cap}; "
            f"all runs in the ledger: {_usd(spend['total_usd'])}.",
            "",
        ]
        if this["by_service"]:
            lines += _table(["service", "this run"], [[k, _usd(v)] for k, v in this["by_service"].items()])
        top = sorted(this["by_test"].items(), key=lambda kv: -kv[1])[:10]
        if top:
            lines += _table(["test", "cost"], [[k, _usd(v)] for k, v in top])
        if spend["by_month"]:
            lines += _table(["month", "spend"], [[k, _usd(v)] for k, v in spend["by_month"].items()])

    contracts = doc["contracts"]
    lines += ["## Contracts", ""]
    lines += _table(
        ["service", "endpoints", "samples", "recorded with no contract"],
        [[k, v["endpoints"], v["samples"], v["uncovered"]] for k, v in contracts["by_service"].items()],
    )
    lines += [
        f"{contracts['responses_checked']} recorded response(s) checked, "
        f"{contracts['violations']} violation(s).",
        "",
    ]
    for endpoint in contracts["uncovered"]:
        lines.append(f"- no contract: {endpoint}")
    held = [(e["endpoint"], e["held_back"]) for e in contracts["endpoints"] if e["held_back"]]
    if held:
        lines += [
            "",
            "Fields not yet required for lack of evidence (seen in every sample, too few samples):",
            "",
        ]
        for endpoint, fields in held:
            lines.append(f"- {endpoint}: {', '.join(fields[:8])}" + (" ..." if len(fields) > 8 else ""))
    lines.append("")

    cassettes = doc["cassettes"]
    lines += ["## Cassettes", ""]
    targets = ", ".join(f"{n} {t}" for t, n in cassettes["by_target"].items()) or "none"
    lines += [
        f"{cassettes['count']} cassette(s): {targets}; {cassettes['live_share']:.0%} recorded against the "
        f"live services; {cassettes['stale']} older than {doc['settings']['stale_days']} days.",
        "",
    ]
    oldest = sorted(
        (c for c in cassettes["items"] if c["age_days"] is not None), key=lambda c: -c["age_days"]
    )[:10]
    lines += _table(
        ["cassette", "target", "age (days)", "stale", "SDKs"],
        [
            [
                c["path"],
                c["target"],
                c["age_days"],
                "yes" if c["stale"] else "",
                ", ".join(
                    f"{k} {v}" for k, v in c["versions"].items() if k not in ("python", "contracttape")
                ),
            ]
            for c in oldest
        ],
    )

    drift = doc["drift"]
    lines += ["## Drift", ""]
    if drift["summary"] is None:
        lines += ["No drift report yet: `make drift` writes one.", ""]
    else:
        s = drift["summary"]
        lines += [
            f"Latest report ({drift['generated_at']}, {drift['source']}): {s['ERR']} ERR, {s['WARN']} WARN, "
            f"{s['INFO']} INFO.",
            "",
        ]
        errs = [f for f in drift["findings"] if f["severity"] in ("ERR", "WARN")]
        if errs:
            lines += _table(
                ["severity", "endpoint", "path", "rule"],
                [[f["severity"], f["endpoint"], f["path"], f["rule"]] for f in errs],
            )
    live = drift["last_observed_live"]
    lines += [
        f"Endpoints observed live: {len(live)}" + (f" (latest {max(live.values())})." if live else "."),
        "",
    ]
    return "\n".join(lines).rstrip() + "\n"
