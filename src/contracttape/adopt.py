"""Bring an existing vcrpy / pytest-recording cassette tree under contracttape.

Each cassette, in whatever layout vcrpy wrote it, is rewritten as contracttape stores what it
records: secrets redacted (and counted, by kind), bodies decoded and pretty, volatile values
pinned, real origins renamed to logical ones where asked, and a ``contracttape:`` block saying it
was adopted. A cassette that is already what adoption would write is left alone, so adopting
twice changes nothing. ``plan`` says what would change without writing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from contracttape import cassettes
from contracttape.errors import ContractTapeError
from contracttape.normalize import Normaliser

_PLACEHOLDER = re.compile(r"<redacted:([a-z0-9_-]+)>")


@dataclass
class Adoption:
    path: Path
    changed: bool
    interactions: int
    removed: Counter[str] = field(default_factory=Counter)  # secret kind -> how many redacted


@dataclass
class AdoptReport:
    adopted: list[Adoption] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[Adoption]:
        return [a for a in self.adopted if a.changed]


def adopt_tree(root: Path, normaliser: Normaliser, *, write: bool = True) -> AdoptReport:
    """Adopt every ``*.yaml`` cassette under ``root``; unreadable ones are reported, not fatal."""
    report = AdoptReport()
    for path in sorted(root.rglob("*.yaml")):
        try:
            report.adopted.append(adopt_file(path, root, normaliser, write=write))
        except ContractTapeError as exc:
            report.errors.append(str(exc))
    return report


def adopt_file(path: Path, root: Path, normaliser: Normaliser, *, write: bool = True) -> Adoption:
    text = cassettes.read_text(path)
    loaded = cassettes.loads(text, path)
    stored = [normaliser.for_disk(interaction) for interaction in loaded.interactions]
    meta = dict(loaded.meta) or {
        "adopted_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "adopted_from": "vcrpy",
        "target": "unknown",
        "test": str(path.relative_to(root).with_suffix("")),
    }
    new_text = cassettes.dumps(stored, meta)
    unchanged = not loaded.foreign and list(loaded.interactions) == stored
    removed = Counter(_PLACEHOLDER.findall(new_text)) - Counter(_PLACEHOLDER.findall(text))
    if not unchanged and write:
        cassettes.update(path, lambda _current: (stored, meta))
    return Adoption(path, not unchanged, len(stored), removed)
