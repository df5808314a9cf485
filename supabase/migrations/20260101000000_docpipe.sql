-- docpipe's schema. Applied by the contracttape sandbox exactly as `supabase db push` applies it to
-- a real project (run it there once before `make record TARGET=live`). Idempotent.
create extension if not exists vector;

create table if not exists public.documents (
  id uuid primary key default gen_random_uuid(),
  -- a deleted user takes their documents and chunks along (their files: see the test suite)
  owner_id uuid not null default auth.uid() references auth.users on delete cascade,
  filename text not null,
  storage_path text,
  -- pending -> queued -> parsing -> embedding -> done; failed and refused are resumable
  status text not null default 'pending'
    check (status in ('pending', 'queued', 'parsing', 'embedding', 'done', 'failed', 'refused')),
  parse_job_id text,          -- kept across a crash: a re-run never pays LlamaParse twice
  pages int,
  chunk_count int,
  cost_usd numeric not null default 0,
  error text,
  attempts int not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- updated_at moves with every change: an ingestion in progress holds the document while it is
-- recent (the ingest edge function's lease), so a crashed run can be taken over later
create or replace function public.touch_updated_at() returns trigger language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end $$;
drop trigger if exists documents_touch on public.documents;
create trigger documents_touch before update on public.documents
  for each row execute function public.touch_updated_at();

create table if not exists public.chunks (
  id bigserial primary key,
  document_id uuid not null references public.documents on delete cascade,
  owner_id uuid not null default auth.uid() references auth.users on delete cascade,
  idx int not null,
  content text not null,
  tokens int,
  embedding vector(1536),
  unique (document_id, idx)   -- a retried ingestion upserts, never duplicates
);
create index if not exists chunks_owner on public.chunks (owner_id);

alter table public.documents enable row level security;
alter table public.chunks enable row level security;

drop policy if exists "own documents" on public.documents;
create policy "own documents" on public.documents for all to authenticated
  using (owner_id = auth.uid()) with check (owner_id = auth.uid());
drop policy if exists "own chunks" on public.chunks;
create policy "own chunks" on public.chunks for all to authenticated
  using (owner_id = auth.uid())
  with check (
    owner_id = auth.uid()
    and exists (select 1 from public.documents d where d.id = document_id and d.owner_id = auth.uid())
  );

create or replace function public.match_chunks(query_embedding vector(1536), match_count int)
returns table (id bigint, document_id uuid, idx int, content text, similarity float)
language sql stable as $$
  select c.id, c.document_id, c.idx, c.content, 1 - (c.embedding <=> query_embedding) as similarity
  from public.chunks c
  where c.owner_id = auth.uid() and c.embedding is not null
  order by c.embedding <=> query_embedding
  limit least(greatest(match_count, 1), 50)
$$;
grant execute on function public.match_chunks(vector, int) to anon, authenticated, service_role;

-- uploads: private, PDFs only, 5 MB each; every user owns the folder named after their id
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('documents', 'documents', false, 5242880, array['application/pdf'])
on conflict (id) do update
  set file_size_limit = excluded.file_size_limit, allowed_mime_types = excluded.allowed_mime_types;
drop policy if exists "own folder" on storage.objects;
create policy "own folder" on storage.objects for all to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = auth.uid()::text)
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = auth.uid()::text);
