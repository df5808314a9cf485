-- The document pipeline's schema: the sandbox's default when a project has no supabase/migrations.
-- Idempotent. Supabase's default privileges (schema.sql) grant anon and authenticated; RLS decides.
create table if not exists public.documents (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null default auth.uid(),
  filename text,
  storage_path text,
  status text default 'pending',
  pages int,
  cost_usd numeric default 0,
  created_at timestamptz default now()
);
create table if not exists public.chunks (
  id bigserial primary key,
  document_id uuid references public.documents on delete cascade,
  owner_id uuid not null default auth.uid(),
  idx int,
  content text,
  embedding vector(1536)
);
alter table public.documents enable row level security;
alter table public.chunks enable row level security;
drop policy if exists "own documents" on public.documents;
create policy "own documents" on public.documents for all to authenticated
  using (owner_id = auth.uid()) with check (owner_id = auth.uid());
drop policy if exists "own chunks" on public.chunks;
create policy "own chunks" on public.chunks for all to authenticated
  using (owner_id = auth.uid()) with check (owner_id = auth.uid());

create or replace function public.match_chunks(query_embedding vector(1536), match_count int)
returns table (id bigint, document_id uuid, content text, similarity float)
language sql stable as $$
  select c.id, c.document_id, c.content, 1 - (c.embedding <=> query_embedding) as similarity
  from public.chunks c
  where c.owner_id = auth.uid()
  order by c.embedding <=> query_embedding
  limit match_count
$$;
grant execute on function public.match_chunks(vector, int) to anon, authenticated, service_role;

insert into storage.buckets (id, name, public) values ('documents', 'documents', false) on conflict do nothing;
drop policy if exists "own folder" on storage.objects;
create policy "own folder" on storage.objects for all to authenticated
  using (bucket_id = 'documents' and (storage.foldername(name))[1] = auth.uid()::text)
  with check (bucket_id = 'documents' and (storage.foldername(name))[1] = auth.uid()::text);
