"""Settings: one TOML file plus environment overrides, loaded into frozen dataclasses.

The CLI (`mailgate.cli`) loads the settings once and passes them explicitly to every part
(database, ingest, web, digests); nothing reads a global configuration. `STARTER_CONFIG` is the
commented file that `mailgate init` writes; `deploy/mailgate.example.toml` documents every key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

ENV_CONFIG = "MAILGATE_CONFIG"
ENV_DATABASE_URL = "MAILGATE_DATABASE_URL"
DEFAULT_CONFIG_NAME = "mailgate.toml"
DEFAULT_DATA_DIR = "data"
VISIBILITIES = ("public", "private")
LANGUAGES = ("fr", "en")
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
# Tables of settings owned by one subsystem each (parsed by that subsystem from `section()`).
KNOWN_SECTIONS = ("smtp", "imap", "web", "relay", "commands", "digest", "people", "search")


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message says which key."""


# Every key a subsystem reads from its table, registered by the module that parses it (at
# import time): `[smtp]` by mailgate.ingest.smtp, `[web]` by web.settings... The test that every
# setting is documented in deploy/mailgate.example.toml reads this registry. Nested tables are
# named with a dot ("imap.sources"); a table of free names (e.g. "web.users") registers no key.
SECTION_KEYS: dict[str, frozenset[str]] = {}


def register_keys(section: str, keys: Iterable[str]) -> frozenset[str]:
    """Declare the keys of `[section]` that a subsystem reads; returns them (for validation)."""
    known = frozenset(keys) | SECTION_KEYS.get(section, frozenset())
    SECTION_KEYS[section] = known
    return known


@dataclass(frozen=True)
class ListConfig:
    """One mailing list as configured."""

    name: str
    address: str
    description: str = ""
    visibility: str = "public"
    language: str = "fr"
    moderators: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()

    @property
    def is_private(self) -> bool:
        return self.visibility == "private"


@dataclass(frozen=True)
class Settings:
    """Everything mailgate needs to run; built by `load_settings`."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str = ""
    domain: str = "lists.example.org"
    timezone: str = "Europe/Paris"
    language: str = "fr"
    base_url: str = "http://127.0.0.1:8080"
    max_message_bytes: int = MAX_MESSAGE_BYTES
    lists: tuple[ListConfig, ...] = ()
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'mailgate.db').resolve()}"

    def list_by_name(self, name: str) -> ListConfig | None:
        return next((lst for lst in self.lists if lst.name == name), None)

    def list_by_address(self, address: str) -> ListConfig | None:
        address = address.lower()
        return next((lst for lst in self.lists if lst.address.lower() == address), None)

    def section(self, name: str) -> dict[str, Any]:
        """A later subsystem's own table (e.g. `smtp`, `web`, `relay`), empty when absent."""
        return self.sections.get(name, {})


register_keys("lists", (f.name for f in fields(ListConfig)))


def _list_from_table(table: dict[str, Any], domain: str, index: int) -> ListConfig:
    where = f"lists[{index}]"
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: 'name' is required")
    visibility = table.get("visibility", "public")
    if visibility not in VISIBILITIES:
        raise ConfigError(f"{where} ({name}): visibility must be one of {', '.join(VISIBILITIES)}")
    language = table.get("language", "fr")
    if language not in LANGUAGES:
        raise ConfigError(f"{where} ({name}): language must be one of {', '.join(LANGUAGES)}")
    return ListConfig(
        name=name.strip(),
        address=str(table.get("address") or f"{name.strip()}@{domain}").strip(),
        description=str(table.get("description", "")),
        visibility=visibility,
        language=language,
        moderators=tuple(str(m).lower() for m in table.get("moderators", ())),
        readers=tuple(str(r) for r in table.get("readers", ())),
    )


KNOWN_TOP_KEYS = {f.name for f in fields(Settings)} - {"sections", "path"}


def settings_from_dict(data: dict[str, Any], base_dir: Path | None = None) -> Settings:
    """Validate a parsed TOML document into Settings (relative paths are from `base_dir`)."""
    top = {k: v for k, v in data.items() if k in KNOWN_TOP_KEYS and k != "lists"}
    sections = {k: v for k, v in data.items() if k in KNOWN_SECTIONS}
    for name, value in sections.items():
        if not isinstance(value, dict):
            raise ConfigError(f"[{name}] must be a table")
    unknown = set(data) - KNOWN_TOP_KEYS - set(sections) - {"lists"}
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    settings = Settings(sections=sections)
    if "data_dir" in top:
        data_dir = Path(str(top["data_dir"]))
        if base_dir is not None and not data_dir.is_absolute():
            data_dir = base_dir / data_dir
        top["data_dir"] = data_dir
    if "max_message_bytes" in top and not isinstance(top["max_message_bytes"], int):
        raise ConfigError("max_message_bytes must be an integer")
    settings = replace(settings, **top)
    raw_lists = data.get("lists", [])
    if not isinstance(raw_lists, list):
        raise ConfigError("'lists' must be an array of tables ([[lists]])")
    lists = tuple(_list_from_table(t, settings.domain, i) for i, t in enumerate(raw_lists))
    names = [lst.name for lst in lists]
    if len(set(names)) != len(names):
        raise ConfigError("two lists have the same name")
    return replace(settings, lists=lists)


def find_config_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The file named on the command line, else $MAILGATE_CONFIG, else ./mailgate.toml if any."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def load_settings(explicit: str | os.PathLike[str] | None = None) -> Settings:
    """Load the configuration file (if any) and apply environment overrides."""
    path = find_config_path(explicit)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    settings = settings_from_dict(data, path.parent if path else None)
    if os.environ.get(ENV_DATABASE_URL):
        settings = replace(settings, database_url=os.environ[ENV_DATABASE_URL])
    return replace(settings, path=path)


def with_list(settings: Settings, name: str, language: str | None = None) -> Settings:
    """Settings with one more (public) list, used when an import names an unconfigured list."""
    if settings.list_by_name(name):
        return settings
    extra = ListConfig(
        name=name, address=f"{name}@{settings.domain}", language=language or settings.language
    )
    return replace(settings, lists=(*settings.lists, extra))


STARTER_CONFIG = """\
# mailgate configuration (TOML). Every key is optional; the values shown are the defaults
# unless marked "example". Environment overrides: MAILGATE_CONFIG (path of this file),
# MAILGATE_DATABASE_URL (database URL). deploy/mailgate.example.toml explains every setting.

# Where mailgate keeps its SQLite database and other state (relative to this file).
data_dir = "data"

# Database: empty means SQLite in data_dir. For PostgreSQL:
#   database_url = "postgresql+psycopg://mailgate@127.0.0.1:5432/mailgate"
database_url = ""

# The mail domain of the lists; command addresses are <list>-request@<domain>.
domain = "lists.example.org"

# Time zone and language used for dates and the interface.
timezone = "Europe/Paris"
language = "fr"

# Public address of the web archive (links in mail point here).
base_url = "http://127.0.0.1:8080"

# Largest message accepted, in bytes.
max_message_bytes = 26214400

# One [[lists]] table per mailing list (example).
[[lists]]
name = "general"
address = "general@lists.example.org"
description = "Discussions générales"
visibility = "public"      # public or private
language = "fr"            # fr or en: stemming for search and topics
moderators = []            # addresses allowed to moderate this list
"""
