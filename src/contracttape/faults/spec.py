"""A fault, as a test declares it: what goes wrong, for which requests, and how often.

    Fault(429, service="openai", endpoint="POST /v1/embeddings", first=2, retry_after=3)
    Fault("read_timeout", url=r"/api/v2/parse/", every=3)
    Fault("slow", service="supabase", delay=8)

``kind`` is an HTTP status (400-599: the service's own error answer) or one of ``KINDS``.
Requests are chosen by service and endpoint (the catalogue's names: ``"POST /v1/embeddings"``,
or just the route template) and/or by method and a regular expression searched in the URL as
cassettes store it. ``first=N``: the first N matching calls; ``every=N``: every Nth matching call;
neither: every matching call.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from contracttape.errors import ConfigError

# kinds that are not an HTTP status, and what each does
KINDS = {
    "read_timeout": "the client's own read-timeout exception",
    "connect_timeout": "the client's own connect-timeout exception",
    "reset": "the connection is reset by the peer (the client's own exception)",
    "slow": "the answer comes `delay` seconds late (virtual time in replay); "
    "a client whose read timeout is shorter gets its read-timeout exception",
    "truncated": "200, the answer's body cut in half",
    "malformed": "200 with a JSON content type and a body that is not JSON",
    "stream_cut": "an event stream that stops half-way, with no end marker",
}
ALIASES = {"timeout": "read_timeout", "connection_reset": "reset", "cut": "stream_cut"}
# the faults a retrying client is expected to recover from (what --chaos serves)
TRANSIENT: tuple[int | str, ...] = (429, 500, 502, 503, 504, "read_timeout", "connect_timeout", "reset")


@dataclass(frozen=True)
class Fault:
    kind: int | str
    service: str | None = None
    endpoint: str | None = None
    method: str | None = None
    url: str | None = None
    first: int | None = None
    every: int | None = None
    retry_after: float | None = None
    delay: float | None = None

    def checked(self) -> Fault:
        """This fault, normalised (``"429"`` -> 429, aliases resolved), or a ``ConfigError``
        saying what is wrong. Checked when a test uses it (marker, fixture), not when it is
        written, so the error names the test rather than breaking the module's import."""
        where = f"fault {self.kind!r}"
        kind: int | str = self.kind
        if isinstance(kind, str) and kind.strip().isdigit():
            kind = int(kind)
        if isinstance(kind, bool) or not isinstance(kind, int | str):
            raise ConfigError(f"{where}: kind must be an HTTP status or one of {', '.join(KINDS)}")
        if isinstance(kind, int):
            if not 400 <= kind <= 599:
                raise ConfigError(f"{where}: an HTTP status fault must be 400-599 (an error answer)")
        else:
            kind = ALIASES.get(kind, kind)
            if kind not in KINDS:
                raise ConfigError(
                    f"{where}: unknown kind; use an HTTP status (429, 503...) or one of {', '.join(KINDS)}"
                )
        changes: dict[str, Any] = {"kind": kind}
        for name in ("first", "every"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ConfigError(f"{where}: {name} must be a whole number >= 1, not {value!r}")
        if self.first is not None and self.every is not None:
            raise ConfigError(f"{where}: give first= or every=, not both")
        for name in ("retry_after", "delay"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(f"{where}: {name} must be a number of seconds >= 0, not {value!r}")
        if kind == "slow" and self.delay is None:
            raise ConfigError(f"{where}: a slow answer needs delay= (seconds)")
        if self.delay is not None and kind != "slow":
            raise ConfigError(f"{where}: delay= applies to kind 'slow' only")
        if self.retry_after is not None and not isinstance(kind, int):
            raise ConfigError(f"{where}: retry_after= applies to an HTTP status fault (429, 503...)")
        if self.method is not None:
            changes["method"] = str(self.method).upper()
        if self.url is not None:
            try:
                re.compile(self.url)
            except re.error as exc:
                raise ConfigError(f"{where}: url={self.url!r} is not a regular expression ({exc})") from None
        if self.endpoint is not None:
            method, _, template = str(self.endpoint).strip().rpartition(" ")
            if not template.startswith("/"):
                raise ConfigError(
                    f"{where}: endpoint={self.endpoint!r} should be a route template such as "
                    "'POST /v1/embeddings' or '/v1/embeddings'"
                )
            if method:
                changes["method"] = method.upper()
            changes["endpoint"] = template
        return replace(self, **changes)

    @classmethod
    def of(cls, value: Any, where: str) -> Fault:
        """A ``Fault``, or the keyword arguments of one (a mapping), checked; errors name ``where``."""
        if isinstance(value, Fault):
            try:
                return value.checked()
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ConfigError(
                    f"{where}: unknown fault field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
                )
            if "kind" not in value:
                raise ConfigError(
                    f"{where}: a fault needs a kind (an HTTP status or one of {', '.join(KINDS)})"
                )
            try:
                return cls(**value).checked()
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
        raise ConfigError(
            f"{where}: faults= takes Fault(...) objects or mappings of their fields, not {value!r}"
        )

    @property
    def replaces(self) -> bool:
        """Whether the fault is served instead of the answer (only a slow answer lets it through)."""
        return self.kind != "slow"

    def describe(self) -> str:
        what = str(self.kind)
        if self.retry_after is not None:
            what += f" (Retry-After: {self.retry_after:g})"
        if self.delay is not None:
            what += f" ({self.delay:g}s late)"
        return what
