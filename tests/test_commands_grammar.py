"""The email-command language (pure): keywords in English and French, where commands are found
in a message, and the arguments of `digest` and `search`."""

from __future__ import annotations

import pytest

from mailgate.commands.grammar import (
    MAX_COMMANDS,
    ArgumentError,
    DigestArgs,
    digest_args,
    language_of,
    parse_commands,
    parse_line,
    search_args,
)
from mailgate.commands.texts import TEXTS, help_text


@pytest.mark.parametrize(
    ("line", "name", "rest", "language"),
    [
        ("help", "help", "", "en"),
        ("AIDE", "help", "", "fr"),
        ("Aide.", "help", "", "fr"),
        ("search budget from:alice", "search", "budget from:alice", "en"),
        ("recherche réunion", "search", "réunion", "fr"),
        ("who knows postgres tuning", "who_knows", "postgres tuning", "en"),
        ("Qui connaît la facturation", "who_knows", "la facturation", "fr"),
        ("qui connait facturation", "who_knows", "facturation", "fr"),
        ("profile bob@example.org", "profile", "bob@example.org", "en"),
        ("profil bob@example.org", "profile", "bob@example.org", "fr"),
        ("follow", "follow", "", "en"),
        ("suivre http://a/t/3/", "follow", "http://a/t/3/", "fr"),
        ("mute", "mute", "", "en"),
        ("ignorer", "mute", "", "fr"),
        ("ne plus suivre", "unfollow", "", "fr"),
        ("digest weekly", "digest", "weekly", None),
        ("Résumé quotidien", "digest", "quotidien", "fr"),
        ("s’abonner", "subscribe", "", "fr"),
        ("se désabonner dev", "unsubscribe", "dev", "fr"),
        ("unsubscribe", "unsubscribe", "", "en"),
    ],
)
def test_keywords(line: str, name: str, rest: str, language: str | None) -> None:
    command = parse_line(line)
    assert command is not None
    assert (command.name, command.rest, command.language) == (name, rest, language)


def test_plain_sentences_are_not_commands() -> None:
    for line in ("Hello,", "Could you help me?", "searching for answers", "Merci"):
        assert parse_line(line) is None


def test_subject_then_body_lines_until_the_first_other_line() -> None:
    body = "Bonjour,\n\nsearch budget\nfollow\nThanks\nhelp\n"
    commands, skipped = parse_commands("Re: digest weekly", body)
    assert [c.name for c in commands] == ["digest", "search", "follow"]
    assert skipped == ["Bonjour,"]


def test_quotes_signatures_and_end_stop_reading() -> None:
    assert parse_commands("", "> help\nsearch x")[0] == []
    assert [c.name for c in parse_commands("", "help\n-- \nsearch x")[0]] == ["help"]
    assert [c.name for c in parse_commands("", "aide\nfin\nrecherche x")[0]] == ["help"]


def test_duplicates_and_too_many_commands() -> None:
    commands, _ = parse_commands("help", "help\n" + "".join(f"search q{n}\n" for n in range(9)))
    assert len(commands) == MAX_COMMANDS and commands[0].name == "help"
    assert [c.rest for c in commands[1:]] == ["q0", "q1", "q2", "q3"]


def test_language_is_the_first_command_that_has_one() -> None:
    commands, _ = parse_commands("digest weekly", "recherche x\nhelp")
    assert language_of(commands) == "fr"
    assert language_of(parse_commands("digest off", "")[0]) is None


def test_digest_arguments() -> None:
    assert digest_args("") == DigestArgs(None)
    assert digest_args("weekly monday 8h dev") == DigestArgs("weekly", "dev", 0, 8, "en")
    assert digest_args("hebdomadaire vendredi 17:00") == DigestArgs("weekly", None, 4, 17, "fr")
    assert digest_args("arrêt annonces") == DigestArgs("off", "annonces", None, None, "fr")
    for bad in ("weekly dev extra", "monday", "daily 99", "sometimes dev"):
        with pytest.raises(ArgumentError):
            digest_args(bad)


def test_search_arguments() -> None:
    assert search_args("--mbox budget 2025") == ("budget 2025", True)
    assert search_args("budget mbox") == ("budget", True)
    assert search_args("mbox budget") == ("budget", True)
    assert search_args("mbox") == ("mbox", False)
    assert search_args('"mbox" format') == ('"mbox" format', False)


def test_texts_exist_in_both_languages() -> None:
    assert set(TEXTS["en"]) == set(TEXTS["fr"])
    assert "recherche" in help_text("fr", "bot@x") and "search" in help_text("en", "bot@x")
    assert "dev-request@x" in help_text("en", "bot@x", "dev-request@x")


def test_every_commands_setting_is_in_the_example_configuration() -> None:
    from pathlib import Path

    example = (Path(__file__).parent.parent / "deploy" / "mailgate.example.toml").read_text()
    section = example.split("[commands]", 1)[1].split("\n[", 1)[0]
    for key in ("bot_address", "confirm_hours", "enabled", "rate_limit", "rate_window_minutes",
                "poll_seconds"):  # fmt: skip
        assert f"{key} = " in section, key
