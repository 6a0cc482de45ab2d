"""The ``[search]`` settings table, parsed and validated into `SearchSettings`.

Called by `mailgate.search` on every search (parsing a small dict is cheap) and by
`mailgate check`-style tools; every key is documented in ``deploy/mailgate.example.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from mailgate.config import ConfigError, Settings, register_keys

LIMITS = {
    "rank_window": (10, 100_000),
    "count_limit": (10, 1_000_000),
    "recency_half_life_days": (1.0, 36_500.0),
    "recency_weight": (0.0, 100.0),
    "max_page_size": (1, 1_000),
}


@dataclass(frozen=True)
class SearchSettings:
    """How search ranks and counts.

    rank_window: relevance ranks at most this many of the newest matches; beyond, results
      continue newest first (keeps a very common word fast).
    count_limit: totals are exact up to this many matches, then estimated.
    recency_half_life_days: age at which the recency boost is half of its full value.
    recency_weight: the boost of a brand-new message (1.0 doubles its relevance; 0 turns
      recency off in relevance order).
    max_page_size: the largest page a caller may ask for.
    """

    rank_window: int = 1_000
    count_limit: int = 1_000
    recency_half_life_days: float = 180.0
    recency_weight: float = 1.0
    max_page_size: int = 100


register_keys("search", (f.name for f in fields(SearchSettings)))


def search_settings(settings: Settings) -> SearchSettings:
    """The validated ``[search]`` table (defaults for missing keys)."""
    table = settings.section("search")
    known = {f.name: f for f in fields(SearchSettings)}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"[search]: unknown setting(s): {', '.join(unknown)}")
    values = {}
    for name, value in table.items():
        expected = int if isinstance(known[name].default, int) else float
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or (expected is int and not isinstance(value, int)):
            raise ConfigError(
                f"[search] {name} must be a{'n integer' if expected is int else ' number'}"
            )
        low, high = LIMITS[name]
        if not low <= value <= high:
            raise ConfigError(f"[search] {name} must be between {low} and {high}")
        values[name] = expected(value)
    return SearchSettings(**values)
