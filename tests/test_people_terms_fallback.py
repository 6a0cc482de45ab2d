"""`fallback_query`: the broader OR query who-knows adds for plain multi-word questions; a
hyphenated word (extra-financier, pare-feu) is a word, a leading minus is an exclusion."""

from __future__ import annotations

import pytest

from mailgate.people.terms import fallback_query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("reporting extra-financier", "reporting OR extra OR financier"),
        ("bilan carbone", "bilan OR carbone"),
        ("bilan -carbone", None),
        ('"bilan carbone"', None),
        ("from:alice budget", None),
        ("CAPEX", None),
    ],
)
def test_fallback_query(query: str, expected: str | None) -> None:
    assert fallback_query(query, "fr") == expected
