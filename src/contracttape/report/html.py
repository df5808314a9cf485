"""The report as one self-contained HTML page: styles inline, charts as inline SVG, no script,
no request to anywhere. Every figure also shown in the JSON carries ``data-figure="<json path>"``,
so a test (or a reader) can hold the page to the document it was rendered from."""

from __future__ import annotations

from html import escape
from typing import Any

from contracttape.report.facts import OUTCOMES
from contracttape.report.markdown import CHECKS

STYLE = "".join(
    (
        "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;",
        "max-width:72rem;color:#1d232a;padding:0 1rem}",
        "h1{font-size:1.6rem}h2{margin-top:2rem;border-bottom:1px solid #d8dee4;padding-bottom:.2rem}",
        "table{border-collapse:collapse;margin:.6rem 0 1rem}",
        "th,td{padding:.25rem .6rem;border:1px solid #d8dee4;text-align:left}",
        "th{background:#f3f5f7}td.n{text-align:right;font-variant-numeric:tabular-nums}",
        ".pass{color:#116329}.fail{color:#b3261e;font-weight:600}.unknown{color:#6e7781}",
        ".muted{color:#6e7781}figure{margin:1rem 0}figcaption{color:#6e7781;font-size:.9rem}",
    )
)


def _fig(path: str, value: Any, text: str | None = None) -> str:
    return f'<span data-figure="{escape(path)}">{escape(text if text is not None else str(value))}</span>'


def _usd(value: Any) -> str:
    return "-" if value is None else f"${float(value):.6f}"


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def bar_chart(title: str, bars: list[tuple[str, float]], unit: str, figure: str) -> str:
    """A horizontal bar chart as inline SVG (labels, values, no script)."""
    if not bars:
        return f'<p class="muted">{escape(title)}: nothing to show yet.</p>'
    width, row, label_w = 640, 22, 190
    top = max(v for _, v in bars) or 1.0
    height = row * len(bars) + 10
    parts = [
        f'<svg role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" data-chart="{escape(figure)}">'
    ]
    for i, (label, value) in enumerate(bars):
        y = 5 + i * row
        w = max(1.0, (width - label_w - 110) * value / top)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{escape(label[-28:])}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="#4c72b0"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" font-size="12">{escape(unit.format(value))}</text>'
        )
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{escape(title)}</figcaption></figure>"


AGE_BUCKETS = [
    ("under a week", 7),
    ("1-4 weeks", 30),
    ("1-3 months", 90),
    ("3-12 months", 365),
    ("over a year", None),
]


def age_buckets(ages: list[float]) -> list[tuple[str, float]]:
    counts = []
    low = -1.0
    for label, high in AGE_BUCKETS:
        counts.append((label, float(sum(1 for a in ages if a > low and (high is None or a <= high)))))
        low = float(high) if high is not None else low
    return counts


