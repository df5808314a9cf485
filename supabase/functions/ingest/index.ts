// The `ingest` edge function for a real Supabase project (`supabase functions deploy ingest`).
// Mirrors src/docpipe/edge.py, which is what the contracttape sandbox runs: as the calling user
// (RLS applies), claim the document (status `queued`, one more attempt) when it is pending, failed
// or refused, or when a run in progress has not touched it for 10 minutes (that run died); answer
// {document, claimed}, or 404 when the document is not the caller's.
// Not executed by the test suite (it needs Deno and a real project); keep the two in step.
import { createClient } from "jsr:@supabase/supabase-js@2";

const COLUMNS =
  "id,owner_id,filename,storage_path,status,parse_job_id,pages,chunk_count,cost_usd,error,attempts";
const LEASE_MS = 10 * 60 * 1000;

Deno.serve(async (req: Request) => {
  const { document_id } = await req.json().catch(() => ({}));
  if (typeof document_id !== "string" || !document_id) {
    return Response.json({ error: 'send {"document_id": "..."}' }, { status: 400 });
  }
  const supabase = createClient(Deno.env.get("SUPABASE_URL")!, Deno.env.get("SUPABASE_ANON_KEY")!, {
    global: { headers: { Authorization: req.headers.get("Authorization") ?? "" } },
  });
  const { data: found } = await supabase.from("documents").select(COLUMNS).eq("id", document_id);
  const current = found?.[0];
  if (!current) {
    return Response.json({ error: `document ${document_id} not found` }, { status: 404 });
  }
  const cutoff = new Date(Date.now() - LEASE_MS).toISOString();
  const { data } = await supabase
    .from("documents")
    .update({ status: "queued", attempts: current.attempts + 1 })
    .eq("id", document_id)
    .eq("attempts", current.attempts) // nobody claimed it since we read it
    .or(`status.in.(pending,failed,refused),and(status.in.(queued,parsing,embedding),updated_at.lt.${cutoff})`)
    .select(COLUMNS);
  const row = data?.[0] ?? current;
  return Response.json({ document: { ...row, cost_usd: Number(row.cost_usd) }, claimed: Boolean(data?.[0]) });
});
