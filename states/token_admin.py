"""`TokenAdminState`: list, mint (shown once) and revoke client tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import reflex as rx

from tasks.engine import get_engine
from tasks.errors import TaskError


@dataclass
class TokenRow:
    id: str = ""
    client: str = ""
    state: str = ""
    created: str = ""
    expires: str = ""
    last_used: str = ""


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


class TokenAdminState(rx.State):
    tokens: list[TokenRow] = []
    new_token: str = ""
    new_client: str = ""
    error: str = ""

    @rx.var
    def curl_line(self) -> str:
        return (
            f"curl -X POST $SPYGLASS/api/example_task2/tasks/{self.new_token}/start/task2_with_args "
            "-H 'Content-Type: application/json' -d '{\"name\": \"Matt\", \"age\": 25}'"
        )

    @rx.var
    def wscat_line(self) -> str:
        return f"wscat -c $SPYGLASS_WS/ws/example_task2/tasks/{self.new_token}"

    @rx.event
    async def load(self) -> None:
        self.tokens = [
            TokenRow(id=t.id, client=t.client, state=t.state, created=_when(t.created_at), expires=_when(t.expires_at), last_used=_when(t.last_used_at))
            for t in await get_engine().auth.list()
        ]

    @rx.event
    async def create(self, form: dict[str, Any]) -> None:
        self.error, self.new_token = "", ""
        days = str(form.get("days", "")).strip()
        try:
            expires = timedelta(days=float(days)) if days else None
            created = await get_engine().auth.create(str(form.get("client", "")).strip(), expires)
        except ValueError:
            self.error = "expiry must be a number of days"
            return
        except TaskError as exc:
            self.error = exc.message + (f" ({exc.hint})" if exc.hint else "")
            return
        self.new_token, self.new_client = created.token, created.info.client
        await self.load()

    @rx.event
    def dismiss(self) -> None:
        self.new_token = ""

    @rx.event
    async def revoke(self, token_id: str) -> None:
        try:
            await get_engine().auth.revoke(token_id)
        except TaskError as exc:
            self.error = exc.message
        await self.load()
