"""The Supabase sandbox as one ASGI app: /auth/v1, /rest/v1, /storage/v1, /functions/v1."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount

from contracttape.sandbox import errors
from contracttape.sandbox.supabase.auth import AuthService
from contracttape.sandbox.supabase.context import Project
from contracttape.sandbox.supabase.db import Database
from contracttape.sandbox.supabase.functions import FunctionsService, Handler
from contracttape.sandbox.supabase.rest import RestService
from contracttape.sandbox.supabase.signing import Signer


class SupabaseApp:
    def __init__(
        self,
        revision: int = 1,
        database_url: str | None = None,
        storage_dir: Path | None = None,
        functions: Mapping[str, Handler] | None = None,
        jwt_secret: str | None = None,
        migrations: Sequence[Path] = (),
        seed: Path | None = None,
    ) -> None:
        self.db = Database(database_url, migrations=migrations, seed=seed)
        self.project = Project(self.db, Signer(jwt_secret or secrets.token_hex(32)), revision)
        from contracttape.sandbox.supabase.storage import StorageService

        self.storage = StorageService(self.project, storage_dir)
        routes = [
            Mount("/auth/v1", routes=AuthService(self.project).routes),
            Mount("/rest/v1", routes=RestService(self.project).routes),
            Mount("/storage/v1", routes=self.storage.routes),
            Mount("/functions/v1", routes=FunctionsService(self.project, functions or {}).routes),
        ]
        self.app = errors.install(Starlette(routes=routes))

    def set_base_url(self, url: str) -> None:
        self.project.base_url = url

    def close(self) -> None:
        self.storage.close()
        self.db.close()
