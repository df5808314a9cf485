"""Every error contracttape raises, in one hierarchy.

ContractTapeError
 ├── ConfigError                 bad option, marker kwarg or config value
 │    └── PricingError           a price the budget needs is missing or malformed
 ├── CassetteError               a cassette file cannot be used
 │    └── CassetteFormatError    unreadable, or written by a newer format version
 ├── PlaybackError               replay could not serve the traffic a test made
 │    ├── NoMatchingInteraction  a request has no recorded twin (or its twins are used up)
 │    ├── UnusedInteractions     recorded requests the test never made
 │    └── ContractViolation      a response does not satisfy its endpoint's contract
 ├── ContractError               a contract file cannot be used
 ├── BudgetExceeded              a request's worst-case cost does not fit what is left of the cap
 └── NetworkBlocked              a socket tried to leave the process during replay

Messages say what happened, where (test, cassette, request) and the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path


class ContractTapeError(Exception):
    """Base class of every contracttape error."""


class ConfigError(ContractTapeError):
    """An option, marker kwarg or configuration value is invalid."""


class PricingError(ConfigError):
    """A price the budget needs is missing or malformed (the request is never sent)."""


class CassetteError(ContractTapeError):
    """A cassette file cannot be used."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {message}")


class CassetteFormatError(CassetteError):
    """A cassette is unreadable or was written by an unknown format version."""


class PlaybackError(ContractTapeError):
    """Replay could not serve the traffic a test made."""


class NoMatchingInteraction(PlaybackError):
    """A request was made that the cassette cannot answer."""


class UnusedInteractions(PlaybackError):
    """The cassette holds requests that the test never made."""


class NetworkBlocked(ContractTapeError, OSError):
    """A connection was attempted while the network is blocked (replay mode).

    It is also an ``OSError`` so that code which handles connection failures still sees one;
    the plugin reports it even if the client swallowed it.
    """


class ContractError(ContractTapeError):
    """A contract file cannot be used."""


class ContractViolation(PlaybackError):
    """A replayed or recorded response does not satisfy its endpoint's contract."""


class BudgetExceeded(ContractTapeError):
    """A request was refused before it was sent: its worst-case cost does not fit the budget."""
