"""Bad input gets a 4xx JSON error with a code, never a 500, a dropped stream or a
record that breaks later reads; and whatever is refused leaves the store as it was."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.test_api import start, wait
from tests.test_tokens import Mint, read_until_closed, token_start

START = "/api/example_task2/task/start/task2_with_args"


def assert_json_error(response: Any, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["message"]
    if code is not None:
        assert body["code"] == code, body


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ('{"name": "\\ud800", "age": 1}', "surrogate"),
        ('{"\\udfff": 1, "name": "x", "age": 1}', "surrogate"),
        ("[" * 50_000 + "]" * 50_000, "nested"),
        ('{"name": "x", "age": ' + "[" * 80 + "]" * 80 + "}", "nested"),
        ('{"name": "x", "age": ' + "9" * 5000 + "}", "digits"),
        ('{"name": "x", "age": NaN}', "NaN"),
        ('{"name": "x", "age": Infinity}', "Infinity"),
        ("\xff\xfe", "UTF-8"),
    ],
)
def test_json_that_cannot_be_stored_is_refused_with_the_reason(client: TestClient, raw: str, reason: str) -> None:
    content = raw.encode("latin-1") if raw == "\xff\xfe" else raw.encode()
    response = client.post(START, content=content, headers={"content-type": "application/json"})
    assert_json_error(response, 400, "invalid_json")
    assert reason.lower() in response.json()["message"].lower()


def test_a_refused_body_leaves_listing_working_for_everyone(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    good = token_start(client, "example_task2", "task2_with_args", token, {"name": "Ann", "age": 3})["task_id"]
    bad = client.post(
        f"/api/example_task2/tasks/{token}/start/task2_with_args", content='{"name": "\\ud800", "age": 1}'
    )
    assert bad.status_code == 400
    listing = client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    assert [t["task_id"] for t in listing.json()["data"]] == [good]


def test_messages_that_cannot_be_stored_are_refused(client: TestClient) -> None:
    task_id = start(client, "fast_tasks", "interactive")["task_id"]
    for raw in ('{"a": "\\ud800"}', "[" * 100 + "]" * 100, "NaN"):
        assert_json_error(client.post(f"/api/tasks/{task_id}/messages", content=raw), 400, "invalid_json")
    assert client.post(f"/api/tasks/{task_id}/messages", json={"action": "stop"}).status_code == 202
    assert wait(client, "fast_tasks", task_id)["status"] == "Completed"


@pytest.mark.parametrize("value", ["²", "٣", "-1", "1e5", " 5", "0x10", "9" * 20, "9223372036854775808", "1.0"])
def test_a_bad_resume_id_is_400_on_sse_and_4400_on_websockets(client: TestClient, value: str) -> None:
    task_id = start(client, "fast_tasks", "noop")["task_id"]
    wait(client, "fast_tasks", task_id)
    assert_json_error(client.get(f"/api/tasks/{task_id}/stream", params={"after": value}), 400, "invalid_request")
    if value.isascii() and value.strip() == value:  # header values must be ASCII
        response = client.get(f"/api/tasks/{task_id}/stream", headers={"Last-Event-ID": value})
        assert_json_error(response, 400, "invalid_request")
    with client.websocket_connect(f"/ws/fast_tasks/task/ws/{task_id}?after={value}") as ws:
        assert read_until_closed(ws) == ([], 4400)


def test_the_largest_event_id_resumes_without_dropping_the_stream(client: TestClient) -> None:
    task_id = start(client, "fast_tasks", "noop")["task_id"]
    wait(client, "fast_tasks", task_id)
    response = client.get(f"/api/tasks/{task_id}/stream", params={"after": str(2**63 - 1)})
    assert response.status_code == 200
    assert response.text.count("event: snapshot") == 1


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday", "2026-13-01T00:00:00Z", "2026-11-22T25:00:00Z"])
def test_since_must_be_an_rfc3339_time(client: TestClient, mint: Mint, value: str) -> None:
    headers = {"Authorization": f"Bearer {mint('alice')}"}
    assert_json_error(client.get("/api/tasks", params={"since": value}, headers=headers), 400, "invalid_request")


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/tasks/stats", {"until": "0001-01-01T00:00:00Z"}),
        ("/api/tasks/stats", {"until": "9999-12-31T23:30:00Z"}),
        ("/api/tasks/stats", {"since": "0001-01-01T00:00:00+09:00", "until": "0001-01-02T00:00:00Z"}),
        ("/api/tasks", {"since": "0001-01-01T00:00:00+09:00"}),
        ("/api/tasks", {"until": "0001-01-01T05:00:00+09:00", "include": "total"}),
    ],
)
def test_times_at_the_ends_of_the_calendar_are_400_not_500(
    client: TestClient, mint: Mint, path: str, params: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {mint('alice')}"}
    assert_json_error(client.get(path, params=params, headers=headers), 400, "invalid_request")


def test_since_with_an_offset_means_the_same_instant_as_in_utc(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    headers = {"Authorization": f"Bearer {token}"}
    created = token_start(client, "fast_tasks", "noop", token)["created_at"]
    utc = created.replace("+00:00", "Z")
    from datetime import datetime, timedelta, timezone

    instant = datetime.fromisoformat(created) - timedelta(seconds=1)
    tokyo = instant.astimezone(timezone(timedelta(hours=9))).isoformat()
    by_utc = client.get("/api/tasks", params={"since": instant.isoformat().replace("+00:00", "Z")}, headers=headers)
    by_tokyo = client.get("/api/tasks", params={"since": tokyo}, headers=headers)
    assert len(by_utc.json()["data"]) == len(by_tokyo.json()["data"]) == 1
    wall_time = utc.replace("Z", "")
    nine_hours_later = client.get("/api/tasks", params={"since": wall_time + "-09:00"}, headers=headers)
    nine_hours_earlier = client.get("/api/tasks", params={"since": wall_time + "+09:00"}, headers=headers)
    assert nine_hours_later.json()["data"] == []
    assert len(nine_hours_earlier.json()["data"]) == 1


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "abc"])
def test_a_bad_wait_is_422(client: TestClient, value: str) -> None:
    task_id = start(client, "fast_tasks", "noop")["task_id"]
    response = client.get(f"/api/fast_tasks/task/result/{task_id}", params={"wait": value})
    assert_json_error(response, 422, "invalid_request")


def test_the_wait_cap_is_documented_in_openapi(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    params = spec["paths"]["/api/{state}/task/result/{task_id}"]["get"]["parameters"]
    wait_param = next(p for p in params if p["name"] == "wait")
    assert "SPYGLASS_MAX_WAIT_SECONDS" in wait_param["description"] and "60 s" in wait_param["description"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/health", 405, "method_not_allowed"),
        ("DELETE", "/ready", 405, "method_not_allowed"),
        ("OPTIONS", "/api/tasks", 405, "method_not_allowed"),
        ("TRACE", "/api/tasks", 405, "method_not_allowed"),
        ("PATCH", "/api/example_task2/task/start/task2_with_args", 405, "method_not_allowed"),
        ("GET", "/api/nothing/here", 404, "not_found"),
        ("GET", "/not-a-page", 404, "not_found"),
    ],
)
def test_unknown_paths_and_methods_answer_json(
    client: TestClient, method: str, path: str, status: int, code: str
) -> None:
    assert_json_error(client.request(method, path), status, code)


def test_a_wrong_method_names_the_allowed_ones(client: TestClient) -> None:
    response = client.post("/health")
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/ws/nothing", "/ws/fast_tasks/elsewhere/1/2/3", "/somewhere"])
def test_unknown_websocket_paths_close_with_4404(client: TestClient, path: str) -> None:
    with client.websocket_connect(path) as ws:
        assert read_until_closed(ws) == ([], 4404)


def test_a_body_over_the_limit_is_413_and_starts_nothing(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    response = client.post(f"/api/example_task2/tasks/{token}/start/task2_with_args", content=b"[" * (1024 * 1024 + 1))
    assert_json_error(response, 413, "body_too_large")
    assert client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"}).json()["data"] == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values)
def test_any_json_body_is_answered_with_a_status_below_500(client: TestClient, body: Any) -> None:
    raw = json.dumps(body, allow_nan=True)  # NaN and lone surrogates included, as an attacker would send them
    for path in (START, "/api/fast_tasks/task/start/steps"):
        response = client.post(path, content=raw, headers={"content-type": "application/json"})
        assert response.status_code < 500, response.text
        assert response.headers["content-type"].startswith("application/json")
        if response.status_code == 202:
            task_id = response.json()["task_id"]
            assert client.get(f"/api/tasks/{task_id}").status_code == 200
            client.delete(f"/api/tasks/{task_id}")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(max_size=30))
def test_any_query_value_is_answered_with_a_status_below_500(client: TestClient, mint: Mint, value: str) -> None:
    headers = {"Authorization": "Bearer " + ("sgt" + "0" * 40)}
    for params in ({"since": value}, {"status": value}, {"cursor": value}, {"after": value}, {"limit": value}):
        for path in ("/api/tasks", "/api/tasks/nope/stream"):
            response = client.get(path, params=params, headers=headers)
            assert response.status_code < 500, (path, params, response.text)


@pytest.mark.parametrize("task_id", ["a\x00", "a\ud800"])
def test_a_cursor_naming_a_task_id_no_store_can_hold_is_400(client: TestClient, mint: Mint, task_id: str) -> None:
    """Its id reached the store as it came: a 500 on PostgreSQL (both) and on SQLite (the surrogate)."""
    raw = json.dumps(["2020-01-01T00:00:00+00:00", task_id]).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    response = client.get("/api/tasks", params={"cursor": cursor}, headers={"Authorization": f"Bearer {mint('alice')}"})
    assert_json_error(response, 400, "invalid_request")
    assert response.json()["message"] == "invalid cursor"


def test_a_body_declared_over_the_limit_is_refused_before_the_route_acts(client: TestClient) -> None:
    running = start(client, "fast_tasks", "forever")["task_id"]
    too_big = b"x" * (1024 * 1024 + 1)
    assert_json_error(client.post(f"/api/tasks/{running}/cancel", content=too_big), 413, "body_too_large")
    assert_json_error(client.request("DELETE", f"/api/tasks/{running}", content=too_big), 413, "body_too_large")
    assert client.get(f"/api/tasks/{running}").json()["status"] in ("Starting", "Processing")
    ended = start(client, "fast_tasks", "noop")["task_id"]
    wait(client, "fast_tasks", ended)
    assert_json_error(client.post(f"/api/tasks/{ended}/retry", content=too_big), 413, "body_too_large")
    client.post(f"/api/tasks/{running}/cancel")


def test_a_413_on_a_token_route_does_not_echo_the_token(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    response = client.post(f"/api/fast_tasks/tasks/{token}/start/steps", content=b"[" * (1024 * 1024 + 1))
    assert_json_error(response, 413, "body_too_large")
    assert token not in response.text
    assert "1048576 bytes" in response.json()["message"] and response.json()["hint"]


@pytest.mark.parametrize("header", ["Token {t}", "{t}", "Basic YWxpY2U6eA==", "Bearer", "Bearer\t"])
def test_an_authorization_header_that_is_not_a_bearer_token_is_401_not_anonymous(
    client: TestClient, mint: Mint, header: str
) -> None:
    value = header.format(t=mint("alice"))
    response = client.post("/api/fast_tasks/task/start/noop", headers={"Authorization": value})
    assert_json_error(response, 401)
    assert_json_error(client.get("/api/tasks", headers={"Authorization": value}), 401)


def test_a_bearer_token_after_a_tab_still_counts(client: TestClient, mint: Mint) -> None:
    token = mint("alice")
    response = client.post("/api/fast_tasks/task/start/noop", headers={"Authorization": f"Bearer\t{token}"})
    assert response.status_code == 202 and response.json()["client"] == "alice"


def test_a_client_name_with_a_trailing_newline_is_refused(client: TestClient) -> None:
    from tests.test_admin import make_admin

    admin = {"Authorization": f"Bearer {make_admin(client)}"}
    response = client.post("/api/admin/tokens", json={"client": "alice\n"}, headers=admin)
    assert response.status_code in (400, 422), response.text
    assert client.get("/api/admin/tokens", headers=admin).json() == []


def test_an_admin_session_starts_tokenless_tasks(client: TestClient) -> None:
    from tests.test_admin import make_admin

    response = client.post("/api/fast_tasks/task/start/noop", headers={"Authorization": f"Bearer {make_admin(client)}"})
    assert response.status_code == 202, response.text
    assert response.json()["client"] is None


def test_health_checks_answer_head_requests(client: TestClient) -> None:
    assert client.head("/health").status_code == 200
    assert client.head("/ready").status_code == 200


def test_a_message_over_its_limit_is_413(client: TestClient) -> None:
    running = start(client, "fast_tasks", "forever")["task_id"]
    response = client.post(f"/api/tasks/{running}/messages", json={"text": "x" * 70_000})
    assert_json_error(response, 413, "message_too_large")
    client.post(f"/api/tasks/{running}/cancel")


def test_a_413_carries_cors_headers_so_a_browser_on_another_origin_can_read_it(client: TestClient) -> None:
    origin = {"Origin": "http://app.example"}
    response = client.post(START, content=b"x" * (1024 * 1024 + 1), headers=origin)
    assert_json_error(response, 413, "body_too_large")
    assert response.headers["access-control-allow-origin"] in ("*", "http://app.example")


def test_a_body_that_ends_before_its_declared_length_is_a_400_not_a_500(client: TestClient) -> None:
    from app.app import api

    async def cut_short() -> tuple[int, dict[str, Any]]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": START,
            "raw_path": START.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test"), (b"content-length", b"50"), (b"content-type", b"application/json")],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        messages = iter([{"type": "http.request", "body": b"{}", "more_body": True}, {"type": "http.disconnect"}])
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await api(scope, receive, send)
        return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))

    status, body = client.portal.call(cut_short)
    assert (status, body["code"]) == (400, "invalid_request")
