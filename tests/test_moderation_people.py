"""Merging and splitting people through `mailgate moderate`, on both backends: the merge shows
on the profile, the person page and person-aware search (`from:`); the split undoes it; both
are in the audit log."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from mailgate import access, links, people
from mailgate.cli import main
from tests.mailfactory import make_mail
from tests.moderation_kit import add, client, search_hits
from tests.test_moderation import config, ctxs, mdb, msettings  # noqa: F401  (fixtures)

HOME = "Alice Martin <alice@example.org>"
AWAY = "Alice M. <amartin@home.example>"


def moderate(config: Path, *args: str) -> str:  # noqa: F811
    result = CliRunner().invoke(main, ["moderate", args[0], "--config", str(config), *args[1:]])
    assert result.exit_code == 0, result.output
    return result.output


def _person(db, address: str) -> int | None:  # type: ignore[no-untyped-def]
    with db.engine.connect() as conn:
        return people.person_for_address(conn, address)


def _addresses(db, settings, address: str) -> list[str]:  # type: ignore[no-untyped-def]
    with db.reader() as session:
        conn = session.connection()
        scope = access.visible_list_ids(conn, settings, access.ADMINISTRATOR)
        return people.profile(conn, settings, _person(db, address), scope=scope).addresses


def test_merge_and_split_people_take_effect(mdb, ctxs, msettings, config) -> None:  # noqa: F811
    add(mdb, ctxs["dev"], make_mail("h1@x", "Budget velo", sender=HOME, body="Le budget vélo.\n"))
    add(mdb, ctxs["dev"], make_mail("a1@x", "Atelier", sender=AWAY, body="Atelier réparation.\n"))
    assert _person(mdb, "alice@example.org") != _person(mdb, "amartin@home.example")
    assert search_hits(msettings, mdb, "from:alice@example.org") == ["h1@x"]

    moderate(config, "merge-people", "alice@example.org", "amartin@home.example", "--yes")
    assert _person(mdb, "alice@example.org") == _person(mdb, "amartin@home.example")
    assert set(_addresses(mdb, msettings, "alice@example.org")) == {
        "alice@example.org",
        "amartin@home.example",
    }
    assert sorted(search_hits(msettings, mdb, "from:alice@example.org")) == ["a1@x", "h1@x"]
    page = client(msettings, mdb).get(links.person_path(links.person_key("alice@example.org")))
    assert page.status_code == 200 and "Atelier" in page.text and "Budget" in page.text

    moderate(config, "split-person", "amartin@home.example", "--yes")
    assert _person(mdb, "alice@example.org") != _person(mdb, "amartin@home.example")
    assert search_hits(msettings, mdb, "from:alice@example.org") == ["h1@x"]
    log = moderate(config, "log")
    assert "merge-people" in log and "split-person" in log


def test_erased_person_has_no_profile_left(mdb, ctxs, msettings, config) -> None:  # noqa: F811
    add(mdb, ctxs["dev"], make_mail("e1@x", "Plan", sender="Zoe Quillard <zoe@example.org>"))
    add(mdb, ctxs["dev"], make_mail("e2@x", "Autre", sender=HOME))
    key = links.person_key("zoe@example.org")
    assert client(msettings, mdb).get(links.person_path(key)).status_code == 200
    moderate(config, "erase-person", "zoe@example.org", "--yes")
    page = client(msettings, mdb).get(links.person_path(key))
    assert page.status_code == 404
    assert "Quillard" not in client(msettings, mdb).get(links.list_path("dev")).text
    with mdb.engine.connect() as conn:
        dump = "\n".join(
            str(row)
            for table in ("persons", "person_addresses", "person_names")
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}")
        )
    assert "Quillard" not in dump and "zoe@example.org" not in dump
