"""Start the sandbox services on loopback (each on its own port) and describe them as env vars."""

from __future__ import annotations

import shlex
from pathlib import Path

from contracttape.cassettes import write_atomic
from contracttape.sandbox.config import SandboxConfig
from contracttape.sandbox.llamaparse_app import LlamaParseApp
from contracttape.sandbox.openai_app import OpenAIApp
from contracttape.sandbox.server import ServerThread

# The origins cassettes store for sandbox traffic; the built-in service profiles know these hosts.
LOGICAL_ORIGINS = {
    "openai": "http://openai.sandbox.contracttape.test",
    "llamaparse": "http://llamaparse.sandbox.contracttape.test",
}


def replay_env() -> dict[str, str]:
    """What clients get during replay: logical origins and placeholder keys (nothing is sent)."""
    return {
        "OPENAI_BASE_URL": f"{LOGICAL_ORIGINS['openai']}/v1",
        "OPENAI_API_KEY": "sk-sandbox-replay",
        "LLAMA_CLOUD_BASE_URL": LOGICAL_ORIGINS["llamaparse"],
        "LLAMA_CLOUD_API_KEY": "llx-sandbox-replay",
        "LLAMA_CLOUD_WEBHOOK_SECRET": "replay",
        "CONTRACTTAPE_SANDBOX_REVISION": "replay",
    }


class Sandbox:
    """``with Sandbox() as sandbox: sandbox.env()`` -> the variables a client needs."""

    def __init__(self, config: SandboxConfig | None = None, rate_window: float = 60.0) -> None:
        self.config = config or SandboxConfig()
        self.openai = OpenAIApp(self.config, rate_window=rate_window)
        self.llamaparse = LlamaParseApp(self.config, rate_window=rate_window)
        self._servers = {
            "openai": ServerThread(self.openai.app, "openai"),
            "llamaparse": ServerThread(self.llamaparse.app, "llamaparse"),
        }

    def start(self) -> Sandbox:
        started = []
        try:
            for server in self._servers.values():
                started.append(server.start())
        except BaseException:
            for server in started:
                server.stop()
            raise
        return self

    def stop(self) -> None:
        self.llamaparse.shutdown()
        for server in self._servers.values():
            server.stop()

    def url(self, service: str) -> str:
        return self._servers[service].url

    def origins(self) -> dict[str, str]:
        """Real origin -> logical origin, for the recorder (``contracttape_origins``)."""
        return {self.url(name): logical for name, logical in LOGICAL_ORIGINS.items()}

    def env(self) -> dict[str, str]:
        return {
            "OPENAI_BASE_URL": f"{self.url('openai')}/v1",
            "OPENAI_API_KEY": self.config.openai_api_key,
            "LLAMA_CLOUD_BASE_URL": self.url("llamaparse"),
            "LLAMA_CLOUD_API_KEY": self.config.llama_api_key,
            "LLAMA_CLOUD_WEBHOOK_SECRET": self.config.webhook_secret,
            "CONTRACTTAPE_SANDBOX_REVISION": str(self.config.revision),
        }

    def env_text(self) -> str:
        return "".join(f"{name}={shlex.quote(value)}\n" for name, value in self.env().items())

    def write_env(self, path: Path) -> None:
        write_atomic(path, self.env_text())

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
