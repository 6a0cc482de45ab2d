"""What `mailgate check` tests beyond the configuration: the schema head and the relay.

`head_revision()` is the newest Alembic revision shipped with this version; `check_relay`
opens an SMTP session with the outbound relay (`[relay]` host and port), says EHLO, upgrades
with STARTTLS when configured, logs in when a user is set, and quits without sending.
Called by `mailgate.cli_ops`.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from typing import Any

from mailgate.config import ConfigError, Settings, register_keys
from mailgate.db import MIGRATIONS_DIR

DEFAULT_RELAY_HOST = "127.0.0.1"
DEFAULT_RELAY_PORT = 25
DEFAULT_RELAY_TIMEOUT = 30.0


def head_revision() -> str | None:
    """The newest migration shipped with this version of mailgate."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _relay(settings: Settings) -> dict[str, Any]:
    table = settings.section("relay")
    port = table.get("port", DEFAULT_RELAY_PORT)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError("[relay] port must be a port number")
    return {
        "host": str(table.get("host", DEFAULT_RELAY_HOST)),
        "port": port,
        "starttls": bool(table.get("starttls", False)),
        "username": str(table.get("username", "")),
        "password_env": str(table.get("password_env", "")),
        "timeout": float(table.get("timeout", DEFAULT_RELAY_TIMEOUT)),
    }


def check_relay(settings: Settings) -> str:
    """Talk to the relay without sending anything; a one-line summary, or raises."""
    relay = _relay(settings)
    with smtplib.SMTP(relay["host"], relay["port"], timeout=relay["timeout"]) as smtp:
        code, _ = smtp.ehlo()
        if code != 250:
            raise ConfigError(f"relay answered EHLO with {code}")
        if relay["starttls"]:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if relay["username"]:
            password = os.environ.get(relay["password_env"], "")
            smtp.login(relay["username"], password)
        banner = "STARTTLS, " if relay["starttls"] else ""
    return f"{relay['host']}:{relay['port']} answers ({banner}EHLO ok)"


register_keys("relay", ("host", "port", "starttls", "username", "password_env", "timeout"))
