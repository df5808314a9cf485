"""A PostgREST-compatible REST layer (``/rest/v1``) over PostgreSQL, with PostgreSQL's own RLS.

Identifiers (tables, columns, functions) are checked against the catalogue and quoted; values are
always parameters. Each request is one transaction as the caller's role with its JWT claims.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import psycopg
from psycopg import sql
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from contracttape.sandbox import jsonbody
from contracttape.sandbox.errors import ServiceError
from contracttape.sandbox.supabase.context import Project
from contracttape.sandbox.supabase.errors import rest_error
from contracttape.sandbox.supabase.signing import InvalidToken

RESERVED = {"select", "order", "limit", "offset", "on_conflict", "columns", "apikey"}
OPERATORS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "like",
    "ilike": "ilike",
}
OBJECT_MEDIA = "application/vnd.pgrst.object+json"
_IN_ITEM = re.compile(r'"((?:[^"\\]|\\.)*)"|([^,]+)')


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload, separators=(",", ":"))
    return Response(body, status, headers=headers, media_type="application/json; charset=utf-8")


class Catalogue:
    """Tables, columns and functions of the public schema (refreshed when something is missing)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self._lock = threading.Lock()
        self.tables: dict[str, list[str]] = {}
        self.functions: set[str] = set()
        self.keys: dict[str, list[str]] = {}

    def refresh(self) -> None:
        with self.project.db.admin() as cur:
            cur.execute(
                "select table_name, column_name from information_schema.columns "
                "where table_schema = 'public' order by table_name, ordinal_position"
            )
            tables: dict[str, list[str]] = {}
            for row in cur.fetchall():
                tables.setdefault(row["table_name"], []).append(row["column_name"])
            cur.execute(
                "select tc.table_name, kcu.column_name from information_schema.table_constraints tc "
                "join information_schema.key_column_usage kcu using (constraint_schema, constraint_name) "
                "where tc.table_schema = 'public' and tc.constraint_type = 'PRIMARY KEY' "
                "order by kcu.ordinal_position"
            )
            keys: dict[str, list[str]] = {}
            for row in cur.fetchall():
                keys.setdefault(row["table_name"], []).append(row["column_name"])
            cur.execute(
                "select proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where nspname = 'public'"
            )
            functions = {row["proname"] for row in cur.fetchall()}
        with self._lock:
            self.tables, self.keys, self.functions = tables, keys, functions

    def columns(self, table: str) -> list[str]:
        if table not in self.tables:
            self.refresh()
        if table not in self.tables:
            raise rest_error(
                404, "PGRST205", f"Could not find the table 'public.{table}' in the schema cache", hint=None
            )
        return self.tables[table]

    def column(self, table: str, name: str) -> sql.Identifier:
        if name not in self.columns(table):
            raise rest_error(400, "42703", f"column {table}.{name} does not exist")
        return sql.Identifier(name)


