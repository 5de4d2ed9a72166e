"""FastAPI wiring shared by every service: error answers, the body-size limit, and /v1/errors.

Every failure a client can cause ends as an :class:`~error_codes.ErrorBody` with its code; an
unexpected exception is logged with its traceback and answered as ``SYS001`` without one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from error_codes.catalogue import CATALOGUE, Category, Origin
from error_codes.errors import ErrorBody, FieldProblem, IpnsimError

logger = logging.getLogger("ipnsim.errors")

DEFAULT_BODY_LIMIT = 1024 * 1024
"""Largest request body, in bytes, that a service accepts unless configured otherwise."""


def error_response(error: IpnsimError) -> JSONResponse:
    response = JSONResponse(
        status_code=error.http_status,
        content=error.body().model_dump(mode="json"),
    )
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def _field_path(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_error(exc: RequestValidationError) -> IpnsimError:
    """Turn FastAPI's validation failure into ``VAL001`` (or ``VAL002`` for unreadable JSON)."""
    problems: list[FieldProblem] = []
    for item in exc.errors():
        if item.get("type") == "json_invalid":
            return IpnsimError("VAL002")
        message = str(item.get("msg", "invalid"))
        message = message.removeprefix("Value error, ")
        problems.append(FieldProblem(field=_field_path(item.get("loc", ())), problem=message))
    first = problems[0] if problems else FieldProblem(field="body", problem="invalid")
    return IpnsimError("VAL001", details=problems, field=first.field, problem=first.problem)


class BodySizeLimit:
    """Pure ASGI middleware refusing bodies larger than ``limit`` bytes with ``VAL003``.

    It checks Content-Length up front and counts the bytes of bodies sent without one.
    """

    def __init__(
        self,
        app: ASGIApp,
        limit: int = DEFAULT_BODY_LIMIT,
        path_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.path_limits = dict(path_limits or {})

    def limit_for(self, path: str) -> int:
        """The limit of a path: that of the longest prefix in ``path_limits``, else the default."""
        prefixes = [prefix for prefix in self.path_limits if path.startswith(prefix)]
        return self.path_limits[max(prefixes, key=len)] if prefixes else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._refuse(scope, receive, send, limit)
                    return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI passes its own HTTPException on while reading a body.
                    raise HTTPException(status_code=413, detail=str(limit))
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(IpnsimError("VAL003", limit=str(limit)))
        await response(scope, receive, send)


def install_error_handling(
    app: FastAPI,
    body_limit: int = DEFAULT_BODY_LIMIT,
    path_limits: Mapping[str, int] | None = None,
) -> None:
    """Answer every failure of ``app`` with a catalogued code, and serve the catalogue.

    ``path_limits`` gives other body limits to the paths beginning with its keys (e.g. the
    upload of batch request files).
    """

    @app.exception_handler(IpnsimError)
    async def _ipnsim_error(_: Request, exc: IpnsimError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        path = request.url.path
        if exc.status_code == 405:
            return error_response(IpnsimError("VAL005", path=path))
        if exc.status_code == 404:
            return error_response(IpnsimError("VAL004", path=path))
        if exc.status_code == 413:
            return error_response(IpnsimError("VAL003", limit=str(exc.detail)))
        return error_response(IpnsimError("VAL001", field="request", problem=str(exc.detail)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected failure on %s %s", request.method, request.url.path)
        return error_response(IpnsimError("SYS001"))

    app.add_middleware(BodySizeLimit, limit=body_limit, path_limits=path_limits)
    app.include_router(errors_router())
    document_errors(app)


_SCHEMAS = "#/components/schemas/"
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": _SCHEMAS + "ErrorBody"}}}
_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def document_errors(app: FastAPI) -> None:
    """Declare in ``app``'s OpenAPI document the error answers it really gives.

    FastAPI documents a 422 with its own ``HTTPValidationError``, which no service sends: a
    failed validation is answered ``VAL001`` as an :class:`~error_codes.ErrorBody`, like every
    other failure. So each operation's 422 and its other declared error answers get the
    ``ErrorBody`` schema, and a ``default`` answer says that any other status (401 AUT001, 404,
    413 VAL003, 503 AVL…) carries one too.
    """
    build = app.openapi
    documented: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if documented:
            return documented[0]
        document = build()
        _, definitions = models_json_schema(
            [(ErrorBody, "serialization")], ref_template=_SCHEMAS + "{model}"
        )
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in definitions.get("$defs", {}).items():
            schemas.setdefault(name, definition)
        for path_item in document.get("paths", {}).values():
            for method, operation in path_item.items():
                if method not in _METHODS:
                    continue
                responses = operation.setdefault("responses", {})
                for status, response in responses.items():
                    if status == "422":
                        response["description"] = "VAL001: a field of the request is invalid."
                        response["content"] = dict(_ERROR_CONTENT)
                    elif status[:1] in {"4", "5"} and not response.get("content"):
                        response["content"] = dict(_ERROR_CONTENT)
                responses.setdefault(
                    "default",
                    {
                        "description": "Any other failure: its error-classification code "
                        "(エラー分類コード), explained at /v1/errors/{code}.",
                        "content": dict(_ERROR_CONTENT),
                    },
                )
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        documented.append(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


class ErrorExplanation(BaseModel):
    """One catalogue entry, as served by ``GET /v1/errors/{code}``."""

    code: str
    origin: Origin
    category: Category
    retryable: bool
    http_status: int
    message_ja: str
    message_en: str
    cause: str
    remedy: str


def errors_router() -> APIRouter:
    """``GET /v1/errors`` and ``GET /v1/errors/{code}``: the codes explain themselves."""
    router = APIRouter(prefix="/v1/errors", tags=["errors"])

    @router.get("", response_model=list[ErrorExplanation])
    async def list_errors() -> list[ErrorExplanation]:
        return [_explain(code) for code in CATALOGUE]

    @router.get("/{code}", response_model=ErrorExplanation)
    async def explain_error(code: str) -> ErrorExplanation:
        if code.upper() not in CATALOGUE:
            raise IpnsimError("VAL006", kind_ja="エラー分類コード", kind_en="error code", code=code)
        return _explain(code.upper())

    return router


def _explain(code: str) -> ErrorExplanation:
    entry = CATALOGUE[code]
    return ErrorExplanation(
        code=entry.code,
        origin=entry.origin,
        category=entry.category,
        retryable=entry.retryable,
        http_status=entry.http_status,
        message_ja=entry.message_ja,
        message_en=entry.message_en,
        cause=entry.cause,
        remedy=entry.remedy,
    )
