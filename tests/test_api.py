"""The HTTP and WebSocket API, in-process against the ASGI app Reflex builds."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

ORIGINAL_KEYS = {"task_id", "status", "progress", "result", "timestamp"}


def start(client: TestClient, state: str, task: str, body: Any = None, **kwargs: Any) -> dict[str, Any]:
    response = client.post(f"/api/{state}/task/start/{task}", json=body, **kwargs)
    assert response.status_code == 202, response.text
    return response.json()


def wait(client: TestClient, state: str, task_id: str, seconds: float = 10) -> dict[str, Any]:
    response = client.get(f"/api/{state}/task/result/{task_id}", params={"wait": seconds})
    assert response.status_code == 200, response.text
    return response.json()


def test_start_answers_202_with_a_snapshot_holding_the_original_keys(client: TestClient) -> None:
    snap = start(client, "example_task2", "task2_with_args", {"name": "Matt", "age": 25})
    assert snap.keys() >= ORIGINAL_KEYS
    assert snap["status"] in {"Pending", "Starting"}
    assert len(snap["task_id"]) >= 16
    assert snap["links"]["ws"] == f"/ws/example_task2/task/ws/{snap['task_id']}"


def test_result_long_polls_until_the_task_completes(client: TestClient) -> None:
    snap = start(client, "example_task2", "task2_with_args", {"name": "Matt", "age": 25})
    final = wait(client, "example_task2", snap["task_id"])
    assert final["status"] == "Completed"
    assert final["result"] == "Completed task for Matt, age 25"
    assert final["progress"] == 100


def test_result_without_wait_answers_at_once_with_the_current_status(client: TestClient) -> None:
    snap = start(client, "fast_tasks", "forever")
    now = client.get(f"/api/fast_tasks/task/result/{snap['task_id']}").json()
    assert now["status"] in {"Pending", "Starting", "Processing"}
    assert now["result"] is None


def test_an_empty_body_uses_the_default_args(client: TestClient) -> None:
    snap = start(client, "fast_tasks", "steps", None)
    assert wait(client, "fast_tasks", snap["task_id"])["result"] == {"steps": 5}


def test_the_websocket_sends_a_snapshot_then_every_step_then_closes(client: TestClient) -> None:
    snap = start(client, "fast_tasks", "steps", {"steps": 8, "interval": 0.05})
    messages = []
    with client.websocket_connect(snap["links"]["ws"]) as ws:
        while True:
            try:
                messages.append(ws.receive_json())
            except WebSocketDisconnect as closed:
                assert closed.code == 1000
                break
    assert messages[0]["type"] == "snapshot"
    assert all(m.keys() >= ORIGINAL_KEYS for m in messages)
    progress = [m["progress"] for m in messages if m["type"] == "status" and m["status"] == "Processing"]
    assert progress[-1] == 100 and progress == sorted(progress)
    assert messages[-1]["type"] == "result" and messages[-1]["result"] == {"steps": 8}
    ids = [m["id"] for m in messages]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_a_websocket_resumed_after_an_id_gets_only_the_durable_events_after_it(client: TestClient) -> None:
    snap = start(client, "fast_tasks", "chatty", {"lines": 5})
    wait(client, "fast_tasks", snap["task_id"])
    with client.websocket_connect(snap["links"]["ws"]) as ws:
        first = [ws.receive_json()]
    with client.websocket_connect(f"{snap['links']['ws']}?after=0") as ws:
        replay = []
        with pytest.raises(WebSocketDisconnect):
            while True:
                replay.append(ws.receive_json())
    assert first[0]["type"] == "snapshot" and first[0]["status"] == "Completed"
    assert [m["type"] for m in replay] == ["snapshot", "log", "log", "log", "log", "log", "result"]
    cut = replay[3]["id"]
    with client.websocket_connect(f"{snap['links']['ws']}?after={cut}") as ws:
        tail = []
        with pytest.raises(WebSocketDisconnect):
            while True:
                tail.append(ws.receive_json())
    assert [m["id"] for m in tail[1:]] == [m["id"] for m in replay[4:]]


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/nope/task/start/task1", "unknown_state"),
        ("/api/example_task2/task/start/nope", "unknown_task"),
        ("/api/example_task2/nothing/here", "not_found"),
    ],
)
def test_unknown_routes_states_and_tasks_are_404_json(client: TestClient, path: str, code: str) -> None:
    response = client.post(path, json={})
    assert response.status_code == 404
    assert response.json()["code"] == code
    assert response.json()["message"]


def test_an_unknown_task_id_is_404_and_so_is_a_known_id_under_another_state(client: TestClient) -> None:
    assert client.get("/api/example_task2/task/result/doesnotexist").json()["code"] == "unknown_task_id"
    snap = start(client, "fast_tasks", "noop")
    response = client.get(f"/api/example_task2/task/result/{snap['task_id']}")
    assert response.status_code == 404 and response.json()["code"] == "unknown_task_id"


def test_invalid_args_are_422_with_field_level_details(client: TestClient) -> None:
    response = client.post("/api/example_task2/task/start/task2_with_args", json={"name": "Matt", "age": "old"})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_args"
    assert body["details"][0]["loc"] == ["body", "age"]
    assert body["details"][0]["type"] == "int_parsing"


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b'{"name": "Matt",}'])
def test_malformed_json_is_400_not_500(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/api/example_task2/task/start/task2_with_args", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_a_json_array_body_is_422(client: TestClient) -> None:
    response = client.post("/api/example_task2/task/start/task2_with_args", json=[1, 2])
    assert response.status_code == 422 and response.json()["code"] == "invalid_args"


def test_a_body_over_one_mebibyte_is_413_and_nothing_is_started(client: TestClient) -> None:
    name = "x" * (1024 * 1024 + 1)
    response = client.post("/api/example_task2/task/start/task2_with_args", json={"name": name, "age": 1})
    assert response.status_code == 413
    assert response.json()["code"] == "body_too_large"


def test_a_bad_wait_value_is_422_naming_the_parameter(client: TestClient) -> None:
    snap = start(client, "fast_tasks", "noop")
    for wait_value, reason in (("abc", "float_parsing"), ("-1", "greater_than_equal"), ("nan", "finite_number")):
        response = client.get(f"/api/fast_tasks/task/result/{snap['task_id']}", params={"wait": wait_value})
        assert response.status_code == 422 and response.json()["code"] == "invalid_request"
        assert [(d["loc"], d["type"]) for d in response.json()["details"]] == [(["query", "wait"], reason)]
    assert wait(client, "fast_tasks", snap["task_id"], seconds=0.5)["status"] == "Completed"


def test_a_task_that_raises_ends_in_error_with_its_message(client: TestClient) -> None:
    final = wait(client, "fast_tasks", start(client, "fast_tasks", "fail")["task_id"])
    assert (final["status"], final["error"], final["error_code"]) == ("Error", "boom: the input was bad", "task_failed")
    assert final["progress"] == 50


def test_a_non_json_result_ends_in_error_saying_so(client: TestClient) -> None:
    final = wait(client, "fast_tasks", start(client, "fast_tasks", "unserializable")["task_id"])
    assert final["status"] == "Error"
    assert final["error_code"] == "result_not_serializable"
    assert "not JSON-serialisable" in final["error"]


def test_past_max_concurrency_a_start_is_429_with_retry_after(client: TestClient) -> None:
    first = start(client, "fast_tasks", "single")
    response = client.post("/api/fast_tasks/task/start/single")
    assert response.status_code == 429
    assert response.json()["code"] == "concurrency_limit"
    assert int(response.headers["retry-after"]) >= 1
    assert wait(client, "fast_tasks", first["task_id"])["status"] == "Completed"
    assert client.post("/api/fast_tasks/task/start/single").status_code == 202


def test_websocket_for_an_unknown_task_closes_with_4404(client: TestClient) -> None:
    with client.websocket_connect("/ws/example_task2/task/ws/doesnotexist") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4404
    with client.websocket_connect("/ws/nope/task/ws/doesnotexist") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 4404


def test_openapi_shows_each_start_route_with_its_args_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    route = spec["paths"]["/api/example_task2/task/start/task2_with_args"]["post"]
    ref = route["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/InputArgs"
    assert set(spec["components"]["schemas"]["InputArgs"]["properties"]) == {"name", "age"}
    assert {"202", "404", "422", "413"} <= set(route["responses"])
    assert "/api/{state}/task/result/{task_id}" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_openapi_documents_the_hot_routes_parameters_and_who_may_call_them(client: TestClient) -> None:
    """Start and result read their own parameters (app/lean_route.py): OpenAPI
    still shows each one, and which routes take the Bearer token."""
    spec = client.get("/openapi.json").json()
    assert "Bearer" in spec["components"]["securitySchemes"]

    def parameters(path: str, method: str) -> dict[str, dict[str, Any]]:
        return {p["name"]: p for p in spec["paths"][path][method]["parameters"]}

    result = spec["paths"]["/api/{state}/task/result/{task_id}"]["get"]
    assert result["security"] == [{"Bearer": []}]
    result_params = parameters("/api/{state}/task/result/{task_id}", "get")
    assert {name: p["in"] for name, p in result_params.items()} == {"state": "path", "task_id": "path", "wait": "query"}
    assert result_params["wait"]["schema"] | {"description": ""} == {
        "type": "number",
        "minimum": 0,
        "default": 0,
        "title": "Wait",
        "description": "",
    }
    direct = "/api/example_task2/task/start/task2_with_args"
    assert spec["paths"][direct]["post"]["security"] == [{"Bearer": []}]
    assert set(parameters(direct, "post")) == {"Idempotency-Key"}
    token_route = "/api/example_counter/tasks/{client_token}/start/process_items"
    assert "security" not in spec["paths"][token_route]["post"]  # the token is in the path
    assert parameters(token_route, "post")["client_token"]["required"] is True
    paths = list(spec["paths"])  # /docs lists the starts where they are served: after the result route
    starts = [i for i, path in enumerate(paths) if "/start/" in path]
    assert starts == list(range(paths.index("/api/{state}/task/result/{task_id}") + 1, paths.index("/api/tasks")))


def test_every_schema_reference_in_openapi_resolves_even_when_two_states_share_a_model_name(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    refs: list[str] = []

    def collect(node: object) -> None:
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref" and isinstance(v, str))
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(spec)
    missing = {ref for ref in refs if ref.removeprefix("#/components/schemas/") not in schemas}
    assert refs and not missing
    count_lines = spec["paths"]["/api/example_shell/task/start/count_lines"]["post"]
    process_items = spec["paths"]["/api/example_counter/tasks/{client_token}/start/process_items"]["post"]
    body_ref = [
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"] for op in (count_lines, process_items)
    ]
    assert body_ref[0] != body_ref[1]  # two CountArgs classes, two schemas


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {"status": "ready", "store": "ok", "bus": "ok"}
