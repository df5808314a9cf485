"""The budget: every request priced before it is sent, reserved in a ledger, settled after.

- ``guard``: ``Budget`` (estimate -> reserve -> settle), ``Priced``, ``Reservation``;
- ``costs``: ``Estimate``, ``Cost`` and the ``CostRule`` protocol service profiles implement;
- ``prices``: ``PriceBook`` over ``data/prices.yaml`` and the user's price file;
- ``ledger`` / ``ledger_pg``: reservations in a file journal or PostgreSQL, owners, orphans;
- ``spend``: spend summaries (terminal summary, ``contracttape budget report``).
"""

from __future__ import annotations

from pathlib import Path

from contracttape.budget.ledger import FileLedger, Ledger


def open_ledger(location: str, root: Path) -> Ledger:
    """A ledger from ``--ledger``: a postgresql:// URL, or a file path (relative to the rootdir)."""
    if location.startswith(("postgresql://", "postgres://")):
        from contracttape.budget.ledger_pg import PostgresLedger

        return PostgresLedger(location)
    return FileLedger((root / location).resolve())
