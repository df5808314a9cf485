from __future__ import annotations

from pathlib import Path

import pytest

from contracttape.errors import ConfigError
from contracttape.targets import LIVE_VARIABLES, live_env, read_dotenv


def test_live_env_needs_every_key_and_names_the_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        live_env(tmp_path, {"OPENAI_API_KEY": "x"})
    message = str(info.value)
    assert "SUPABASE_URL, SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY, LLAMA_CLOUD_API_KEY" in message
    assert str(tmp_path / ".env") in message


def test_dotenv_then_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# keys\n"
        + "\n".join(f"{name}='from file {name}'" for name in LIVE_VARIABLES)
        + "\nexport OPENAI_BASE_URL=https://proxy.test/v1\n"
    )
    env = live_env(tmp_path, {"OPENAI_API_KEY": "from environment"})
    assert env["OPENAI_API_KEY"] == "from environment"
    assert env["SUPABASE_URL"] == "from file SUPABASE_URL"
    assert env["OPENAI_BASE_URL"] == "https://proxy.test/v1"
    assert env["LLAMA_CLOUD_BASE_URL"] == "https://api.cloud.llamaindex.ai"


def test_bad_dotenv_line_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GOOD=1\nthis is not an assignment\n")
    with pytest.raises(ConfigError, match=r"\.env:2: expected KEY=VALUE"):
        read_dotenv(tmp_path / ".env")
