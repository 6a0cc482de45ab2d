"""`mailgate serve` and `mailgate demo` from the command line: the demo serves the sample list
without any configuration file, a message sent to it is archived, SIGTERM stops it cleanly,
and configuration mistakes are one clear line, never a traceback."""

from __future__ import annotations

import json
import smtplib
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailgate.cli import main
from tests.mailfactory import make_mail
from tests.services import LOOPBACK, MailgateProcess


def test_demo_imports_then_serves_without_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MailgateProcess("demo", "--smtp-port", "0", cwd=tmp_path)
    server.start()
    try:
        raw = make_mail("demo-1@example.org", "Test", to="general@lists.example.org")
        with smtplib.SMTP(LOOPBACK, server.ports["smtp"], timeout=30) as smtp:
            smtp.sendmail(
                "me@example.org", ["general@lists.example.org"], raw.replace(b"\n", b"\r\n")
            )
    finally:
        assert server.terminate() == 0
    assert any(
        "message_id=<demo-1@example.org>" in line and "stored:general" in line
        for line in server.lines
    )
    monkeypatch.chdir(tmp_path)
    threads = CliRunner().invoke(main, ["threads", "--list", "general", "--json"])
    ids = {
        m["message_id"]
        for line in threads.output.splitlines()
        for m in json.loads(line)["messages"]
    }
    assert "demo-1@example.org" in ids and len(ids) == 6  # the 5 sample messages and ours


def _serve(tmp_path: Path, extra: str) -> str:
    config = tmp_path / "mailgate.toml"
    config.write_text(f'data_dir = "data"\n[[lists]]\nname = "dev"\n{extra}', encoding="utf-8")
    result = CliRunner().invoke(main, ["serve", "--config", str(config)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("[smtp]\nprot = 25\n", "[smtp]: unknown setting(s): prot"),
        ("[smtp]\nport = 'x'\n", "[smtp] port must be an int"),
        ("[smtp]\ntls_cert = 'a.pem'\n", "tls_cert and tls_key go together"),
        (
            "[[imap.sources]]\nname = 'a'\nhost = 'h'\nuser = 'u'\nlist = 'nope'\n"
            "password_env = 'X'\n",
            "list 'nope' is not configured",
        ),
        (
            "[[imap.sources]]\nname = 'a'\nhost = 'h'\nuser = 'u'\nlist = 'dev'\n",
            "set exactly one of password_env or password_file",
        ),
        ("[imap]\nidle_seconds = 0\n", "must be > 0"),
    ],
)
def test_configuration_mistakes_are_one_clear_line(tmp_path: Path, extra: str, message: str):
    assert message in _serve(tmp_path, extra)


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        output = _serve(tmp_path, f"[smtp]\nport = {busy.getsockname()[1]}\n")
    assert "smtp: cannot listen on 127.0.0.1:" in output
