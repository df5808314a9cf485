"""contracttape: record HTTP traffic once, replay it offline, and keep it honest.

The public API is what ``__all__`` lists; everything in a ``_module`` is private. The concepts
live in packages (``budget``, ``contracts``, ``services``, ``sandbox``) whose modules say what
they hold; these are the names a test suite or a service profile needs.
"""

from __future__ import annotations

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:  # the names, for type checkers; at run time each is imported on first use
    from contracttape.budget.costs import Cost, CostRule, Estimate
    from contracttape.config import RecordMode, TapeOptions, Target
    from contracttape.errors import (
        BudgetExceeded,
        CassetteError,
        CassetteFormatError,
        ConfigError,
        ContractError,
        ContractTapeError,
        ContractViolation,
        NetworkBlocked,
        NoMatchingInteraction,
        PlaybackError,
        PricingError,
        UnusedInteractions,
    )
    from contracttape.model import Interaction, RecordedRequest, RecordedResponse
    from contracttape.pdf import make_pdf
    from contracttape.redact import Redactor
    from contracttape.secret_rules import SecretPattern
    from contracttape.services.profile import Catalogue, Endpoint, LiveVariable, Route, ServiceProfile
    from contracttape.session import TapeSession

_HOMES = {
    "BudgetExceeded": "contracttape.errors",
    "CassetteError": "contracttape.errors",
    "CassetteFormatError": "contracttape.errors",
    "Catalogue": "contracttape.services.profile",
    "ConfigError": "contracttape.errors",
    "ContractError": "contracttape.errors",
    "ContractTapeError": "contracttape.errors",
    "ContractViolation": "contracttape.errors",
    "Cost": "contracttape.budget.costs",
    "CostRule": "contracttape.budget.costs",
    "Endpoint": "contracttape.services.profile",
    "Estimate": "contracttape.budget.costs",
    "Interaction": "contracttape.model",
    "LiveVariable": "contracttape.services.profile",
    "NetworkBlocked": "contracttape.errors",
    "NoMatchingInteraction": "contracttape.errors",
    "PlaybackError": "contracttape.errors",
    "PricingError": "contracttape.errors",
    "RecordMode": "contracttape.config",
    "RecordedRequest": "contracttape.model",
    "RecordedResponse": "contracttape.model",
    "Redactor": "contracttape.redact",
    "Route": "contracttape.services.profile",
    "SecretPattern": "contracttape.secret_rules",
    "ServiceProfile": "contracttape.services.profile",
    "TapeOptions": "contracttape.config",
    "TapeSession": "contracttape.session",
    "Target": "contracttape.config",
    "UnusedInteractions": "contracttape.errors",
    "make_pdf": "contracttape.pdf",
}

__version__ = "0.1.0"

__all__ = [
    "BudgetExceeded",
    "CassetteError",
    "CassetteFormatError",
    "Catalogue",
    "ConfigError",
    "ContractError",
    "ContractTapeError",
    "ContractViolation",
    "Cost",
    "CostRule",
    "Endpoint",
    "Estimate",
    "Interaction",
    "LiveVariable",
    "NetworkBlocked",
    "NoMatchingInteraction",
    "PlaybackError",
    "PricingError",
    "RecordMode",
    "RecordedRequest",
    "RecordedResponse",
    "Redactor",
    "Route",
    "SecretPattern",
    "ServiceProfile",
    "TapeOptions",
    "TapeSession",
    "Target",
    "UnusedInteractions",
    "__version__",
    "make_pdf",
]


def __getattr__(name: str) -> _typing.Any:
    """Import a public name's module when the name is first used: ``import contracttape`` (and so
    the pytest plugin) stays cheap, and a run pays only for what it uses."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'contracttape' has no attribute {name!r}")
    value = getattr(_importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
