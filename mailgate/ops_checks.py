"""What `mailgate check` tests beyond the configuration: the schema head and the relay.

`head_revision()` is the newest Alembic revision shipped with this version; `check_relay`
opens an SMTP session with the outbound relay (`[relay]`, read by `mailgate.outbox`), says
EHLO, upgrades with STARTTLS when configured, logs in when a user is set, and quits without
sending.
Called by `mailgate.cli_ops`.
"""

from __future__ import annotations

import smtplib
import ssl

from mailgate.config import ConfigError, Settings
from mailgate.db import MIGRATIONS_DIR
from mailgate.outbox import relay_config


def head_revision() -> str | None:
    """The newest migration shipped with this version of mailgate."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def check_relay(settings: Settings) -> str:
    """Talk to the relay without sending anything; a one-line summary, or raises."""
    relay = relay_config(settings)
    with smtplib.SMTP(relay.host, relay.port, timeout=relay.timeout) as smtp:
        code, _ = smtp.ehlo()
        if code != 250:
            raise ConfigError(f"relay answered EHLO with {code}")
        if relay.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if relay.username:
            smtp.login(relay.username, relay.password)
    extra = ", STARTTLS" if relay.starttls else ""
    extra += f", logged in as {relay.username}" if relay.username else ""
    sending = "" if relay.enabled else " (sending disabled: [relay] enabled = false)"
    return f"{relay.host}:{relay.port} answers (EHLO{extra}){sending}"
