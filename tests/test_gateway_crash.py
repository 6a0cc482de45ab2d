"""Crash safety of `mailgate serve`: while several clients send, the server is killed with
SIGKILL at random moments and restarted; clients retry on connection errors and 4xx replies.
Afterwards every message that got a 250 is in the archive exactly once (both backends)."""

from __future__ import annotations

import os
import random
import smtplib
import threading
from pathlib import Path

from sqlalchemy import create_engine, func, select

from mailgate.models import Message, MessageList
from tests.mailfactory import make_mail
from tests.services import LOOPBACK, MailgateProcess

CLIENTS = 4
PER_CLIENT = 30
KILLS = 4
WAIT = 60.0
SENDER = "alice@example.org"


def write_config(path: Path, database_url: str, port: int) -> None:
    path.write_text(
        f'data_dir = "data"\ndatabase_url = "{database_url}"\ndomain = "lists.example.org"\n'
        f'[[lists]]\nname = "dev"\n[smtp]\nport = {port}\n',
        encoding="utf-8",
    )


class Clients:
    """Senders that retry until each of their messages is acknowledged with 250."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.acked: list[str] = []
        self.permanent: list[str] = []
        self.up = threading.Event()
        self.port = 0

    def _send(self, conn: smtplib.SMTP | None, raw: bytes) -> smtplib.SMTP:
        if conn is None:
            conn = smtplib.SMTP(LOOPBACK, self.port, timeout=WAIT)
        conn.sendmail(SENDER, ["dev@lists.example.org"], raw)
        return conn

    def run(self, client: int) -> None:
        conn: smtplib.SMTP | None = None
        for i in range(PER_CLIENT):
            mid = f"crash-{client}-{i}@example.org"
            raw = make_mail(mid, f"Message {client}/{i}").replace(b"\n", b"\r\n")
            while True:
                try:
                    conn = self._send(conn, raw)
                    break
                except smtplib.SMTPResponseException as exc:
                    if exc.smtp_code >= 500:
                        self.permanent.append(f"{mid}: {exc.smtp_code} {exc.smtp_error!r}")
                        return
                except (smtplib.SMTPException, OSError):
                    pass
                conn = None  # dropped or temporary failure: reconnect once the server is up
                self.up.wait(WAIT)
            with self.cond:
                self.acked.append(mid)
                self.cond.notify_all()

    def wait_acked(self, n: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: len(self.acked) >= n or self.permanent, WAIT)


def test_acknowledged_mail_survives_sigkill(tmp_path: Path, database_url: str) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    chaos = random.Random(seed)
    config = tmp_path / "mailgate.toml"
    write_config(config, database_url, 0)
    server = MailgateProcess("serve", "--config", str(config)).start()
    clients = Clients()
    clients.port = server.ports["smtp"]
    write_config(config, database_url, clients.port)  # restarts listen on the same port
    clients.up.set()
    threads = [threading.Thread(target=clients.run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    total = CLIENTS * PER_CLIENT
    try:
        for kill in range(1, KILLS + 1):
            clients.wait_acked(kill * total // (KILLS + 1) + chaos.randint(-5, 5))
            threading.Event().wait(chaos.uniform(0, 0.03))  # a random moment, not a sync point
            clients.up.clear()
            server.kill()
            server.start()
            clients.up.set()
        for thread in threads:
            thread.join(WAIT)
    finally:
        clients.up.set()
        code = server.terminate()
    assert code == 0, "\n".join(server.lines[-20:])
    assert clients.permanent == [], f"seed {seed}"
    assert len(clients.acked) == total, f"seed {seed}"
    engine = create_engine(database_url)
    with engine.connect() as conn:
        per_mid = dict(
            conn.execute(
                select(Message.message_id, func.count())
                .join(MessageList, MessageList.message_pk == Message.id)
                .group_by(Message.message_id)
            ).all()
        )
    engine.dispose()
    missing = [mid for mid in clients.acked if per_mid.get(mid) != 1]
    assert missing == [], f"seed {seed}: not archived exactly once: {missing[:5]}"
    assert sum(per_mid.values()) == total
