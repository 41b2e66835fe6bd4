"""OpenAPI extras: every task's args model in the components, so /docs shows the
request body schema of each start route."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from tasks.engine import Engine


def install_args_schemas(api: FastAPI, engine: Engine) -> None:
    models = {spec.args_model for spec in engine.registry.tasks() if spec.args_model is not None}
    if not models:
        return
    original = api.openapi

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is not None:
            return api.openapi_schema
        schema = original()
        _, defs = models_json_schema(
            [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
        )
        schema.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
        api.openapi_schema = schema
        return schema

    api.openapi = openapi  # type: ignore[method-assign]
