"""What every command handler works with: the `Context` of one message and the `Reply` it gives.

A handler is `handler(ctx, command) -> Reply`. The context holds the open transaction, the
settings, the parsed request, the reply language and the reader's access (a `Viewer` for
the sender's own address: a command only ever shows what that address may read).
Used by `mailgate.commands.readonly`, `.changes` and `.worker`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from sqlalchemy import Connection

from mailgate.access import Viewer, visible_list_ids
from mailgate.commands.grammar import Command
from mailgate.commands.request import Request
from mailgate.commands.texts import text
from mailgate.config import Settings
from mailgate.routing import REQUEST_SUFFIX, bot_address


@dataclass
class Reply:
    """A handler's answer: plain text, optional HTML and attachment (filename, bytes).
    `confirmation` is set when a confirmation message went out instead of a change."""

    text: str
    html: str | None = None
    attachment: tuple[str, bytes] | None = None
    confirmation: bool = False


@dataclass
class Context:
    conn: Connection
    settings: Settings
    request: Request
    language: str
    now: datetime
    notes: list[str] = field(default_factory=list)

    @cached_property
    def viewer(self) -> Viewer:
        return Viewer(self.request.sender)

    @cached_property
    def list_ids(self) -> list[int]:
        """Database ids of the lists the sender may read."""
        return visible_list_ids(self.conn, self.settings, self.viewer)

    def t(self, key: str, **values: object) -> str:
        return text(self.language, key, **values)

    @property
    def bot(self) -> str:
        return bot_address(self.settings)

    @property
    def request_address(self) -> str | None:
        """`<list>-request@<domain>` when the message came to a list's command address."""
        lst = self.settings.list_by_name(self.request.list_name or "")
        if lst is None:
            return None
        local, _, domain = lst.address.rpartition("@")
        return f"{local}{REQUEST_SUFFIX}@{domain}"


Handler = Callable[[Context, Command], Reply]
