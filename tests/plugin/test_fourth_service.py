"""A fourth service, added from outside the package exactly as a user would: one profile module,
one price file, one loopback stand-in. It is recorded (priced, capped, redacted, normalised by its
own rules), replayed offline, and gets a contract, with no change to contracttape.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from contracttape.budget.ledger import FileLedger

PROFILE = '''
import re
from contracttape.bodies import json_object, json_or_none
from contracttape.budget.costs import Cost, Estimate
from contracttape.secret_rules import SecretPattern
from contracttape.services.profile import LiveVariable, Route, ServiceProfile


class AcmeCosts:
    """Translation is billed per 1,000 characters of input (price file: acme.usd_per_1k_chars)."""

    def estimate(self, request, prices):
        if request.method == "GET":
            return Estimate(0.0, "reads are free")
        if request.path != "/v1/translate":
            return None  # unpriced: refused under a cap
        chars = len(str(json_object(request).get("text", "")))
        usd = chars / 1000 * prices.number("acme", "usd_per_1k_chars") * prices.number("acme", "margin")
        return Estimate(usd, f"{chars} characters")

    def actual(self, request, response, prices):
        used = (json_or_none(response.body) or {}).get("usage", {}).get("characters", 0)
        return Cost(used / 1000 * prices.number("acme", "usd_per_1k_chars"), {"characters": used}, "usage")


PROFILE = ServiceProfile(
    name="acme",
    hosts=("api.acme.test",),
    routes=(Route("POST", "/v1/translate"), Route("GET", "/v1/languages")),
    costs=AcmeCosts(),
    logical_origin="http://api.acme.test",
    replay_env=(("ACME_BASE_URL", "http://api.acme.test"), ("ACME_API_KEY", "acme-replay")),
    live_variables=(LiveVariable("ACME_API_KEY"), LiveVariable("ACME_BASE_URL", "https://api.acme.example")),
    volatile_headers=(("x-acme-trace", "normalised"),),
    noise_headers=frozenset({"x-acme-client-build"}),
    matched_headers=frozenset({"x-acme-dialect"}),
    secret_headers=frozenset({"x-acme-tenant"}),
    secret_keys=frozenset({"glossary_ref"}),
    secret_patterns=(SecretPattern("acme-key", re.compile(r"\\bacme_[0-9a-f]{32}\\b")),),
    distributions=("pyyaml",),
)
'''

SERVER = """
import uuid
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def translate(request):
    body = await request.json()
    text = body["text"]
    return JSONResponse(
        {"id": str(uuid.uuid4()), "translation": text[::-1], "dialect": request.headers.get("x-acme-dialect"),
         "usage": {"characters": len(text)}, "note": "your key acme_" + "0123456789abcdef" * 2},
        headers={"x-acme-trace": uuid.uuid4().hex},
    )

async def languages(request):
    return JSONResponse({"languages": ["en", "fr"]})

APP = Starlette(routes=[Route("/v1/translate", translate, methods=["POST"]),
                        Route("/v1/languages", languages, methods=["GET"])])
"""

CONFTEST = """
import pytest
from contracttape.sandbox.server import ServerThread
from acme_server import APP

@pytest.fixture(scope="session")
def acme_url(pytestconfig, contracttape_origins, contracttape_env):
    if pytestconfig.getoption("--target") == "live":
        assert contracttape_env["ACME_API_KEY"]  # the client would send it: only then is it needed
    if (pytestconfig.getoption("--record-mode") or "none") == "none":
        yield contracttape_env["ACME_BASE_URL"]  # the profile's replay variables
        return
    with ServerThread(APP, "acme") as server:
        contracttape_origins[server.url] = "http://api.acme.test"
        yield server.url
"""

TEST = """
import httpx, pytest

KEY = "acme_" + "fedcba9876543210" * 2

