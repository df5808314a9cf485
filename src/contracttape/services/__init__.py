"""Service profiles: endpoint templates (and, with later work, cost and secret rules) per service."""

from __future__ import annotations

from contracttape.services.llamaparse import LLAMAPARSE
from contracttape.services.openai import OPENAI
from contracttape.services.profile import Catalogue
from contracttape.services.supabase import SUPABASE

BUILTIN_PROFILES = (OPENAI, LLAMAPARSE, SUPABASE)


def default_catalogue() -> Catalogue:
    return Catalogue(BUILTIN_PROFILES)
