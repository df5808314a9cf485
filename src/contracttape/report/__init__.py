"""The testing summary: one report of a project's suite, from facts (docs/report.md).

``results``: what a run did, per test (the plugin writes it); ``facts``: everything the report
says, gathered from the run, the cassettes, the contracts, the ledger and the latest drift
report, as one versioned JSON document; ``markdown`` and ``html`` render that document.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMATS = ("md", "html", "json")


def formats_from(text: str) -> list[str]:
    """``"md,html"`` -> the formats; ValueError naming any unknown one (or none given)."""
    wanted = [f.strip() for f in text.split(",") if f.strip()]
    unknown = sorted(set(wanted) - set(FORMATS))
    if unknown or not wanted:
        raise ValueError(
            f"unknown format(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}"
        )
    return wanted


def write_report(doc: dict[str, Any], out: Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """``report.md``, ``report.html``, ``report.json`` in ``out`` (atomically); the Markdown is
    also appended to ``$GITHUB_STEP_SUMMARY`` when CI sets it."""
    from contracttape.atomic import write_atomic
    from contracttape.report import html, markdown

    wanted = formats_from(",".join(formats))
    written = []
    text = {"md": markdown.render, "html": html.render}
    for fmt in FORMATS:
        if fmt not in wanted:
            continue
        path = out / f"report.{fmt}"
        body = json.dumps(doc, indent=2, sort_keys=True) + "\n" if fmt == "json" else text[fmt](doc)
        write_atomic(path, body)
        written.append(path)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown.render(doc) + "\n")
    return written
