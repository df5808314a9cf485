"""Start the sandbox services on loopback (each on its own port) and describe them as env vars."""

from __future__ import annotations

import shlex
from pathlib import Path

from contracttape.atomic import write_atomic
from contracttape.sandbox.config import SandboxConfig
from contracttape.sandbox.llamaparse.app import LlamaParseApp
from contracttape.sandbox.openai.app import OpenAIApp
from contracttape.sandbox.server import ServerThread, stop_all
from contracttape.sandbox.supabase.app import SupabaseApp
from contracttape.services import default_catalogue
from contracttape.services.profile import Catalogue

# The origins cassettes store for sandbox traffic: each built-in profile's logical origin.
LOGICAL_ORIGINS = default_catalogue().logical_origins()


def replay_env(catalogue: Catalogue | None = None) -> dict[str, str]:
    """What clients get during replay: every profile's logical origins and placeholder keys
    (nothing is sent)."""
    return {**(catalogue or default_catalogue()).replay_env(), "CONTRACTTAPE_SANDBOX_REVISION": "replay"}


ALL_SERVICES = ("openai", "llamaparse", "supabase")
AI_SERVICES = ("openai", "llamaparse")  # no Supabase, so no PostgreSQL to start


class Sandbox:
    """``with Sandbox() as sandbox: sandbox.env()`` -> the variables a client needs."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        rate_window: float = 60.0,
        services: tuple[str, ...] = ALL_SERVICES,
    ) -> None:
        self.config = config or SandboxConfig()
        self.services = services
        self.openai = OpenAIApp(self.config, rate_window=rate_window)
        self.llamaparse = LlamaParseApp(self.config, rate_window=rate_window)
        self.supabase: SupabaseApp | None = None
        self._servers = {
            "openai": ServerThread(self.openai.app, "openai"),
            "llamaparse": ServerThread(self.llamaparse.app, "llamaparse"),
        }
        if "supabase" in services:
            self.supabase = SupabaseApp(
                revision=self.config.revision,
                functions=self.config.functions,
                migrations=self.config.migrations,
                seed=self.config.seed,
            )
            self._servers["supabase"] = ServerThread(self.supabase.app, "supabase")

    def start(self) -> Sandbox:
        started = []
        try:
            for server in self._servers.values():
                started.append(server.start())
        except BaseException:
            stop_all(started)
            if self.supabase is not None:
                self.supabase.close()
            raise
        if self.supabase is not None:
            self.supabase.set_base_url(self.url("supabase"))
        return self

    def stop(self) -> None:
        self.llamaparse.shutdown()
        stop_all(self._servers.values())
        if self.supabase is not None:
            self.supabase.close()

    def url(self, service: str) -> str:
        return self._servers[service].url

    def origins(self) -> dict[str, str]:
        """Real origin -> logical origin, for the recorder (``contracttape_origins``)."""
        return {self.url(name): LOGICAL_ORIGINS[name] for name in self._servers}

    def env(self) -> dict[str, str]:
        supabase = {}
        if self.supabase is not None:
            supabase = {
                "SUPABASE_URL": self.url("supabase"),
                "SUPABASE_ANON_KEY": self.supabase.project.anon_key,
                "SUPABASE_SERVICE_ROLE_KEY": self.supabase.project.service_role_key,
            }
        return {
            **supabase,
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
