from __future__ import annotations

import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import llama_cloud
import openai

from contracttape.pdf import make_pdf
from contracttape.sandbox import AI_SERVICES, Sandbox, SandboxConfig
from tests import warm_python


def shapes(revision: int) -> tuple[dict, dict, dict, str]:  # type: ignore[type-arg]
    with Sandbox(SandboxConfig(revision=revision, job_seconds=0.1), services=AI_SERVICES) as running:
        env = running.env()
        with openai.OpenAI(base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"]) as client:
            embedding = client.embeddings.with_raw_response.create(
                model="text-embedding-3-small", input="x"
            ).http_response.json()
            chat = client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
            ).http_response.json()
        with llama_cloud.LlamaCloud(
            base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"]
        ) as llama:
            job = llama.parsing.create(
                tier="fast", version="latest", upload_file=("a.pdf", make_pdf(["x"]), "application/pdf")
            )
            first_status = job.status
            llama.parsing.wait_for_completion(job.id, polling_interval=0.05, backoff="constant")
            parsed = llama.parsing.with_raw_response.get(job.id, expand=["job_metadata"]).http_response.json()
    return embedding, chat, parsed, first_status


def test_revision_2_changes_shapes_on_purpose() -> None:
    e1, c1, p1, s1 = shapes(1)
    e2, c2, p2, s2 = shapes(2)
    assert "embedding_norm" not in e1["data"][0]
    assert e2["data"][0]["embedding_norm"] == 1.0  # field added
    assert "system_fingerprint" in c1
    assert "system_fingerprint" not in c2  # field removed
    assert isinstance(c1["created"], int)
    assert isinstance(c2["created"], str)  # type changed
    assert (c1["choices"][0]["finish_reason"], c2["choices"][0]["finish_reason"]) == (
        "stop",
        "end_turn",
    )  # enum value added
    assert isinstance(c1["usage"]["completion_tokens_details"], dict)
    assert c2["usage"]["completion_tokens_details"] is None  # made nullable
    assert (s1, s2) == ("PENDING", "QUEUED")
    assert "tier" in p1["job"]
    assert "tier" not in p2["job"]
    assert p2["job"]["priority"] == "normal"
    assert p2["job"]["name"] is None
    assert (p1["job_metadata"]["job_pages"], p2["job_metadata"]["job_pages"]) == (1, "1")


def test_sandbox_up_writes_its_environment_and_serves_until_interrupted(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    process = warm_python.WarmPopen(
        [sys.executable, "-m", "contracttape", "sandbox", "up", "--env-file", str(env_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not env_file.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        values = dict(shlex.split(line)[0].split("=", 1) for line in env_file.read_text().splitlines())
        with openai.OpenAI(base_url=values["OPENAI_BASE_URL"], api_key=values["OPENAI_API_KEY"]) as client:
            assert (
                len(client.embeddings.create(model="text-embedding-3-small", input="up").data[0].embedding)
                == 1536
            )
        assert values["LLAMA_CLOUD_API_KEY"].startswith("llx-sandbox-")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert {line.split("=", 1)[0] for line in out.splitlines()} >= {
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "LLAMA_CLOUD_BASE_URL",
        "LLAMA_CLOUD_API_KEY",
        "SUPABASE_URL",
        "SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
    }
    assert "sandbox stopped" in err
