"""A private Postfix (Debian postfix) on loopback ports, for the deployment tests.

`Postfix(lmtp_port=..., relay_port=..., domain=...)` writes its own `config_directory` (a
`main.cf` shaped like deploy/postfix/main.cf: the list domain goes to mailgate over LMTP
through a transport map, everything else to a relay host) and its own queue under /tmp, and
listens for SMTP on a free 127.0.0.1 port. It needs root (the master runs as root and its
daemons as `postfix`); when Postfix is missing the test fails in CI and skips elsewhere.
`sink` is the next hop of relayed mail: an aiosmtpd server keeping what it receives.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

from tests.services import LOOPBACK, START_TIMEOUT, _missing, free_port

POSTFIX = "/usr/sbin/postfix"
POLL_SECONDS = 0.05

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
mail_owner = postfix
myhostname = mx.test.example
mydomain = test.example
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mydestination =
mynetworks = 127.0.0.0/8
relay_domains = {domain}
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
transport_maps = texthash:{dir}/conf/transport
relayhost = [127.0.0.1]:{relay_port}
alias_maps =
alias_database =
local_recipient_maps =
smtp_dns_support_level = disabled
smtp_tls_security_level = none
lmtp_tls_security_level = none
maillog_file = {dir}/maillog
maillog_file_prefixes = /tmp
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
biff = no
"""

MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class Postfix:
    """A private Postfix instance: SMTP on 127.0.0.1:`port`, the list domain handed to
    mailgate's LMTP on `lmtp_port`, everything else relayed to 127.0.0.1:`relay_port`."""

    def __init__(self, *, lmtp_port: int, relay_port: int, domain: str) -> None:
        if not Path(POSTFIX).exists():
            _missing("postfix is not installed (Debian package postfix)")
        if os.geteuid() != 0:
            _missing("a private Postfix instance needs root (its master runs as root)")
        self.dir = Path(tempfile.mkdtemp(prefix="mailgate-postfix-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.conf = self.dir / "conf"
        self.conf.mkdir()
        (self.dir / "data").mkdir()
        (self.dir / "queue").mkdir()
        shutil.chown(self.dir / "data", "postfix", "postfix")
        self.port = free_port()
        self.maillog = self.dir / "maillog"
        values = {"dir": self.dir, "domain": domain, "relay_port": relay_port}
        (self.conf / "main.cf").write_text(MAIN_CF.format(**values))
        (self.conf / "master.cf").write_text(MASTER_CF.format(listen=f"{LOOPBACK}:{self.port}"))
        (self.conf / "transport").write_text(f"{domain} lmtp:inet:{LOOPBACK}:{lmtp_port}\n")

    def _postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTFIX, "-c", str(self.conf), *args], capture_output=True, text=True, check=False
        )

    def start(self) -> Postfix:
        done = self._postfix("start")
        if done.returncode != 0:
            raise RuntimeError(f"postfix did not start: {done.stdout}{done.stderr}{self.log()}")
        if not _wait_listening(self.port):
            self.stop()
            raise RuntimeError(f"postfix does not listen on {self.port}: {self.log()}")
        return self

    def flush(self) -> None:
        """Retry deferred mail now (`postfix flush`)."""
        self._postfix("flush")

    def log(self) -> str:
        return self.maillog.read_text(errors="replace") if self.maillog.exists() else ""

    def wait_log(self, needle: str, count: int = 1) -> bool:
        """Wait until the mail log holds `needle` `count` times (False at the deadline)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.log().count(needle) >= count:
                return True
            threading.Event().wait(POLL_SECONDS)
        return False

    def stop(self) -> None:
        """SIGTERM to the master (`postfix stop` lingers ~30 s here) and wait for it to exit."""
        pid_file = self.dir / "queue" / "pid" / "master.pid"
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError, IndexError):
            return
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            threading.Event().wait(POLL_SECONDS)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_listening(port: int) -> bool:
    import socket

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1):
                return True
        except OSError:
            threading.Event().wait(POLL_SECONDS)
    return False


class Sink:
    """An aiosmtpd handler keeping every message it is given (the relay's next hop)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # type: ignore[no-untyped-def]
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def start_sink() -> tuple[Sink, Controller, int]:
    """An aiosmtpd server on a free loopback port: (the handler, the controller, its port)."""
    handler = Sink()
    port = free_port()
    controller = Controller(handler, hostname=LOOPBACK, port=port)
    controller.start()
    return handler, controller, port
