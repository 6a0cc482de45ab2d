"""The shape shared by the background workers of `mailgate serve` (outbox, commands, digests).

A `PollingService` runs its `work()` in a thread every `poll_seconds`, again at once when
`work()` says more is waiting, and early when its `Waker` is woken from any thread (the SMTP
receiver after queueing command mail, a commit that queued outbound mail). Subclasses give
`name`, `describe()` and `work()`; `start()` and `stop()` are the `Service` protocol.
"""

from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger("mailgate.serve")


class Waker:
    """Wakes the running services registered with it, from any thread."""

    def __init__(self) -> None:
        self._events: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()

    def wake(self) -> None:
        with self._lock:
            for loop, event in list(self._events):
                loop.call_soon_threadsafe(event.set)

    def add(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._events.add((loop, event))

    def discard(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        with self._lock:
            self._events.discard((loop, event))


class PollingService:
    """Calls `work()` (in a worker thread) until stopped; see the module docstring."""

    name = "polling"

    def __init__(self, poll_seconds: float, waker: Waker | None = None) -> None:
        self.poll_seconds = poll_seconds
        self._waker = waker
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def describe(self) -> str:
        return f"{self.name}: every {self.poll_seconds:g} s"

    def work(self) -> bool:
        """One run (in a worker thread); True when more work may be waiting at once."""
        raise NotImplementedError

    def start(self) -> None:
        if self._waker is not None:
            self._waker.add(asyncio.get_running_loop(), self._wake)
        self._task = asyncio.create_task(self._run())

    async def _once(self) -> bool:
        try:
            return await asyncio.to_thread(self.work)
        except Exception:
            log.exception("%s run failed; trying again later", self.name)
            return False

    async def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            if await self._once():
                continue
            waits = [asyncio.ensure_future(e.wait()) for e in (self._wake, self._stop)]
            await asyncio.wait(waits, timeout=self.poll_seconds, return_when="FIRST_COMPLETED")
            for waiter in waits:
                waiter.cancel()

    async def stop(self) -> None:
        self._stop.set()
        if self._waker is not None:
            self._waker.discard(asyncio.get_running_loop(), self._wake)
        if self._task is not None:
            await self._task