def _prefer(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in request.headers.get("prefer", "").split(","):
        key, _, value = part.strip().partition("=")
        if key:
            found[key] = value
    return found


def _in_values(raw: str) -> list[str]:
    if not (raw.startswith("(") and raw.endswith(")")):
        raise rest_error(400, "PGRST100", f'"failed to parse filter (in.{raw})" (line 1, column 4)')
    return [
        m.group(1) if m.group(1) is not None else m.group(2).strip() for m in _IN_ITEM.finditer(raw[1:-1])
    ]


class RestService:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.catalogue = Catalogue(project)
        self.routes = [
            Route("/rpc/{function}", self.rpc, methods=["POST", "GET"]),
            Route("/{table}", self.table, methods=["GET", "HEAD", "POST", "PATCH", "DELETE"]),
        ]

    # -- SQL building ---------------------------------------------------------------------------------

    def _select_list(self, table: str, raw: str | None) -> sql.Composable:
        if raw is None or raw.strip() in ("", "*"):
            return sql.SQL("*")
        names = [c.strip() for c in raw.split(",") if c.strip()]
        if "*" in names:
            return sql.SQL("*")
        return sql.SQL(", ").join(self.catalogue.column(table, c) for c in names)

    def _where(self, table: str, request: Request) -> tuple[sql.Composable, list[Any]]:
        clauses: list[sql.Composable] = []
        params: list[Any] = []
        for key, value in request.query_params.multi_items():
            if key in RESERVED:
                continue
            column = self.catalogue.column(table, key)
            negate = value.startswith("not.")
            op, _, operand = value.removeprefix("not.").partition(".")
            if op in OPERATORS:
                if op in ("like", "ilike"):
                    clause = sql.SQL("{}::text {} %s").format(column, sql.SQL(OPERATORS[op]))
                    params.append(operand.replace("*", "%"))
                else:
                    clause = sql.SQL("{} {} %s").format(column, sql.SQL(OPERATORS[op]))
                    params.append(operand)
            elif op == "is":
                keyword = {"null": "null", "true": "true", "false": "false", "unknown": "unknown"}.get(
                    operand.lower()
                )
                if keyword is None:
                    raise rest_error(
                        400, "PGRST100", f'"failed to parse filter ({value})" (line 1, column 4)'
                    )
                clause = sql.SQL("{} is " + keyword).format(column)
            elif op == "in":
                items = _in_values(operand)
                if not items:
                    clause = sql.Composed([sql.SQL("false")])
                else:
                    clause = sql.SQL("{} in ({})").format(
                        column, sql.SQL(", ").join(sql.SQL("%s") for _ in items)
                    )
                    params.extend(items)
            else:
                raise rest_error(
                    400,
                    "PGRST100",
                    f'"failed to parse filter ({value})" (line 1, column {len(key) + 2})',
                    details=f"unexpected operator {op!r}",
                )
            clauses.append(sql.SQL("not ({})").format(clause) if negate else clause)
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" where ") + sql.SQL(" and ").join(clauses), params

    def _order(self, table: str, raw: str | None) -> sql.Composable:
        if not raw:
            return sql.SQL("")
        terms = []
        for term in raw.split(","):
            name, *modifiers = term.strip().split(".")
            parts: list[sql.Composable] = [self.catalogue.column(table, name)]
            for modifier in modifiers:
                keyword = {
                    "asc": "asc",
                    "desc": "desc",
                    "nullsfirst": "nulls first",
                    "nullslast": "nulls last",
                }.get(modifier)
                if keyword is None:
                    raise rest_error(400, "PGRST100", f'"failed to parse order ({raw})" (line 1, column 1)')
                parts.append(sql.SQL(keyword))
            terms.append(sql.SQL(" ").join(parts))
        return sql.SQL(" order by ") + sql.SQL(", ").join(terms)

    @staticmethod
    def _int(request: Request, name: str) -> int | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise rest_error(400, "PGRST100", f'"failed to parse {name} ({raw})"')
        return int(raw)

    # -- execution ------------------------------------------------------------------------------------

    def _run(self, request: Request, statement: sql.Composed, params: list[Any]) -> list[dict[str, Any]]:
        try:
            role, claims = self.project.caller(request)
        except InvalidToken as exc:
            raise rest_error(401, "PGRST301", str(exc)) from None
        try:
            with self.project.db.session(role, claims) as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise self._pg_error(exc, role) from None

    @staticmethod
    def _pg_error(exc: psycopg.Error, role: str) -> ServiceError:
        diag = exc.diag
        code = exc.sqlstate or "XX000"
        status = {"42501": 401 if role == "anon" else 403, "23505": 409, "23503": 409, "42883": 404}.get(
            code, 400
        )
        return rest_error(
            status, code, diag.message_primary or str(exc), diag.message_detail, diag.message_hint
        )

    async def _payload(self, request: Request) -> Any:
        try:
            return jsonbody.loads(await request.body())
        except ValueError:
            raise rest_error(400, "PGRST102", "Empty or invalid json") from None

    def _respond(
        self, request: Request, rows: list[Any], status: int, total: int | None = None, offset: int = 0
    ) -> Response:
        prefer = _prefer(request)
        data = rows[0]["data"] if rows and "data" in rows[0] else []
        data = data or []
        headers: dict[str, str] = {}
        end = offset + len(data) - 1
        count = "*" if total is None else str(total)
        headers["content-range"] = f"{offset}-{end}/{count}" if data else f"*/{count}"
        if request.method in ("POST", "PATCH", "DELETE"):
            if prefer.get("return") != "representation":
                return Response(status_code=status if status != 200 else 204, headers=headers)
            headers["preference-applied"] = "return=representation"
        if OBJECT_MEDIA in request.headers.get("accept", ""):
            if len(data) != 1:
                raise rest_error(
                    406,
                    "PGRST116",
                    "Cannot coerce the result to a single JSON object",
                    f"The result contains {len(data)} rows",
                )
            return _json(data[0], status, headers)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        return _json(data, status, headers)

    async def table(self, request: Request) -> Response:
        table = request.path_params["table"]
        self.catalogue.columns(table)
        name = sql.Identifier("public", table)
        returning = self._select_list(table, request.query_params.get("select"))
        where, params = self._where(table, request)
        wrap = sql.SQL("select coalesce(json_agg(t), '[]'::json) as data from ({}) t")
        if request.method in ("GET", "HEAD"):
            offset = self._int(request, "offset") or 0
            limit = self._int(request, "limit")
            inner = sql.SQL("select {} from {}{}{}").format(
                returning, name, where, self._order(table, request.query_params.get("order"))
            )
            if limit is not None:
                inner += sql.SQL(" limit {}").format(sql.Literal(limit))
            if offset:
                inner += sql.SQL(" offset {}").format(sql.Literal(offset))
            rows = self._run(request, wrap.format(inner), params)
            total = None
            if _prefer(request).get("count") == "exact":
                counted = self._run(
                    request, sql.SQL("select count(*) as n from {}{}").format(name, where), params
                )
                total = int(counted[0]["n"])
            return self._respond(request, rows, 200, total, offset)
        if request.method == "DELETE":
            inner = sql.SQL("delete from {}{} returning {}").format(name, where, returning)
            return self._respond(request, self._mutate(request, inner, params), 200)
        payload = await self._payload(request)
        if request.method == "PATCH":
            if not isinstance(payload, dict) or not payload:
                raise rest_error(400, "PGRST102", "Empty or invalid json")
            columns = [self.catalogue.column(table, c) for c in payload]
            inner = sql.SQL(
                "update {} set ({}) = (select {} from json_populate_record(null::{}, %s)){} returning {}"
            ).format(name, sql.SQL(", ").join(columns), sql.SQL(", ").join(columns), name, where, returning)
            return self._respond(request, self._mutate(request, inner, [json.dumps(payload), *params]), 200)
        return self._insert(request, table, payload, returning)

    def _mutate(self, request: Request, inner: sql.Composed, params: list[Any]) -> list[dict[str, Any]]:
        statement = sql.SQL("with t as ({}) select coalesce(json_agg(t), '[]'::json) as data from t").format(
            inner
        )
        return self._run(request, statement, params)

    def _insert(self, request: Request, table: str, payload: Any, returning: sql.Composable) -> Response:
        records = payload if isinstance(payload, list) else [payload]
        if not records or not all(isinstance(r, dict) for r in records):
            raise rest_error(400, "PGRST102", "Empty or invalid json")
        keys = list(dict.fromkeys(k for r in records for k in r))
        columns = [self.catalogue.column(table, k) for k in keys]
        name = sql.Identifier("public", table)
        inner = sql.SQL("insert into {} ({}) select {} from json_populate_recordset(null::{}, %s)").format(
            name, sql.SQL(", ").join(columns), sql.SQL(", ").join(columns), name
        )
        resolution = _prefer(request).get("resolution")
        if resolution in ("merge-duplicates", "ignore-duplicates"):
            conflict = request.query_params.get("on_conflict")
            target = (
                [c.strip() for c in conflict.split(",")] if conflict else self.catalogue.keys.get(table, [])
            )
            target_sql = sql.SQL(", ").join(self.catalogue.column(table, c) for c in target)
            if resolution == "ignore-duplicates":
                inner += sql.SQL(" on conflict ({}) do nothing").format(target_sql)
            else:
                updates = sql.SQL(", ").join(sql.SQL("{} = excluded.{}").format(c, c) for c in columns)
                inner += sql.SQL(" on conflict ({}) do update set {}").format(target_sql, updates)
        inner += sql.SQL(" returning {}").format(returning)
        return self._respond(request, self._mutate(request, inner, [json.dumps(records)]), 201)

    async def rpc(self, request: Request) -> Response:
        function = request.path_params["function"]
        if function not in self.catalogue.functions:
            self.catalogue.refresh()
        if function not in self.catalogue.functions:
            raise rest_error(
                404, "PGRST202", f"Could not find the function public.{function} in the schema cache"
            )
        args = dict(request.query_params) if request.method == "GET" else await self._payload(request)
        if not isinstance(args, dict):
            raise rest_error(400, "PGRST102", "Empty or invalid json")
        names, params = [], []
        for key, value in args.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise rest_error(400, "PGRST202", f"Could not find the function public.{function}({key})")
            names.append(sql.SQL("{} => %s").format(sql.Identifier(key)))
            params.append(_rpc_value(value))
        call = sql.SQL("{}({})").format(sql.Identifier("public", function), sql.SQL(", ").join(names))
        statement = sql.SQL("select coalesce(json_agg(r), '[]'::json) as data from {} r").format(call)
        rows = self._run(request, statement, params)
        return self._respond_rpc(request, rows)

    def _respond_rpc(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        data = rows[0]["data"] if rows else []
        if OBJECT_MEDIA in request.headers.get("accept", "") and len(data) != 1:
            raise rest_error(
                406,
                "PGRST116",
                "Cannot coerce the result to a single JSON object",
                f"The result contains {len(data)} rows",
            )
        return _json(data[0] if OBJECT_MEDIA in request.headers.get("accept", "") else data, 200)


def _rpc_value(value: Any) -> str | None:
    """RPC arguments go over as text for PostgreSQL to cast (a JSON array is a vector literal)."""
    if value is None:
        return None
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
