"""Contracts: one JSON Schema (2020-12) per endpoint, inferred from cassettes, checked on replay.

A contract file is ``contracts/<service>/<endpoint slug>.schema.json``: the rendered schema a
consumer may rely on, plus an ``x-contracttape`` block (format version, endpoint, samples, first
and last seen, media types, and the mergeable evidence it was rendered from). Output is
deterministic (sorted keys, stable rendering), so re-recording an unchanged API rewrites nothing.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError

from contracttape.atomic import write_atomic
from contracttape.bodies import media_type
from contracttape.cassettes import CassetteCache
from contracttape.contracts import fast_check
from contracttape.contracts.inference import REQUIRED_AFTER, evidence_of, render
from contracttape.contracts.samples import NO_SAMPLE, sample_of, unreadable_reason
from contracttape.errors import ContractError, ContractTapeError
from contracttape.model import Interaction, RecordedResponse
from contracttape.services.profile import Catalogue, Endpoint

FORMAT_VERSION = 1
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
META = "x-contracttape"


@dataclass(frozen=True)
class Observation:
    """One response of an endpoint, with when it was recorded."""

    endpoint: Endpoint
    sample: Any
    media_type: str
    recorded_at: str
    headers: frozenset[str] = frozenset()  # response header names (lower case)


@dataclass
class ContractFile:
    endpoint: Endpoint
    evidence: dict[str, Any]
    samples: int
    first_seen: str
    last_seen: str
    media_types: list[str] = field(default_factory=list)
    # the evidence rule the schema is rendered with (kept in the file, so it renders the same)
    required_after: int = REQUIRED_AFTER
    # response header name -> in how many of the responses it was
    headers: dict[str, int] = field(default_factory=dict)

    @property
    def schema(self) -> dict[str, Any]:
        return render(self.evidence, self.required_after) if self.evidence else {}

    def merged(self, other: ContractFile) -> ContractFile:
        """Both contracts' evidence combined (associative and commutative)."""
        assert other.endpoint == self.endpoint
        return ContractFile(
            endpoint=self.endpoint,
            evidence=evidence_of([], self.evidence, other.evidence),
            samples=self.samples + other.samples,
            first_seen=min(filter(None, [self.first_seen, other.first_seen]), default=""),
            last_seen=max(self.last_seen, other.last_seen),
            media_types=sorted(set(self.media_types) | set(other.media_types)),
            required_after=self.required_after,
            headers=dict(sorted((Counter(self.headers) + Counter(other.headers)).items())),
        )

    def to_json(self) -> str:
        document = {
            "$schema": SCHEMA_DIALECT,
            "title": self.endpoint.describe(),
            **self.schema,
            META: {
                "format": FORMAT_VERSION,
                "endpoint": _endpoint_dict(self.endpoint),
                "samples": self.samples,
                "first_seen": self.first_seen,
                "last_seen": self.last_seen,
                "media_types": self.media_types,
                "rules": {"required_after": self.required_after},
                "headers": self.headers,
                "evidence": self.evidence,
            },
        }
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    @classmethod
    def load(cls, path: Path) -> ContractFile:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            raise ContractError(
                f"{path}: cannot be read ({exc}); rebuild: contracttape contracts build"
            ) from exc
        return cls.from_json(text, path)

    @classmethod
    def from_json(cls, text: str, path: Path) -> ContractFile:
        rebuild = "rebuild it: contracttape contracts build"
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise ContractError(f"{path}: not valid JSON ({exc}); {rebuild}") from exc
        meta = document.get(META) if isinstance(document, dict) else None
        if not isinstance(meta, dict):
            raise ContractError(f"{path}: not a contracttape contract (no {META} object); {rebuild}")
        version = meta.get("format", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ContractError(f"{path}: written by a newer contracttape (format {version!r}); upgrade")
        try:
            contract = cls(
                endpoint=_endpoint_from(meta["endpoint"]),
                evidence=_mapping(meta["evidence"], "evidence"),
                samples=_count(meta["samples"]),
                first_seen=str(meta.get("first_seen", "")),
                last_seen=str(meta.get("last_seen", "")),
                media_types=[str(m) for m in _sequence(meta.get("media_types", []))],
                # contracts written before the rule existed demanded a field from one sample
                required_after=_count(
                    _mapping(meta.get("rules", {"required_after": 1}), "rules")["required_after"]
                ),
                headers={str(k): _count(v) for k, v in _mapping(meta.get("headers", {}), "headers").items()},
            )
            rendered = contract.schema  # malformed evidence fails here
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ContractError(f"{path}: malformed {META} block ({exc!r}); {rebuild}") from exc
        visible = {k: v for k, v in document.items() if k not in (META, "$schema", "title")}
        try:
            Draft202012Validator.check_schema(visible)
        except SchemaError as exc:
            raise ContractError(
                f"{path}: the schema is not valid JSON Schema ({exc.message}); {rebuild}"
            ) from exc
        if visible != rendered:
            raise ContractError(
                f"{path}: the schema differs from what its evidence gives (edited by hand?). Contracts "
                f"are generated: {rebuild} (hand-written rules belong in contracts/drift.toml)"
            )
        return contract


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be an object, not {type(value).__name__}")
    return value


def _sequence(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"a list was expected, not {type(value).__name__}")
    return value


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"samples must be a non-negative integer, not {value!r}")
    return value


