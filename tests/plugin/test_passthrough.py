"""The app under test, called in-process, passes through: never recorded, faulted, priced or
replayed, in every mode; what it calls on the services is recorded and replayed as usual."""

from __future__ import annotations

import pytest

from contracttape.cassettes import loads
from tests.plugin.test_plugin import CONFTEST

APP_TESTS = """
import httpx, pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

pytestmark = pytest.mark.contracttape

def make_app(base_url):
    async def proxy(request):
        async with httpx.AsyncClient() as client:  # the app's own call to a service
            echoed = (await client.get(base_url + "/echo", params={"q": request.query_params["q"]})).json()
        return JSONResponse({"app": True, "echoed": echoed["query"]})
    return Starlette(routes=[Route("/proxy", proxy)])

async def test_app_in_process(base_url, contracttape_passthrough):
    assert "app.test" in contracttape_passthrough
    transport = httpx.ASGITransport(make_app(base_url))
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        answer = await client.get("/proxy", params={"q": "7"})
    assert answer.json() == {"app": True, "echoed": [["q", "7"]]}
"""


@pytest.fixture
def app_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_app=APP_TESTS)
    pytester.makepyprojecttoml('[tool.contracttape]\npassthrough = ["app.test"]\n')
    (pytester.path / "tox.ini").unlink(missing_ok=True)
    pytester.makeini(
        "[pytest]\naddopts = -p no:recording\nasyncio_mode = auto\n"
        "asyncio_default_fixture_loop_scope = function\n"
    )
    return pytester


def test_the_app_passes_through_and_its_calls_are_recorded(
    app_suite: pytest.Pytester, loopback_url: str
) -> None:
    app_suite.runpytest("--record-mode=once", f"--base-url={loopback_url}").assert_outcomes(passed=1)
    path = app_suite.path / "cassettes" / "test_app" / "test_app_in_process.yaml"
    uris = [i.request.uri for i in loads(path.read_text(), path).interactions]
    assert uris == ["http://svc.test/echo?q=7"]  # the service call only, never the app's
    replayed = app_suite.runpytest("--block-network")
    replayed.assert_outcomes(passed=1)  # the app ran for real; its service call was replayed


@pytest.mark.parametrize(
    ("value", "message"),
    [('"app.test"', "must be a list of hosts"), ('["http://app.test/x"]', "must be a list of hosts")],
)
def test_a_bad_passthrough_setting_is_named(pytester: pytest.Pytester, value: str, message: str) -> None:
    pytester.makepyprojecttoml(f"[tool.contracttape]\npassthrough = {value}\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret != 0
    assert f"[tool.contracttape] passthrough {message}" in result.stdout.str() + result.stderr.str()
