"""An aiosmtpd SMTP server on loopback standing in for the outbound relay in tests.

It records every accepted message (envelope and parsed message); `answers` maps a recipient to
the SMTP reply it gets instead of 250 (to test 4xx retries and 5xx failures); `pipelining`
makes it advertise ESMTP PIPELINING; `wait_for`
blocks on a condition with a deadline (no sleeps). `hold()` makes DATA wait until `release()`
(to kill a sender while the relay has not yet accepted a message); `wait_held` waits until a
sender is blocked there. A held message whose sender dies is never recorded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.services import free_port

WAIT_SECONDS = 30.0


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes
    message: EmailMessage = field(repr=False)


class _Handler:
    def __init__(self, sink: RelaySink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        session.host_name = hostname
        if self.sink.pipelining:  # aiosmtpd reads pipelined commands in order anyway
            responses = [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        answer = self.sink.answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        import asyncio

        if self.sink.data_answer:
            return self.sink.data_answer
        if self.sink.holding.is_set():
            self.sink.note_held(+1)
            try:
                while self.sink.holding.is_set():
                    await asyncio.sleep(0.01)  # polled inside the sink only: tests never sleep
            finally:  # also when the sender died meanwhile (aiosmtpd cancels the handler)
                self.sink.note_held(-1)
        data = bytes(envelope.content)
        msg = message_from_bytes(data, policy=policy.default)
        self.sink.add(Received(envelope.mail_from, list(envelope.rcpt_tos), data, msg))  # type: ignore[arg-type]
        return "250 queued"


class RelaySink:
    """`with RelaySink() as sink:` then point `[relay] host/port` at `sink.port`."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.answers: dict[str, str] = {}
        self.data_answer: str | None = None
        self.holding = threading.Event()
        self.held = 0  # DATA commands waiting in hold()
        self.pipelining = False  # advertise ESMTP PIPELINING (RFC 2920)
        self._cond = threading.Condition()
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=free_port())

    @property
    def port(self) -> int:
        return self._controller.port

    def relay_section(self, **extra: Any) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, **extra}

    def add(self, item: Received) -> None:
        with self._cond:
            self.messages.append(item)
            self._cond.notify_all()

    def note_held(self, delta: int) -> None:
        with self._cond:
            self.held += delta
            self._cond.notify_all()

    def wait_held(self, count: int = 1, timeout: float = WAIT_SECONDS) -> None:
        """Wait until `count` senders are blocked in DATA by `hold()` (0: until the held ones
        are gone, e.g. their sender was killed)."""

        def done() -> bool:
            return self.held >= count if count else self.held == 0

        with self._cond:
            if not self._cond.wait_for(done, timeout):
                raise AssertionError(f"relay sink: {self.held} DATA held after {timeout}s")

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = WAIT_SECONDS
    ) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.messages), timeout):
                raise AssertionError(
                    f"relay sink: condition not met in {timeout}s ({len(self.messages)} received)"
                )
            return list(self.messages)

    def hold(self) -> None:
        self.holding.set()

    def release(self) -> None:
        self.holding.clear()

    def __enter__(self) -> RelaySink:
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.holding.clear()
        self._controller.stop()
