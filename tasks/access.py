"""Who is asking: the one rule every route, stream and dashboard handler applies.

- an admin (dashboard or admin API session) sees every task;
- a client (its token) sees its own tasks only;
- an anonymous caller sees tokenless tasks, one id at a time: a tokenless task's
  id is its capability, so anonymous callers may read, watch and cancel by id,
  never list or bulk-delete.

A task the caller may not see is answered exactly like an unknown id (404), so
ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.events import TaskSnapshot


@dataclass(frozen=True)
class Access:
    state: str | None = None  # routes under /api/<state>/... see that state's tasks only
    client: str | None = None
    admin: bool = False

    @property
    def anonymous(self) -> bool:
        return self.client is None and not self.admin

    def allows(self, snap: TaskSnapshot) -> bool:
        if self.state is not None and snap.state != self.state:
            return False
        if self.admin:
            return True
        return snap.client == self.client

    def in_state(self, state: str | None) -> Access:
        return Access(state=state, client=self.client, admin=self.admin)


ANONYMOUS = Access()
ADMIN = Access(admin=True)