def _endpoint_dict(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "service": endpoint.service,
        "method": endpoint.method,
        "template": endpoint.template,
        "status_class": endpoint.status_class,
        "variant": dict(endpoint.variant),
        "generic": endpoint.generic,
    }


def _endpoint_from(data: Any) -> Endpoint:
    data = _mapping(data, "endpoint")
    if not all(isinstance(data.get(k), str) for k in ("service", "method", "template", "status_class")):
        raise TypeError("endpoint needs string service, method, template and status_class")
    return Endpoint(
        service=data["service"],
        method=data["method"],
        template=data["template"],
        status_class=data["status_class"],
        variant=tuple(sorted(data.get("variant", {}).items())),
        generic=bool(data.get("generic", False)),
    )


def contract_path(contracts_dir: Path, endpoint: Endpoint) -> Path:
    return contracts_dir / endpoint.service / f"{endpoint.slug}.schema.json"


# -- building ----------------------------------------------------------------------------------------


# hop-by-hop or recomputed on every write: not part of what a consumer relies on
_UNCONTRACTED_HEADERS = frozenset(
    {"content-length", "content-encoding", "transfer-encoding", "connection", "keep-alive"}
)


def observe(
    interactions: Iterable[Interaction], catalogue: Catalogue, recorded_at: str = ""
) -> Iterator[Observation]:
    for interaction in interactions:
        endpoint = catalogue.endpoint(interaction.request, interaction.response.status, interaction.response)
        if endpoint is None:
            continue
        yield Observation(
            endpoint,
            sample_of(interaction.response),
            media_type(interaction.response.headers),
            recorded_at,
            frozenset(name.lower() for name, _ in interaction.response.headers) - _UNCONTRACTED_HEADERS,
        )


def contracts_from(
    observations: Iterable[Observation], required_after: int = REQUIRED_AFTER
) -> dict[Endpoint, ContractFile]:
    grouped: dict[Endpoint, list[Observation]] = defaultdict(list)
    for observation in observations:
        grouped[observation.endpoint].append(observation)
    built = {}
    for endpoint, group in grouped.items():
        samples = [o.sample for o in group if o.sample is not NO_SAMPLE]
        seen = sorted(
            o.recorded_at[:10] for o in group if o.recorded_at
        )  # days: re-records the same day don't churn
        built[endpoint] = ContractFile(
            endpoint=endpoint,
            evidence=evidence_of(samples) if samples else {},
            samples=len(samples),
            first_seen=seen[0] if seen else "",
            last_seen=seen[-1] if seen else "",
            media_types=sorted({o.media_type for o in group if o.media_type}),
            required_after=required_after,
            headers=dict(sorted(Counter(h for o in group for h in o.headers).items())),
        )
    return built


def unreadable_endpoints(observations: Iterable[Observation]) -> dict[Endpoint, int]:
    """Endpoints with responses that gave no JSON sample (binary, text, unreadable), and how many:
    a contract build says so instead of writing an empty contract in silence."""
    counts: dict[Endpoint, int] = defaultdict(int)
    for observation in observations:
        if observation.sample is NO_SAMPLE:
            counts[observation.endpoint] += 1
    return dict(counts)


