"""A replay miss through the openai SDK leads with the diagnosis, not 70 lines of SDK, httpx2 and
vcrpy frames; ``--tb=long`` still shows them."""

from __future__ import annotations

import pytest

from contracttape.errors import BudgetExceeded, ContractTapeError
from contracttape.plugin import _one_frame

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


def _deep(depth: int) -> None:
    if depth:
        _deep(depth - 1)
        return
    try:
        raise ConnectionError("the SDK's own error")
    except ConnectionError as sdk:
        raise BudgetExceeded("t.py::test: refused before sending POST /x") from sdk


def test_what_pytest_renders_of_a_hidden_traceback_is_one_frame_of_the_same_error() -> None:
    """pytest parses the source file of every frame it renders; for an error whose report the
    plugin replaces anyway, it gets one frame and no chain, and the error itself is untouched."""
    with pytest.raises(BudgetExceeded) as raised:
        _deep(20)
    shown = _one_frame(raised)
    assert type(shown.value) is BudgetExceeded
    assert str(shown.value) == str(raised.value)
    assert len(shown.traceback) == 1
    assert shown.value.__cause__ is None
    assert shown.value.__context__ is None
    assert isinstance(raised.value.__cause__, ConnectionError)  # the original keeps its chain
    assert len(raised.traceback) > 20


class _Unrebuildable(ContractTapeError):
    def __init__(self, *, reason: str) -> None:
        super().__init__(f"because {reason}")


def test_an_error_that_cannot_be_copied_is_rendered_as_it_is() -> None:
    with pytest.raises(_Unrebuildable) as raised:
        raise _Unrebuildable(reason="keyword only")
    assert _one_frame(raised) is raised
