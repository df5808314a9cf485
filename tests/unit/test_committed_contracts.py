"""The committed contracts are exactly what the committed cassettes imply."""

from __future__ import annotations

from pathlib import Path

from contracttape.contracts.book import contract_path, contracts_from, observations_in
from contracttape.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_contracts_are_up_to_date_with_cassettes() -> None:
    settings = load_settings(ROOT)
    built = contracts_from(observations_in(settings.cassettes, settings.catalogue()))
    assert built, "the integration cassettes should produce contracts"
    stale = [
        str(contract_path(settings.contracts, endpoint).relative_to(ROOT))
        for endpoint, contract in built.items()
        if not contract_path(settings.contracts, endpoint).exists()
        or contract_path(settings.contracts, endpoint).read_text(encoding="utf-8") != contract.to_json()
    ]
    assert stale == [], "run `make contracts` and commit the result"
