"""Display names: which spelling to show, and names compared for merge proposals (pure).

Called by `mailgate.people.upkeep` (a person's shown name) and `mailgate.people.proposals`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mailgate.analysis import fold

_SPLIT_RE = re.compile(r"[\s._,;\-–—()\"'<>]+")
MIN_NAME_TOKENS = 2


def name_tokens(name: str) -> frozenset[str]:
    """The folded words of a name, order ignored: "DUPONT Jean" == "jean.dupont"."""
    name = name.split("@")[0]
    return frozenset(t for t in _SPLIT_RE.split(fold(name)) if len(t) > 1)


def _quality(name: str) -> int:
    """Higher for names written like "Jean Dupont" than "DUPONT Jean" or "jean.dupont"."""
    score = 0
    if " " in name.strip():
        score += 2
    if "@" not in name and "." not in name:
        score += 1
    words = name.split()
    if words and not any(w.isupper() and len(w) > 1 for w in words):
        score += 1
    if words and all(w[:1].isupper() for w in words):
        score += 1
    return score


def best_name(seen: Iterable[tuple[str, int]], fallback: str) -> str:
    """The best-looking, then most used, of the (name, count) pairs; else the fallback's
    local part."""
    ranked = sorted(
        ((_quality(n), c, n) for n, c in seen if n.strip()), key=lambda x: (-x[0], -x[1], x[2])
    )
    return ranked[0][2].strip() if ranked else fallback.split("@")[0]
