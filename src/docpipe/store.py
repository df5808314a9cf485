"""Supabase as one signed-in user: documents and chunks through PostgREST (RLS decides what the
user may see and write), the upload bucket through storage, the ``ingest`` edge function.

Built from supabase-py's own clients (postgrest, storage3, supabase_functions) with the user's
JWT and docpipe's retry policy (``resilience.RetryingTransport``); never the service role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from postgrest import AsyncPostgrestClient
from postgrest.exceptions import APIError
from postgrest.types import ReturnMethod
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError
from supabase_functions import AsyncFunctionsClient
from supabase_functions.errors import FunctionsHttpError, FunctionsRelayError

from docpipe.errors import NotFound, PipelineError
from docpipe.resilience import RetryingTransport, RetryPolicy
from docpipe.settings import Settings

BUCKET = "documents"
DOCUMENT_COLUMNS = (
    "id,owner_id,filename,storage_path,status,parse_job_id,pages,chunk_count,cost_usd,error,attempts"
)


class UserStore:
    def __init__(self, settings: Settings, token: str, policy: RetryPolicy) -> None:
        self.settings = settings
        headers = {"apikey": settings.supabase_anon_key, "Authorization": f"Bearer {token}"}
        base = settings.supabase_url
        self._http = httpx.AsyncClient(
            base_url=f"{base}/rest/v1",
            headers={**headers, "Accept": "application/json", "Content-Type": "application/json"},
            transport=RetryingTransport(policy),
            timeout=30.0,
        )
        self._files_http = httpx.AsyncClient(transport=RetryingTransport(policy), timeout=60.0)
        self.rest = AsyncPostgrestClient(f"{base}/rest/v1", headers=headers, http_client=self._http)
        self.storage = AsyncStorageClient(f"{base}/storage/v1/", headers, http_client=self._files_http)
        self.functions = AsyncFunctionsClient(f"{base}/functions/v1", headers, http_client=self._files_http)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files_http.aclose()

    # -- documents -------------------------------------------------------------------------------

    async def create_document(self, filename: str, user_id: str) -> dict[str, Any]:
        inserted = await self._rest(
            "create document",
            self.rest.table("documents").insert({"filename": filename}).select(DOCUMENT_COLUMNS),
        )
        document = inserted[0]
        path = f"{user_id}/{document['id']}.pdf"
        updated = await self._rest(
            "create document",
            self.rest.table("documents")
            .update({"storage_path": path})
            .eq("id", document["id"])
            .select(DOCUMENT_COLUMNS),
        )
        return dict(updated[0])

    async def document(self, document_id: str) -> dict[str, Any]:
        rows = await self._rest(
            "read document", self.rest.table("documents").select(DOCUMENT_COLUMNS).eq("id", document_id)
        )
        if not rows:
            raise NotFound("read document", f"document {document_id} does not exist or is not yours")
        return dict(rows[0])

    async def update_document(self, document_id: str, **values: Any) -> dict[str, Any]:
        rows = await self._rest(
            "update document",
            self.rest.table("documents").update(values).eq("id", document_id).select(DOCUMENT_COLUMNS),
        )
        if not rows:
            raise NotFound("update document", f"document {document_id} does not exist or is not yours")
        return dict(rows[0])

    async def user_spent(self, user_id: str) -> float:
        """What the user's documents cost so far (RLS shows only theirs; the filter says so, and
        lets the query use owner_id)."""
        rows = await self._rest(
            "read spend", self.rest.table("documents").select("cost_usd").eq("owner_id", user_id)
        )
        return float(sum(float(r["cost_usd"] or 0) for r in rows))

    # -- chunks ----------------------------------------------------------------------------------

    async def stored_chunks(self, document_id: str) -> set[int]:
        rows = await self._rest(
            "read chunks",
            self.rest.table("chunks")
            .select("idx")
            .eq("document_id", document_id)
            .not_.is_("embedding", "null"),
        )
        return {int(r["idx"]) for r in rows}

    async def upsert_chunks(self, rows: Sequence[dict[str, Any]]) -> None:
        await self._rest(
            "store chunks",
            self.rest.table("chunks").upsert(
                list(rows), on_conflict="document_id,idx", returning=ReturnMethod.minimal
            ),
        )

    async def drop_chunks_from(self, document_id: str, count: int) -> None:
        """Chunks a previous run made beyond this run's count (the markdown changed)."""
        await self._rest(
            "store chunks",
            self.rest.table("chunks")
            .delete(returning=ReturnMethod.minimal)
            .eq("document_id", document_id)
            .gte("idx", count),
        )

    async def match(self, embedding: list[float], count: int) -> list[dict[str, Any]]:
        rows = await self._rest(
            "search",
            self.rest.rpc("match_chunks", {"query_embedding": str(embedding), "match_count": str(count)}),
        )
        return [dict(r) for r in rows]

    # -- storage ---------------------------------------------------------------------------------

    async def signed_upload(self, path: str) -> dict[str, str]:
        try:
            signed = await self.storage.from_(BUCKET).create_signed_upload_url(path)
        except StorageApiError as exc:
            raise PipelineError("sign upload", f"storage refused {path}: {exc.message}") from exc
        return {"url": signed["signed_url"], "token": signed["token"], "path": path}

    async def download(self, path: str) -> bytes:
        try:
            return await self.storage.from_(BUCKET).download(path)
        except StorageApiError as exc:
            status = getattr(exc, "status", None)
            if str(status) in ("400", "404"):
                raise NotFound(
                    "download", f"no file at {BUCKET}/{path}: upload it to the signed URL first"
                ) from exc
            raise PipelineError(
                "download", f"storage answered {status} for {BUCKET}/{path}: {exc.message}"
            ) from exc

    # -- the edge function -----------------------------------------------------------------------

    async def claim(self, document_id: str) -> tuple[dict[str, Any], bool]:
        """The ``ingest`` edge function: checks, as the user, that the document is theirs and
        claims it for this run; answers the document and whether this run holds it."""
        try:
            answer = await self.functions.invoke(
                "ingest", {"body": {"document_id": document_id}, "responseType": "json"}
            )
        except FunctionsHttpError as exc:
            if "404" in str(exc) or "not found" in str(exc).lower():
                raise NotFound("claim", f"document {document_id} does not exist or is not yours") from exc
            raise PipelineError("claim", f"the ingest edge function failed: {exc}") from exc
        except FunctionsRelayError as exc:
            raise PipelineError("claim", f"the ingest edge function could not be reached: {exc}") from exc
        if not isinstance(answer, dict) or "document" not in answer:
            raise PipelineError("claim", f"the ingest edge function answered {answer!r}")
        return dict(answer["document"]), bool(answer.get("claimed"))

    async def _rest(self, step: str, builder: Any) -> list[dict[str, Any]]:
        try:
            response = await builder.execute()
        except APIError as exc:
            raise PipelineError(step, f"Supabase refused it: {exc.message} ({exc.code})") from exc
        except httpx.HTTPError as exc:
            raise PipelineError(step, f"Supabase could not be reached: {exc!r}") from exc
        data = response.data
        return list(data) if isinstance(data, list) else ([] if data is None else [data])
