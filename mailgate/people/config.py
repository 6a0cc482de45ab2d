"""The ``[people]`` settings: which addresses are safely the same, which domains belong to
the organisation, which are personal mail services (pure).

Keys (all optional):

* ``domain_aliases``: groups of domains of one organisation, e.g.
  ``[["example.com", "example.fr"]]``: ``jean@example.fr`` is merged with ``jean@example.com``.
* ``company_domains``: the organisation's own mail domains; the same display name twice in one
  of them is proposed as one person (never merged without confirmation).
* ``personal_domains``: personal mail services (webmail); an address there with the same name
  as one company address is proposed as that person.
* ``plus_separator``: the sub-address separator (default ``+``; ``""`` turns it off).

Read by `mailgate.pipeline.list_contexts` (what ingest needs) and `mailgate.people.identity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailgate.config import ConfigError, Settings, register_keys

SECTION = "people"
KEYS = register_keys(
    SECTION, ("domain_aliases", "company_domains", "personal_domains", "plus_separator")
)


@dataclass(frozen=True, slots=True)
class PeopleSettings:
    domain_aliases: tuple[tuple[str, str], ...] = ()  # (alias domain, main domain)
    company_domains: frozenset[str] = frozenset()
    personal_domains: frozenset[str] = frozenset()
    plus_separator: str = "+"


def _domains(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ConfigError(f"[people] {key} must be a list of domains")
    return [d.strip().lower() for d in value if d.strip()]


def people_settings(settings: Settings) -> PeopleSettings:
    """The validated ``[people]`` table; raises ConfigError naming the bad key."""
    table: Mapping[str, Any] = settings.section(SECTION)
    unknown = set(table) - KEYS
    if unknown:
        raise ConfigError(f"[people] unknown setting(s): {', '.join(sorted(unknown))}")
    aliases: list[tuple[str, str]] = []
    groups = table.get("domain_aliases", [])
    if not isinstance(groups, list):
        raise ConfigError("[people] domain_aliases must be a list of lists of domains")
    for group in groups:
        domains = _domains(group, "domain_aliases")
        aliases.extend((alias, domains[0]) for alias in domains[1:])
    separator = table.get("plus_separator", "+")
    if not isinstance(separator, str) or len(separator) > 1:
        raise ConfigError("[people] plus_separator must be one character or empty")
    return PeopleSettings(
        domain_aliases=tuple(aliases),
        company_domains=frozenset(_domains(table.get("company_domains", []), "company_domains")),
        personal_domains=frozenset(_domains(table.get("personal_domains", []), "personal_domains")),
        plus_separator=separator,
    )


def canonical_address(address: str, aliases: tuple[tuple[str, str], ...], plus: str = "+") -> str:
    """The key under which addresses are safely one person: lower case, sub-address tag
    removed, alias domain replaced by its main domain."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    if plus and plus in local:
        local = local.split(plus, 1)[0] or local
    for alias, main in aliases:
        if domain == alias:
            domain = main
            break
    return f"{local}@{domain}"
