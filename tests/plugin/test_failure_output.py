"""A replay miss through the openai SDK leads with the diagnosis, not 70 lines of SDK, httpx2 and
vcrpy frames; ``--tb=long`` still shows them."""

from __future__ import annotations

import pytest

TEST = """
import openai, pytest

@pytest.mark.contracttape
def test_chat(contracttape_env):
    env = contracttape_env
    with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "never recorded"}])
"""


def test_a_miss_leads_with_the_diagnosis(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_miss=TEST)
    short = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    short.assert_outcomes(failed=1)
    out = short.stdout.str()
    assert "contracttape.NoMatchingInteraction: test_miss.py::test_chat: no recorded response for POST" in out
    assert "the cassette does not exist: this test has never been recorded" in out
    assert "--tb=long shows it" in out
    for frame in ("httpx2/_client.py", "vcr/stubs", "openai/_base_client.py"):
        assert frame not in out
    long = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tb=long")
    assert "openai/_base_client.py" in long.stdout.str()
