"""Lean routes (app/lean_route.py): called with the Request alone, documented and
validated as FastAPI would."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.testclient import TestClient

from app.lean_route import LeanRoute, NonNegativeSeconds, QueryParameter

WAIT = QueryParameter("wait", NonNegativeSeconds, 0, "Seconds to wait.")


async def echo(request: Request) -> Response:
    return JSONResponse({"id": request.path_params["item_id"], "wait": WAIT.read(request)})


def lean_app() -> FastAPI:
    app = FastAPI()
    app.router.add_api_route(
        "/items/{item_id}", echo, route_class_override=LeanRoute, openapi_extra={"parameters": [WAIT.openapi]}
    )
    return app


def test_a_lean_route_reads_its_path_and_query_parameters() -> None:
    client = TestClient(lean_app())
    assert client.get("/items/a1", params={"wait": "2.5"}).json() == {"id": "a1", "wait": 2.5}
    assert client.get("/items/a1").json() == {"id": "a1", "wait": 0}


def test_a_bad_query_value_is_fastapis_422_with_the_parameter_named() -> None:
    response = TestClient(lean_app()).get("/items/a1", params={"wait": "inf"})
    assert response.status_code == 422
    assert [(d["loc"], d["type"]) for d in response.json()["detail"]] == [(["query", "wait"], "finite_number")]


def test_its_documented_parameters_are_in_openapi() -> None:
    operation = TestClient(lean_app()).get("/openapi.json").json()["paths"]["/items/{item_id}"]["get"]
    assert operation["parameters"] == [WAIT.openapi]


def test_an_endpoint_that_asks_for_more_than_the_request_is_refused() -> None:
    async def needs_a_parameter(request: Request, item_id: str) -> Response:
        raise AssertionError

    with pytest.raises(TypeError, match="takes the Request alone"):
        LeanRoute("/x/{item_id}", needs_a_parameter)
