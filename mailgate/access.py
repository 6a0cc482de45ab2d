"""Who may see what: the one place that decides which lists a reader can see.

Public lists are visible to everyone. A private list is visible only to a viewer named in its
`readers` or `moderators` (a username from the web's trusted proxy or Basic auth, or an e-mail
address for mail commands and digests). Search, the web archive, feeds, exports, profiles,
commands and digests all ask here; none decides on its own.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, select

from mailgate.config import ListConfig, Settings
from mailgate.models import MailingList, Message, MessageList


@dataclass(frozen=True, slots=True)
class Viewer:
    """Someone reading the archive: anonymous (name None), a user name, or an e-mail address.

    `all_lists` is for administrators' tools only (the `mailgate` CLI): it sees every list.
    """

    name: str | None = None
    all_lists: bool = False

    @property
    def anonymous(self) -> bool:
        return not self.name and not self.all_lists


ANONYMOUS = Viewer()
ADMINISTRATOR = Viewer(all_lists=True)


@functools.lru_cache(maxsize=256)
def _readers(lst: ListConfig) -> frozenset[str]:
    """A private list's readers, lower-cased once (digests ask for thousands of readers)."""
    return frozenset(r.lower() for r in lst.readers)


def _allowed(lst: ListConfig, viewer: Viewer) -> bool:
    if not lst.is_private or viewer.all_lists:
        return True
    if viewer.anonymous:
        return False
    who = (viewer.name or "").lower()
    return who in _readers(lst) or who in lst.moderators


def visible_list_names(settings: Settings, viewer: Viewer) -> frozenset[str]:
    """Names of the configured lists this viewer may read."""
    return frozenset(lst.name for lst in settings.lists if _allowed(lst, viewer))


def can_see_list(settings: Settings, viewer: Viewer, name: str) -> bool:
    """Whether the viewer may read list `name`; an unknown list counts as private (a reader
    must not learn that a private list exists)."""
    lst = settings.list_by_name(name)
    if lst is None:
        return False
    return _allowed(lst, viewer)


def visible_list_ids(conn: Connection, settings: Settings, viewer: Viewer) -> list[int]:
    """Database ids of the lists this viewer may read.

    Lists that exist in the database but not in the configuration (created by an import)
    are public, like a configured list without a visibility setting.
    """
    names = visible_list_names(settings, viewer)
    configured = {lst.name for lst in settings.lists}
    rows = conn.execute(select(MailingList.id, MailingList.name)).all()
    return [lid for lid, name in rows if name in names or name not in configured]


def message_visible(conn: Connection, list_ids: Iterable[int], message_pk: int) -> bool:
    """A message is visible when it is not hidden and is on at least one visible list."""
    ids = list(list_ids)
    if not ids:
        return False
    query = (
        select(Message.id)
        .join(MessageList, MessageList.message_pk == Message.id)
        .where(Message.id == message_pk, Message.hidden.is_(False), MessageList.list_id.in_(ids))
        .limit(1)
    )
    return conn.execute(query).first() is not None
