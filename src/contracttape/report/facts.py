"""Everything the testing summary says, gathered from facts into one versioned JSON document.

Sources: the run's results (``results.py``, written by the plugin for every worker), the
cassettes' provenance, the contracts, the ledger, the latest drift report and the faults the run
served. The document's fields are listed in docs/report.md; ``FORMAT_VERSION`` changes when a
field changes meaning or goes away (new fields may be added within a version).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracttape.budget import open_ledger
from contracttape.budget.ledger import Entry
from contracttape.budget.spend import totals
from contracttape.cassettes import CassetteCache
from contracttape.contracts.book import ContractBook, ContractFile, validate_cassettes
from contracttape.contracts.inference import EVIDENCE
from contracttape.errors import ContractTapeError
from contracttape.report import results as run_results
from contracttape.services.profile import Catalogue
from contracttape.settings import Settings, load_settings

FORMAT_VERSION = 1
OUTCOMES = ("passed", "failed", "skipped", "error")


# the failure modes a service's resilience tests should cover, by the faults they were served
def _is_429(kind: str) -> bool:
    return kind == "429"


def _is_5xx(kind: str) -> bool:
    return kind.isdigit() and kind.startswith("5")


def _is_timeout(kind: str) -> bool:
    return "timeout" in kind


FAILURE_MODES: dict[str, Callable[[str], bool]] = {
    "rate limit (429)": _is_429,
    "server error (5xx)": _is_5xx,
    "timeout": _is_timeout,
}


@dataclass(frozen=True)
class Options:
    run: str | None = None  # a run id; None: the latest run with results
    stale_days: int = 90  # a cassette older than this is stale
    live_days: int = 30  # "recorded live within N days" on the readiness checklist
    drift: Path | None = None  # a drift-report.json; None: .contracttape/drift/drift-report.json
    now: dt.datetime | None = None  # for tests


def gather(root: Path, options: Options | None = None) -> dict[str, Any]:
    options = options or Options()
    settings = load_settings(root)
    now = options.now or dt.datetime.now(dt.UTC)
    runs_dir = run_results.runs_dir(root)
    run = run_results.latest(runs_dir, options.run)
    if options.run is not None and run is None:
        raise ContractTapeError(
            f"no results for run {options.run} in {runs_dir}: run the suite first, or leave --run out"
        )
    cache = CassetteCache()  # every cassette parsed once, for their rows and their contract check
    catalogue = settings.catalogue()  # built once: it imports every profile
    cassettes = _cassettes(settings, catalogue, now, options, cache)
    contracts = _contracts(settings, catalogue, cache)
    spend = _spend(settings, root, run)
    drift = _drift(options.drift or root / ".contracttape" / "drift" / "drift-report.json", cassettes)
    faults = _faults(runs_dir, run)
    return {
        "format": FORMAT_VERSION,
        "generated_at": now.replace(microsecond=0).isoformat(),
        "project": root.name,
        "run": _run_summary(run),
        "tests": _tests(run),
        "cassettes": cassettes,
        "contracts": contracts,
        "spend": spend,
        "drift": drift,
        "faults": faults,
        "readiness": _readiness(cassettes, contracts, drift, faults, options),
        "settings": {"stale_days": options.stale_days, "live_days": options.live_days},
    }


# -- tests ------------------------------------------------------------------------------------------


def _run_summary(run: dict[str, Any] | None) -> dict[str, Any] | None:
    if run is None:
        return None
    keys = ("run", "mode", "target", "cap_usd", "started_at", "finished_at")
    return {k: run.get(k) for k in keys}


def _tests(run: dict[str, Any] | None) -> dict[str, Any]:
    by_concern: dict[str, Counter[str]] = defaultdict(Counter)
    for test in (run or {}).get("tests", {}).values():
        counts = by_concern[str(test.get("concern", "?"))]
        counts[str(test.get("outcome", "passed"))] += 1
        counts["refused_by_budget"] += int(bool(test.get("refused_by_budget")))
    rows = {
        concern: {key: counts.get(key, 0) for key in (*OUTCOMES, "refused_by_budget")}
        for concern, counts in sorted(by_concern.items())
    }
    total = {key: sum(r[key] for r in rows.values()) for key in (*OUTCOMES, "refused_by_budget")}
    return {"by_concern": rows, "total": total}


# -- cassettes --------------------------------------------------------------------------------------


def _age_days(recorded_at: str, now: dt.datetime) -> float | None:
    try:
        when = dt.datetime.fromisoformat(recorded_at)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return round((now - when).total_seconds() / 86400, 1)


def _cassettes(
    settings: Settings, catalogue: Catalogue, now: dt.datetime, options: Options, cache: CassetteCache
) -> dict[str, Any]:
    rows, unreadable = [], []
    for path in sorted(settings.cassettes.rglob("*.yaml")):
        try:
            cassette = cache.load(path)
        except ContractTapeError as exc:
            unreadable.append(str(exc))
            continue
        if cassette is None:
            continue
        meta = dict(cassette.meta)
        recorded_at = str(meta.get("recorded_at") or "")
        age = _age_days(recorded_at, now)
        endpoints = set()
        for interaction in cassette.interactions:
            endpoint = catalogue.endpoint(
                interaction.request, interaction.response.status, interaction.response
            )
            if endpoint is not None:
                endpoints.add(endpoint.describe())
        rows.append(
            {
                "path": str(path.relative_to(settings.root))
                if path.is_relative_to(settings.root)
                else str(path),
                "test": meta.get("test"),
                "target": str(meta.get("target") or "unknown"),
                "recorded_at": recorded_at or None,
                "age_days": age,
                "stale": age is not None and age > options.stale_days,
                "interactions": len(cassette.interactions),
                "cost_usd": round(sum(i.cost_usd or 0.0 for i in cassette.interactions), 9),
                "versions": dict(meta.get("versions") or {}),
                "services": sorted({e.split(" ", 1)[0] for e in endpoints}),
                "endpoints": sorted(endpoints),
            }
        )
    by_target = Counter(r["target"] for r in rows)
    return {
        "count": len(rows),
        "by_target": dict(sorted(by_target.items())),
        "live_share": round(by_target.get("live", 0) / len(rows), 3) if rows else 0.0,
        "stale": sum(r["stale"] for r in rows),
        "unreadable": unreadable,
        "items": rows,
    }


# -- contracts --------------------------------------------------------------------------------------


def held_back(evidence: dict[str, Any], required_after: int, path: str = "$") -> list[str]:
    """Fields seen in every sample so far, but in fewer samples than a contract needs before it
    requires them: the contract describes them without demanding them yet."""
    found: list[str] = []
    for alternative in evidence.get("anyOf", [evidence]):
        meta = alternative.get(EVIDENCE, {})
        count, keys = meta.get("count", 0), meta.get("keys", {})
        for key, sub in sorted(alternative.get("properties", {}).items()):
            if 0 < count == keys.get(key, 0) < required_after:
                found.append(f"{path}.{key}")
            found += held_back(sub, required_after, f"{path}.{key}")
        if isinstance(alternative.get("items"), dict):
            found += held_back(alternative["items"], required_after, f"{path}[*]")
    return found


def _contracts(settings: Settings, catalogue: Catalogue, cache: CassetteCache) -> dict[str, Any]:
    endpoints: list[dict[str, Any]] = []
    errors: list[str] = []
    for path in sorted(settings.contracts.rglob("*.schema.json")):
        try:
            contract = ContractFile.load(path)
        except ContractTapeError as exc:
            errors.append(str(exc))
            continue
        endpoints.append(
            {
                "endpoint": contract.endpoint.describe(),
                "service": contract.endpoint.service,
                "samples": contract.samples,
                "json": bool(contract.evidence),
                "media_types": contract.media_types,
                "last_seen": contract.last_seen or None,
                "held_back": held_back(contract.evidence, contract.required_after)
                if contract.evidence
                else [],
            }
        )
    check = validate_cassettes(settings.cassettes, ContractBook(settings.contracts, catalogue), cache)
    uncovered = sorted({e.describe() for _p, _n, e in check.uncovered})
    by_service: dict[str, dict[str, int]] = defaultdict(
        lambda: {"endpoints": 0, "samples": 0, "uncovered": 0}
    )
    for row in endpoints:
        service, samples = str(row["service"]), int(row["samples"])
        by_service[service]["endpoints"] += 1
        by_service[service]["samples"] += samples
    for endpoint in uncovered:
        by_service[endpoint.split(" ", 1)[0]]["uncovered"] += 1
    return {
        "endpoints": endpoints,
        "by_service": dict(sorted(by_service.items())),
        "uncovered": uncovered,
        "responses_checked": check.checked,
        "violations": len(check.violations),
        "errors": errors + check.errors,
    }


# -- spend ------------------------------------------------------------------------------------------


def _spend(settings: Settings, root: Path, run: dict[str, Any] | None) -> dict[str, Any]:
    try:
        entries: list[Entry] = open_ledger(settings.ledger, root).entries()
    except ContractTapeError as exc:
        return {"error": str(exc), "this_run": None, "by_run": {}, "by_month": {}}
    run_id = run.get("run") if run else None
    mine = [e for e in entries if e.run == run_id]
    return {
        "this_run": {
            "run": run_id,
            "total_usd": round(sum(e.amount for e in mine), 9),
            "cap_usd": run.get("cap_usd") if run else None,
            "by_service": {k: round(v, 9) for k, v in totals(mine, "service").items()},
            "by_test": {k: round(v, 9) for k, v in totals(mine, "test").items() if v > 0},
        },
        "by_run": {k: round(v, 9) for k, v in totals(entries, "run").items()},
        "by_month": {k: round(v, 9) for k, v in totals(entries, "month").items()},
        "total_usd": round(sum(e.amount for e in entries), 9),
    }


# -- drift ------------------------------------------------------------------------------------------


def _drift(path: Path, cassettes: dict[str, Any]) -> dict[str, Any]:
    last_live: dict[str, str] = {}
    for row in cassettes["items"]:
        if row["target"] == "live" and row["recorded_at"]:
            for endpoint in row["endpoints"]:
                last_live[endpoint] = max(last_live.get(endpoint, ""), row["recorded_at"])
    observed = {"last_observed_live": dict(sorted(last_live.items()))}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"report": None, "summary": None, "findings": [], **observed}
    except (OSError, ValueError) as exc:
        return {
            "report": str(path),
            "error": f"unreadable: {exc}",
            "summary": None,
            "findings": [],
            **observed,
        }
    findings = [
        {k: f.get(k) for k in ("endpoint", "path", "rule", "severity")}
        for f in data.get("findings", [])
        if isinstance(f, dict)
    ]
    return {
        "report": str(path),
        "generated_at": data.get("generated_at"),
        "source": data.get("source"),
        "summary": {s: int(data.get("summary", {}).get(s, 0)) for s in ("ERR", "WARN", "INFO")},
        "findings": findings,
        **observed,
    }


# -- faults -----------------------------------------------------------------------------------------


def _faults(runs_dir: Path, run: dict[str, Any] | None) -> dict[str, Any]:
    if run is None:
        return {"record": None, "by_service": {}}
    path = runs_dir / f"{run['run']}.faults.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"record": None, "by_service": {}}
    kinds: dict[str, set[str]] = defaultdict(set)
    for test in data.get("tests", {}).values():
        for served in test.get("faults", []):
            service = str(served.get("endpoint", "")).split(" ", 1)[0]
            if service:
                kinds[service].add(str(served.get("fault")).split(" ", 1)[0])  # "429 (Retry-After: 3)"
    return {"record": str(path), "by_service": {k: sorted(v) for k, v in sorted(kinds.items())}}


# -- readiness --------------------------------------------------------------------------------------


def _check(ok: bool | None, detail: str) -> dict[str, Any]:
    return {"status": "unknown" if ok is None else ("pass" if ok else "fail"), "detail": detail}


def _readiness(
    cassettes: dict[str, Any],
    contracts: dict[str, Any],
    drift: dict[str, Any],
    faults: dict[str, Any],
    options: Options,
) -> dict[str, Any]:
    services = sorted({s for row in cassettes["items"] for s in row["services"]})
    out = {}
    for service in services:
        live = [
            r["age_days"]
            for r in cassettes["items"]
            if r["target"] == "live" and service in r["services"] and r["age_days"] is not None
        ]
        youngest = min(live) if live else None
        errs = [
            f
            for f in drift["findings"]
            if f["severity"] == "ERR" and str(f["endpoint"]).split(" ", 1)[0] == service
        ]
        uncovered = [e for e in contracts["uncovered"] if e.split(" ", 1)[0] == service]
        served = faults["by_service"].get(service, [])
        missing = [mode for mode, hit in FAILURE_MODES.items() if not any(hit(k) for k in served)]
        checks = {
            "recorded_live": _check(
                youngest is not None and youngest <= options.live_days,
                f"last live recording {youngest:.0f} day(s) ago (within {options.live_days})"
                if youngest is not None
                else "never recorded against the live service",
            ),
            "no_breaking_drift": _check(
                None if drift["summary"] is None else not errs,
                "no drift report yet (make drift)"
                if drift["summary"] is None
                else f"{len(errs)} breaking (ERR) finding(s) open",
            ),
            "every_endpoint_contracted": _check(
                not uncovered, f"{len(uncovered)} endpoint(s) recorded with no contract"
            ),
            "resilience_tested": _check(
                None if faults["record"] is None else not missing,
                "no fault record for this run"
                if faults["record"] is None
                else ("faults served: " + ", ".join(served) if served else "no fault served")
                + (f"; missing: {', '.join(missing)}" if missing else ""),
            ),
        }
        statuses = {c["status"] for c in checks.values()}
        out[service] = {
            "ready": statuses == {"pass"},
            "checks": checks,
        }
    return out
