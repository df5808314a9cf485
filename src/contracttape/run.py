"""One place that wires a run: everything a record, replay or CLI run needs, built once.

``RunOptions`` holds what the command line said (``None``: not said); ``Run.build`` resolves each
setting along one precedence chain, command line > ``[tool.contracttape]`` in pyproject.toml >
defaults, and builds the catalogue (built-in profiles + the user's), the rules read from it
(headers, secrets, provenance), the contract book, the price book, the ledger and the budget.
The pytest plugin and every CLI command use it, so they cannot disagree on a cassette root or a
ledger.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from contracttape.budget import open_ledger
from contracttape.budget.guard import Budget
from contracttape.budget.prices import PriceBook
from contracttape.config import Target
from contracttape.errors import ConfigError
from contracttape.normalize import HeaderRules, Normaliser
from contracttape.redact import Redactor
from contracttape.services import default_catalogue
from contracttape.services.profile import Catalogue
from contracttape.settings import Settings, load_settings

if TYPE_CHECKING:
    from contracttape.contracts.book import ContractBook

# -- rules read from a catalogue ------------------------------------------------------------------


def header_rules(catalogue: Catalogue) -> HeaderRules:
    """The generic header rules plus every registered profile's."""
    return HeaderRules().extended(
        noise=catalogue.noise_headers(),
        noise_prefixes=catalogue.noise_header_prefixes(),
        volatile=catalogue.volatile_headers(),
        matched=catalogue.matched_headers(),
    )


def redactor_for(catalogue: Catalogue, base: Redactor | None = None) -> Redactor:
    """``base`` (names by meaning, the secret patterns) widened by every profile's secret rules."""
    return (base or Redactor()).extended(
        header_names=catalogue.secret_headers(),
        query_params=catalogue.secret_params(),
        body_keys=catalogue.secret_keys(),
        patterns=catalogue.secret_patterns(),
    )


def normaliser_for(
    catalogue: Catalogue, redactor: Redactor | None = None, origins: Mapping[str, str] | None = None
) -> Normaliser:
    # ``origins`` is shared, not copied: fixtures register a sandbox's origin after this is built
    return Normaliser(
        redactor=redactor_for(catalogue, redactor),
        origins=origins if origins is not None else {},
        headers=header_rules(catalogue),
        unordered_params=catalogue.unordered_params(),
    )


@cache
def _built_in() -> Catalogue:
    return default_catalogue()


def built_in_distributions() -> tuple[str, ...]:
    return _built_in().distributions()


def default_normaliser() -> Normaliser:
    """What a ``TapeSession`` made without one uses: the built-in services' rules."""
    return normaliser_for(_built_in())


# -- a run ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunOptions:
    """What the command line said; ``None`` means "ask pyproject, then the default"."""

    cassettes: str | None = None
    ledger: str | None = None
    budget_usd: float | None = None
    monthly_cap: float | None = None
    target: Target = Target.SANDBOX
    run_id: str | None = None


@dataclass
class Run:
    root: Path
    settings: Settings
    catalogue: Catalogue
    cassettes: Path
    prices: PriceBook
    budget: Budget
    target: Target
    origins: dict[str, str] = field(default_factory=dict)
    # shared, not copied: fixtures add the app under test's host (see Settings.passthrough)
    passthrough: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, root: Path, options: RunOptions | None = None) -> Run:
        """Everything a run needs; a bad setting is one ``ConfigError`` naming it."""
        options = options or RunOptions()
        settings = load_settings(root)
        catalogue = settings.catalogue()
        prices = PriceBook.load(settings.prices)
        ledger = open_ledger(options.ledger or settings.ledger, root)
        budget = Budget(
            ledger=ledger,
            run_id=options.run_id or new_run_id(),
            prices=prices,
            catalogue=catalogue,
            cap=options.budget_usd,
            monthly_cap=options.monthly_cap,
        )
        return cls(
            root=root,
            settings=settings,
            catalogue=catalogue,
            cassettes=cassette_root(root, options.cassettes, settings),
            prices=prices,
            budget=budget,
            target=options.target,
            passthrough=set(settings.passthrough),
        )

    @cached_property
    def contracts(self) -> ContractBook:
        """The committed contracts, loaded when a run first checks a response (jsonschema and the
        contract files are not read by a run that replays nothing)."""
        from contracttape.contracts.book import ContractBook

        return ContractBook(self.settings.contracts, self.catalogue)

    def normaliser(self, redactor: Redactor | None = None) -> Normaliser:
        return normaliser_for(self.catalogue, redactor, self.origins)


def cassette_root(root: Path, option: str | None, settings: Settings) -> Path:
    """--cassette-dir (or its ini alias) > [tool.contracttape] cassettes > "cassettes"; never a file."""
    where, raw = ("--cassette-dir", option) if option else ("[tool.contracttape] cassettes", None)
    path = (root / raw).resolve() if raw else settings.cassettes.resolve()
    if path.exists() and not path.is_dir():
        shown = raw if raw else str(settings.cassettes)
        raise ConfigError(f"{where} = {shown!r} is a file, not a directory; point it at a cassette folder")
    return path


def new_run_id() -> str:
    return os.environ.get("CONTRACTTAPE_RUN_ID") or (
        dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S-") + uuid.uuid4().hex[:6]
    )


def build_run(root: Path, options: RunOptions | None = None) -> Run:
    return Run.build(root, options)
