"""One reader's digest from subscription to mail, with everything shared between readers cached.

`plan_due` turns the active subscriptions into the digests due at `now` (the period of each,
from `digest.periods`, starting where that subscription's previous digest ended according to
`digest_runs`). A `Builder` then makes each digest: the lists the reader may see come from
`mailgate.access` (a Viewer for their address; cached per set of visible lists), the new
threads from `digest.gather` (cached per list and window), the ranking from `digest.rank`
with the reader's follow/mute choices, "Related elsewhere" from `digest.related` (cached per
scope), then `digest.render` and `digest.compose`. Called by `digest.send` and the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Connection, func, select

from digest import compose, rank, related
from digest.gather import Gatherer, ListWindow
from digest.periods import Period, due_period, zone
from digest.render import Content, Renderer
from digest.settings import DigestSettings
from mailgate import access, archive_reads, prefs
from mailgate.access import Viewer
from mailgate.config import Settings
from mailgate.digest_models import DigestRun
from mailgate.outbound_bulk import Prepared

runs_t = DigestRun.__table__
IN_BATCH = 500


@dataclass(frozen=True, slots=True)
class Due:
    """A digest due: whose, for which period."""

    sub: prefs.Subscription
    period: Period


@dataclass(frozen=True, slots=True)
class Built:
    """A digest made for one reader; `message` is None when there was nothing new."""

    due: Due
    thread_count: int
    message: Prepared | EmailMessage | None
    text: str = ""


def previous_ends(conn: Connection, ids: Sequence[int]) -> dict[int, datetime]:
    """End of the latest digest of each subscription (batched)."""
    found: dict[int, datetime] = {}
    for offset in range(0, len(ids), IN_BATCH):
        chunk = ids[offset : offset + IN_BATCH]
        query = (
            select(runs_t.c.subscription_id, func.max(runs_t.c.period_end))
            .where(runs_t.c.subscription_id.in_(chunk))
            .group_by(runs_t.c.subscription_id)
        )
        found.update({k: v for k, v in conn.execute(query)})
    return found


def period_of(
    sub: prefs.Subscription,
    settings: Settings,
    options: DigestSettings,
    now: datetime,
    previous_end: datetime | None,
) -> Period:
    return due_period(
        sub.frequency,
        sub.weekday,
        sub.hour,
        zone(sub.timezone, settings.timezone),
        now,
        previous_end=previous_end,
        max_lookback=timedelta(days=options.max_lookback_days),
    )


def plan_due(
    conn: Connection,
    settings: Settings,
    options: DigestSettings,
    now: datetime,
    *,
    addresses: Iterable[str] | None = None,
) -> list[Due]:
    """The digests due at `now` and not made yet (optionally only for some addresses)."""
    wanted = {a.lower() for a in addresses} if addresses is not None else None
    subs = [
        s
        for s in prefs.all_subscriptions(conn)
        if s.frequency in ("daily", "weekly") and (wanted is None or s.address in wanted)
    ]
    ends = previous_ends(conn, [s.id for s in subs])
    due = [Due(s, period_of(s, settings, options, now, ends.get(s.id))) for s in subs]
    return [d for d in due if d.period.start < d.period.end]


class Builder:
    """Makes digests for one run; caches what readers share."""

    def __init__(self, conn: Connection, settings: Settings, options: DigestSettings) -> None:
        self.conn = conn
        self.settings = settings
        self.options = options
        self.gatherer = Gatherer(conn)
        self.ranker = rank.Ranker(
            self.gatherer.context,
            max_threads=options.max_threads,
            snippet_chars=options.snippet_chars,
        )
        self.renderer = Renderer(settings, options.templates)
        self.list_ids = archive_reads.list_ids_by_name(conn)
        self.list_names = {lid: name for name, lid in self.list_ids.items()}
        self._scopes: dict[frozenset[str], list[int]] = {}
        self._related: dict[tuple, related.Related] = {}

    def bind(self, conn: Connection) -> None:
        """Read through `conn` from now on (one short read transaction per batch: a long one
        would keep SQLite from checkpointing its WAL while the run writes)."""
        self.conn = self.gatherer.conn = conn

    def scope(self, address: str) -> list[int]:
        """Ids of the lists `address` may read (asked of `mailgate.access`)."""
        viewer = Viewer(name=address)
        key = access.visible_list_names(self.settings, viewer)
        found = self._scopes.get(key)
        if found is None:
            found = self._scopes[key] = access.visible_list_ids(self.conn, self.settings, viewer)
        return found

    def lists_of(self, sub: prefs.Subscription) -> list[int]:
        """The digest's lists: the one subscribed to, or all the reader may see."""
        visible = self.scope(sub.address)
        if not sub.list_name:
            return sorted(visible)
        lid = self.list_ids.get(sub.list_name)
        return [lid] if lid is not None and lid in visible else []

    def _windows(self, lids: list[int], period: Period) -> list[tuple[str, ListWindow]]:
        found = [(lid, self.gatherer.window(lid, period.start, period.end)) for lid in lids]
        return [(self.list_names[lid], w) for lid, w in found if w.by_thread]

    def related_for(
        self, address: str, selection: rank.Selection, period: Period
    ) -> related.Related:
        """Related elsewhere for the reader's leading threads: each thread's answer is asked
        once per run and set of visible lists, then merged for the reader."""
        scope = self.scope(address)
        answers = [
            self._related_to(thread, scope, address, period)
            for thread in selection.threads[: related.SOURCE_THREADS]
        ]
        return related.merge(answers, selection.candidate_ids, self.options.related_limit)

    def _related_to(
        self, thread: rank.DigestThread, scope: list[int], address: str, period: Period
    ) -> related.Related:
        key = (thread.thread_id, tuple(scope), period.end)
        found = self._related.get(key)
        if found is None:
            found = self._related[key] = related.related_elsewhere(
                self.conn,
                self.settings,
                Viewer(name=address),
                thread_ids=[thread.thread_id],
                subjects=[thread.subject],
                scope=scope,
                other_lists=self._other_lists(scope, {thread.list_name}),
                exclude_threads=frozenset({thread.thread_id}),
                end=period.end,
                limit=self.options.related_limit,
            )
        return found

    def _other_lists(self, scope: list[int], names: set[str]) -> list[str]:
        return [self.list_names[lid] for lid in scope if self.list_names[lid] not in names]

    def build(self, due: Due, thread_prefs: dict[int, str]) -> Built:
        sub, period = due.sub, due.period
        windows = self._windows(self.lists_of(sub), period)
        self.gatherer.contexts(w for _, w in windows)
        selection = self.ranker.select([sub.address], windows, thread_prefs)
        if not selection.threads:
            return Built(due, 0, None)
        found = self.related_for(sub.address, selection, period)
        muted = {tid for tid, state in thread_prefs.items() if state == rank.MUTE}
        found = related.Related(
            tuple(r for r in found.threads if r.thread_id not in muted), found.people
        )
        content = Content(
            address=sub.address,
            frequency=sub.frequency,
            list_name=sub.list_name,
            period=period,
            selection=selection,
            related=found,
            unsubscribe_url=compose.unsubscribe_url(self.settings, sub.token),
            language=self.language(sub),
            tz=zone(sub.timezone, self.settings.timezone),
        )
        rendered = self.renderer.render(content)
        message = compose.compose(
            self.settings, to=sub.address, list_name=sub.list_name, token=sub.token,
            rendered=rendered,
        )  # fmt: skip
        return Built(due, len(selection.threads), message, rendered.text)

    def language(self, sub: prefs.Subscription) -> str:
        """The reader's own language, else the list's (one-list digest), else the default."""
        if sub.language:
            return sub.language
        lst = self.settings.list_by_name(sub.list_name) if sub.list_name else None
        return lst.language if lst is not None else self.settings.language
