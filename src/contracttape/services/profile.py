"""Endpoints: the unit of contracts. service + method + route template + variant + status class.

Route templates are explicit, written by hand per service (``services/``), never guessed from
ids. ``{name}`` matches one path segment, ``{name*}`` the rest of the path. A route may name the
request variants that change a response's shape (``encoding_format``, ``stream``, PostgREST's
``select=``...), and which path parameters name a resource rather than an id (a PostgREST table
has its own shape; a job id does not). A request to a known host that no route matches gets a
clearly marked generic key; a host no profile knows gets no endpoint (and no contract).

A ``ServiceProfile`` is everything the core needs to know about one service, as data: its hosts
and sandbox origin, routes, cost rule, secret rules, volatile / noise / matched headers, the SDKs
whose versions cassettes record, and the variables its clients need live and in replay.
Profiles register in a ``Catalogue``, built once per run from the built-ins and the user's
``[tool.contracttape] services``; the core reads the catalogue's unions. A user's profile has
the same powers as a built-in one (README, "Adding a service").
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from contracttape.model import RecordedRequest, RecordedResponse
from contracttape.secret_rules import SecretPattern

if TYPE_CHECKING:
    from contracttape.budget.costs import CostRule

Variant = Callable[[RecordedRequest, Mapping[str, str]], Mapping[str, str]]
# (request, status, seconds to wait or None) -> the answer the real service gives
FaultAnswer = Callable[[RecordedRequest, int, float | None], RecordedResponse]


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
    # the template's length without its parameters: the most literal route is tried first
    literal_length: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", _compile(self.template))
        object.__setattr__(self, "literal_length", len(re.sub(r"\{[^}]*\}", "", self.template)))

    def match(self, request: RecordedRequest, path: str | None = None) -> dict[str, str] | None:
        """The path parameters, if ``request`` is this route (``path``: its path, if known)."""
        if request.method.upper() != self.method:
            return None
        found = self._regex.match(request.path if path is None else path)
        return found.groupdict() if found else None


@dataclass(frozen=True)
class LiveVariable:
    """An environment variable a service's clients need against the live service."""

    name: str
    default: str | None = None  # None: required (a missing one stops a live recording by name)


@dataclass(frozen=True)
class ServiceProfile:
    """A service, as everything the core needs to know about it."""

    name: str
    hosts: tuple[str, ...]  # fnmatch patterns, e.g. "*.supabase.co"
    routes: tuple[Route, ...]
    costs: CostRule | None = None  # None: the service is free
    # where sandbox traffic is stored (a host in ``hosts``), and what clients get in replay
    logical_origin: str | None = None
    replay_env: tuple[tuple[str, str], ...] = ()
    live_variables: tuple[LiveVariable, ...] = ()
    # headers: pinned in responses (name -> stand-in), dropped from requests, kept for matching
    volatile_headers: tuple[tuple[str, str], ...] = ()
    noise_headers: frozenset[str] = frozenset()
    noise_header_prefixes: tuple[str, ...] = ()
    matched_headers: frozenset[str] = frozenset()
    # secrets beyond the names redaction recognises by meaning
    secret_headers: frozenset[str] = frozenset()
    secret_params: frozenset[str] = frozenset()
    secret_keys: frozenset[str] = frozenset()
    secret_patterns: tuple[SecretPattern, ...] = ()
    # the SDKs whose versions change what goes over the wire (recorded in cassettes)
    distributions: tuple[str, ...] = ()
    # query parameters whose comma-separated value is a set, sent in any order (PostgREST's
    # ``columns``, built by supabase-py from a Python set): stored and matched sorted
    unordered_params: frozenset[str] = frozenset()
    # the machine-readable code of an error answer (OpenAI's error.code, PostgREST's code...):
    # error contracts are keyed by status class and this code, never by success variants
    error_code: Callable[[RecordedResponse], str | None] | None = None
    # the service's own error answer for an HTTP status (fault injection serves it): its error
    # envelope and headers, and ``retry-after`` when a wait is given; None: a generic answer
    fault_answer: FaultAnswer | None = None

    def serves(self, host: str) -> bool:
        return any(fnmatchcase(host, pattern) for pattern in self.hosts)

    @functools.cached_property
    def _routes_in_order(self) -> tuple[Route, ...]:
        """The routes, the most literal first (asked for every request priced or checked)."""
        return tuple(sorted(self.routes, key=lambda r: -r.literal_length))

    def endpoint(
        self, request: RecordedRequest, status: int, response: RecordedResponse | None = None
    ) -> Endpoint:
        path = request.path
        for route in self._routes_in_order:
            params = route.match(request, path)
            if params is None:
                continue
            variant = {name: params[name] for name in route.resources}
            # variants say how a request changes a *success* shape; an error answer is the
            # same whatever the request asked for (a 404 for encoding_format=float or base64)
            if route.variant is not None and 200 <= status < 300:
                variant.update(route.variant(request, params))
            code = self.error_code(response) if status >= 400 and response and self.error_code else None
            if code:
                variant["code"] = code
            return Endpoint(
                self.name, route.method, route.template, status_class(status), tuple(sorted(variant.items()))
            )
        return Endpoint(self.name, request.method.upper(), path, status_class(status), generic=True)


