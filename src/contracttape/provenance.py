"""Where a cassette came from: when, against what, with which library versions."""

from __future__ import annotations

import datetime as dt
import platform
from collections.abc import Iterable
from importlib import metadata
from typing import Any

# Libraries whose version changes what goes over the wire, recorded when installed: these, and
# each service profile's SDKs (``ServiceProfile.distributions``).
TRACKED_DISTRIBUTIONS = ("contracttape", "vcrpy", "httpx", "httpx2", "requests")


def library_versions(distributions: Iterable[str] = ()) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in dict.fromkeys((*TRACKED_DISTRIBUTIONS, *distributions)):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


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
