"""Edge functions (``/functions/v1/<name>``): Python handlers registered with the sandbox, called
with the caller's verified JWT claims."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracttape.sandbox import jsonbody
from contracttape.sandbox.errors import ServiceError
from contracttape.sandbox.http import bearer
from contracttape.sandbox.supabase.context import Project
from contracttape.sandbox.supabase.signing import InvalidToken

# handler(body, claims, project) -> JSON-serialisable result (or a starlette Response)
Handler = Callable[[Any, dict[str, Any], Project], Awaitable[Any]]


async def hello(body: Any, claims: dict[str, Any], project: Project) -> Any:
    name = body.get("name", "world") if isinstance(body, dict) else "world"
    return {"message": f"Hello {name}!", "role": claims.get("role"), "user": claims.get("sub")}


BUILTIN: dict[str, Handler] = {"hello": hello}


class FunctionsService:
    def __init__(self, project: Project, handlers: Mapping[str, Handler]) -> None:
        self.project = project
        self.handlers = {**BUILTIN, **handlers}
        self.routes = [Route("/{name}", self.invoke, methods=["POST", "GET", "PUT", "PATCH", "DELETE"])]

    async def invoke(self, request: Request) -> Response:
        name = request.path_params["name"]
        handler = self.handlers.get(name)
        if handler is None:
            raise ServiceError(404, {"code": "NOT_FOUND", "message": "Requested function was not found"})
        self.project.require_api_key(request)
        token = bearer(request.headers)
        if token is None:
            raise ServiceError(401, {"code": 401, "message": "Missing authorization header"})
        try:
            claims = self.project.signer.verify(token)
        except InvalidToken:
            raise ServiceError(401, {"code": 401, "message": "Invalid JWT"}) from None
        raw = await request.body()
        try:
            body = jsonbody.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        result = await handler(body, claims, self.project)
        return result if isinstance(result, Response) else JSONResponse(result)
