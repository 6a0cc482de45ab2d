"""An independent References/In-Reply-To grouping to compare mailgate's threads against.

Plain union-find over every Message-ID a message names (its own, In-Reply-To, References),
written without mailgate's parser; used by tests and bench/import.py.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterable

_IDS = re.compile(r"<([^<>\s]+)>")


def _find(parent: dict[str, str], item: str) -> str:
    root = item
    while parent.setdefault(root, root) != root:
        root = parent[root]
    while parent[item] != root:
        parent[item], item = root, parent[item]
    return root


def reference_groups(raws: Iterable[bytes]) -> dict[str, str]:
    """Message-ID -> group key, grouping messages linked by References/In-Reply-To."""
    parent: dict[str, str] = {}
    own_ids: list[str] = []
    for raw in raws:
        msg = email.message_from_bytes(raw)
        mine = _IDS.findall(str(msg.get("Message-ID", "")))
        if not mine:
            continue
        own_ids.append(mine[0])
        refs = _IDS.findall(" ".join(str(v) for v in msg.get_all("References", [])))
        refs += _IDS.findall(" ".join(str(v) for v in msg.get_all("In-Reply-To", [])))
        for ref in refs:
            a, b = _find(parent, mine[0]), _find(parent, ref)
            if a != b:
                parent[a] = b
    return {mid: _find(parent, mid) for mid in own_ids}


def compare(groups: dict[str, str], threads: dict[str, int]) -> tuple[int, int, int]:
    """(reference groups, groups split across several threads, threads joining groups)."""
    by_group: dict[str, set[int]] = {}
    by_thread: dict[int, set[str]] = {}
    for mid, group in groups.items():
        if mid in threads:
            by_group.setdefault(group, set()).add(threads[mid])
            by_thread.setdefault(threads[mid], set()).add(group)
    split = sum(1 for tids in by_group.values() if len(tids) > 1)
    joined = sum(1 for gs in by_thread.values() if len(gs) > 1)
    return len(by_group), split, joined
