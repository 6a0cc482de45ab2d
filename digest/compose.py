"""A rendered digest as one mail: multipart/alternative through `mailgate.outbound`, with the
list headers mail clients act on.

Headers: `List-Unsubscribe` (the one-click URL of the web archive, then a mailto: URI that
asks the command address to turn the digest off, for readers whose mail program writes a mail
instead, confirmed by reply like any command) with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), `List-Id` (the list's for a
one-list digest, else `digest.<domain>`), `List-Archive`; Message-ID, Date and the automated
markers come from `outbound.build_prepared` (the bulk fast path). Called by `digest.send`.
"""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from urllib.parse import quote

from digest.render import Rendered
from mailgate import links, outbound
from mailgate.config import Settings
from mailgate.outbound_bulk import BulkError, Prepared
from mailgate.routing import bot_address

ONE_CLICK = "List-Unsubscribe=One-Click"


def list_id(settings: Settings, list_name: str) -> str:
    """The List-Id value (RFC 2919) of a digest."""
    if list_name:
        lst = settings.list_by_name(list_name)
        if lst is not None:
            local, _, domain = lst.address.partition("@")
            return f"{lst.name} <{local}.{domain or settings.domain}>"
    return f"Digest <digest.{settings.domain}>"


def unsubscribe_url(settings: Settings, token: str) -> str:
    return links.absolute(settings, links.unsubscribe_path(token))


def unsubscribe_mailto(settings: Settings, list_name: str) -> str:
    """A mailto: URI (RFC 6068) whose subject is the command that turns this digest off."""
    command = f"unsubscribe {list_name}".strip()
    return f"mailto:{bot_address(settings)}?subject={quote(command)}"


def archive_url(settings: Settings, list_name: str) -> str:
    return links.list_url(settings, list_name) if list_name else links.absolute(settings, "/")


def compose(
    settings: Settings, *, to: str, list_name: str, token: str, rendered: Rendered
) -> Prepared | EmailMessage:
    """The digest mail for `to`, serialized by the bulk fast path (an `EmailMessage` for an
    internationalized address), not yet queued."""
    headers = {
        "List-Unsubscribe": (
            f"<{unsubscribe_url(settings, token)}>, <{unsubscribe_mailto(settings, list_name)}>"
        ),
        "List-Unsubscribe-Post": ONE_CLICK,
        "List-Archive": f"<{archive_url(settings, list_name)}>",
        "Precedence": "list",
    }
    fields = {
        "to": to,
        "subject": rendered.subject,
        "text": rendered.text,
        "html": rendered.html,
        "list_id": list_id(settings, list_name),
        "headers": headers,
    }
    try:
        return outbound.build_prepared(settings, **fields)  # type: ignore[arg-type]
    except BulkError:
        return outbound.build_message(settings, **fields)  # type: ignore[arg-type]


def as_email(message: Prepared | EmailMessage) -> EmailMessage:
    """The message as an `EmailMessage` (previews, tests)."""
    if isinstance(message, EmailMessage):
        return message
    parsed = email.message_from_bytes(message.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed
