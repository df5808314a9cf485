"""contracttape: record HTTP traffic once, replay it offline, and keep it honest.

The public API is what ``__all__`` lists; everything in a ``_module`` is private. The concepts
live in packages (``budget``, ``contracts``, ``services``, ``sandbox``) whose modules say what
they hold; these are the names a test suite or a service profile needs.
"""

from __future__ import annotations

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
