from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_ini(pytester: pytest.Pytester) -> None:
    # pytest-recording (installed for the benchmark) also drives vcrpy; inner runs turn it off,
    # as users are told to do by contracttape's own error message.
    pytester.makeini("[pytest]\naddopts = -p no:recording\nasyncio_default_fixture_loop_scope = function\n")
