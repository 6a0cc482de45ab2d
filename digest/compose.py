"""A rendered digest as one mail: multipart/alternative through `mailgate.outbound`, with the
list headers mail clients act on.

Headers: `List-Unsubscribe` (the one-click URL of the web archive) with
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058), `List-Id` (the list's for a
one-list digest, else `digest.<domain>`), `List-Archive`; Message-ID, Date and the automated
markers come from `outbound.build_message`. Called by `digest.send`.
"""

from __future__ import annotations

from email.message import EmailMessage

from digest.render import Rendered
from mailgate import links, outbound
from mailgate.config import Settings

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


def archive_url(settings: Settings, list_name: str) -> str:
    return links.list_url(settings, list_name) if list_name else links.absolute(settings, "/")


def compose(
    settings: Settings, *, to: str, list_name: str, token: str, rendered: Rendered
) -> EmailMessage:
    """The digest mail for `to` (not yet queued)."""
    headers = {
        "List-Unsubscribe": f"<{unsubscribe_url(settings, token)}>",
        "List-Unsubscribe-Post": ONE_CLICK,
        "List-Archive": f"<{archive_url(settings, list_name)}>",
        "Precedence": "list",
    }
    return outbound.build_message(
        settings,
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        list_id=list_id(settings, list_name),
        headers=headers,
    )
