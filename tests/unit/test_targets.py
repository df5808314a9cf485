from __future__ import annotations

from pathlib import Path

import pytest

from contracttape.errors import ConfigError
from contracttape.targets import LIVE_VARIABLES, live_env, read_dotenv


def test_live_env_needs_only_the_keys_a_test_reads(tmp_path: Path) -> None:
    env = live_env(tmp_path, {"OPENAI_API_KEY": "x"})  # no Supabase or LlamaParse keys: fine
    assert env["OPENAI_API_KEY"] == "x"
    assert env["OPENAI_BASE_URL"] == "https://api.openai.com/v1"  # a default
    assert "SUPABASE_URL" not in env
    with pytest.raises(ConfigError) as info:
        env["SUPABASE_SERVICE_ROLE_KEY"]
    message = str(info.value)
    assert "needs SUPABASE_SERVICE_ROLE_KEY (for supabase)" in message
    assert str(tmp_path / ".env") in message
    with pytest.raises(KeyError):
        env["NOT_A_LIVE_VARIABLE"]


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
