"""What every route needs to know about a request, as FastAPI dependencies: the
engine, the caller's Bearer token and what it may see, the resume point of a
stream. A route declares them as annotated parameters instead of parsing
headers itself, and OpenAPI shows the Bearer scheme on every route that reads it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Query
from fastapi.openapi.models import HTTPBearer as HTTPBearerModel
from fastapi.security.base import SecurityBase
from starlette.requests import HTTPConnection

from app.requests import bearer_token, event_id
from tasks.access import Access
from tasks.admins import is_session_token
from tasks.auth import Client
from tasks.engine import Engine, get_engine
from tasks.errors import TokenRequired


async def current_engine() -> Engine:
    """The process's engine: one per worker, shared by routes and dashboard states.
    (Async, as every dependency here: FastAPI runs a plain `def` in a thread.)"""
    return get_engine()


EngineDep = Annotated[Engine, Depends(current_engine)]


class BearerToken(SecurityBase):
    """`Authorization: Bearer <token>`: a client token (`sgt…`) or an admin session
    (`sga…`). Optional here; each route decides what a missing one means. A header
    that names Bearer but carries nothing is "", which every check refuses."""

    def __init__(self) -> None:
        self.model = HTTPBearerModel(
            bearerFormat="sgt… client token or sga… admin session",
            description="A client token sees its own tasks; an admin session sees every task.",
        )
        self.scheme_name = "Bearer"

    async def __call__(self, connection: HTTPConnection) -> str | None:
        return bearer_token(connection.headers)


TokenDep = Annotated[str | None, Depends(BearerToken())]


async def caller_access(engine: EngineDep, token: TokenDep) -> Access:
    """What the caller may see: every task (admin), its own (client), tokenless ones by id (none)."""
    return await engine.access_for(token)


AccessDep = Annotated[Access, Depends(caller_access)]


async def optional_client(engine: EngineDep, token: TokenDep) -> Client | None:
    """The client behind a token (401 if the token is bad), None without one or for
    an admin session; with SPYGLASS_REQUIRE_TOKEN a token is mandatory on the direct
    routes too."""
    if token is None and not engine.settings.require_token:
        return None
    if token and is_session_token(token):
        await engine.admins.authenticate(token)  # an admin may start tasks: tokenless ones
        return None
    return await engine.authenticate(token)


ClientDep = Annotated[Client | None, Depends(optional_client)]


async def required_client(engine: EngineDep, token: TokenDep) -> Client:
    if token is None:
        raise TokenRequired("this route needs a client token", hint="Authorization: Bearer <token>")
    return await engine.authenticate(token)


RequiredClientDep = Annotated[Client, Depends(required_client)]


async def admin_user(engine: EngineDep, token: TokenDep) -> str:
    """The admin behind a session token; 401 for anything else."""
    return await engine.admins.authenticate(token)


AdminDep = Annotated[str, Depends(admin_user)]


async def resume_point(
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", description="What browsers send on reconnect; wins over ?after=.")
    ] = None,
    after: Annotated[str | None, Query(description="Resume after this event id: only later events are sent.")] = None,
) -> int | None:
    """Where a stream resumes: the event id a client last received, from either place."""
    if last_event_id is not None:
        return event_id(last_event_id, "Last-Event-ID")
    return event_id(after)


ResumeDep = Annotated[int | None, Depends(resume_point)]
