"""The `[digest]` table of the configuration, validated into a frozen dataclass.

Keys (documented in deploy/mailgate.example.toml): enabled, check_seconds, max_threads,
snippet_chars, related_limit, templates, batch_size, max_lookback_days. Called by
`digest.send`, `digest.service` and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailgate.config import ConfigError, Settings, register_keys

DEFAULT_CHECK_SECONDS = 60
DEFAULT_MAX_THREADS = 20
DEFAULT_SNIPPET_CHARS = 220
DEFAULT_RELATED_LIMIT = 5
DEFAULT_BATCH_SIZE = 500
DEFAULT_MAX_LOOKBACK_DAYS = 31
KEYS = frozenset(
    {
        "enabled",
        "check_seconds",
        "max_threads",
        "snippet_chars",
        "related_limit",
        "templates",
        "batch_size",
        "max_lookback_days",
    }
)
register_keys("digest", KEYS)


@dataclass(frozen=True)
class DigestSettings:
    """How digests are scheduled, what goes in them and where their templates are."""

    enabled: bool = True
    check_seconds: int = DEFAULT_CHECK_SECONDS
    max_threads: int = DEFAULT_MAX_THREADS
    snippet_chars: int = DEFAULT_SNIPPET_CHARS
    related_limit: int = DEFAULT_RELATED_LIMIT
    templates: Path | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    max_lookback_days: int = DEFAULT_MAX_LOOKBACK_DAYS


def _int(table: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ConfigError(f"[digest] {key} must be an integer from {lo} to {hi}")
    return value


def _templates(settings: Settings, table: dict[str, Any]) -> Path | None:
    value = table.get("templates")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError("[digest] templates must be a directory path")
    path = Path(value)
    if not path.is_absolute() and settings.path is not None:
        path = settings.path.parent / path
    if not path.is_dir():
        raise ConfigError(f"[digest] templates: {path} is not a directory")
    return path


def digest_settings(settings: Settings) -> DigestSettings:
    """Validate `[digest]`; raises ConfigError naming the bad key."""
    table = settings.section("digest")
    unknown = set(table) - KEYS
    if unknown:
        raise ConfigError(f"[digest] unknown key(s): {', '.join(sorted(unknown))}")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError("[digest] enabled must be true or false")
    return DigestSettings(
        enabled=enabled,
        check_seconds=_int(table, "check_seconds", DEFAULT_CHECK_SECONDS, 1, 86_400),
        max_threads=_int(table, "max_threads", DEFAULT_MAX_THREADS, 1, 200),
        snippet_chars=_int(table, "snippet_chars", DEFAULT_SNIPPET_CHARS, 40, 2_000),
        related_limit=_int(table, "related_limit", DEFAULT_RELATED_LIMIT, 0, 50),
        templates=_templates(settings, table),
        batch_size=_int(table, "batch_size", DEFAULT_BATCH_SIZE, 1, 100_000),
        max_lookback_days=_int(table, "max_lookback_days", DEFAULT_MAX_LOOKBACK_DAYS, 1, 366),
    )
