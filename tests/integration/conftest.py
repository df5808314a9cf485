"""The integration suite: real clients (httpx, httpx2 via the openai SDK, requests) recorded
against a loopback server, replayed offline from ``cassettes/``.

In replay (the default) no server starts: clients get the logical origin that cassettes store.
In a recording mode the server starts on a random port, registered as that logical origin.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

LOGICAL_ORIGIN = "http://loopback.contracttape.test"

pytestmark = pytest.mark.contracttape


@pytest.fixture(scope="session")
def base_url(pytestconfig: pytest.Config, contracttape_origins: dict[str, str]) -> Iterator[str]:
    if (pytestconfig.getoption("--record-mode") or "none") == "none":
        yield LOGICAL_ORIGIN
        return
    from tests.integration.loopback_app import LoopbackServer  # the sandbox's server: recording only

    with LoopbackServer() as server:
        contracttape_origins[server.url] = LOGICAL_ORIGIN
        yield server.url


@pytest.fixture(scope="session", autouse=True)
def _alerts_pass_through(contracttape_passthrough: set[str]) -> None:
    contracttape_passthrough.add("alerts.test")  # docpipe's cost alerts go to a receiver in the test


@pytest.fixture(autouse=True)
def _docpipe_users_removed(_contracttape_cassette: object) -> Iterator[None]:
    """Users a docpipe test signed up are deleted as it ends, inside its cassette."""
    yield
    remove_users()


from tests.integration.docpipe_kit import docpipe_env, remove_users, webhook_receiver  # noqa: E402

__all__ = ["base_url", "docpipe_env", "webhook_receiver"]