_HOSTS_KEPT = 1024  # hosts whose profile ``Catalogue.serving`` remembers (a run sees a handful)


class Catalogue:
    """Service profiles by name; the first whose hosts match a request's host wins."""

    def __init__(self, profiles: Iterable[ServiceProfile] = ()) -> None:
        self._profiles: dict[str, ServiceProfile] = {}
        self._by_host: dict[str, ServiceProfile | None] = {}  # what ``serving`` found, per host
        for profile in profiles:
            self.register(profile)

    def register(self, profile: ServiceProfile) -> None:
        self._profiles[profile.name] = profile
        self._by_host.clear()

    @property
    def profiles(self) -> tuple[ServiceProfile, ...]:
        return tuple(self._profiles.values())

    def profile(self, name: str) -> ServiceProfile | None:
        return self._profiles.get(name)

    def serving(self, request: RecordedRequest) -> ServiceProfile | None:
        """The profile whose hosts include the request's host (the first registered wins)."""
        host = (urlsplit(request.uri).hostname or "").lower()
        if host not in self._by_host:
            if len(self._by_host) >= _HOSTS_KEPT:
                self._by_host.clear()
            self._by_host[host] = next((p for p in self._profiles.values() if p.serves(host)), None)
        return self._by_host[host]

    def endpoint(
        self, request: RecordedRequest, status: int, response: RecordedResponse | None = None
    ) -> Endpoint | None:
        """The endpoint of a request (and, for an error answer, of its error code)."""
        profile = self.serving(request)
        return profile.endpoint(request, status, response) if profile else None

    # -- what the core reads: unions over every profile (an SDK is not tied to one host) ----------

    def _union(self, attribute: str) -> frozenset[str]:
        return frozenset(v.lower() for p in self.profiles for v in getattr(p, attribute))

    def volatile_headers(self) -> dict[str, str]:
        return {name.lower(): value for p in self.profiles for name, value in p.volatile_headers}

    def noise_headers(self) -> frozenset[str]:
        return self._union("noise_headers")

    def noise_header_prefixes(self) -> tuple[str, ...]:
        return tuple(sorted(self._union("noise_header_prefixes")))

    def matched_headers(self) -> frozenset[str]:
        return self._union("matched_headers")

    def unordered_params(self) -> frozenset[str]:
        return self._union("unordered_params")

    def secret_headers(self) -> frozenset[str]:
        return self._union("secret_headers")

    def secret_params(self) -> frozenset[str]:
        return self._union("secret_params")

    def secret_keys(self) -> frozenset[str]:
        return self._union("secret_keys")

    def secret_patterns(self) -> tuple[SecretPattern, ...]:
        return tuple(pattern for p in self.profiles for pattern in p.secret_patterns)

    def distributions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for p in self.profiles for d in p.distributions))

    def logical_origins(self) -> dict[str, str]:
        return {p.name: p.logical_origin for p in self.profiles if p.logical_origin}

    def replay_env(self) -> dict[str, str]:
        return {name: value for p in self.profiles for name, value in p.replay_env}

    def live_variables(self) -> list[tuple[str, LiveVariable]]:
        """(service, variable) for every profile, in registration order."""
        return [(p.name, variable) for p in self.profiles for variable in p.live_variables]


# -- helpers for variant functions --------------------------------------------------------------


def query(request: RecordedRequest) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(request.uri).query, keep_blank_values=True))


def query_values(request: RecordedRequest, name: str) -> list[str]:
    """Every value of a query parameter, repeated (``a=1&a=2``) or comma-joined (``a=1,2``)."""
    pairs = parse_qsl(urlsplit(request.uri).query, keep_blank_values=True)
    return [part.strip() for key, value in pairs if key == name for part in value.split(",") if part.strip()]


# -- helpers for fault answers --------------------------------------------------------------------


def seconds_text(seconds: float) -> str:
    """``3`` or ``0.5``: how ``Retry-After`` carries a wait (SDKs parse both as float)."""
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def retry_headers(retry_after: float | None) -> list[tuple[str, str]]:
    return [] if retry_after is None else [("retry-after", seconds_text(retry_after))]


def json_answer(
    status: int, body: object, headers: Iterable[tuple[str, str]] = (), content_type: str = "application/json"
) -> RecordedResponse:
    return RecordedResponse(
        status=status,
        reason=reason_phrase(status),
        headers=(("content-type", content_type), *headers),
        body=json.dumps(body).encode(),
    )


def text_answer(
    status: int, text: str, headers: Iterable[tuple[str, str]] = (), html: bool = False
) -> RecordedResponse:
    kind = "text/html" if html else "text/plain"
    return RecordedResponse(
        status=status,
        reason=reason_phrase(status),
        headers=(("content-type", f"{kind}; charset=utf-8"), *headers),
        body=text.encode(),
    )


def reason_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def gateway_page(status: int) -> str:
    """The HTML a CDN in front of a service answers with when the origin is down or slow."""
    title = f"{status} {reason_phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>"
        "\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
    )


def generic_fault_answer(
    request: RecordedRequest, status: int, retry_after: float | None
) -> RecordedResponse:
    """A host no profile describes: the status line's phrase, as plain text."""
    return text_answer(status, reason_phrase(status) or f"HTTP {status}", retry_headers(retry_after))