def observations_in(
    cassette_dir: Path,
    catalogue: Catalogue,
    cache: CassetteCache | None = None,
    errors: list[str] | None = None,
) -> list[Observation]:
    """Every response of a known service in every cassette. With ``errors``, a cassette that
    cannot be read is noted there and skipped (the rest are still read); without, it raises."""
    cache = cache or CassetteCache()
    found: list[Observation] = []
    for path in sorted(cassette_dir.rglob("*.yaml")):
        try:
            cassette = cache.load(path)
        except ContractTapeError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            continue
        if cassette is not None:
            found.extend(observe(cassette.interactions, catalogue, str(cassette.meta.get("recorded_at", ""))))
    return found


@dataclass(frozen=True)
class BuildResult:
    written: list[Path]
    unchanged: list[Path]
    removed: list[Path]


def write_contracts(
    contracts: dict[Endpoint, ContractFile],
    contracts_dir: Path,
    services: Iterable[str],
    dry_run: bool = False,
) -> BuildResult:
    """Write contracts (only files whose text changes); remove files of the given services that
    no cassette backs any more. ``dry_run``: say what would change, touch nothing."""
    written, unchanged = [], []
    wanted = set()
    for endpoint in sorted(contracts):
        path = contract_path(contracts_dir, endpoint)
        wanted.add(path)
        text = contracts[endpoint].to_json()
        if path.exists() and _read_or_none(path) == text:
            unchanged.append(path)
            continue
        if not dry_run:
            write_atomic(path, text)
        written.append(path)
    removed = []
    for service in services:
        for path in sorted((contracts_dir / service).glob("*.schema.json")):
            if path not in wanted:
                if not dry_run:
                    path.unlink()
                removed.append(path)
    return BuildResult(written, unchanged, removed)


def _read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# -- validation -----------------------------------------------------------------------------------


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name in fast_check.FORMATS:
        checker.checks(name)(lambda value, name=name: fast_check.format_holds(name, value))
    return checker


def strip_annotations(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_annotations(v) for k, v in value.items() if k not in ("x-evidence", META)}
    if isinstance(value, list):
        return [strip_annotations(v) for v in value]
    return value


@dataclass(frozen=True)
class Violation:
    endpoint: Endpoint
    json_path: str
    message: str
    expected: str
    actual: str
    contract: Path
    evidence: str = ""  # the samples behind the rule that was broken

    def __str__(self) -> str:
        behind = f"\n    evidence: {self.evidence}" if self.evidence else ""
        return (
            f"{self.endpoint.describe()}: response violates its contract at {self.json_path}: "
            f"{self.message}\n"
            f"    expected: {self.expected}\n    actual:   {self.actual}\n    contract: {self.contract}"
            f"{behind}"
        )


