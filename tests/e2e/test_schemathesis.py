"""Schemathesis over the real server's /openapi.json: generated requests, valid and
not, with and without a client token. No answer may be a server error, and every
status and content type must be one the schema documents for that operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from harness.server import Server

pytestmark = pytest.mark.e2e

ADMIN, PASSWORD = "root", "correct horse battery staple"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
EXAMPLES = 800  # per run, spread over every operation


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("schemathesis")
    env = {"SPYGLASS_ADMIN_USER": ADMIN, "SPYGLASS_ADMIN_PASSWORD": PASSWORD}
    srv = Server(base / "data", base / "server.log", state_modules="", env=env).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def client_token(server: Server) -> str:
    session = httpx.post(f"{server.base_url}/api/admin/login", json={"user": ADMIN, "password": PASSWORD}).json()
    admin = {"Authorization": f"Bearer {session['token']}"}
    return str(
        httpx.post(f"{server.base_url}/api/admin/tokens", json={"client": "fuzzer"}, headers=admin).json()["token"]
    )


def run_fuzz(server: Server, mode: GenerationMode, token: str | None) -> int:
    """Runs generated requests for every operation; returns how many were sent."""
    # Endless streams are exercised by the stream tests; a generated request would hang on them.
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json").exclude(path_regex=r"/stream$")
    headers = {"Authorization": f"Bearer {token}"} if token else None
    path_parameters = {"client_token": token} if token else None
    sent = 0

    @given(case=schema.as_strategy(mode, headers=headers, path_parameters=path_parameters))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case: Any) -> None:
        nonlocal sent
        if token is not None and case.path_parameters and "client_token" in case.path_parameters:
            case.path_parameters["client_token"] = token
        case.call_and_validate(base_url=server.base_url, checks=CHECKS, headers=headers, timeout=30)
        sent += 1

    check()
    return sent


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_anonymous_requests_get_documented_answers_and_no_server_error(server: Server, mode: GenerationMode) -> None:
    assert run_fuzz(server, mode, None) >= EXAMPLES // 2


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_requests_with_a_client_token_get_documented_answers_and_no_server_error(
    server: Server, client_token: str, mode: GenerationMode
) -> None:
    assert run_fuzz(server, mode, client_token) >= EXAMPLES // 2
