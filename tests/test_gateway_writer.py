"""The durable writer on both backends: results only after commit, group commit, one faulty
message fails alone, command routes are queued, and a dead parsing process is replaced."""

from __future__ import annotations

import os
import signal

import pytest

from mailgate.ingest.writer import IngestWriter, Job
from mailgate.routing import Route, RouteKind
from tests.mailfactory import make_mail

DEV = Route(RouteKind.LIST, "dev", "dev@lists.example.org")
GHOST = Route(RouteKind.LIST, "ghost", "ghost@lists.example.org")
REQUEST = Route(RouteKind.REQUEST, "dev", "dev-request@lists.example.org")


@pytest.fixture
def writer(db, contexts):
    writer = IngestWriter(db, contexts)
    writer.start()
    yield writer
    writer.stop()


def test_a_faulty_message_fails_alone(writer) -> None:
    futures = [writer.submit(Job(make_mail(f"w{i}@example.org"), (DEV,), "test")) for i in range(5)]
    bad = writer.submit(Job(make_mail("bad@example.org"), (GHOST,), "test"))
    futures += [
        writer.submit(Job(make_mail(f"x{i}@example.org"), (DEV,), "test")) for i in range(5)
    ]
    assert all(f.result(30)[0].ok for f in futures)
    failed = bad.result(30)[0]
    assert not failed.ok and "ghost" in failed.detail
    assert writer.committed_jobs == 11 and writer.commits <= 11


def test_lmtp_style_jobs_answer_per_route(writer) -> None:
    results = writer.submit(
        Job(make_mail("multi@example.org"), (DEV, GHOST, REQUEST), "lmtp", atomic=False)
    ).result(30)
    assert [(r.ok, r.outcome) for r in results] == [
        (True, "stored"),
        (False, "failed"),
        (True, "queued"),
    ]


def test_a_dead_parsing_process_is_replaced(db, contexts) -> None:
    writer = IngestWriter(db, contexts, workers=1)
    writer.start()
    try:
        assert writer.submit(Job(make_mail("p1@example.org"), (DEV,), "t")).result(30)[0].ok
        for pid in list(writer._executor._processes):  # type: ignore[attr-defined]
            os.kill(pid, signal.SIGKILL)
        outcomes = []
        for _attempt in range(3):  # the first may fail (451 to a sender), then it works again
            try:
                job = Job(make_mail("p2@example.org"), (DEV,), "t")
                outcomes.append(writer.submit(job).result(30)[0].ok)
            except Exception as exc:
                outcomes.append(type(exc).__name__)
            if outcomes[-1] is True:
                break
        assert outcomes[-1] is True, outcomes
    finally:
        writer.stop()
