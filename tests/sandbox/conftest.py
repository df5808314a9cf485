"""The sandbox tested through the real SDKs (openai 3.x on httpx2, llama-cloud 2.x), live on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import llama_cloud
import openai
import pytest

from contracttape import _offline
from contracttape.sandbox import AI_SERVICES, Sandbox, SandboxConfig


@pytest.fixture(autouse=True)
def _trust_store_read_when_used() -> Iterator[None]:
    """These tests speak plain HTTP to loopback through the SDKs, outside any cassette session:
    their clients' TLS contexts read the CA certificates only if a TLS connection is made (as
    inside a session), not once per client (about 20 ms of CPU each, 5 s a run)."""
    with _offline.deferred_trust():
        yield


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(job_seconds=0.2), services=AI_SERVICES) as running:
        yield running


@pytest.fixture
def oai(sandbox: Sandbox) -> Iterator[openai.OpenAI]:
    env = sandbox.env()
    with openai.OpenAI(
        base_url=env["OPENAI_BASE_URL"], api_key=env["OPENAI_API_KEY"], max_retries=0
    ) as client:
        yield client


@pytest.fixture
def llama(sandbox: Sandbox) -> Iterator[llama_cloud.LlamaCloud]:
    env = sandbox.env()
    with llama_cloud.LlamaCloud(
        base_url=env["LLAMA_CLOUD_BASE_URL"], api_key=env["LLAMA_CLOUD_API_KEY"]
    ) as client:
        yield client
