"""The `[imap]` table and its `[[imap.sources]]`: validated into frozen dataclasses.

Read by `mailgate serve` before anything starts (a bad key is one clear error) and by the
pollers (`ingest.imap`). Passwords are never in the file: each source names an environment
variable (`password_env`) or a file (`password_file`), read at every connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailgate.config import ConfigError, Settings, register_keys

IMAPS_PORT = 993
IMAP_PORT = 143
MAX_PORT = 65535
_GLOBAL_KEYS: dict[str, tuple[type, ...]] = {
    "sources": (list,),
    "idle_seconds": (int, float),
    "lease_seconds": (int, float),
    "reconnect_initial": (int, float),
    "reconnect_max": (int, float),
    "timeout": (int, float),
}
_SOURCE_KEYS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "host": (str,),
    "port": (int,),
    "tls": (bool,),
    "starttls": (bool,),
    "ca_file": (str,),
    "user": (str,),
    "password_env": (str,),
    "password_file": (str,),
    "folder": (str,),
    "list": (str,),
    "idle": (bool,),
    "poll_interval": (int, float),
    "flag": (str,),
    "move_to": (str,),
}
register_keys("imap", set(_GLOBAL_KEYS) - {"sources"})
register_keys("imap.sources", _SOURCE_KEYS)


@dataclass(frozen=True)
class ImapSource:
    """One mailbox whose messages are archived into one list."""

    name: str
    host: str
    user: str
    list_name: str
    port: int = IMAPS_PORT
    tls: bool = True
    starttls: bool = False
    ca_file: Path | None = None
    password_env: str = ""
    password_file: Path | None = None
    folder: str = "INBOX"
    idle: bool = True
    poll_interval: float = 60.0
    flag: str = ""
    move_to: str = ""


@dataclass(frozen=True)
class ImapConfig:
    sources: tuple[ImapSource, ...] = ()
    idle_seconds: float = 300.0
    lease_seconds: float = 120.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 300.0
    timeout: float = 60.0


def _check_types(table: dict[str, Any], known: dict[str, tuple[type, ...]], where: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s): {', '.join(unknown)}")
    for key, value in table.items():
        kinds = known[key]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{where} {key} must be of type {names}")


def _path(value: str, base: Path) -> Path | None:
    return (base / value) if value else None


def _source(table: Any, index: int, settings: Settings, base: Path) -> ImapSource:
    where = f"[[imap.sources]] #{index + 1}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    _check_types(table, _SOURCE_KEYS, where)
    for key in ("name", "host", "user", "list"):
        if not str(table.get(key, "")).strip():
            raise ConfigError(f"{where}: '{key}' is required")
    where = f"[[imap.sources]] {table['name']!r}"
    if settings.list_by_name(table["list"]) is None:
        raise ConfigError(f"{where}: list {table['list']!r} is not configured in [[lists]]")
    if bool(table.get("password_env")) == bool(table.get("password_file")):
        raise ConfigError(f"{where}: set exactly one of password_env or password_file")
    tls = table.get("tls", True)
    if tls and table.get("starttls"):
        raise ConfigError(f"{where}: tls (implicit TLS) and starttls exclude each other")
    port = table.get("port", IMAPS_PORT if tls else IMAP_PORT)
    if not 0 < port <= MAX_PORT or table.get("poll_interval", 60) <= 0:
        raise ConfigError(f"{where}: port or poll_interval out of range")
    skip = ("list", "port", "ca_file", "password_file")
    values = {k: v for k, v in table.items() if k not in skip}
    return ImapSource(
        **values,
        list_name=table["list"],
        port=port,
        ca_file=_path(table.get("ca_file", ""), base),
        password_file=_path(table.get("password_file", ""), base),
    )


def imap_config(settings: Settings) -> ImapConfig:
    """Validate `[imap]`; relative paths are from the configuration file's directory."""
    table = settings.section("imap")
    _check_types(table, _GLOBAL_KEYS, "[imap]")
    base = settings.path.parent if settings.path else Path.cwd()
    sources = tuple(_source(t, i, settings, base) for i, t in enumerate(table.get("sources", [])))
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ConfigError("[[imap.sources]]: two sources have the same name")
    config = ImapConfig(sources=sources, **{k: v for k, v in table.items() if k != "sources"})
    if min(config.idle_seconds, config.lease_seconds, config.reconnect_initial) <= 0:
        raise ConfigError("[imap] idle_seconds, lease_seconds and reconnect_initial must be > 0")
    if config.reconnect_max < config.reconnect_initial or config.timeout <= 0:
        raise ConfigError("[imap] reconnect_max must be >= reconnect_initial; timeout > 0")
    return config


def read_password(source: ImapSource) -> str:
    """The source's password from its environment variable or file (trailing newline cut)."""
    if source.password_env:
        value = os.environ.get(source.password_env)
        if value is None:
            raise ConfigError(f"environment variable {source.password_env} is not set")
        return value
    assert source.password_file is not None
    try:
        return source.password_file.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read password_file {source.password_file}: {exc}") from None
