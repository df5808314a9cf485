"""A PostgREST-compatible REST layer (``/rest/v1``) over PostgreSQL, with PostgreSQL's own RLS.

Identifiers (tables, columns, functions) are checked against the catalogue and quoted; values are
always parameters. Each request is one transaction as the caller's role with its JWT claims.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
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
CONTAINMENT = {"cs": "@>", "cd": "<@", "ov": "&&"}
TEXT_SEARCH = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
_FTS = re.compile(r"(fts|plfts|phfts|wfts)(?:\(([A-Za-z_]+)\))?")
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:(?!:)")
_EMBED = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:!([A-Za-z_][A-Za-z0-9_]*))?\((.*)\)", re.DOTALL)
OBJECT_MEDIA = "application/vnd.pgrst.object+json"
ESTIMATE_EXACT_BELOW = 1000
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
        self.types: dict[str, dict[str, str]] = {}
        self.functions: set[str] = set()
        self.keys: dict[str, list[str]] = {}
        # foreign keys: (child table, child column, parent table, parent column)
        self.references: list[tuple[str, str, str, str]] = []

    def refresh(self) -> None:
        with self.project.db.admin() as cur:
            cur.execute(
                "select table_name, column_name, udt_name from information_schema.columns "
                "where table_schema = 'public' order by table_name, ordinal_position"
            )
            tables: dict[str, list[str]] = {}
            types: dict[str, dict[str, str]] = {}
            for row in cur.fetchall():
                tables.setdefault(row["table_name"], []).append(row["column_name"])
                types.setdefault(row["table_name"], {})[row["column_name"]] = row["udt_name"]
            cur.execute(
                "select cl.relname as child, a.attname as child_column, pl.relname as parent, "
                "pa.attname as parent_column from pg_constraint c "
                "join pg_class cl on cl.oid = c.conrelid join pg_namespace n on n.oid = cl.relnamespace "
                "join pg_class pl on pl.oid = c.confrelid "
                "join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1] "
                "join pg_attribute pa on pa.attrelid = c.confrelid and pa.attnum = c.confkey[1] "
                "where c.contype = 'f' and n.nspname = 'public' and array_length(c.conkey, 1) = 1 "
                "order by c.conname"
            )
            references = [
                (r["child"], r["child_column"], r["parent"], r["parent_column"]) for r in cur.fetchall()
            ]
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
            self.tables, self.types, self.keys, self.functions = tables, types, keys, functions
            self.references = references

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

    def relationship(self, table: str, other: str) -> tuple[str, str, str]:
        """How ``other`` embeds in ``table``: ("many", fk column in other, key in table) when other
        references table, ("one", fk column in table, key in other) when table references other."""
        for attempt in range(2):
            for child, child_column, parent, parent_column in self.references:
                if child == other and parent == table:
                    return "many", child_column, parent_column
            for child, child_column, parent, parent_column in self.references:
                if child == table and parent == other:
                    return "one", child_column, parent_column
            if attempt == 0:
                self.refresh()  # a table created since (a user migration)
        raise rest_error(
            400,
            "PGRST200",
            f"Could not find a relationship between '{table}' and '{other}' in the schema cache",
            hint=None,
            details=f"Searched for a foreign key relationship between '{table}' and '{other}' in the schema "
            "'public', but no matches were found.",
        )


def _prefer(request: Request) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in request.headers.get("prefer", "").split(","):
        key, _, value = part.strip().partition("=")
        if key:
            found[key] = value
    return found


@dataclass(frozen=True)
class SelectItem:
    """One entry of ``select=``: a column (or ``*``), or an embedded resource and its own list."""

    name: str
    alias: str = ""
    embedded: str | None = None  # the embedded resource's select list
    inner: bool = False  # ``rel!inner(...)``


def select_items(raw: str) -> list[SelectItem]:
    items = []
    for item in split_top(raw):
        alias, _, rest = item.partition(":") if _ALIAS.match(item) else ("", "", item)
        found = _EMBED.fullmatch(rest)
        if found:
            items.append(SelectItem(found.group(1), alias, found.group(3), found.group(2) == "inner"))
        else:
            items.append(SelectItem(rest, alias))
    return items


def split_top(raw: str) -> list[str]:
    """Split at the commas outside parentheses and double quotes: ``a,b(c,d),"e,f"``."""
    parts, depth, quoted, current = [], 0, False, ""
    for char in raw:
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "," and depth == 0 and not quoted:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


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
        """``*``, columns, ``alias:column``, and embedded resources ``rel(...)`` /
        ``alias:rel!inner(...)`` through foreign keys, nested to any depth."""
        if raw is None or raw.strip() in ("", "*"):
            return sql.SQL("{}.*").format(sql.Identifier(table))
        items: list[sql.Composable] = []
        for item in select_items(raw):
            if item.embedded is not None:
                embedded = self._embed(table, item.name, item.embedded)
                items.append(sql.SQL("{} as {}").format(embedded, sql.Identifier(item.alias or item.name)))
            elif item.name == "*":
                items.append(sql.SQL("{}.*").format(sql.Identifier(table)))
            else:
                column = sql.SQL("{}.{}").format(
                    sql.Identifier(table), self.catalogue.column(table, item.name)
                )
                items.append(
                    sql.SQL("{} as {}").format(column, sql.Identifier(item.alias)) if item.alias else column
                )
        return sql.SQL(", ").join(items)

    def _link(self, table: str, relation: str) -> tuple[str, sql.Composable]:
        """How a row of ``relation`` belongs to a row of ``table``: ("many" or "one", the condition)."""
        kind, fk, key = self.catalogue.relationship(table, relation)
        near, far = (fk, key) if kind == "many" else (key, fk)
        condition = sql.SQL("{}.{} = {}.{}").format(
            sql.Identifier(relation), sql.Identifier(near), sql.Identifier(table), sql.Identifier(far)
        )
        return kind, condition

    def _embed(self, table: str, relation: str, inner: str) -> sql.Composable:
        kind, condition = self._link(table, relation)
        fields = self._select_list(relation, inner or "*")
        shape = "coalesce(json_agg(_e), '[]'::json)" if kind == "many" else "row_to_json(_e)"
        return sql.SQL("(select " + shape + " from (select {} from {} where {}) _e)").format(
            fields, sql.Identifier("public", relation), condition
        )

    def _inner_joins(self, table: str, raw: str | None) -> list[sql.Composable]:
        """``rel!inner(...)``: only rows that have a match in the embedded resource."""
        return [
            sql.SQL("exists (select 1 from {} where {})").format(
                sql.Identifier("public", item.name), self._link(table, item.name)[1]
            )
            for item in select_items(raw or "")
            if item.inner
        ]

    def _where(self, table: str, request: Request) -> tuple[sql.Composable, list[Any]]:
        clauses: list[sql.Composable] = list(self._inner_joins(table, request.query_params.get("select")))
        params: list[Any] = []
        for key, value in request.query_params.multi_items():
            if key in RESERVED:
                continue
            negate = key.startswith("not.")
            logic = key.removeprefix("not.")
            if logic in ("or", "and"):
                clause = self._tree(table, logic, value, params)
                clauses.append(sql.SQL("not ({})").format(clause) if negate else clause)
                continue
            clauses.append(self._condition(table, key, value, params))
        if not clauses:
            return sql.SQL(""), params
        return sql.SQL(" where ") + sql.SQL(" and ").join(clauses), params

    def _tree(self, table: str, logic: str, raw: str, params: list[Any]) -> sql.Composable:
        """``or=(a.eq.1,and(b.gt.2,c.is.null))``: nested ``and``/``or``/``not.`` groups of filters."""
        if not (raw.startswith("(") and raw.endswith(")")):
            raise rest_error(400, "PGRST100", f'"failed to parse logic tree ({raw})" (line 1, column 4)')
        parts: list[sql.Composable] = []
        for item in split_top(raw[1:-1]):
            negate = item.startswith("not.")
            body = item.removeprefix("not.")
            group = re.fullmatch(r"(and|or)(\(.*\))", body, re.DOTALL)
            if group:
                clause = self._tree(table, group.group(1), group.group(2), params)
            else:
                column, dot, condition = body.partition(".")
                if not dot:
                    raise rest_error(
                        400, "PGRST100", f'"failed to parse logic tree ({raw})" (line 1, column 4)'
                    )
                clause = self._condition(table, column, condition, params)
            parts.append(sql.SQL("not ({})").format(clause) if negate else clause)
        if not parts:
            raise rest_error(400, "PGRST100", f'"failed to parse logic tree ({raw})" (line 1, column 4)')
        return sql.SQL("({})").format(sql.SQL(f" {logic} ").join(parts))

    def _condition(self, table: str, key: str, value: str, params: list[Any]) -> sql.Composable:
        """One filter, ``column=[not.]op.operand``."""
        column = self.catalogue.column(table, key)
        negate = value.startswith("not.")
        op, _, operand = value.removeprefix("not.").partition(".")
        search = _FTS.fullmatch(op)
        if op in OPERATORS:
            if op in ("like", "ilike"):
                clause = sql.SQL("{}::text {} %s").format(column, sql.SQL(OPERATORS[op]))
                params.append(operand.replace("*", "%"))
            else:
                clause = sql.SQL("{} {} %s").format(column, sql.SQL(OPERATORS[op]))
                params.append(operand)
        elif op in CONTAINMENT:  # arrays, ranges and jsonb: {a,b}, [1,5), {"k": 1}
            clause = sql.SQL("{} {} %s").format(column, sql.SQL(CONTAINMENT[op]))
            params.append(operand)
        elif search:
            kind, config = search.group(1), search.group(2)
            document: sql.Composable = (
                column
                if self.catalogue.types.get(table, {}).get(key) == "tsvector"
                else sql.SQL("to_tsvector({}{}::text)").format(
                    sql.SQL("%s::regconfig, ") if config else sql.SQL(""), column
                )
            )
            if config and document is not column:
                params.append(config)
            query = sql.SQL("{}({}%s)").format(
                sql.SQL(TEXT_SEARCH[kind]), sql.SQL("%s::regconfig, ") if config else sql.SQL("")
            )
            if config:
                params.append(config)
            params.append(operand)
            clause = sql.SQL("{} @@ {}").format(document, query)
        elif op == "is":
            keyword = {"null": "null", "true": "true", "false": "false", "unknown": "unknown"}.get(
                operand.lower()
            )
            if keyword is None:
                raise rest_error(400, "PGRST100", f'"failed to parse filter ({value})" (line 1, column 4)')
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
        return sql.SQL("not ({})").format(clause) if negate else clause

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

    def _range(self, request: Request) -> tuple[int, int | None]:
        """``offset``/``limit`` query parameters, else a ``Range: 0-9`` header (items)."""
        offset, limit = self._int(request, "offset"), self._int(request, "limit")
        header = request.headers.get("range")
        if header and offset is None and limit is None:
            found = re.fullmatch(r"\s*(\d{1,18})-(\d{0,18})\s*", header)
            if not found or (found.group(2) and int(found.group(2)) < int(found.group(1))):
                raise rest_error(
                    416, "PGRST103", "Requested range not satisfiable", f"invalid range {header!r}"
                )
            offset = int(found.group(1))
            limit = int(found.group(2)) - offset + 1 if found.group(2) else None
        return offset or 0, limit

    def _count(
        self, request: Request, exact: sql.Composed, plan: sql.Composed, params: list[Any]
    ) -> tuple[int | None, str | None]:
        """``Prefer: count=exact|planned|estimated``: the total, and the preference applied.
        planned reads the planner's estimate (EXPLAIN); estimated is exact up to 1,000 rows."""
        wanted = _prefer(request).get("count")
        if wanted not in ("exact", "planned", "estimated"):
            return None, None
        if wanted in ("planned", "estimated"):
            explained = self._run(request, sql.SQL("explain (format json) ") + plan, params)
            planned = int(explained[0]["QUERY PLAN"][0]["Plan"]["Plan Rows"])
            if wanted == "planned" or planned >= ESTIMATE_EXACT_BELOW:
                return planned, f"count={wanted}"
        return int(self._run(request, exact, params)[0]["n"]), f"count={wanted}"

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
        self,
        request: Request,
        rows: list[Any],
        status: int,
        total: int | None = None,
        offset: int = 0,
        applied: str | None = None,
    ) -> Response:
        prefer = _prefer(request)
        data = rows[0]["data"] if rows and "data" in rows[0] else []
        data = data or []
        headers: dict[str, str] = {}
        end = offset + len(data) - 1
        count = "*" if total is None else str(total)
        headers["content-range"] = f"{offset}-{end}/{count}" if data else f"*/{count}"
        if applied:
            headers["preference-applied"] = applied
        if request.method in ("GET", "HEAD") and total is not None and data and len(data) < total:
            status = 206  # a part of the rows: Partial Content, as PostgREST answers
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
            offset, limit = self._range(request)
            inner = sql.SQL("select {} from {}{}{}").format(
                returning, name, where, self._order(table, request.query_params.get("order"))
            )
            if limit is not None:
                inner += sql.SQL(" limit {}").format(sql.Literal(limit))
            if offset:
                inner += sql.SQL(" offset {}").format(sql.Literal(offset))
            rows = self._run(request, wrap.format(inner), params)
            counting = sql.SQL("select count(*) as n from {}{}").format(name, where)
            total, applied = self._count(
                request, counting, sql.SQL("select 1 from {}{}").format(name, where), params
            )
            if total is not None and offset > 0 and offset >= total and not rows[0]["data"]:
                raise rest_error(
                    416,
                    "PGRST103",
                    "Requested range not satisfiable",
                    f"An offset of {offset} was requested, but there are only {total} rows.",
                    headers={"content-range": f"*/{total}"},
                )
            return self._respond(request, rows, 200, total, offset, applied)
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
