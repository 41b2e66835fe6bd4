"""Admin API: log in for a session token, and manage client tokens with it.

Send the session token as `Authorization: Bearer sga…`; on the `/api/tasks…`
routes it sees every client's tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from app.dependencies import AdminDep, EngineDep, TokenDep
from app.errors import error_responses
from tasks.auth import TokenInfo
from tasks.workers import WorkerInfo


class LoginIn(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    user: str
    token: str
    expires_at: datetime


class TokenIn(BaseModel):
    client: str = Field(min_length=1, max_length=64)
    expires_in_days: float | None = Field(default=None, gt=0, le=3650)


class NewTokenOut(BaseModel):
    """The secret `token` is shown this once."""

    token: str
    info: TokenInfo


class Revoked(BaseModel):
    revoked: int


router = APIRouter(prefix="/api/admin", tags=["admin"], responses=error_responses(400, 401, 404, 422, 429, 503))


@router.post("/login", response_model=SessionOut, summary="Log in; 429 with Retry-After after repeated failures")
async def login(engine: EngineDep, body: LoginIn, request: Request) -> SessionOut:
    address = request.client.host if request.client else "-"
    session = await engine.admins.login(body.user, body.password, address)
    return SessionOut(user=session.user, token=session.token, expires_at=session.expires_at)


@router.post("/logout", status_code=204, summary="End the session")
async def logout(engine: EngineDep, _: AdminDep, token: TokenDep) -> Response:
    await engine.admins.logout(token or "")
    return Response(status_code=204)


@router.get("/workers", response_model=list[WorkerInfo], summary="Every backend worker: alive, stopped or dead")
async def workers(engine: EngineDep, _: AdminDep) -> list[WorkerInfo]:
    return await engine.workers.overview()


@router.get("/tokens", response_model=list[TokenInfo], summary="Every client token, without secrets")
async def tokens(engine: EngineDep, _: AdminDep) -> list[TokenInfo]:
    return await engine.auth.list()


@router.post("/tokens", status_code=201, response_model=NewTokenOut, summary="Mint a client token (shown once)")
async def create_token(engine: EngineDep, _: AdminDep, body: TokenIn) -> NewTokenOut:
    expires = timedelta(days=body.expires_in_days) if body.expires_in_days else None
    created = await engine.auth.create(body.client, expires)
    return NewTokenOut(token=created.token, info=created.info)


@router.delete("/tokens/{target}", response_model=Revoked, summary="Revoke a token by id, or every token of a client")
async def revoke(engine: EngineDep, _: AdminDep, target: str) -> Revoked:
    return Revoked(revoked=await engine.revoke_tokens(target))
