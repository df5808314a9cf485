"""A job polled until done (sleeps compressed in replay), and secrets planted by a server."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from contracttape import TapeSession
from contracttape.secret_rules import REDACTED_SIGNATURE
from tests.integration.loopback_app import PLANTED_API_KEY

pytestmark = pytest.mark.contracttape


def test_polling_loop_sync(base_url: str, tape: TapeSession) -> None:
    with httpx.Client(base_url=base_url) as client:
        job = client.post("/jobs").json()
        while (status := client.get(f"/jobs/{job['id']}").json())["status"] != "COMPLETED":
            time.sleep(0.25)
    assert status["polls"] == 3
    if tape.replaying:
        assert tape.incidents.slept_seconds == pytest.approx(0.5)


async def test_polling_loop_async(base_url: str, tape: TapeSession) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        job = (await client.post("/jobs")).json()
        while (status := (await client.get(f"/jobs/{job['id']}")).json())["status"] != "COMPLETED":
            await asyncio.sleep(0.25)
    assert status["polls"] == 3
    if tape.replaying:
        assert tape.incidents.slept_seconds == pytest.approx(0.5)


def test_planted_secrets_never_replay(base_url: str, tape: TapeSession) -> None:
    with httpx.Client(base_url=base_url) as client:
        session = client.post(
            "/auth/token", json={"email": "ada@example.com", "password": "hunter2-hunter2"}
        ).json()
        me = client.get("/auth/me", headers={"authorization": f"Bearer {session['access_token']}"}).json()
    assert me == {"authenticated": True}
    signature = session["access_token"].rsplit(".", 1)[1]
    if tape.replaying:
        # what was stored: a JWT that still decodes, but whose signature is gone
        assert signature == REDACTED_SIGNATURE
        assert PLANTED_API_KEY not in str(session)
        assert session["refresh_token"] == "<redacted:refresh_token>"
    else:
        assert signature != REDACTED_SIGNATURE
        assert session["user"]["api_key"] == PLANTED_API_KEY
