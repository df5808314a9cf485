"""Service profiles: one module per service holds everything the core knows about it.

- ``profile``: ``ServiceProfile``, ``Route``, ``Endpoint``, ``LiveVariable``, ``Catalogue``;
- ``openai``, ``supabase``, ``llamaparse``: the built-ins (prices in ``data/prices.yaml``).

Adding a service is its profile module (plus its prices, and optionally a sandbox stand-in);
a user's profile, listed in ``[tool.contracttape] services``, has the same powers.
"""

from __future__ import annotations

from contracttape.services.llamaparse import LLAMAPARSE
from contracttape.services.openai import OPENAI
from contracttape.services.profile import Catalogue
from contracttape.services.supabase import SUPABASE

BUILTIN_PROFILES = (OPENAI, SUPABASE, LLAMAPARSE)


def default_catalogue() -> Catalogue:
    return Catalogue(BUILTIN_PROFILES)
