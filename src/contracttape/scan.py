"""The secrets scanner: proof that nothing secret reached cassettes, contracts or reports.

It looks for every redaction pattern, plus evidence a redaction was skipped: a JWT whose
signature is still there, a bearer token, a credential-named JSON field with a real value.
Findings are reported masked (never the secret itself), with file and line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from contracttape.patterns import JWT_RE, REDACTED_SIGNATURE, SECRET_BODY_KEYS, SECRET_PATTERNS

SCANNED_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".md", ".html", ".txt", ".csv", ".log", ".env"})

_EXTRA_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bearer-token", re.compile(r"\b[Bb]earer\s+(?!<redacted)[A-Za-z0-9._~+/=-]{16,}")),
    (
        "secret-json-field",
        re.compile(
            r"[\"']?\b(?:"
            + "|".join(sorted(SECRET_BODY_KEYS))
            + r")[\"']?\s*[:=]\s*[\"'](?!<redacted)[^\"'\s]{8,}[\"']"
        ),
    ),
)


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str
    excerpt: str  # masked

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.excerpt}"


def _mask(secret: str) -> str:
    return secret[:4] + "…" + f"({len(secret)} chars)"


def scan_text(text: str, path: Path) -> Iterator[Finding]:
    for number, line in enumerate(text.splitlines(), start=1):
        for match in JWT_RE.finditer(line):
            if match.group(0).rsplit(".", 1)[-1] != REDACTED_SIGNATURE:
                yield Finding(path, number, "jwt", _mask(match.group(0)))
        for pattern in SECRET_PATTERNS:
            for match in pattern.regex.finditer(line):
                yield Finding(path, number, pattern.name, _mask(match.group(0)))
        for name, regex in _EXTRA_PATTERNS:
            for match in regex.finditer(line):
                if not _neutralised(match.group(0)):
                    yield Finding(path, number, name, _mask(match.group(0)))


def _neutralised(text: str) -> bool:
    """A value that is a JWT whose signature contracttape already replaced."""
    return text.rstrip("\"'").endswith("." + REDACTED_SIGNATURE)


def pattern_count() -> int:
    return 1 + len(SECRET_PATTERNS) + len(_EXTRA_PATTERNS)


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SCANNED_SUFFIXES
            )
        elif path.is_file():
            yield path


def scan_paths(paths: Iterable[Path]) -> list[Finding]:
    findings: list[Finding] = []
    for file in iter_files(paths):
        text = file.read_bytes().decode("utf-8", errors="replace")
        findings.extend(scan_text(text, file))
    return findings
