"""The `[web]` table of the configuration, validated into a frozen dataclass.

Keys (documented in deploy/mailgate.example.toml): enabled, host, port, trusted_proxies,
proxy_user_header, users (name -> password hash from `mailgate web hash-password`),
obfuscate_addresses, page_size, feed_entries, metrics. Called by `web.app.create_app` and `web.cli`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from mailgate.config import ConfigError, Settings, register_keys

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_PAGE_SIZE = 50
DEFAULT_FEED_ENTRIES = 30
MAX_PAGE_SIZE = 500
KEYS = frozenset(
    {
        "enabled",
        "host",
        "port",
        "trusted_proxies",
        "proxy_user_header",
        "users",
        "obfuscate_addresses",
        "page_size",
        "feed_entries",
        "metrics",
    }
)
register_keys("web", KEYS - {"users"})
register_keys("web.users", ())


@dataclass(frozen=True)
class WebSettings:
    enabled: bool = True
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    trusted_proxies: tuple[str, ...] = ()
    proxy_user_header: str = "X-Remote-User"
    users: dict[str, str] = field(default_factory=dict)
    obfuscate_addresses: bool = True
    page_size: int = DEFAULT_PAGE_SIZE
    feed_entries: int = DEFAULT_FEED_ENTRIES
    metrics: bool = True

    def trusts(self, client_host: str | None) -> bool:
        """Whether a request from `client_host` may name its user in the proxy header."""
        if not client_host or not self.trusted_proxies:
            return False
        try:
            address = ipaddress.ip_address(client_host)
        except ValueError:
            return False
        return any(
            address in ipaddress.ip_network(net, strict=False) for net in self.trusted_proxies
        )


def _int(table: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"[web] {key} must be an integer from {lo} to {hi}")
    return value


def _proxies(table: dict[str, Any]) -> tuple[str, ...]:
    value = table.get("trusted_proxies", [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError("[web] trusted_proxies must be a list of addresses or networks")
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ConfigError(f"[web] trusted_proxies: {item!r} is not an address") from None
    return tuple(value)


def _users(table: dict[str, Any]) -> dict[str, str]:
    value = table.get("users", {})
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError("[web.users] must map user names to password hashes")
    for name, hashed in value.items():
        if not hashed.startswith(("scrypt$", "pbkdf2_sha256$")):
            raise ConfigError(
                f"[web.users] {name}: not a password hash "
                "(make one with `mailgate web hash-password`)"
            )
    return dict(value)


def web_settings(settings: Settings) -> WebSettings:
    """Parse and validate `[web]`; raises ConfigError naming the bad key."""
    table = settings.section("web")
    unknown = set(table) - KEYS
    if unknown:
        raise ConfigError(f"[web] unknown setting(s): {', '.join(sorted(unknown))}")
    header = table.get("proxy_user_header", "X-Remote-User")
    if not isinstance(header, str) or not header.strip():
        raise ConfigError("[web] proxy_user_header must be a header name")
    obfuscate, enabled = table.get("obfuscate_addresses", True), table.get("enabled", True)
    show_metrics = table.get("metrics", True)
    flags = (("obfuscate_addresses", obfuscate), ("enabled", enabled), ("metrics", show_metrics))
    for key, value in flags:
        if not isinstance(value, bool):
            raise ConfigError(f"[web] {key} must be true or false")
    host = table.get("host", DEFAULT_HOST)
    if not isinstance(host, str) or not host:
        raise ConfigError("[web] host must be an address")
    return WebSettings(
        enabled=enabled,
        host=host,
        port=_int(table, "port", DEFAULT_PORT, 0, 65535),
        trusted_proxies=_proxies(table),
        proxy_user_header=header.strip(),
        users=_users(table),
        obfuscate_addresses=obfuscate,
        page_size=_int(table, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        feed_entries=_int(table, "feed_entries", DEFAULT_FEED_ENTRIES, 1, MAX_PAGE_SIZE),
        metrics=show_metrics,
    )
