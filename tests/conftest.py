from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.loopback_app import LoopbackServer

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def loopback_url() -> Iterator[str]:
    """The loopback test service, really listening on 127.0.0.1."""
    with LoopbackServer() as server:
        yield server.url
