"""What the pipeline reports to its callers: one message that says what failed and what to do."""

from __future__ import annotations


class PipelineError(Exception):
    """A step failed for good (retries exhausted, a service refused, a file could not be parsed).

    ``status`` is the HTTP status the API answers with; ``step`` names the step."""

    status = 502

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step


class BudgetRefused(PipelineError):
    """Spending would pass a document's or a user's budget: refused before anything is spent."""

    status = 402


class NotFound(PipelineError):
    status = 404


class Busy(PipelineError):
    """Another run holds the document (its lease has not expired)."""

    status = 409


class SettingsError(Exception):
    """A missing or malformed setting (names the variable)."""
