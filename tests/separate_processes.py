"""Separate processes for the tests that need them (writers killed mid-write, locks, ledgers).

They were ``multiprocessing``'s "spawn" processes: a fresh interpreter each, which imported the
test module and contracttape again, about 0.4 s of CPU per process. This is the "forkserver"
context instead: per test process (per xdist worker), one server imports those modules once and
each process is a fork of it. A process is still a process of its own, with nothing of the test
process's memory, threads or locks in it, and can be killed like any other."""

from __future__ import annotations

import multiprocessing
from multiprocessing.context import BaseContext

# the modules whose functions run in the separate processes, and what they import
PRELOAD = [
    "contracttape.cassettes",
    "contracttape.budget",
    "tests.unit.test_cassettes",
    "tests.unit.test_process_lock",
    "tests.unit.test_ledger",
    "tests.unit.test_budget_guarantees",
    "tests.unit.test_parsed_store",
]


def context() -> BaseContext:
    forkserver = multiprocessing.get_context("forkserver")
    forkserver.set_forkserver_preload(PRELOAD)  # only read when the server starts
    return forkserver