def _evidence_of(error: ValidationError, samples: int) -> str:
    """What the broken rule rests on: for a missing field, how often it was seen."""
    if error.validator == "required" and isinstance(error.schema, dict):
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else ""
        seen = error.schema.get("properties", {}).get(missing, {}).get("x-evidence", {})
        if seen:
            return f"'{missing}' was in {seen.get('present')} of {seen.get('of')} recorded responses"
    return f"the contract rests on {samples} recorded response(s)"


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ContractBook:
    """Committed contracts, loaded lazily; validates responses against them."""

    def __init__(self, contracts_dir: Path, catalogue: Catalogue) -> None:
        self.contracts_dir = contracts_dir
        self.catalogue = catalogue
        self._validators: dict[Endpoint, tuple[Path, Draft202012Validator | None, int]] = {}
        # a compiled "is it valid?" asked first (fast_check), where it is trusted with the schema
        self._fast: dict[Endpoint, fast_check.Check] = {}
        # endpoints whose contract holds no JSON evidence: the media types their bodies had
        # ("" for an empty body): binary downloads, 204s, ``return=minimal`` writes
        self._bodies: dict[Endpoint, frozenset[str]] = {}
        self._checker = _format_checker()

    def _validator(self, endpoint: Endpoint) -> tuple[Path, Draft202012Validator | None, int]:
        if endpoint not in self._validators:
            path = contract_path(self.contracts_dir, endpoint)
            validator, samples = None, 0
            if path.exists():
                contract = ContractFile.load(path)
                samples = contract.samples
                if contract.evidence:
                    # annotations (x-evidence) stay: unknown keywords, and violations quote them
                    validator = Draft202012Validator(contract.schema, format_checker=self._checker)
                    fast = fast_check.compiled(contract.schema)
                    if fast is not None:
                        self._fast[endpoint] = fast
                else:
                    self._bodies[endpoint] = frozenset(contract.media_types) | {""}
            self._validators[endpoint] = (path, validator, samples)
        return self._validators[endpoint]

    def covers(self, interaction: Interaction) -> bool:
        """Whether a contract exists for this response's endpoint (an unknown host: no endpoint)."""
        endpoint = self.catalogue.endpoint(
            interaction.request, interaction.response.status, interaction.response
        )
        return endpoint is None or self._validator(endpoint)[1] is not None or endpoint in self._bodies

    def check(self, interaction: Interaction) -> list[Violation]:
        """Violations of this response's contract (none when it has no contract)."""
        return self.check_covered(interaction) or []

    def check_covered(self, interaction: Interaction) -> list[Violation] | None:
        """Violations, or None when no contract covers this response."""
        endpoint = self.catalogue.endpoint(
            interaction.request, interaction.response.status, interaction.response
        )
        if endpoint is None:
            return None
        path, validator, samples = self._validator(endpoint)
        sample = sample_of(interaction.response)
        if validator is None and endpoint in self._bodies:
            return self._check_body(endpoint, path, interaction.response, sample)
        if validator is None:
            return None
        if sample is NO_SAMPLE:  # a JSON contract, and a body that is not JSON: never a silent pass
            return [
                Violation(
                    endpoint=endpoint,
                    json_path="$",
                    message=f"the response is {unreadable_reason(interaction.response)}",
                    expected="a JSON body",
                    actual=(media_type(interaction.response.headers) or "no content type"),
                    contract=path,
                    evidence=f"the contract rests on {samples} recorded JSON response(s)",
                )
            ]
        fast = self._fast.get(endpoint)
        if fast is not None and fast(sample):
            return []
        errors: list[ValidationError] = sorted(
            validator.iter_errors(sample), key=lambda e: list(e.absolute_path)
        )
        return [
            Violation(
                endpoint=endpoint,
                json_path=error.json_path,
                message=error.message if len(error.message) < 200 else error.message[:199] + "…",
                expected=f"{error.validator} {_short(strip_annotations(error.validator_value))}",
                actual=_short(error.instance),
                contract=path,
                evidence=_evidence_of(error, samples),
            )
            for error in errors[:5]
        ]

    def _check_body(
        self, endpoint: Endpoint, path: Path, response: RecordedResponse, sample: Any
    ) -> list[Violation]:
        """A contract with no JSON evidence: the body must stay what it was (no JSON, and one of
        the media types recorded; an empty body is always allowed)."""
        allowed = self._bodies[endpoint]
        mtype = media_type(response.headers) if response.body else ""
        if sample is NO_SAMPLE and mtype in allowed:
            return []
        return [
            Violation(
                endpoint=endpoint,
                json_path="$",
                message="the response is "
                + ("a JSON body" if sample is not NO_SAMPLE else unreadable_reason(response)),
                expected=f"a body of {', '.join(sorted(m for m in allowed if m)) or 'no content'}",
                actual=mtype or "no content type",
                contract=path,
                evidence="the contract rests on recorded responses with no JSON body",
            )
        ]


@dataclass
class CheckReport:
    """What ``contracts check`` found: nothing here is silent."""

    checked: int = 0
    violations: list[tuple[Path, int, Violation]] = field(default_factory=list)
    uncovered: list[tuple[Path, int, Endpoint]] = field(default_factory=list)  # no contract at all
    errors: list[str] = field(default_factory=list)  # files that could not be used, and why


def validate_cassettes(
    cassette_dir: Path, book: ContractBook, cache: CassetteCache | None = None
) -> CheckReport:
    """Every recorded response against its contract; a bad file is reported, the rest go on.
    ``cache``: cassettes the caller has already parsed (the report reads them first)."""
    cache = cache or CassetteCache()
    report = CheckReport()
    for path in sorted(cassette_dir.rglob("*.yaml")):
        try:
            cassette = cache.load(path)
        except ContractTapeError as exc:
            report.errors.append(str(exc))
            continue
        for position, interaction in enumerate(cassette.interactions if cassette else ()):
            try:
                violations = book.check_covered(interaction)
            except ContractTapeError as exc:
                if str(exc) not in report.errors:
                    report.errors.append(str(exc))
                continue
            endpoint = book.catalogue.endpoint(
                interaction.request, interaction.response.status, interaction.response
            )
            if violations is None:
                if endpoint is not None:
                    report.uncovered.append((path, position, endpoint))
                continue
            report.checked += 1
            report.violations.extend((path, position, v) for v in violations)
    return report
