"""An attached message (message/rfc822) is serialised, to be hashed and served, with a
policy that writes fields whose lines fit as they are: the bytes must be exactly those of the
standard compat32 serialisation, so attachment hashes and message fingerprints never change."""

from __future__ import annotations

import email
import email.errors
import random
from email.policy import compat32

from mailgate import mime
from tests.test_mimetree import _samples

POLICY = mime.ATTACHED_MESSAGE_POLICY


def _outcome(policy: object, name: str, value: str) -> tuple[str, object]:
    """What folding gives: the text, or the kind of error (surrogates cannot be encoded)."""
    try:
        return "text", policy._fold(name, value, True)  # type: ignore[attr-defined]
    except (UnicodeError, email.errors.HeaderParseError) as exc:
        return "error", type(exc)


def _fields(raws: list[bytes]) -> list[tuple[str, object]]:
    fields: list[tuple[str, object]] = []
    for raw in raws:
        for part in email.message_from_bytes(raw, policy=compat32).walk():
            fields += part.raw_items()
    return fields


def test_every_sample_field_is_written_as_compat32_writes_it() -> None:
    fields = _fields(_samples())
    assert len(fields) > 5_000
    for name, value in fields:
        for sanitize in (True, False):
            expected = compat32._fold(name, value, sanitize)
            assert POLICY._fold(name, value, sanitize) == expected, (name, value)


def _random_line(rng: random.Random, alphabet: str) -> str:
    return "".join(
        rng.choice(alphabet)
        for _ in range(rng.choice((rng.randint(0, 12), 70, 76, 78, 79, 80, rng.randint(0, 100))))
    )


def test_random_fields_are_written_as_compat32_writes_them() -> None:
    """Half the values are printable ASCII around the line limit, on one line or folded (the
    short path), half also hold line breaks, control characters, non-ASCII and surrogates
    (the standard path); lines start and end with assorted white space."""
    rng = random.Random(11)
    plain = "abcXYZ09 ,;:=<>@.\"'()-_/\t"
    mixed = plain + "\n\r\x0b\x0c\x1c\x85é€\udcff"
    spaces = ("", " ", "\t", "  ", " \t")
    for i in range(20_000):
        name = "".join(rng.choice("abcXYZ-") for _ in range(rng.randint(1, 30)))
        alphabet = plain if i % 2 else mixed
        lines = [_random_line(rng, alphabet) for _ in range(rng.choice((1, 1, 2, 3, 5)))]
        value = "\n".join(
            (rng.choice(spaces) if n else "") + line + rng.choice(spaces[:2] * 4 + spaces)
            for n, line in enumerate(lines)
        )
        assert _outcome(POLICY, name, value) == _outcome(compat32, name, value), (name, value)


def test_attached_messages_serialise_to_the_same_bytes() -> None:
    attached = 0
    for raw in _samples():
        for part in email.message_from_bytes(raw, policy=compat32).walk():
            if part.get_content_type() not in mime.CONTAINER_TYPES:
                continue
            for inner in part.get_payload() if isinstance(part.get_payload(), list) else []:
                assert inner.as_bytes(policy=POLICY) == inner.as_bytes()
                attached += 1
    assert attached >= 10
