"""A minimal loopback SMTP sink in its own process, for benchmarks of outbound mail.

It speaks enough ESMTP for smtplib (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT, and
PIPELINING), reads each message whole up to the "<CRLF>.<CRLF>" terminator (asyncio,
C-level buffer search), and counts messages, recipients and bytes; nothing is stored.
`Sink()` starts it in a child process on a free 127.0.0.1 port; `stats()` asks for the counts
and the sink's CPU time (a message is counted before its 250 is sent, so once a sender has
its answers the counts include it). Used by `bench/digest.py`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import time
from collections import Counter

LOOPBACK = "127.0.0.1"
END_OF_DATA = b"\r\n.\r\n"


class _Counts:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.recipients: Counter[str] = Counter()


async def _session(reader, writer, counts: _Counts) -> None:  # type: ignore[no-untyped-def]
    """One client. Replies to pipelined commands go out together once the commands read so
    far are answered (as MTAs do), not one small packet each."""
    out = [b"220 sink ESMTP\r\n"]
    rcpts: list[str] = []
    while True:
        if out and b"\n" not in reader._buffer:  # nothing more pipelined: flush the replies
            writer.write(b"".join(out))
            out.clear()
            await writer.drain()
        line = await reader.readline()
        if not line:
            break
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            out.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000000\r\n")
        elif verb == b"MAIL":
            rcpts = []
            out.append(b"250 OK\r\n")
        elif verb == b"RCPT":
            rcpts.append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
            out.append(b"250 OK\r\n")
        elif verb == b"DATA":
            writer.write(b"".join([*out, b"354 go on\r\n"]))
            out.clear()
            await writer.drain()
            data = await reader.readuntil(END_OF_DATA)
            counts.messages += 1
            counts.bytes += len(data)
            counts.recipients.update(rcpts)
            out.append(b"250 queued\r\n")
        elif verb == b"QUIT":
            out.append(b"221 bye\r\n")
            break
        else:  # RSET, NOOP
            out.append(b"250 OK\r\n")
    if out:
        writer.write(b"".join(out))
    writer.close()


def _serve(sock: socket.socket, pipe) -> None:  # type: ignore[no-untyped-def]
    counts = _Counts()

    async def main() -> None:
        server = await asyncio.start_server(
            lambda r, w: _session(r, w, counts), sock=sock, limit=2**24
        )
        loop = asyncio.get_running_loop()
        while True:
            request = await loop.run_in_executor(None, pipe.recv)
            if request == "stop":
                break
            cpu = time.process_time()
            pipe.send((counts.messages, counts.bytes, dict(counts.recipients), cpu))
        server.close()

    asyncio.run(main())


class Sink:
    """The sink process; a context manager."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.pipe, child = multiprocessing.Pipe()
        self.process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(self.sock, child), daemon=True
        )

    def __enter__(self) -> Sink:
        self.process.start()
        return self

    def stats(self) -> tuple[int, int, dict[str, int], float]:
        """(messages, bytes, messages per recipient, CPU seconds of the sink)."""
        self.pipe.send("stats")
        return self.pipe.recv()

    def __exit__(self, *exc_info: object) -> None:
        self.pipe.send("stop")
        self.process.join(10)
        self.sock.close()
