from __future__ import annotations

import pytest

from contracttape.config import DEFAULTS, RecordMode, TapeOptions, merge
from contracttape.errors import ConfigError


def test_precedence_cli_then_marker_then_fixture_then_defaults() -> None:
    cli = TapeOptions(record_mode=RecordMode.ALL)
    marker = TapeOptions(record_mode=RecordMode.ONCE, allow_unused=True)
    fixture = TapeOptions(allow_unused=False, compress_time=False, cassette="shared")
    merged = merge(cli, marker, fixture, DEFAULTS)
    assert merged == TapeOptions(
        record_mode=RecordMode.ALL,
        cassette="shared",
        allow_playback_repeats=False,
        allow_unused=True,
        compress_time=False,
        validate_contracts=True,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"record_mod": "once"}, "unknown contracttape option(s) record_mod"),
        ({"record_mode": "sometimes"}, "record mode 'sometimes' is not one of none, once"),
        ({"allow_unused": "yes"}, "allow_unused must be True or False"),
        ({"cassette": 3}, "cassette must be a file name"),
    ],
)
def test_bad_marker_kwargs_name_the_test(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=r"tests/t\.py::test_x") as info:
        TapeOptions.from_kwargs(kwargs, "tests/t.py::test_x")
    assert message in str(info.value)


def test_record_modes() -> None:
    assert [m.records for m in RecordMode] == [False, True, True, True, True]
