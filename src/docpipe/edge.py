"""The ``ingest`` edge function, as the contracttape sandbox runs it.

``POST /functions/v1/ingest {"document_id": ...}`` with the user's JWT: in one transaction as
that user (RLS applies), claim the document (``queued``, one more attempt) when it is pending,
failed or refused, or when a run in progress has not touched it for ``LEASE`` (that run died);
answer ``{"document": row, "claimed": bool}`` (not claimed: done, or another run holds it), or
404 when the document is not the caller's. The same
function for a real project is ``supabase/functions/ingest/index.ts`` (Deno, supabase-js).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import JSONResponse

LEASE = "10 minutes"  # a run in progress holds its document this long after its last change
COLUMNS = (
    "id, owner_id, filename, storage_path, status, parse_job_id, pages, chunk_count, "
    "cost_usd::float8 as cost_usd, error, attempts"
)


async def ingest(body: Any, claims: dict[str, Any], project: Any) -> Any:
    document_id = body.get("document_id") if isinstance(body, dict) else None
    if not isinstance(document_id, str) or not document_id:
        return JSONResponse({"error": 'send {"document_id": "..."}'}, status_code=400)
    role = str(claims.get("role") or "anon")
    if role != "authenticated":
        return JSONResponse({"error": "sign in first: ingestion runs as the owner"}, status_code=401)
    with project.db.session(role, claims) as cur:
        cur.execute(
            "update public.documents set status = 'queued', attempts = attempts + 1 "
            "where id::text = %s and (status in ('pending', 'failed', 'refused') "
            f"or (status in ('queued', 'parsing', 'embedding') and updated_at < now() - interval '{LEASE}')) "
            f"returning {COLUMNS}",
            (document_id,),
        )
        row = cur.fetchone()
        claimed = row is not None
        if row is None:
            cur.execute(f"select {COLUMNS} from public.documents where id::text = %s", (document_id,))
            row = cur.fetchone()
    if row is None:
        return JSONResponse({"error": f"document {document_id} not found"}, status_code=404)
    return {"document": json.loads(json.dumps(row, default=str)), "claimed": claimed}


FUNCTIONS = {"ingest": ingest}
