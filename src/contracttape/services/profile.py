"""Endpoints: the unit of contracts. service + method + route template + variant + status class.

Route templates are explicit, written by hand per service (``services/``), never guessed from
ids. ``{name}`` matches one path segment, ``{name*}`` the rest of the path. A route may name the
request variants that change a response's shape (``encoding_format``, ``stream``, PostgREST's
``select=``...), and which path parameters name a resource rather than an id (a PostgREST table
has its own shape; a job id does not). A request to a known host that no route matches gets a
clearly marked generic key; a host no profile knows gets no endpoint (and no contract).

Profiles register in a ``Catalogue``; users add their own (see README, "Contracts").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from contracttape.model import RecordedRequest

if TYPE_CHECKING:
    from contracttape.budget.costs import CostRule

Variant = Callable[[RecordedRequest, Mapping[str, str]], Mapping[str, str]]


@dataclass(frozen=True, order=True)
class Endpoint:
    service: str
    method: str
    template: str
    status_class: str  # "2xx", "4xx", ...
    variant: tuple[tuple[str, str], ...] = ()
    generic: bool = False

    @property
    def slug(self) -> str:
        path = re.sub(r"[^a-z0-9]+", "_", self.template.lower().replace("*", "")).strip("_") or "root"
        parts = [f"{self.method.lower()}_{path}"]
        parts += [f"{k}={_slug_value(v)}" for k, v in self.variant]
        parts.append(self.status_class)
        return ("_generic__" if self.generic else "") + "__".join(parts)

    def describe(self) -> str:
        variant = ", ".join(f"{k}={v}" for k, v in self.variant)
        return (
            f"{self.service} {self.method} {self.template}"
            + (f" [{variant}]" if variant else "")
            + (f" {self.status_class}")
        )


def _slug_value(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._,+-]+", "-", value.replace("*", "all"))[:60].strip("-") or "empty"


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def _compile(template: str) -> re.Pattern[str]:
    pattern = ""
    for piece in re.split(r"(\{[a-z_]+\*?\})", template):
        if piece.startswith("{"):
            name = piece.strip("{}*")
            pattern += f"(?P<{name}>.+)" if piece.endswith("*}") else f"(?P<{name}>[^/]+)"
        else:
            pattern += re.escape(piece)
    return re.compile(f"^{pattern}/?$")


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    variant: Variant | None = None
    resources: tuple[str, ...] = ()  # path params that name a resource: part of the endpoint key
    _regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", _compile(self.template))

    @property
    def literal_length(self) -> int:
        return len(re.sub(r"\{[^}]*\}", "", self.template))

    def match(self, request: RecordedRequest) -> dict[str, str] | None:
        if request.method.upper() != self.method:
            return None
        found = self._regex.match(request.path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class ServiceProfile:
    """A service: the hosts it answers on and its routes."""

    name: str
    hosts: tuple[str, ...]  # fnmatch patterns, e.g. "*.supabase.co"
    routes: tuple[Route, ...]
    costs: CostRule | None = None  # None: the service is free

    def serves(self, host: str) -> bool:
        return any(fnmatchcase(host, pattern) for pattern in self.hosts)

    def endpoint(self, request: RecordedRequest, status: int) -> Endpoint:
        for route in sorted(self.routes, key=lambda r: -r.literal_length):
            params = route.match(request)
            if params is None:
                continue
            variant = {name: params[name] for name in route.resources}
            if route.variant is not None:
                variant.update(route.variant(request, params))
            return Endpoint(
                self.name, route.method, route.template, status_class(status), tuple(sorted(variant.items()))
            )
        return Endpoint(self.name, request.method.upper(), request.path, status_class(status), generic=True)


class Catalogue:
    """Service profiles by name; the first whose hosts match a request's host wins."""

    def __init__(self, profiles: Iterable[ServiceProfile] = ()) -> None:
        self._profiles: dict[str, ServiceProfile] = {}
        for profile in profiles:
            self.register(profile)

    def register(self, profile: ServiceProfile) -> None:
        self._profiles[profile.name] = profile

    @property
    def profiles(self) -> tuple[ServiceProfile, ...]:
        return tuple(self._profiles.values())

    def profile(self, name: str) -> ServiceProfile | None:
        return self._profiles.get(name)

    def endpoint(self, request: RecordedRequest, status: int) -> Endpoint | None:
        host = (urlsplit(request.uri).hostname or "").lower()
        for profile in self._profiles.values():
            if profile.serves(host):
                return profile.endpoint(request, status)
        return None


# -- helpers for variant functions --------------------------------------------------------------


def query(request: RecordedRequest) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.uri).query, keep_blank_values=True))


def query_values(request: RecordedRequest, name: str) -> list[str]:
    """Every value of a query parameter, repeated (``a=1&a=2``) or comma-joined (``a=1,2``)."""
    pairs = parse_qsl(urlsplit(request.uri).query, keep_blank_values=True)
    return [part.strip() for key, value in pairs if key == name for part in value.split(",") if part.strip()]
