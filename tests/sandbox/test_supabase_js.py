"""The Supabase sandbox driven by the official JavaScript client (supabase-js from npm).

The suite installs it itself (``tests/js/package.json``, ``npm ci``) and runs a small Node
script against the sandbox. Skipped, saying why, only on a machine with no Node.js.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from contracttape.pdf import make_pdf
from contracttape.sandbox import Sandbox

JS = Path(__file__).resolve().parents[1] / "js"


@pytest.fixture(scope="session")
def node_clients() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip(
            "Node.js and npm are not installed: the supabase-js checks need them (apt install nodejs npm)"
        )
    with FileLock(str(JS / ".install.lock")):  # xdist workers install once
        wanted = json.loads((JS / "package.json").read_text())["dependencies"]
        if not all((JS / "node_modules" / name / "package.json").exists() for name in wanted):
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert done.returncode == 0, f"npm ci in {JS} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return JS


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


def run_script(node_clients: Path, sandbox: Sandbox, script: str, **extra: str) -> dict[str, Any]:
    env = {**os.environ, **sandbox.env(), **extra}
    done = subprocess.run(
        ["node", script], cwd=node_clients, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_supabase_js_uploads_to_a_signed_url_and_anon_sees_rls(node_clients: Path, sandbox: Sandbox) -> None:
    pdf = make_pdf(["From the JavaScript client"])
    out = run_script(
        node_clients,
        sandbox,
        "storage_and_rls.mjs",
        EMAIL=f"js-{uuid.uuid4().hex[:8]}@example.com",
        PASSWORD="a js password",
        PDF_BASE64=base64.b64encode(pdf).decode(),
    )
    # Supabase's default grants: anon reads nothing through RLS, and its insert is the RLS error
    assert out["anonSelect"] == {"status": 200, "data": [], "error": None}
    assert out["anonInsert"]["status"] == 401
    assert out["anonInsert"]["code"] == "42501"
    # storage-js names the file part "" (and adds a cacheControl field): it is taken all the same
    assert out["signError"] is None
    assert out["signedUpload"]["error"] is None
    assert out["signedUpload"]["data"]["path"] == f"{out['uid']}/signed.pdf"
    assert out["directUpload"] == {"path": f"{out['uid']}/direct.pdf", "error": None}
    for name in ("signed.pdf", "direct.pdf"):
        assert out[name]["size"] == len(pdf), out[name]
        assert out[name]["error"] is None
