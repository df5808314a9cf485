"""One error mechanism for every sandbox service: a handler raises ``ServiceError`` with the
service's own error body, and the app turns it into the response."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.responses import JSONResponse


class ServiceError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body)
        self.status, self.body, self.headers = status, body, headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)


def install(app: Starlette) -> Starlette:
    app.add_exception_handler(ServiceError, lambda request, exc: exc.response())
    return app
