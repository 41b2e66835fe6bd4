"""Routes OpenAPI documents like any other but that FastAPI calls with the bare
Request: the hot paths (start a task, read its result).

FastAPI 0.165 solves every route's dependencies and parameters on each call,
which cost these two routes about 40 µs a request, as much as a whole `GET
/health`. A lean route's endpoint takes the Request, reads what it needs
through the same helpers the dependencies use (`app/dependencies.py`,
`app/requests.py`), and returns a finished Response; its parameters and security
are declared for OpenAPI in `openapi_extra`, built by the helpers below."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import Field, TypeAdapter, ValidationError

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]
T = TypeVar("T")

BEARER_SECURITY: list[dict[str, list[str]]] = [{"Bearer": []}]


class LeanRoute(APIRoute):
    """An APIRoute whose endpoint is its own request handler."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        parameters = list(inspect.signature(endpoint).parameters.values())
        if len(parameters) != 1 or parameters[0].annotation not in (Request, "Request"):
            raise TypeError(f"a lean route's endpoint takes the Request alone: {endpoint.__qualname__}")
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Endpoint:
        endpoint: Endpoint = self.endpoint
        return endpoint


def _title(name: str) -> str:
    """The schema title FastAPI gives a parameter: `task_id` is "Task Id"."""
    return name.replace("_", " ").title()


def path_parameter(name: str) -> dict[str, Any]:
    """The OpenAPI entry FastAPI writes for a `name: str` path parameter."""
    return {"in": "path", "name": name, "required": True, "schema": {"title": _title(name), "type": "string"}}


class QueryParameter(Generic[T]):
    """One query parameter: validated as FastAPI would (a bad value is its 422,
    field-level `details` included) and described for OpenAPI."""

    def __init__(self, name: str, annotation: Any, default: T, description: str) -> None:
        self.name = name
        self.default = default
        self.adapter: TypeAdapter[T] = TypeAdapter(annotation)
        schema = {
            **self.adapter.json_schema(),
            "default": default,
            "description": description,
            "title": _title(name),
        }
        self.openapi = {"in": "query", "name": name, "required": False, "description": description, "schema": schema}

    def read(self, request: Request) -> T:
        raw = request.query_params.get(self.name)
        if raw is None:
            return self.default
        try:
            return self.adapter.validate_python(raw)
        except ValidationError as exc:
            errors = [{**error, "loc": ("query", self.name, *error["loc"])} for error in exc.errors()]
            raise RequestValidationError(errors) from None


NonNegativeSeconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
