from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.integration.loopback_app import LoopbackServer

pytest_plugins = ["pytester"]

# parsed cassettes go to a store of this test session, not the user's cache (contracttape.parsed_store)
os.environ.setdefault("CONTRACTTAPE_CACHE_DIR", tempfile.mkdtemp(prefix="contracttape-test-cache-"))


@pytest.fixture(scope="session")
def loopback_url() -> Iterator[str]:
    """The loopback test service, really listening on 127.0.0.1."""
    with LoopbackServer() as server:
        yield server.url
