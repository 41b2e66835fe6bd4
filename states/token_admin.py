"""`TokenAdminState`: list, mint (shown once) and revoke client tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import reflex as rx

from states.admin_guard import AdminState
from states.views import iso
from tasks.engine import get_engine
from tasks.errors import TaskError


@dataclass
class TokenRow:
    id: str = ""
    client: str = ""
    status: str = ""
    created: str = ""
    expires: str = ""
    last_used: str = ""


class TokenAdminState(AdminState):
    tokens: list[TokenRow] = []
    new_token: str = ""
    new_client: str = ""
    error: str = ""

    base_url: str = ""

    @rx.var
    def curl_line(self) -> str:
        body = '{"name": "Matt", "age": 25}'
        return (
            f"curl -X POST {self.base_url}/api/example_task2/tasks/{self.new_token}/start/task2_with_args "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )

    @rx.var
    def wscat_line(self) -> str:
        ws = self.base_url.replace("https://", "wss://").replace("http://", "ws://")
        return f"wscat -c {ws}/ws/example_task2/tasks/{self.new_token}"

    def _base_url(self) -> str:
        """Where this browser reached the server (behind a proxy: its forwarded scheme)."""
        headers = self.router.headers
        host = headers.host or "localhost:8000"
        scheme = headers.raw_headers.get("x-forwarded-proto", "") or "http"
        return f"{scheme}://{host}"

    @rx.event
    async def load(self) -> None:
        await self._refresh()

    async def _refresh(self) -> None:
        self.tokens = [
            TokenRow(
                id=t.id,
                client=t.client,
                status=t.status,
                created=iso(t.created_at),
                expires=iso(t.expires_at),
                last_used=iso(t.last_used_at),
            )
            for t in await get_engine().auth.list()
        ]

    @rx.event
    async def create(self, form: dict[str, Any]) -> None:
        self.error, self.new_token = "", ""
        self.base_url = self._base_url()
        days = str(form.get("days", "")).strip()
        try:
            expires = timedelta(days=float(days)) if days else None
            if expires is not None and not timedelta(0) < expires <= timedelta(days=3650):
                raise ValueError("out of range")
            created = await get_engine().auth.create(str(form.get("client", "")).strip(), expires)
        except ValueError:
            self.error = "expiry must be a number of days between 0 and 3650, e.g. 30 (empty: never)"
            return
        except TaskError as exc:
            self.error = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return
        self.new_token, self.new_client = created.token, created.info.client
        await self._refresh()

    @rx.event
    def dismiss(self) -> None:
        self.new_token = ""

    @rx.event
    async def revoke(self, token_id: str) -> None:
        try:
            await get_engine().revoke_tokens(token_id)
        except TaskError as exc:
            self.error = exc.message
        await self._refresh()
