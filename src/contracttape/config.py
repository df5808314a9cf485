"""Record modes, per-test options, and the one precedence chain that merges them.

Precedence, highest first: command line > ``@pytest.mark.contracttape(...)`` kwargs >
the ``contracttape_config`` fixture > defaults. ``merge`` implements it; nothing else does.
"""

from __future__ import annotations

import enum
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from contracttape.errors import ConfigError


class RecordMode(enum.StrEnum):
    """What a test does with its cassette.

    none          replay only (default); a request with no recorded twin fails the test
    once          record if the cassette does not exist yet, otherwise replay only
    new_episodes  replay what matches, send and record what does not (appended)
    all           send every request; new recordings replace old ones with the same request,
                  old ones the test no longer makes are kept
    rewrite       send every request; the cassette is replaced by exactly this run's traffic
    """

    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"
    REWRITE = "rewrite"

    @property
    def records(self) -> bool:
        """Whether this mode may ever send a request to the target."""
        return self is not RecordMode.NONE


class Target(enum.StrEnum):
    SANDBOX = "sandbox"
    LIVE = "live"


@dataclass(frozen=True, kw_only=True)
class TapeOptions:
    """Per-test options; ``None`` means "not set here, ask the next level".

    Built from marker kwargs, so an unknown kwarg is a ``ConfigError`` naming the test.
    """

    record_mode: RecordMode | None = None
    cassette: str | None = None
    allow_playback_repeats: bool | None = None
    allow_unused: bool | None = None
    compress_time: bool | None = None
    validate_contracts: bool | None = None
    faults: tuple[object, ...] | None = None  # ``faults.Fault``s or their fields; checked by the plan

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], where: str) -> TapeOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ConfigError(
                f"{where}: unknown contracttape option(s) {', '.join(unknown)}; "
                f"known options are {', '.join(sorted(known))}"
            )
        values = dict(kwargs)
        if values.get("record_mode") is not None:
            values["record_mode"] = parse_record_mode(values["record_mode"], where)
        for name in ("allow_playback_repeats", "allow_unused", "compress_time", "validate_contracts"):
            if values.get(name) is not None and not isinstance(values[name], bool):
                raise ConfigError(f"{where}: contracttape option {name} must be True or False")
        if values.get("cassette") is not None and not isinstance(values["cassette"], str):
            raise ConfigError(f"{where}: contracttape option cassette must be a file name (str)")
        if values.get("faults") is not None:
            values["faults"] = parse_faults(values["faults"], where)
        return cls(**values)


DEFAULTS = TapeOptions(
    record_mode=RecordMode.NONE,
    allow_playback_repeats=False,
    allow_unused=False,
    compress_time=True,
    validate_contracts=True,
)


def parse_faults(value: object, where: str) -> tuple[object, ...]:
    """One fault or a list of them, kept as given: ``faults.FaultPlan`` checks each against the
    catalogue when the test starts, and names the test and the fault's position."""
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def parse_record_mode(value: object, where: str) -> RecordMode:
    try:
        return RecordMode(str(value))
    except ValueError:
        choices = ", ".join(m.value for m in RecordMode)
        raise ConfigError(f"{where}: record mode {value!r} is not one of {choices}") from None


def parse_usd(text: str) -> float:
    """A spend cap: a finite, non-negative amount of US dollars (``0.50``). Raises ``ValueError``
    with the reason, which pytest and click both show as a usage error."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{text!r} is not an amount of USD (e.g. 0.50)") from None
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise ValueError(f"{text!r} is not a usable cap: give a finite amount >= 0 (e.g. 0.50)")
    return value


def merge(*levels: TapeOptions) -> TapeOptions:
    """First non-None value of each option, levels given highest precedence first."""
    merged: dict[str, Any] = {}
    for f in fields(TapeOptions):
        merged[f.name] = next(
            (getattr(level, f.name) for level in levels if getattr(level, f.name) is not None), None
        )
    return TapeOptions(**merged)


def read_toml(path: Path) -> dict[str, Any]:
    """A committed TOML file (drift overrides, the scan allowlist) as a table; ``{}`` when it
    does not exist; a ``ConfigError`` naming the file when it cannot be read."""
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix it or delete it") from exc
