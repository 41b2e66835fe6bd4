"""The FastAPI app of SpyGlass, whose OpenAPI document also lists every task's
args model, so /docs shows the request body schema of each start route (their
handlers read the body themselves, to answer SpyGlass's own error codes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.routing import BaseRoute


def args_schema_ref(model: type[BaseModel]) -> str:
    """A start route's body schema, named by the model's full path until `openapi()`
    puts the name pydantic gives it (module-qualified where two states' models share
    a class name)."""
    return f"#/components/schemas/{model.__module__}.{model.__qualname__}"


class SpyGlassAPI(FastAPI):
    def __init__(
        self,
        args_models: Iterable[type[BaseModel]],
        documented: Mapping[str, Sequence[BaseRoute]] | None = None,
        **options: Any,
    ) -> None:
        """`documented`: by the path of a broad route, the operations OpenAPI shows
        in its place (one per task, where one route starts every task)."""
        super().__init__(**options)
        self.args_models = set(args_models)
        self.documented = dict(documented or {})

    def _documented_routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for route in self.routes:
            routes.append(route)
            routes.extend(self.documented.get(getattr(route, "path", ""), ()))
        return routes

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            schema = get_openapi(
                title=self.title,
                version=self.version,
                openapi_version=self.openapi_version,
                summary=self.summary,
                description=self.description,
                routes=self._documented_routes(),
                tags=self.openapi_tags,
                servers=self.servers,
                separate_input_output_schemas=self.separate_input_output_schemas,
            )
            if self.args_models:
                refs, defs = models_json_schema(
                    [(model, "validation") for model in self.args_models], ref_template="#/components/schemas/{model}"
                )
                schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
                named = {args_schema_ref(model): refs[(model, "validation")]["$ref"] for model in self.args_models}
                for operations in schema.get("paths", {}).values():
                    for operation in operations.values():
                        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                        if body.get("schema", {}).get("$ref") in named:
                            body["schema"]["$ref"] = named[body["schema"]["$ref"]]
            self.openapi_schema = schema
        return self.openapi_schema
