"""The URL contract of the web archive, as code (the README's table mirrors it).

| path | page |
|---|---|
| `/` | lists and their recent activity |
| `/l/<list>/` | threads by last activity (`?before=<cursor>` pages on), month archive, chart |
| `/l/<list>/<yyyy>/<mm>/` | a month of a list |
| `/l/<list>/<yyyy>/<mm>.mbox.gz` | that month as a gzip mbox |
| `/l/<list>/atom.xml` | Atom feed of the list |
| `/t/<thread-id>/` | a thread (`?view=flat`, `?mono=1`); merged ids redirect |
| `/t/<thread-id>/atom.xml`, `/t/<thread-id>/thread.mbox.gz` | its feed and mbox |
| `/m/<message-id>` | a message (the Archived-At permalink) |
| `/m/<message-id>/raw`, `/m/<message-id>/t.mbox.gz` | its source, its thread's mbox |
| `/m/<message-id>/a/<n>/<filename>` | an attachment |
| `/p/<person-key>/` | a person's messages |
| `/search?q=` | search |
| `/digest/unsubscribe/<token>` | digest one-click unsubscribe (GET: confirm page, POST: do it) |

Paths come from `mailgate.links` (the same rules mail-out code uses); `Urls` prefixes them
with the mount point (`root_path`) of the running app. `message_route` reads a Message-ID back
from the undecoded request path, so an id containing '/' (sent as %2F) stays one segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from mailgate import links


@dataclass(frozen=True)
class Urls:
    """Builds the archive's paths under the app's mount point."""

    root: str = ""

    def home(self) -> str:
        return self.root + "/"

    def static(self, name: str) -> str:
        return f"{self.root}/static/{name}"

    def list(self, name: str) -> str:
        return self.root + links.list_path(name)

    def list_page(self, name: str, cursor: str) -> str:
        return f"{self.list(name)}?before={quote(cursor)}"

    def list_feed(self, name: str) -> str:
        return self.root + links.list_feed_path(name)

    def month(self, name: str, year: int, month: int) -> str:
        return self.root + links.list_month_path(name, year, month)

    def month_mbox(self, name: str, year: int, month: int) -> str:
        return self.root + links.list_month_mbox_path(name, year, month)

    def thread(self, thread_id: int, **params: str) -> str:
        query = "&".join(f"{k}={quote(v)}" for k, v in params.items() if v)
        return self.root + links.thread_path(thread_id) + (f"?{query}" if query else "")

    def thread_feed(self, thread_id: int) -> str:
        return self.root + links.thread_feed_path(thread_id)

    def thread_mbox(self, thread_id: int) -> str:
        return self.root + links.thread_mbox_path(thread_id)

    def message(self, mid: str) -> str:
        return self.root + links.message_path(mid)

    def raw(self, mid: str) -> str:
        return self.root + links.raw_path(mid)

    def message_mbox(self, mid: str) -> str:
        return self.root + links.message_thread_mbox_path(mid)

    def attachment(self, mid: str, position: int, filename: str) -> str:
        return self.root + links.attachment_path(mid, position, filename)

    def person(self, address: str) -> str:
        return self.root + links.person_path(links.person_key(address))

    def person_key(self, key: str) -> str:
        return self.root + links.person_path(key)

    def unsubscribe(self, token: str) -> str:
        return self.root + links.unsubscribe_path(token)

    def search(self, q: str = "", cursor: str = "") -> str:
        base = self.root + links.search_path()
        params = [f"q={quote(q)}"] if q else []
        params += [f"before={quote(cursor)}"] if cursor else []
        return base + (f"?{'&'.join(params)}" if params else "")


def message_route(raw_path: bytes, root_path: str) -> tuple[str, list[str]] | None:
    """(Message-ID, remaining decoded segments) of a `/m/...` request, None if malformed."""
    path = raw_path.decode("latin-1").split("?", 1)[0]
    prefix = quote(root_path) + "/m/"
    if not path.startswith(prefix):
        return None
    segment, *rest = path[len(prefix) :].split("/")
    if not segment:
        return None
    mid = links.mid_from_segment(segment.encode("latin-1").decode("utf-8", "surrogateescape"))
    return mid, [links.mid_from_segment(part) for part in rest if part != ""]
