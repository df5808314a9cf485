"""docpipe: the document-ingestion pipeline contracttape's integration suite tests.

upload (Supabase storage, signed URL) -> parse (LlamaParse) -> chunk -> embed (OpenAI) -> store
(PostgREST, as the user, under RLS) -> search (``match_chunks``). A small real service: a starlette
API (``docpipe.api``), clients built from one setting (``docpipe.settings``), and an edge function
(``docpipe.edge``) that claims a document for ingestion.
"""
