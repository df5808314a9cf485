"""Spend reports from the ledger: the terminal summary and `contracttape budget report`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from contracttape.budget.ledger import ORPHANED, REFUSED, RESERVED, Entry


def totals(entries: Iterable[Entry], key: str) -> dict[str, float]:
    sums: dict[str, float] = defaultdict(float)
    for entry in entries:
        sums[str(getattr(entry, key))] += entry.amount
    return dict(sorted(sums.items()))


def refused_tests(entries: Iterable[Entry]) -> list[str]:
    return sorted({e.test for e in entries if e.state == REFUSED})


def spend_summary(entries: Sequence[Entry], cap: float | None, run_id: str) -> list[str]:
    if not entries:
        return []
    spent = sum(e.amount for e in entries)
    estimated = sum(e.estimate for e in entries if e.state != REFUSED)
    lines = [
        f"spend this run ({run_id}): ${spent:.6f}"
        + (f" of a ${cap:.4f} cap" if cap is not None else " (no cap)")
        + f"; worst-case estimates ${estimated:.6f}",
        "  by service: " + ", ".join(f"{k} ${v:.6f}" for k, v in totals(entries, "service").items()),
    ]
    by_test = [(v, k) for k, v in totals(entries, "test").items() if v > 0]
    for value, test in sorted(by_test, reverse=True)[:10]:
        lines.append(f"  ${value:.6f}  {test}")
    refused = refused_tests(entries)
    if refused:
        lines.append(f"not re-recorded (refused by the budget, old cassettes kept): {len(refused)}")
        lines += [f"  {t}" for t in refused]
    return lines


def _held(entries: Iterable[Entry], state: str) -> dict[str, Any]:
    chosen = [e for e in entries if e.state == state]
    return {"entries": len(chosen), "estimate_usd": round(sum(e.estimate for e in chosen), 9)}


def report(entries: Sequence[Entry]) -> dict[str, Any]:
    """Spend (settled actuals plus reservations still held) and, apart, what is not spend:
    reservations released because their process died (orphaned), and refusals."""
    return {
        "total_usd": round(sum(e.amount for e in entries), 9),
        "settled_usd": round(sum(e.amount for e in entries if e.state not in (RESERVED,)), 9),
        "reserved": _held(entries, RESERVED),
        "orphaned": _held(entries, ORPHANED),
        "by_run": totals(entries, "run"),
        "by_service": totals(entries, "service"),
        "by_endpoint": totals(entries, "endpoint"),
        "by_test": totals(entries, "test"),
        "refused": refused_tests(entries),
        "entries": len(entries),
    }


def report_lines(data: dict[str, Any]) -> list[str]:
    lines = [f"total spend: ${data['total_usd']:.6f} over {data['entries']} ledger entries"]
    for section in ("by_run", "by_service", "by_endpoint", "by_test"):
        lines.append(section.replace("_", " ") + ":")
        width = max((len(k) for k in data[section]), default=0)
        lines += [
            f"  {k:<{width}}  ${v:.6f}" for k, v in sorted(data[section].items(), key=lambda kv: -kv[1])
        ]
    held, orphaned = data["reserved"], data["orphaned"]
    if held["entries"]:
        lines.append(
            f"reserved, in flight (counted as spend until settled): {held['entries']} entries, "
            f"${held['estimate_usd']:.6f}"
        )
    if orphaned["entries"]:
        lines.append(
            f"orphaned reservations, released (their process ended before settling; not spend): "
            f"{orphaned['entries']} entries, ${orphaned['estimate_usd']:.6f} estimated"
        )
    if data["refused"]:
        lines.append("refused (not re-recorded): " + ", ".join(data["refused"]))
    return lines
