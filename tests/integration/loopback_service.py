"""The loopback test service as a contracttape service profile (registered in pyproject.toml),
so the framework's own cassettes get contracts like any user's service would."""

from __future__ import annotations

from contracttape.services.profile import Route, ServiceProfile

PROFILE = ServiceProfile(
    name="loopback",
    hosts=("loopback.contracttape.test",),
    routes=(
        Route("GET", "/echo"),
        Route("POST", "/echo"),
        Route("POST", "/v1/chat/completions"),
        Route("POST", "/v1/embeddings"),
        Route("POST", "/upload"),
        Route("POST", "/jobs"),
        Route("GET", "/jobs/{job_id}"),
        Route("POST", "/auth/token"),
        Route("GET", "/auth/me"),
    ),
)
