"""Storage (``/storage/v1``): buckets, objects whose rows live in ``storage.objects`` under RLS as
the caller, bytes on disk, signed upload and download URLs (JWTs with expiry), in storage's own
error shape (HTTP 400 with the real status in ``statusCode``)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contracttape.sandbox import jsonbody
from contracttape.sandbox.errors import ServiceError
from contracttape.sandbox.supabase.context import Project
from contracttape.sandbox.supabase.errors import storage_error
from contracttape.sandbox.supabase.keys import bucket_dir, bucket_name, keys_in, object_file, object_key
from contracttape.sandbox.supabase.signing import InvalidToken

SIGNED_UPLOAD_SECONDS = 7200
DEFAULT_LIMIT = 50 * 1024 * 1024


def _not_found() -> ServiceError:
    return storage_error(404, "NoSuchKey", "not_found", "Object not found")


def _no_bucket() -> ServiceError:
    return storage_error(404, "NoSuchBucket", "Bucket not found", "Bucket not found")


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _bucket_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) for k, v in row.items()} | {"owner": str(row["owner"] or ""), "type": "STANDARD"}


class StorageService:
    def __init__(self, project: Project, root: Path | None = None) -> None:
        self.project = project
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="contracttape-storage-")
        self.root = root or Path(self._tmp.name)  # type: ignore[union-attr]
        self.routes = [
            Route("/bucket", self.list_buckets, methods=["GET"]),
            Route("/bucket", self.create_bucket, methods=["POST"]),
            Route("/bucket/{id}", self.get_bucket, methods=["GET"]),
            Route("/bucket/{id}", self.update_bucket, methods=["PUT"]),
            Route("/bucket/{id}", self.delete_bucket, methods=["DELETE"]),
            Route("/bucket/{id}/empty", self.empty_bucket, methods=["POST"]),
            Route("/object/list/{bucket}", self.list_objects, methods=["POST"]),
            Route("/object/move", self.move, methods=["POST"]),
            Route("/object/copy", self.copy, methods=["POST"]),
            Route("/object/upload/sign/{bucket}/{path:path}", self.sign_upload, methods=["POST"]),
            Route("/object/upload/sign/{bucket}/{path:path}", self.signed_upload, methods=["PUT"]),
            Route("/object/sign/{bucket}/{path:path}", self.sign_download, methods=["POST"]),
            Route("/object/sign/{bucket}", self.sign_many, methods=["POST"]),
            Route("/object/sign/{bucket}/{path:path}", self.signed_download, methods=["GET"]),
            Route("/object/authenticated/{bucket}/{path:path}", self.download, methods=["GET"]),
            Route("/object/public/{bucket}/{path:path}", self.public_download, methods=["GET"]),
            Route("/object/{bucket}/{path:path}", self.upload, methods=["POST", "PUT"]),
            Route("/object/{bucket}/{path:path}", self.download, methods=["GET"]),
            Route("/object/{bucket}", self.remove, methods=["DELETE"]),
        ]

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- plumbing ---------------------------------------------------------------------------------------

    def _caller(self, request: Request) -> tuple[str, dict[str, Any]]:
        try:
            return self.project.caller(request)
        except InvalidToken as exc:
            raise storage_error(400, "InvalidJWT", "InvalidJWT", str(exc)) from None

    def _sql(
        self, role: str, claims: dict[str, Any], statement: str, params: tuple[Any, ...] = ()
    ) -> list[dict[str, Any]]:
        try:
            with self.project.db.session(role, claims) as cur:
                cur.execute(statement, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise self._pg_error(exc) from None

    @staticmethod
    def _pg_error(exc: psycopg.Error) -> ServiceError:
        if exc.sqlstate == "42501":
            return storage_error(
                403, "AccessDenied", "Unauthorized", "new row violates row-level security policy"
            )
        if exc.sqlstate == "23505":
            return storage_error(409, "KeyAlreadyExists", "Duplicate", "The resource already exists")
        if exc.sqlstate == "23503":
            return _no_bucket()
        return storage_error(400, "InvalidRequest", "invalid_request", exc.diag.message_primary or str(exc))

    def _file(self, bucket: str, name: str) -> Path:
        return object_file(self.root, bucket, name)

    @staticmethod
    def _target(request: Request) -> tuple[str, str]:
        """The (bucket, key) a route names, both validated as real storage does."""
        return bucket_name(request.path_params["bucket"]), object_key(request.path_params["path"])

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            body = jsonbody.loads(await request.body() or b"{}")
        except ValueError:
            raise storage_error(400, "InvalidRequest", "invalid_request", "Body is not valid JSON") from None
        if not isinstance(body, dict):
            raise storage_error(400, "InvalidRequest", "invalid_request", "Body must be a JSON object")
        return body

    def _bucket(self, bucket: str) -> dict[str, Any]:
        bucket_name(bucket)
        with self.project.db.admin() as cur:
            cur.execute("select * from storage.buckets where id = %s", (bucket,))
            row = cur.fetchone()
        if row is None:
            raise _no_bucket()
        return row

    async def _content(self, request: Request, bucket: dict[str, Any]) -> tuple[bytes, str]:
        limit = bucket["file_size_limit"] or DEFAULT_LIMIT
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form(max_part_size=limit + 1) as form:
                # real storage takes the file part whatever its name: storage-js's
                # uploadToSignedUrl names it "", storage-py "file"
                upload = next((v for _, v in form.multi_items() if isinstance(v, UploadFile)), None)
                if upload is None:
                    raise storage_error(
                        400, "InvalidRequest", "invalid_request", "No file was sent in the form"
                    )
                data = await upload.read(limit + 1)
                mime = upload.content_type or "application/octet-stream"
        else:
            data = await request.body()
            mime = request.headers.get("content-type", "application/octet-stream")
        if len(data) > limit:
            raise storage_error(
                413, "EntityTooLarge", "Payload too large", "The object exceeded the maximum allowed size"
            )
        allowed = bucket["allowed_mime_types"]
        if allowed and not any(
            mime.split(";")[0].strip() == m or (m.endswith("/*") and mime.startswith(m[:-1])) for m in allowed
        ):
            raise storage_error(
                415, "InvalidMimeType", "invalid_mime_type", f"mime type {mime} is not supported"
            )
        return data, mime

    def _store(
        self,
        role: str,
        claims: dict[str, Any],
        bucket: str,
        name: str,
        data: bytes,
        mime: str,
        upsert: bool,
        update: bool = False,
    ) -> dict[str, Any]:
        metadata = json.dumps(
            {
                "size": len(data),
                "mimetype": mime,
                "eTag": f'"{len(data)}"',
                "contentLength": len(data),
                "cacheControl": "max-age=3600",
                "httpStatusCode": 200,
            }
        )
        if update:
            statement = (
                "update storage.objects set metadata = %s, updated_at = now() "
                "where bucket_id = %s and name = %s "
                "returning id"
            )
            params: tuple[Any, ...] = (metadata, bucket, name)
        else:
            statement = "insert into storage.objects (bucket_id, name, metadata) values (%s, %s, %s)"
            if upsert:
                statement += " on conflict (bucket_id, name) do update"
                statement += " set metadata = excluded.metadata, updated_at = now()"
            statement += " returning id"
            params = (bucket, name, metadata)
        try:
            with self.project.db.session(role, claims) as cur:
                cur.execute(statement, params)
                row = cur.fetchone()
                if row is None:
                    raise _not_found()
                target = self._file(bucket, name)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)  # inside the transaction: a failed write rolls the row back
        except psycopg.Error as exc:
            raise self._pg_error(exc) from None
        stored = {"Id": str(row["id"]), "Key": f"{bucket}/{name}"}
        if self.project.revision == 2:
            stored["Version"] = "1"  # revision 2: a field added
        return stored

    def _visible(self, role: str, claims: dict[str, Any], bucket: str, name: str) -> dict[str, Any]:
        rows = self._sql(
            role, claims, "select * from storage.objects where bucket_id = %s and name = %s", (bucket, name)
        )
        if not rows:
            raise _not_found()
        return rows[0]

    def _serve(self, bucket: str, name: str, row: dict[str, Any]) -> Response:
        path = self._file(bucket, name)
        if not path.exists():
            raise _not_found()
        mime = (row.get("metadata") or {}).get("mimetype", "application/octet-stream")
        return Response(path.read_bytes(), media_type=mime)

    # -- buckets ------------------------------------------------------------------------------------------

    async def create_bucket(self, request: Request) -> Response:
        role, claims = self._caller(request)
        body = await self._json(request)
        bucket = bucket_name(body.get("id") or body.get("name"))
        if role != "service_role":
            raise storage_error(
                403, "AccessDenied", "Unauthorized", "new row violates row-level security policy"
            )
        self._sql(
            role,
            claims,
            "insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types, owner) "
            "values (%s, %s, %s, %s, %s, %s)",
            (
                bucket,
                body.get("name") or bucket,
                bool(body.get("public")),
                body.get("file_size_limit"),
                body.get("allowed_mime_types"),
                claims.get("sub"),
            ),
        )
        return JSONResponse({"name": bucket})

    async def list_buckets(self, request: Request) -> Response:
        role, claims = self._caller(request)
        rows = self._sql(role, claims, "select * from storage.buckets order by id")
        return JSONResponse([_bucket_json(r) for r in rows])

    async def get_bucket(self, request: Request) -> Response:
        role, claims = self._caller(request)
        rows = self._sql(
            role,
            claims,
            "select * from storage.buckets where id = %s",
            (bucket_name(request.path_params["id"]),),
        )
        if not rows:
            raise _no_bucket()
        return JSONResponse(_bucket_json(rows[0]))

    async def update_bucket(self, request: Request) -> Response:
        role, claims = self._caller(request)
        body = await self._json(request)
        rows = self._sql(
            role,
            claims,
            "update storage.buckets set public = coalesce(%s, public), file_size_limit = %s, "
            "allowed_mime_types = %s, updated_at = now() where id = %s returning id",
            (
                body.get("public"),
                body.get("file_size_limit"),
                body.get("allowed_mime_types"),
                bucket_name(request.path_params["id"]),
            ),
        )
        if not rows:
            raise _no_bucket()
        return JSONResponse({"message": "Successfully updated"})

    async def empty_bucket(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket = request.path_params["id"]
        self._bucket(bucket)
        for row in self._sql(
            role, claims, "delete from storage.objects where bucket_id = %s returning name", (bucket,)
        ):
            self._file(bucket, row["name"]).unlink(missing_ok=True)
        return JSONResponse({"message": "Successfully emptied"})

    async def delete_bucket(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket = request.path_params["id"]
        self._bucket(bucket)
        if self._sql(
            "service_role",
            {"role": "service_role"},
            "select 1 from storage.objects where bucket_id = %s limit 1",
            (bucket,),
        ):
            raise storage_error(
                409, "InvalidRequest", "Bucket not empty", "The bucket you tried to delete is not empty"
            )
        rows = self._sql(role, claims, "delete from storage.buckets where id = %s returning id", (bucket,))
        if not rows:
            raise storage_error(
                403, "AccessDenied", "Unauthorized", "new row violates row-level security policy"
            )
        shutil.rmtree(bucket_dir(self.root, bucket), ignore_errors=True)
        return JSONResponse({"message": "Successfully deleted"})

    # -- objects ------------------------------------------------------------------------------------------

    async def upload(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket, name = self._target(request)
        data, mime = await self._content(request, self._bucket(bucket))
        upsert = request.headers.get("x-upsert", "false").lower() == "true"
        return JSONResponse(
            self._store(role, claims, bucket, name, data, mime, upsert, update=request.method == "PUT")
        )

    async def download(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket, name = self._target(request)
        return self._serve(bucket, name, self._visible(role, claims, bucket, name))

    async def public_download(self, request: Request) -> Response:
        bucket, name = self._target(request)
        if not self._bucket(bucket)["public"]:
            raise _not_found()
        return self._serve(
            bucket, name, self._visible("service_role", {"role": "service_role"}, bucket, name)
        )

    async def list_objects(self, request: Request) -> Response:
        role, claims = self._caller(request)
        body = await self._json(request)
        bucket = bucket_name(request.path_params["bucket"])
        prefix = body.get("prefix") or ""
        if not isinstance(prefix, str) or "\x00" in prefix:
            raise storage_error(400, "InvalidRequest", "invalid_request", "body/prefix must be a string")
        prefix = prefix.strip("/")
        base = f"{prefix}/" if prefix else ""
        rows = self._sql(
            role,
            claims,
            "select * from storage.objects where bucket_id = %s and name like %s order by name",
            (bucket, base.replace("%", r"\%").replace("_", r"\_") + "%"),
        )
        entries: dict[str, dict[str, Any]] = {}
        for row in rows:
            rest = row["name"][len(base) :]
            head, sep, _ = rest.partition("/")
            if sep:
                entries.setdefault(
                    head,
                    {
                        "name": head,
                        "id": None,
                        "updated_at": None,
                        "created_at": None,
                        "last_accessed_at": None,
                        "metadata": None,
                    },
                )
            else:
                entries[head] = {
                    "name": head,
                    "id": str(row["id"]),
                    "updated_at": _iso(row["updated_at"]),
                    "created_at": _iso(row["created_at"]),
                    "last_accessed_at": _iso(row["last_accessed_at"]),
                    "metadata": row["metadata"],
                }
        listed = _sorted_listing(list(entries.values()), body.get("sortBy"))
        offset, limit = _count(body, "offset", 0), _count(body, "limit", 100)
        return JSONResponse(listed[offset : offset + limit])

    async def remove(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket = bucket_name(request.path_params["bucket"])
        prefixes = (await self._json(request)).get("prefixes") or []
        if not isinstance(prefixes, list) or not all(
            isinstance(p, str) and "\x00" not in p for p in prefixes
        ):
            raise storage_error(
                400, "InvalidRequest", "invalid_request", "prefixes must be a list of object names"
            )
        try:
            with self.project.db.session(role, claims) as cur:
                cur.execute(
                    "delete from storage.objects where bucket_id = %s and name = any(%s) returning *",
                    (bucket, prefixes),
                )
                rows = cur.fetchall()
                for row in rows:  # inside the transaction: a failure deletes nothing
                    self._file(bucket, row["name"]).unlink(missing_ok=True)
        except psycopg.Error as exc:
            raise self._pg_error(exc) from None
        return JSONResponse(
            [{k: _iso(v) if k != "id" and k != "owner" else str(v) for k, v in r.items()} for r in rows]
        )

    async def move(self, request: Request) -> Response:
        role, claims = self._caller(request)
        body = await self._json(request)
        bucket = bucket_name(body.get("bucketId"))
        source, target = keys_in(body, "sourceKey", "destinationKey")
        if source == target:
            return JSONResponse({"message": "Successfully moved"})
        origin, destination = self._file(bucket, source), self._file(bucket, target)
        try:
            # one transaction: the row moves (RLS on the old and the new name) and the bytes move,
            # or neither does
            with self.project.db.session(role, claims) as cur:
                cur.execute(
                    "update storage.objects set name = %s, updated_at = now() "
                    "where bucket_id = %s and name = %s returning id",
                    (target, bucket, source),
                )
                if cur.fetchone() is None:
                    raise _not_found()
                destination.parent.mkdir(parents=True, exist_ok=True)
                origin.replace(destination)
        except psycopg.Error as exc:
            if destination.exists() and not origin.exists():
                destination.replace(origin)  # the commit failed after the bytes moved: put them back
            raise self._pg_error(exc) from None
        return JSONResponse({"message": "Successfully moved"})

    async def copy(self, request: Request) -> Response:
        role, claims = self._caller(request)
        body = await self._json(request)
        bucket = bucket_name(body.get("bucketId"))
        source, target = keys_in(body, "sourceKey", "destinationKey")
        row = self._visible(role, claims, bucket, source)
        data = self._file(bucket, source).read_bytes()
        mime = (row.get("metadata") or {}).get("mimetype", "application/octet-stream")
        stored = self._store(role, claims, bucket, target, data, mime, upsert=False)
        return JSONResponse({"Key": stored["Key"]})

    # -- signed URLs --------------------------------------------------------------------------------------

    def _token(self, bucket: str, name: str, scope: str, seconds: int, **extra: Any) -> str:
        now = int(time.time())
        return self.project.signer.sign(
            {"url": f"{bucket}/{name}", "scope": scope, "iat": now, "exp": now + seconds, **extra}
        )

    def _check_token(self, request: Request, scope: str) -> dict[str, Any]:
        token = request.query_params.get("token")
        if not token:
            raise storage_error(400, "InvalidJWT", "InvalidJWT", "Missing token")
        try:
            claims = self.project.signer.verify(token)
        except InvalidToken as exc:
            raise storage_error(400, "InvalidJWT", "InvalidJWT", str(exc)) from None
        expected = f"{request.path_params['bucket']}/{request.path_params['path']}"
        if claims.get("url") != expected or claims.get("scope", scope) != scope:
            raise storage_error(
                400, "InvalidSignature", "InvalidSignature", "The url do not match the signature"
            )
        return claims

    async def sign_upload(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket, name = self._target(request)
        self._bucket(bucket)
        try:  # may this caller upload here? the real service runs a test insert and rolls it back
            with self.project.db.session(role, claims) as cur:
                cur.execute("insert into storage.objects (bucket_id, name) values (%s, %s)", (bucket, name))
                raise _Rollback
        except _Rollback:
            pass
        except psycopg.Error as exc:
            raise self._pg_error(exc) from None
        upsert = request.headers.get("x-upsert", "false").lower() == "true"
        token = self._token(
            bucket, name, "upload", SIGNED_UPLOAD_SECONDS, owner=claims.get("sub"), upsert=upsert
        )
        return JSONResponse({"url": f"/object/upload/sign/{bucket}/{name}?token={token}", "token": token})

    async def signed_upload(self, request: Request) -> Response:
        claims = self._check_token(request, "upload")
        bucket, name = self._target(request)
        data, mime = await self._content(request, self._bucket(bucket))
        owner = claims.get("owner")
        writer = {"role": "service_role", "sub": owner} if owner else {"role": "service_role"}
        stored = self._store("service_role", writer, bucket, name, data, mime, bool(claims.get("upsert")))
        return JSONResponse({"Key": stored["Key"]})

    async def sign_download(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket, name = self._target(request)
        body = await self._json(request)
        seconds = self._expires(body)
        self._visible(role, claims, bucket, name)
        token = self._token(bucket, name, "download", seconds)
        return JSONResponse({"signedURL": f"/object/sign/{bucket}/{name}?token={token}"})

    async def sign_many(self, request: Request) -> Response:
        role, claims = self._caller(request)
        bucket = bucket_name(request.path_params["bucket"])
        body = await self._json(request)
        seconds = self._expires(body)
        paths = body.get("paths")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise storage_error(
                400, "InvalidRequest", "invalid_request", "body/paths must be array of strings"
            )
        out = []
        for name in paths:
            try:
                self._visible(role, claims, bucket, object_key(name))
                token = self._token(bucket, name, "download", seconds)
                out.append(
                    {"error": None, "path": name, "signedURL": f"/object/sign/{bucket}/{name}?token={token}"}
                )
            except ServiceError:
                out.append(
                    {
                        "error": "Either the object does not exist or you do not have access to it",
                        "path": name,
                        "signedURL": None,
                    }
                )
        return JSONResponse(out)

    @staticmethod
    def _expires(body: dict[str, Any]) -> int:
        value = body.get("expiresIn", 0)
        try:
            seconds = int(value) if not isinstance(value, bool) else 0
        except (TypeError, ValueError, OverflowError):  # "abc", {}, Infinity
            seconds = 0
        if seconds < 1 or seconds > 10**9:
            raise storage_error(400, "InvalidRequest", "invalid_request", "body/expiresIn must be >= 1")
        return seconds

    async def signed_download(self, request: Request) -> Response:
        self._check_token(request, "download")
        bucket, name = self._target(request)
        return self._serve(
            bucket, name, self._visible("service_role", {"role": "service_role"}, bucket, name)
        )


class _Rollback(Exception):
    pass


def _count(body: dict[str, Any], name: str, default: int) -> int:
    """A non-negative integer option of a JSON body (``offset``, ``limit``), or storage's 400."""
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**31:
        raise storage_error(
            400, "InvalidRequest", "invalid_request", f"body/{name} must be a non-negative integer"
        )
    return value


SORT_COLUMNS = ("name", "created_at", "updated_at", "last_accessed_at")


def _sorted_listing(entries: list[dict[str, Any]], sort_by: Any) -> list[dict[str, Any]]:
    """storage's ``sortBy: {column, order}`` (default name, asc); folders (no dates) sort by name."""
    sort_by = sort_by if isinstance(sort_by, dict) else {}
    column, order = sort_by.get("column", "name"), str(sort_by.get("order", "asc")).lower()
    if column not in SORT_COLUMNS or order not in ("asc", "desc"):
        raise storage_error(
            400,
            "InvalidRequest",
            "invalid_request",
            f"sortBy must be {{column: {'|'.join(SORT_COLUMNS)}, order: asc|desc}}",
        )
    ordered = sorted(entries, key=lambda e: (e[column] is None, e[column] or "", e["name"]))
    return ordered[::-1] if order == "desc" else ordered
