"""Where a cassette came from: when, against what, with which library versions."""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Iterable
from functools import cache
from importlib import metadata
from typing import Any

# Libraries whose version changes what goes over the wire, recorded when installed: these, and
# each service profile's SDKs (``ServiceProfile.distributions``).
TRACKED_DISTRIBUTIONS = ("contracttape", "vcrpy", "httpx", "httpx2", "requests")


def library_versions(distributions: Iterable[str] = ()) -> dict[str, str]:
    return dict(_versions(tuple(dict.fromkeys((*TRACKED_DISTRIBUTIONS, *distributions)))))


@cache
def _versions(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Probed once per process (each probe searches every path entry): versions do not change
    while a run records."""
    versions = [("python", platform.python_version())]
    for name in names:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(versions)


def provenance(
    *, test_id: str, target: str, record_mode: str, distributions: Iterable[str] = ()
) -> dict[str, Any]:
    return {
        "recorded_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "target": target,
        "test": test_id,
        "record_mode": record_mode,
        "versions": library_versions(distributions),
    }
