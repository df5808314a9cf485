"""contracttape: record HTTP traffic once, replay it offline, and keep it honest.

The public API is what ``__all__`` lists; everything in a ``_module`` is private.
"""

from __future__ import annotations

from contracttape.config import RecordMode, TapeOptions
from contracttape.errors import (
    CassetteError,
    CassetteFormatError,
    ConfigError,
    ContractTapeError,
    NetworkBlocked,
    NoMatchingInteraction,
    PlaybackError,
    SecretLeak,
    UnusedInteractions,
)
from contracttape.model import Interaction, RecordedRequest, RecordedResponse
from contracttape.redact import Redactor, SecretRule
from contracttape.session import TapeSession

__version__ = "0.1.0"

__all__ = [
    "CassetteError",
    "CassetteFormatError",
    "ConfigError",
    "ContractTapeError",
    "Interaction",
    "NetworkBlocked",
    "NoMatchingInteraction",
    "PlaybackError",
    "RecordMode",
    "RecordedRequest",
    "RecordedResponse",
    "Redactor",
    "SecretLeak",
    "SecretRule",
    "TapeOptions",
    "TapeSession",
    "UnusedInteractions",
    "__version__",
]