def render(doc: dict[str, Any]) -> str:
    run = doc["run"]
    out = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Testing summary: {escape(doc['project'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Testing summary: {escape(doc['project'])}</h1>",
    ]
    if run:
        out.append(
            f"<p>Run <code>{_fig('run.run', run['run'])}</code> ({escape(str(run['mode']))}, "
            f"{escape(str(run['target']))}), {escape(str(run['started_at']))} to "
            f"{escape(str(run['finished_at']))}."
            f' <span class="muted">Generated {escape(doc["generated_at"])}.</span></p>'
        )
    else:
        out.append(f'<p class="muted">No run results yet. Generated {escape(doc["generated_at"])}.</p>')

    out.append("<h2>Readiness</h2>")
    rows = []
    for name, r in doc["readiness"].items():
        cells = [escape(name), _fig(f"readiness.{name}.ready", r["ready"], "yes" if r["ready"] else "no")]
        for check in CHECKS:
            c = r["checks"][check]
            cells.append(
                f'<span class="{c["status"]}" title="{escape(c["detail"])}" '
                f'data-figure="readiness.{escape(name)}.checks.{check}.status">{c["status"]}</span>'
                f'<br><small class="muted">{escape(c["detail"])}</small>'
            )
        rows.append(cells)
    out.append(_table(["service", "ready", *CHECKS.values()], rows))

    tests = doc["tests"]
    out.append("<h2>Tests per concern</h2>")
    columns = [*OUTCOMES, "refused_by_budget"]
    rows = [
        [escape(concern), *(_fig(f"tests.by_concern.{concern}.{c}", row[c]) for c in columns)]
        for concern, row in tests["by_concern"].items()
    ]
    rows.append(["<b>total</b>", *(_fig(f"tests.total.{c}", tests["total"][c]) for c in columns)])
    out.append(_table(["concern", *(c.replace("_", " ") for c in columns)], rows, numeric=set(range(1, 6))))

    spend = doc["spend"]
    out.append("<h2>Spend</h2>")
    if "error" in spend:
        out.append(f"<p class=fail>The ledger could not be read: {escape(spend['error'])}</p>")
    else:
        this = spend["this_run"]
        cap = f" of a {_usd(this['cap_usd'])} cap" if this["cap_usd"] is not None else ""
        out.append(
            "<p>This run: <b>"
            f"{_fig('spend.this_run.total_usd', this['total_usd'], _usd(this['total_usd']))}</b>"
            f"{escape(cap)}; all runs in the ledger: "
            f"{_fig('spend.total_usd', spend['total_usd'], _usd(spend['total_usd']))}.</p>"
        )
        if this["by_service"]:
            out.append(
                _table(
                    ["service", "this run"],
                    [
                        [escape(k), _fig(f"spend.this_run.by_service.{k}", v, _usd(v))]
                        for k, v in this["by_service"].items()
                    ],
                    numeric={1},
                )
            )
        runs = list(spend["by_run"].items())[-20:]
        out.append(
            bar_chart("Spend per run (the last 20 in the ledger), USD", runs, "${:.4f}", "spend.by_run")
        )
        months = list(spend["by_month"].items())
        out.append(bar_chart("Spend per month, USD", months, "${:.4f}", "spend.by_month"))

    contracts = doc["contracts"]
    out.append("<h2>Contracts</h2>")
    out.append(
        _table(
            ["service", "endpoints", "samples", "recorded with no contract"],
            [
                [
                    escape(k),
                    _fig(f"contracts.by_service.{k}.endpoints", v["endpoints"]),
                    _fig(f"contracts.by_service.{k}.samples", v["samples"]),
                    _fig(f"contracts.by_service.{k}.uncovered", v["uncovered"]),
                ]
                for k, v in contracts["by_service"].items()
            ],
            numeric={1, 2, 3},
        )
    )
    out.append(
        f"<p>{_fig('contracts.responses_checked', contracts['responses_checked'])} "
        "recorded response(s) checked, "
        f"{_fig('contracts.violations', contracts['violations'])} violation(s).</p>"
    )
    held = [(e["endpoint"], e["held_back"]) for e in contracts["endpoints"] if e["held_back"]]
    if held:
        out.append("<p>Fields not yet required for lack of evidence:</p><ul>")
        out += [f"<li>{escape(e)}: <code>{escape(', '.join(f[:8]))}</code></li>" for e, f in held]
        out.append("</ul>")

    cassettes = doc["cassettes"]
    out.append("<h2>Cassettes</h2>")
    targets = ", ".join(f"{n} {t}" for t, n in cassettes["by_target"].items()) or "none"
    share = f"{cassettes['live_share']:.0%}"
    out.append(
        f"<p>{_fig('cassettes.count', cassettes['count'])} cassette(s): {escape(targets)}; "
        f"{_fig('cassettes.live_share', cassettes['live_share'], share)} recorded "
        f"against the live services; {_fig('cassettes.stale', cassettes['stale'])} older than "
        f"{doc['settings']['stale_days']} days.</p>"
    )
    ages = [float(c["age_days"]) for c in cassettes["items"] if c["age_days"] is not None]
    out.append(bar_chart("Cassettes by age", age_buckets(ages), "{:.0f}", "cassettes.age"))
    out.append(
        _table(
            ["cassette", "target", "age (days)", "SDKs"],
            [
                [
                    escape(c["path"]) + (' <span class="fail">stale</span>' if c["stale"] else ""),
                    escape(c["target"]),
                    escape(str(c["age_days"])),
                    escape(
                        ", ".join(
                            f"{k} {v}"
                            for k, v in c["versions"].items()
                            if k not in ("python", "contracttape")
                        )
                    ),
                ]
                for c in sorted(cassettes["items"], key=lambda c: -(c["age_days"] or 0))
            ],
            numeric={2},
        )
    )

    drift = doc["drift"]
    out.append("<h2>Drift</h2>")
    if drift["summary"] is None:
        out.append('<p class="muted">No drift report yet: <code>make drift</code> writes one.</p>')
    else:
        s = drift["summary"]
        out.append(
            f"<p>Latest report ({escape(str(drift['generated_at']))}, {escape(str(drift['source']))}): "
            f"{_fig('drift.summary.ERR', s['ERR'])} ERR, {_fig('drift.summary.WARN', s['WARN'])} WARN, "
            f"{_fig('drift.summary.INFO', s['INFO'])} INFO.</p>"
        )
        rows = [
            [
                escape(f["severity"]),
                escape(str(f["endpoint"])),
                escape(str(f["path"])),
                escape(str(f["rule"])),
            ]
            for f in drift["findings"]
        ]
        if rows:
            out.append(_table(["severity", "endpoint", "path", "rule"], rows))
    live = drift["last_observed_live"]
    out.append(f"<p>Endpoints observed live: {_fig('drift.last_observed_live', len(live))}.</p>")
    out.append("</body></html>\n")
    return "".join(out)
