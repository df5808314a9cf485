"""A local Supabase: GoTrue-style auth, a PostgREST-compatible REST layer and storage over a real
PostgreSQL whose row-level security is enforced by PostgreSQL itself, and edge functions."""
