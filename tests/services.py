"""Real services the tests (and benchmarks) start on loopback, with throw-away state.

- `Dovecot`: a private IMAP server (Debian dovecot-imapd) on a free 127.0.0.1 port with a
  passwd-file user and a Maildir under /tmp (Dovecot needs every parent directory
  world-traversable, so pytest's tmp_path does not do).
- `GatewayThread`: `mailgate serve`'s `run_gateway` on an event loop in a thread of the test
  process (real sockets; the test drives it with smtplib).
- `MailgateProcess`: `mailgate serve` as a subprocess (for crash tests and benchmarks); the
  listening ports are read from its log.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mailgate.config import Settings
from mailgate.db import Database

LOOPBACK = "127.0.0.1"
START_TIMEOUT = 30.0
DOVECOT_USER = "archive"
DOVECOT_PASSWORD = "secret-imap"
_LISTENING = re.compile(r"(\w+) listening on ([\d.]+):(\d+)")


def free_port() -> int:
    """A port free at this moment on 127.0.0.1 (for servers that cannot bind port 0)."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def _missing(reason: str) -> None:
    from tests.conftest import service_missing

    service_missing(reason)


DOVECOT_CONF = """\
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_fsync = never
mail_location = maildir:~/Maildir
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {dir}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={dir}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


class Dovecot:
    """A private Dovecot on 127.0.0.1:`port` with user `DOVECOT_USER`; `stop()` then
    `start()` restarts it on the same port and mailbox (to test reconnection)."""

    def __init__(self) -> None:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not Path(binary).exists():
            _missing("dovecot is not installed (Debian package dovecot-imapd)")
        if os.geteuid() != 0:
            _missing("the test Dovecot runs its mail user as nobody, which needs root")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="mailgate-dovecot-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        (self.dir / "passwd").write_text(f"{DOVECOT_USER}:{{PLAIN}}{DOVECOT_PASSWORD}\n")
        home = self.dir / "home" / DOVECOT_USER
        home.mkdir(parents=True)
        shutil.chown(home, "nobody", "nogroup")
        self.conf = self.dir / "dovecot.conf"
        self.conf.write_text(DOVECOT_CONF.format(dir=self.dir, port=self.port))

    def start(self) -> Dovecot:
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if not _wait_for_port(self.port, self.process):
            log = (self.dir / "dovecot.log").read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"dovecot did not start: {log}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(START_TIMEOUT)
            self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self) -> Any:
        """A logged-in imapclient connection (the caller logs out)."""
        from imapclient import IMAPClient

        client = IMAPClient(LOOPBACK, port=self.port, ssl=False, timeout=START_TIMEOUT)
        client.login(DOVECOT_USER, DOVECOT_PASSWORD)
        return client

    def append(self, folder: str, *messages: bytes) -> None:
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in messages:
                client.append(folder, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))

    def set_uidvalidity(self, folder: str, value: int) -> None:
        """Change a folder's UIDVALIDITY as a server migration would (doveadm)."""
        subprocess.run(
            [
                "doveadm", "-c", str(self.conf), "mailbox", "update",
                "-u", DOVECOT_USER, "--uid-validity", str(value), folder,
            ],
            check=True, capture_output=True,
        )  # fmt: skip


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> bool:
    """Wait until something accepts on `port` (or the process died)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return True
        except OSError:
            threading.Event().wait(0.02)  # the server is starting; retry the connection
    return False


class GatewayThread:
    """`run_gateway` on its own event loop thread; a context manager; `port(name)`."""

    def __init__(
        self, settings: Settings, db: Database, starters: Sequence[Callable] | None = None
    ) -> None:
        self.settings = settings
        self.db = db
        self.starters = starters
        self.services: list[Any] = []
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._main, name="gateway-test", daemon=True)

    def _main(self) -> None:
        from mailgate.ingest.gateway import run_gateway

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            await run_gateway(
                self.settings, self.db, self._stop, on_ready=self._on_ready, starters=self.starters
            )

        try:
            asyncio.run(main())
        except BaseException as exc:
            self.error = exc
            self._ready.set()

    def _on_ready(self, services: list[Any]) -> None:
        self.services = services
        self._ready.set()

    def __enter__(self) -> GatewayThread:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("gateway did not start")
        if self.error is not None:
            raise self.error
        return self

    def service(self, name: str) -> Any:
        return next(s for s in self.services if s.name == name)

    def port(self, name: str) -> int:
        return self.service(name).address[1]

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT)


class MailgateProcess:
    """`python -m mailgate ARGS...` (e.g. `serve --config PATH`) as a subprocess; `ports` maps
    service name -> port once it logged that it listens. Its log lines are kept in `lines`."""

    def __init__(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.args = [sys.executable, "-m", "mailgate", *args]
        self.cwd = cwd
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.ports: dict[str, int] = {}
        self.lines: list[str] = []
        self._ready_text = ""

    def start(self, expect: Sequence[str] = ("smtp",), ready: str = "") -> MailgateProcess:
        """Start and wait until every service in `expect` logged its port and a log line
        holds `ready` (if given), or it died."""
        ports: dict[str, int] = {}
        started = threading.Event()
        self.process = subprocess.Popen(
            self.args,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=self.env,
            cwd=self.cwd,
        )
        self._ready_text = ready
        reader = threading.Thread(
            target=self._read, args=(self.process, set(expect), ports, started), daemon=True
        )
        reader.start()
        if not started.wait(START_TIMEOUT) or not set(expect) <= ports.keys():
            self.kill()
            tail = "\n".join(self.lines[-20:])
            raise RuntimeError(f"mailgate serve did not start:\n{tail}")
        self.ports = ports
        return self

    def _read(
        self,
        process: subprocess.Popen[str],
        expect: set[str],
        ports: dict[str, int],
        ready: threading.Event,
    ) -> None:
        assert process.stderr is not None
        seen = not self._ready_text
        for line in process.stderr:
            self.lines.append(line.rstrip("\n"))
            match = _LISTENING.search(line)
            if match:
                ports[match.group(1)] = int(match.group(3))
            seen = seen or self._ready_text in line
            if seen and expect <= ports.keys():
                ready.set()
        ready.set()  # the process ended

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(START_TIMEOUT)

    def terminate(self) -> int:
        """SIGTERM and wait: the clean shutdown path. Returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(START_TIMEOUT)
