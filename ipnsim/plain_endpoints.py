"""Plain endpoints: the hottest JSON routes, served without FastAPI's per-request machinery.

For an endpoint declared with a body model, headers and dependencies, FastAPI solves the
dependencies, validates every parameter and validates and serialises the answer on each
request: on the path of an inquiry (情報照会), about a tenth of each service's CPU. A plain
endpoint takes only the ``Request`` and returns a ``Response``, and does that work by hand
with these helpers, giving the same answers:

- :func:`read_json_body` reads the body as FastAPI does (Content-Type, JSON, the model's
  validation) and reports the same errors (``VAL002`` for unreadable JSON at once, ``VAL001``
  for a field from :meth:`JsonBody.validated`, called where FastAPI would have raised it: after
  the endpoint's dependencies, so authentication is checked first);
- :func:`optional_header` checks a header's pattern, with FastAPI's error;
- :func:`json_response` sends the answer model as FastAPI sends a declared response model;
- :func:`json_body_openapi` documents the body and headers in OpenAPI exactly as FastAPI
  documents the declared parameters (``response_model=`` documents the answer).
"""

from __future__ import annotations

import email.message
import functools
import json
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.models import Schema
from pydantic import BaseModel, StringConstraints, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException

ModelT = TypeVar("ModelT", bound=BaseModel)

_SCHEMAS = "#/components/schemas/"
_UNREADABLE = "There was an error parsing the body"


class JsonBody(Generic[ModelT]):
    """A request's body read as a model: the model, or the errors refusing the body."""

    def __init__(self, model: ModelT | None, errors: Sequence[dict[str, Any]] = ()) -> None:
        self.model = model
        self.errors = list(errors)

    def validated(self, errors_before: Sequence[dict[str, Any]] = ()) -> ModelT:
        """The model; or RequestValidationError (answered ``VAL001``) with ``errors_before``
        (a header's, say: FastAPI lists them first) and the body's errors."""
        errors = [*errors_before, *self.errors]
        if errors or self.model is None:
            raise RequestValidationError(errors)
        return self.model


async def read_json_body(request: Request, model: type[ModelT]) -> JsonBody[ModelT]:
    """Read the request's body as FastAPI reads a ``body: model`` parameter.

    A JSON body that cannot be parsed raises RequestValidationError at once (answered
    ``VAL002``), as FastAPI reads the body before anything else; a body that is not a valid
    ``model`` (or no body, or a Content-Type other than JSON) gives the errors FastAPI reports,
    raised by :meth:`JsonBody.validated`.
    """
    try:
        raw = await request.body()
    except HTTPException:
        raise  # the body-size limit's (VAL003)
    except Exception as error:  # FastAPI answers a body it cannot read (the client left) so
        raise HTTPException(400, _UNREADABLE) from error
    is_json = _is_json(request.headers.get("content-type"))
    if raw and is_json:
        try:
            return JsonBody(model.model_validate_json(raw))
        except ValidationError:
            pass  # read again below as FastAPI does, for its very errors
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        return JsonBody(None, [missing])
    value: Any = raw
    if is_json:
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            problem = {
                "type": "json_invalid",
                "loc": ("body", error.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": error.msg},
            }
            raise RequestValidationError([problem], body=error.doc) from error
        except Exception as error:  # FastAPI answers any other failure to parse it so
            raise HTTPException(400, _UNREADABLE) from error
    try:
        return JsonBody(model.model_validate(value, from_attributes=True))
    except ValidationError as error:
        return JsonBody(
            None,
            [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)],
        )


def optional_header(
    request: Request, name: str, pattern: str
) -> tuple[str | None, list[dict[str, Any]]]:
    """The header ``name`` (None if absent), and the errors FastAPI reports for a parameter
    ``Header(alias=name, pattern=pattern)`` when it does not match (empty if it does)."""
    value = request.headers.get(name)
    if value is None:
        return None, []
    try:
        return _pattern_adapter(pattern).validate_python(value), []
    except ValidationError as error:
        return None, [
            {**item, "loc": ("header", name, *item["loc"])}
            for item in error.errors(include_url=False)
        ]


@functools.cache
def _pattern_adapter(pattern: str) -> TypeAdapter[str]:
    return TypeAdapter(Annotated[str, StringConstraints(pattern=pattern)])


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI parses a body with this Content-Type as JSON (without one: it does not)."""
    if content_type == "application/json":
        return True
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def json_response(answer: BaseModel) -> Response:
    """``answer`` as FastAPI sends the return value of an endpoint declaring its model: the
    model's JSON (by alias), status 200."""
    return Response(answer.model_dump_json(by_alias=True), media_type="application/json")


def header_parameter(
    name: str,
    *,
    title: str | None = None,
    description: str | None = None,
    pattern: str | None = None,
) -> dict[str, Any]:
    """The OpenAPI parameter FastAPI documents for ``Annotated[str | None, Header(...)] = None``
    (``title`` defaults to ``name``)."""
    string: dict[str, Any] = {"type": "string"}
    if pattern is not None:
        string["pattern"] = pattern
    schema: dict[str, Any] = {"anyOf": [string, {"type": "null"}], "title": title or name}
    parameter: dict[str, Any] = {"name": name, "in": "header", "required": False, "schema": schema}
    if description is not None:
        schema["description"] = description
        parameter["description"] = description
    return parameter


AUTHORIZATION_PARAMETER = header_parameter("authorization", title="Authorization")
"""The ``Authorization`` header as FastAPI documents a dependency's ``authorization`` header."""


def json_body_openapi(
    app: FastAPI, body: type[BaseModel], *headers: dict[str, Any]
) -> dict[str, Any]:
    """The ``openapi_extra`` of a plain endpoint of ``app`` reading ``body`` and ``headers``
    (:func:`header_parameter`): the operation FastAPI documents for a declared ``body: body``
    and header parameters, with the 422 of their validation; ``body``'s schema is added to
    ``app``'s components."""
    _document_schema(app, body)
    operation: dict[str, Any] = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _SCHEMAS + body.__name__}}},
        },
        "responses": {"422": {"description": "Validation Error"}},
    }
    if headers:
        operation["parameters"] = list(headers)
    return operation


def _document_schema(app: FastAPI, model: type[BaseModel]) -> None:
    """Add ``model``'s schema (as a request body: validation mode) and those it refers to to
    ``app``'s components, as FastAPI writes its own: without nulls, keys in its order, the
    schemas sorted by name."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # built once, then the same document (FastAPI keeps it)
        components = document.setdefault("components", {})
        schemas: dict[str, Any] = components.setdefault("schemas", {})
        if model.__name__ not in schemas:
            _, definitions = models_json_schema(
                [(model, "validation")], ref_template=_SCHEMAS + "{model}"
            )
            for name, definition in definitions.get("$defs", {}).items():
                schema = Schema.model_validate(definition)
                schemas.setdefault(name, jsonable_encoder(schema, exclude_none=True))
            components["schemas"] = dict(sorted(schemas.items()))
        return document

    app.openapi = openapi  # type: ignore[method-assign]