@pytest.mark.contracttape
def test_translate(acme_url):
    with httpx.Client(base_url=acme_url) as client:
        assert client.get("/v1/languages").json() == {"languages": ["en", "fr"]}
        answer = client.post(
            "/v1/translate",
            json={"text": "bonjour le monde", "glossary_ref": "gl-Zq81Xw"},
            headers={"authorization": f"Bearer {KEY}", "x-acme-tenant": "tenant-42",
                     "x-acme-client-build": "build-7", "x-acme-dialect": "fr-CA"},
        ).json()
    assert answer["translation"] == "ednom el ruojnob"
    assert answer["dialect"] == "fr-CA"
"""

PRICES = "format: 1\nacme:\n  usd_per_1k_chars: 2.0\n  margin: 1.5\n"


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyprojecttoml(
        '[tool.contracttape]\nservices = ["acme_service:PROFILE"]\nprices = "prices.yaml"\n'
    )
    pytester.makepyfile(acme_service=PROFILE, acme_server=SERVER, conftest=CONFTEST, test_acme=TEST)
    (pytester.path / "prices.yaml").write_text(PRICES)
    return pytester


def run(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args, timeout=120)


@pytest.mark.slow
def test_a_service_from_outside_records_replays_prices_and_contracts(project: pytest.Pytester) -> None:
    recorded = run(project, "--record-mode=rewrite", "--budget-usd=1", "--ledger=ledger.json")
    assert recorded.ret == 0, recorded.stdout.str()
    cassette_path = project.path / "cassettes/test_acme/test_translate.yaml"
    text = cassette_path.read_text()
    cassette = yaml.safe_load(text)
    translate = cassette["interactions"][1]
    request_headers, response_headers = translate["request"]["headers"], translate["response"]["headers"]
    # its secret rules: header, body key, key pattern (the bearer header by meaning)
    assert "fedcba9876543210" not in text
    assert "0123456789abcdef" not in text
    assert "tenant-42" not in text
    assert "gl-Zq81Xw" not in text
    assert request_headers["x-acme-tenant"] == ["<redacted:x-acme-tenant>"]
    # its header rules: volatile pinned, noise dropped, matched kept
    assert response_headers["x-acme-trace"] == ["normalised"]
    assert "x-acme-client-build" not in request_headers
    assert request_headers["x-acme-dialect"] == ["fr-CA"]
    # its distributions are recorded, its origin is logical
    assert "pyyaml" in cassette["contracttape"]["versions"]
    assert translate["request"]["uri"] == "http://api.acme.test/v1/translate"
    # priced by its own rule and prices: 16 characters at $2 per 1k
    assert translate["contracttape"]["cost_usd"] == pytest.approx(16 / 1000 * 2.0)
    ledger = FileLedger(project.path / "ledger.json").entries()
    priced = [e for e in ledger if e.endpoint == "POST /v1/translate"]
    assert [e.service for e in priced] == ["acme"]
    assert priced[0].estimate == pytest.approx(16 / 1000 * 2.0 * 1.5)

    # replayed offline, through the profile's replay variables
    replayed = run(project, "--block-network")
    assert replayed.ret == 0, replayed.stdout.str()
    replayed.stdout.fnmatch_lines(["*1 passed*"])

    # a contract per endpoint
    built = project.run(sys.executable, "-m", "contracttape", "contracts", "build", timeout=120)
    assert built.ret == 0, built.stdout.str()
    contract = json.loads(
        next((project.path / "contracts/acme").glob("post_v1_translate*.schema.json")).read_text()
    )
    assert contract["properties"]["translation"]["type"] == "string"
    assert contract["x-contracttape"]["endpoint"]["service"] == "acme"


@pytest.mark.slow
def test_its_cap_and_its_live_variables_apply(project: pytest.Pytester) -> None:
    refused = run(project, "--record-mode=rewrite", "--budget-usd=0.00001", "--ledger=ledger.json")
    assert refused.ret != 0
    refused.stdout.fnmatch_lines(
        ["*refused before sending POST http://api.acme.test/v1/translate*16 characters*"]
    )
    live = run(project, "--record-mode=rewrite", "--target=live", "--budget-usd=1", "--ledger=ledger.json")
    assert live.ret != 0
    live.stdout.fnmatch_lines(["*needs ACME_API_KEY (for acme)*"])
    assert not Path(project.path / "cassettes/test_acme/test_translate.yaml").exists()
