"""Checking replayed responses against their contracts: jsonschema alone vs the compiled first check.

Replays the integration suite (``tests/integration``, from its committed cassettes) in this
process, keeps every (contract, response) pair replay validated, then times, over those pairs,
jsonschema's full validation (what every response cost before ``contracts/fast_check.py``) and
the compiled check (what a valid response costs now), best of ROUNDS; and counts the pairs where
the two disagree (there must be none: every recorded response is valid).

  python tools/bench_contract_check.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent


class _Collect:
    """A pytest plugin: for the run, every check reaches jsonschema (no compiled check), which
    keeps its pairs; both undone at the run's end."""

    def __init__(self) -> None:
        self.pairs: list[tuple[Draft202012Validator, Any]] = []
        self.patches = pytest.MonkeyPatch()

    def pytest_configure(self) -> None:
        from contracttape.contracts import fast_check  # after pytest's import hook

        original = Draft202012Validator.iter_errors
        pairs = self.pairs

        def kept(validator: Draft202012Validator, instance: Any, *args: Any, **kwargs: Any) -> Any:
            if validator.schema is not validator.META_SCHEMA:
                pairs.append((validator, instance))
            return original(validator, instance, *args, **kwargs)

        self.patches.setattr(fast_check, "compiled", lambda schema: None)
        self.patches.setattr(Draft202012Validator, "iter_errors", kept)

    def pytest_unconfigure(self) -> None:
        self.patches.undo()


def collected_pairs() -> list[tuple[Draft202012Validator, Any]]:
    collect = _Collect()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["CONTRACTTAPE_CACHE_DIR"] = cache
        code = pytest.main([str(ROOT / "tests" / "integration"), "-q", "-p", "no:cacheprovider"], [collect])
    if code != 0:
        sys.exit(f"the integration suite's replay failed (exit {code})")
    return collect.pairs


def best(rounds: int, work: Any) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    pairs = collected_pairs()
    from contracttape.contracts import fast_check
    from contracttape.contracts.book import _format_checker

    schemas = {id(v): v.schema for v, _ in pairs}

    def with_jsonschema() -> None:
        """One replay's worth: a validator per contract, made when first needed, every response."""
        made: dict[int, Draft202012Validator] = {}
        for v, instance in pairs:
            if id(v) not in made:
                made[id(v)] = Draft202012Validator(schemas[id(v)], format_checker=_format_checker())
            next(iter(made[id(v)].iter_errors(instance)), None)

    def with_compiled() -> None:
        made: dict[int, Any] = {}
        for v, instance in pairs:
            if id(v) not in made:
                made[id(v)] = fast_check.compiled(schemas[id(v)])
            made[id(v)](instance)

    missing = sum(1 for s in schemas.values() if fast_check.compiled(s) is None)
    full = best(args.rounds, with_jsonschema)
    fast = best(args.rounds, with_compiled)
    disagree = 0
    for v, instance in pairs:
        check = fast_check.compiled(schemas[id(v)])
        if check is not None and check(instance) != (next(iter(v.iter_errors(instance)), None) is None):
            disagree += 1
    per = len(pairs) or 1
    print(
        f"{len(pairs)} responses of {len(schemas)} contracts ({missing} without a compiled check); "
        f"a validator made per contract, then every response checked once; best of {args.rounds}"
    )
    print(f"jsonschema         {full / per * 1000:.3f} ms per response ({full * 1000:.0f} ms in all)")
    print(
        f"compiled check     {fast / per * 1000:.3f} ms per response ({fast * 1000:.0f} ms in all, "
        f"{full / max(fast, 1e-9):.0f}x less)"
    )
    print(f"verdicts that differ: {disagree}")


if __name__ == "__main__":
    main()
