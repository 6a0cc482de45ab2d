"""Digest text: one reader's selection rendered by jinja2 into a plain-text and an HTML part.

Templates `subject.txt`, `digest.txt`, `digest.html` and the per-thread blocks `thread.txt`
and `thread.html` come from the `[digest] templates` directory when it has them, else from
`digest/templates` (a deployment overrides any of them by dropping a file of that name there).
They are compiled once per process, and a thread's blocks are rendered once per run for all
the readers who see it alike: a digest is mostly the assembly of shared blocks. The HTML
is a table layout with inline styles only (no external CSS, no images, no script) so that
Outlook, Thunderbird, Gmail and phones show it alike. Links come from `mailgate.links`; the
reply link is a mailto with In-Reply-To and Subject set so an answer joins the thread.
Called by `digest.send`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from digest.i18n import Translator, translator
from digest.periods import Period
from digest.rank import DigestThread, Selection
from digest.related import Related
from mailgate import links
from mailgate.config import Settings
from mailgate.subjects import display_subject

HERE = Path(__file__).parent / "templates"
TEMPLATE_NAMES = ("subject.txt", "digest.txt", "digest.html", "thread.txt", "thread.html")
BLOCK_CACHE_LIMIT = 50_000
REPLY_PREFIX = "Re: "


@functools.lru_cache(maxsize=8)
def environment(override: Path | None) -> Environment:
    """The jinja2 environment (an override directory first, then the bundled templates)."""
    loaders = [FileSystemLoader(str(override))] if override else []
    env = Environment(
        loader=ChoiceLoader([*loaders, FileSystemLoader(str(HERE))]),
        autoescape=lambda name: bool(name and name.endswith(".html")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        auto_reload=False,
    )
    return env


@functools.lru_cache(maxsize=8)
def templates(override: Path | None) -> tuple[Template, ...]:
    """subject, digest text, digest HTML, thread text, thread HTML (compiled once)."""
    env = environment(override)
    return tuple(env.get_template(name) for name in TEMPLATE_NAMES)


def reply_link(list_address: str, message_id: str, subject: str) -> str:
    """mailto: the list, answering `message_id` (RFC 6068 header fields)."""
    fields = {
        "In-Reply-To": f"<{message_id}>",
        "References": f"<{message_id}>",
        "Subject": REPLY_PREFIX + display_subject(subject),
    }
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in fields.items())
    return f"mailto:{quote(list_address, safe='@')}?{query}"


@dataclass(frozen=True)
class Content:
    """Everything one digest shows."""

    address: str
    frequency: str
    list_name: str  # "" = every list the reader may see
    period: Period
    selection: Selection
    related: Related
    unsubscribe_url: str
    language: str
    tz: ZoneInfo


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class Renderer:
    """Renders digests with precompiled templates; one per run."""

    def __init__(self, settings: Settings, override: Path | None) -> None:
        self.settings = settings
        self.subject_t, self.text_t, self.html_t, self.thread_text, self.thread_html = templates(
            override
        )
        self.addresses = {lst.name: lst.address for lst in settings.lists}
        self._blocks: dict[tuple[str, DigestThread], dict] = {}

    def _thread(self, thread: DigestThread, t: Translator) -> dict:
        """A thread's text and HTML blocks: rendered once per run for every reader who sees
        the thread the same way (in the same language, with the same marks)."""
        key = (t.language, thread)
        found = self._blocks.get(key)
        if found is not None:
            return found
        address = self.addresses.get(thread.list_name, "")
        context = {
            "t": t,
            "x": thread,
            "url": links.thread_url(self.settings, thread.thread_id),
            "reply_url": reply_link(address, thread.latest_mid, thread.subject) if address else "",
        }
        found = {
            "t": thread,
            "url": context["url"],
            "reply_url": context["reply_url"],
            "block": self.thread_text.render(context),
            "html": Markup(self.thread_html.render(context)),
        }
        if len(self._blocks) >= BLOCK_CACHE_LIMIT:
            self._blocks.clear()
        self._blocks[key] = found
        return found

    def context(self, content: Content) -> dict:
        t: Translator = translator(content.language, content.tz)
        scope = content.list_name or t("all_lists")
        archive = (
            links.list_url(self.settings, content.list_name)
            if content.list_name
            else links.absolute(self.settings, "/")
        )
        threads = [self._thread(x, t) for x in content.selection.threads]
        period = content.period
        return {
            "t": t,
            "address": content.address,
            "title": f"{t(content.frequency)} · {scope}",
            "scope": scope,
            "period": t("from_to", start=t.day(period.start), end=t.day(period.end)),
            "threads": threads,
            "more": content.selection.more,
            "archive_url": archive,
            "related_threads": [
                {"r": r, "url": links.thread_url(self.settings, r.thread_id)}
                for r in content.related.threads
            ],
            "related_people": list(content.related.people),
            "unsubscribe_url": content.unsubscribe_url,
        }

    def render(self, content: Content) -> Rendered:
        context = self.context(content)
        subject = " ".join(self.subject_t.render(context).split())
        return Rendered(subject, self.text_t.render(context), self.html_t.render(context))
