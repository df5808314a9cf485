"""The ``contracttape_mocks`` fixture: a broken mock fails the test even when the code under
test swallows the error, and mocks with no contract are listed at the end of the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = "contracts/openai/post_v1_embeddings__encoding_format=float__2xx.schema.json"
TESTS = """
import httpx

URL = "https://api.openai.com/v1/embeddings"
BODY = {"model": "text-embedding-3-small", "input": "x", "encoding_format": "float"}


def embed_or_none():
    try:
        return httpx.post(URL, json=BODY).json()
    except Exception:
        return None  # code that swallows errors: the broken mock must still fail the test


def test_swallowed(contracttape_mocks):
    with contracttape_mocks.router() as router:
        router.post(URL).mock(return_value=httpx.Response(200, json={"data": "not a list"}))
        assert embed_or_none() is None


def test_uncovered(contracttape_mocks):
    with contracttape_mocks.router() as router:
        router.get("https://api.openai.com/v1/files").mock(return_value=httpx.Response(200, json={}))
        assert httpx.get("https://api.openai.com/v1/files").json() == {}
"""


def test_the_fixture_fails_a_swallowed_violation_and_lists_uncovered_mocks(pytester: pytest.Pytester) -> None:
    (pytester.path / CONTRACT).parent.mkdir(parents=True)
    shutil.copy(ROOT / CONTRACT, pytester.path / CONTRACT)
    pytester.makepyfile(test_unit=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "contracttape.ContractViolation: test_unit.py::test_swallowed: openai POST /v1/embeddings" in out
    assert "$.data: 'not a list' is not of type 'array'" in out
    assert "mocked with no contract to check them against (1): GET https://api.openai.com/v1/files" in out
