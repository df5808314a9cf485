"""The service router: one setting picks sandbox or live; explicit variables win; errors name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from docpipe.errors import SettingsError
from docpipe.settings import Settings

KEYS = {
    "SUPABASE_URL": "https://abc.supabase.co",
    "SUPABASE_ANON_KEY": "anon",
    "OPENAI_API_KEY": "sk-x",
    "LLAMA_CLOUD_API_KEY": "llx-x",
}


def test_live_uses_the_real_services_defaults() -> None:
    settings = Settings.from_env({**KEYS, "DOCPIPE_TARGET": "live"})
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.llama_base_url == "https://api.cloud.llamaindex.ai"
    assert settings.public_url is None  # no public URL: LlamaParse jobs are polled


def test_sandbox_reads_the_running_sandbox_and_explicit_variables_win(tmp_path: Path) -> None:
    (tmp_path / ".contracttape").mkdir()
    (tmp_path / ".contracttape" / "sandbox.env").write_text(
        "# written by contracttape sandbox up\nSUPABASE_URL=http://127.0.0.1:5001\nSUPABASE_ANON_KEY=a\n"
        "OPENAI_BASE_URL=http://127.0.0.1:5002/v1\nOPENAI_API_KEY=sk-sandbox\n"
        "LLAMA_CLOUD_BASE_URL=http://127.0.0.1:5003\nLLAMA_CLOUD_API_KEY=llx-sandbox\n"
    )
    settings = Settings.from_env({"OPENAI_API_KEY": "mine"}, root=tmp_path)
    assert settings.supabase_url == "http://127.0.0.1:5001"
    assert settings.openai_api_key == "mine"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOCPIPE_TARGET": "prod"}, "DOCPIPE_TARGET must be 'sandbox' or 'live', not 'prod'"),
        (
            {"DOCPIPE_TARGET": "live"},
            "docpipe needs SUPABASE_URL, SUPABASE_ANON_KEY, OPENAI_API_KEY, LLAMA_CLOUD_API_KEY",
        ),
        (
            {**KEYS, "DOCPIPE_TARGET": "live", "DOCPIPE_USER_BUDGET_USD": "lots"},
            "DOCPIPE_USER_BUDGET_USD must be a number",
        ),
        ({**KEYS, "DOCPIPE_TARGET": "live", "DOCPIPE_DOCUMENT_BUDGET_USD": "-1"}, "must not be negative"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=message.replace("$", r"\$").replace("(", r"\(")):
        Settings.from_env(env, root=tmp_path)
