"""The secrets scanner: proof that nothing secret reached cassettes, contracts, the ledger or reports.

It looks for what redaction removes, with the same definitions (``patterns``): every secret
pattern, a JWT that still carries a signature, an opaque bearer credential, and a secret-named
field (``"accessToken": ...``, ``password=...``) with a real value. To stay quiet on ordinary
text it skips values that only stand in for a secret (``********``, ``${SECRET}``,
``<redacted:...>``), words joined by separators (``sk-learn-random-forest``,
``key_id_0001``) and unsigned (``alg: none``) tokens. What is still a false positive goes in
the allowlist file (``.contracttape-scan-allow.toml``), each entry with a reason.

Findings are reported masked (never the secret itself), with file, line and a fingerprint.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import fnmatch
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from contracttape import yaml_read
from contracttape.config import read_toml
from contracttape.errors import ConfigError
from contracttape.secret_rules import (
    JWT_LITERALS,
    JWT_RE,
    REDACTED_SIGNATURE,
    SECRET_PATTERNS,
    SECRET_QUERY_PARAMS,
    is_placeholder_value,
    is_secret_match,
    is_secret_name,
    looks_random,
)

SCANNED_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".md", ".html", ".txt", ".csv", ".log", ".env"})
ALLOWLIST_FILE = ".contracttape-scan-allow.toml"

# "name": "value", name=value, name: value (quoted or not), in any text format
_NAME_START = r"(?:(?<=\\[nrt])|(?<![A-Za-z0-9_.\\-]))"  # after a separator, or an escaped newline
# (``name::value`` is a scope, not a field: a pytest node id such as ``test_secrets.py::test_x``)
_FIELD = re.compile(
    _NAME_START + r"(?:\\?[\"'])?(?P<name>[A-Za-z][A-Za-z0-9_.-]{1,60})\\*[\"']?\s*(?:=|:(?!:))\s*"
    r"\\*[\"']?(?P<value>[^\"'\s,;&}<>()\[\]\\]{6,})"
)
# a query parameter inside a URL
_QUERY = re.compile(r"[?&](?P<name>[A-Za-z][A-Za-z0-9_.-]{0,60})=(?P<value>[^&\s\"'#\\]{6,})")
# a multipart form field as a cassette stores it: name="password"\r\n\r\nvalue (escaped or not)
_MULTIPART_FIELD = re.compile(
    r'name=\\?"(?P<name>[A-Za-z0-9_.-]{1,60})\\?"(?:\\r\\n|\r?\n){2}(?P<value>[^\\\r\n"]{6,})'
)


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str
    excerpt: str  # masked
    fingerprint: str  # sha256 of the secret, for the allowlist: the secret itself is never shown

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.excerpt} [fingerprint {self.fingerprint}]"


@dataclass(frozen=True)
class Allowed:
    fingerprint: str
    reason: str
    path: str = "*"  # a glob over the finding's path

    def covers(self, finding: Finding) -> bool:
        return finding.fingerprint == self.fingerprint and fnmatch.fnmatch(str(finding.path), self.path)


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def _finding(path: Path, line: int, kind: str, secret: str) -> Finding:
    return Finding(path, line, kind, secret[:4] + "…" + f"({len(secret)} chars)", fingerprint(secret))


def _signed_jwt(token: str) -> bool:
    """A JWT that could be used: it has a signature that is not ours, and an algorithm."""
    header_b64, _payload, signature = token.split(".", 2)
    if not signature or signature == REDACTED_SIGNATURE:
        return False
    try:
        header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    except (ValueError, binascii.Error):
        return True
    return not (isinstance(header, dict) and str(header.get("alg", "")).lower() == "none")


def scan_text(text: str, path: Path) -> Iterator[Finding]:
    """Every line of ``text`` searched for JWTs, each secret pattern and secret-named fields.

    Every match of a secret pattern (and of a JWT) holds one of its literals, so a pattern is
    run only on the lines where one of them occurs, found by substring searches over the whole
    text: a scan of a long ledger or report costs a few regex calls per line, not one per
    pattern per line. The findings, and their order, are those of running every pattern on
    every line (tests/unit/test_scan_prefilter.py)."""
    lines = text.splitlines()
    candidates = _candidate_patterns(text, lines)
    for number, line in enumerate(lines, start=1):
        for index in candidates.get(number - 1, ()):
            if index == _JWT:
                for match in JWT_RE.finditer(line):
                    if _signed_jwt(match.group(0)):
                        yield _finding(path, number, "jwt", match.group(0))
                continue
            pattern = SECRET_PATTERNS[index]
            for match in pattern.regex.finditer(line):
                if is_secret_match(pattern.name, match.group(0)):
                    yield _finding(path, number, pattern.name, match.group(0))
        if "=" not in line and ":" not in line:
            continue  # no field (``name: value``, ``name=value``) and no query in it
        fields = [*_FIELD.finditer(line), *(_MULTIPART_FIELD.finditer(line) if "name=" in line else ())]
        for match in fields:
            if _secret_value(match.group("name"), match.group("value")):
                yield _finding(path, number, "secret-field", match.group("value"))
        for match in _QUERY.finditer(line) if "=" in line else ():
            if _secret_value(match.group("name"), match.group("value"), SECRET_QUERY_PARAMS):
                yield _finding(path, number, "secret-field", match.group("value"))


_JWT = -1  # in ``_candidate_patterns``: the JWT search, which comes before the patterns


def _candidate_patterns(text: str, lines: list[str]) -> dict[int, list[int]]:
    """Line index -> the searches to run on it, in order (``_JWT``, then indexes into
    ``SECRET_PATTERNS``): those with a literal in the line, or with no literals declared."""
    starts = [0, *itertools.accumulate(map(len, text.splitlines(keepends=True)))]
    searches = [(_JWT, JWT_LITERALS), *((i, p.literals) for i, p in enumerate(SECRET_PATTERNS))]
    found: dict[int, list[int]] = {}
    for index, literals in searches:
        if not literals:  # nothing known about its matches: every line
            at: Iterable[int] = range(len(lines))
        else:
            at = sorted({bisect.bisect_right(starts, p) - 1 for p in _occurrences(text, literals)})
        for line in at:
            found.setdefault(line, []).append(index)
    return found


def _occurrences(text: str, literals: Iterable[str]) -> Iterator[int]:
    for literal in literals:
        position = text.find(literal)
        while position >= 0:
            yield position
            position = text.find(literal, position + 1)


_AUTH_SCHEME = re.compile(r"^(?i:bearer|basic|token|digest)\s+")


def _secret_value(name: str, value: str, also: frozenset[str] = frozenset()) -> bool:
    """A secret-named field whose value looks like a real credential."""
    if not (is_secret_name(name) or name.lower() in also):
        return False  # most fields: asked first, and once per name (``is_secret_name`` is cached)
    value = _AUTH_SCHEME.sub("", value.strip())
    return (
        value.lower() not in ("bearer", "basic", "token", "digest")
        and not is_placeholder_value(value)
        and not value.startswith(("${", "{{", "<redacted"))
        and not value.endswith("." + REDACTED_SIGNATURE)
        and not JWT_RE.fullmatch(value)  # judged as a JWT
        and looks_random(value)
    )


def scan_structure(text: str, path: Path) -> Iterator[Finding]:
    """Secret-named keys of a YAML or JSON document whose value sits on another line (a
    cassette's headers: ``x-api-key:`` then ``- value``)."""
    document = _document(text, path)
    if document is None:
        return
    lines = text.splitlines()
    for name, value in _pairs(document):
        if _secret_value(name, value):
            number = next((i for i, line in enumerate(lines, start=1) if value in line), 1)
            yield _finding(path, number, "secret-field", value)


def _document(text: str, path: Path) -> object:
    """A JSON file read as JSON (by the C parser: a long ledger or report costs a tenth of what
    reading it as YAML does), anything else, or JSON that does not parse, as YAML."""
    if path.suffix.lower() == ".json":
        parsed = _json_or_none(text)
        if parsed is not None:
            return parsed
    try:
        document: object = yaml_read.load(text)
    except yaml.YAMLError:
        return None
    return document


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _pairs(node: object, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        lowered = {str(k).lower(): v for k, v in node.items()}
        label = lowered.get("name", lowered.get("key"))
        if isinstance(label, str) and isinstance(lowered.get("value"), str):
            yield label, lowered["value"]  # {"name": "DB_PASSWORD", "value": ...}
        for k, v in node.items():
            yield from _pairs(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from _pairs(item, key)
    elif isinstance(node, str):
        stripped = node.strip()
        if stripped[:1] in ("{", "[") and len(stripped) < 5_000_000:  # a JSON body held in a string
            yield from _pairs(_json_or_none(stripped), key)
        if key:
            yield key, node


def scan_document(text: str, path: Path) -> list[Finding]:
    """Line patterns, plus the key/value structure of YAML and JSON files (findings deduplicated)."""
    found = {(f.line, f.fingerprint): f for f in scan_text(text, path)}
    if path.suffix.lower() in (".yaml", ".yml", ".json"):
        for finding in scan_structure(text, path):
            found.setdefault((finding.line, finding.fingerprint), finding)
    return sorted(found.values(), key=lambda f: (f.line, f.kind))


def pattern_count() -> int:
    return 2 + len(SECRET_PATTERNS)


def load_allowlist(path: Path) -> list[Allowed]:
    """The committed allowlist: ``[[allow]]`` tables with ``fingerprint``, ``reason``, optional ``path``."""
    entries = read_toml(path).get("allow", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{path}: 'allow' must be a list of [[allow]] tables")
    allowed = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) and entry.get(k) for k in ("fingerprint", "reason")
        ):
            raise ConfigError(
                f"{path}: [[allow]] entry {number} needs a 'fingerprint' (printed with each finding) "
                "and a 'reason' saying why it is not a secret"
            )
        allowed.append(Allowed(entry["fingerprint"], entry["reason"], str(entry.get("path", "*"))))
    return allowed


def iter_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SCANNED_SUFFIXES
            )
        elif path.is_file():
            yield path


def scan_paths(paths: Iterable[Path], allowlist: Iterable[Allowed] = ()) -> list[Finding]:
    allowed = list(allowlist)
    findings: list[Finding] = []
    for file in iter_files(paths):
        text = file.read_bytes().decode("utf-8", errors="replace")
        findings.extend(f for f in scan_document(text, file) if not any(a.covers(f) for a in allowed))
    return findings
