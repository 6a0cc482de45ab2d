"""The archive commands through click's CliRunner on both backends: init, import (mbox, gzip,
Maildir), re-import, threads, quarantine, rebuild, and clear errors for bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailgate.cli import main
from tests.conftest import DATA, FRENCH
from tests.mailfactory import make_mail

SAMPLE = DATA / "openwrt-sample.mbox.gz"


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "mailgate.toml"
    path.write_text(
        f'data_dir = "data"\ndatabase_url = "{database_url}"\ndomain = "lists.example.org"\n'
        '[[lists]]\nname = "dev"\n[[lists]]\nname = "rse-pilotes"\n'
        'address = "rse-pilotes@listes.groupe-exemple.example"\n',
        encoding="utf-8",
    )
    return path


def run(config: Path, *args: str):
    result = CliRunner().invoke(
        main,
        [*args[:2], "--config", str(config), *args[2:]]
        if args[0] == "quarantine"
        else [args[0], "--config", str(config), *args[1:]],
    )
    return result


def test_import_reimport_and_threads(config: Path) -> None:
    first = run(config, "import", str(SAMPLE), "--list", "dev", "--json", "--jobs", "1")
    assert first.exit_code == 0, first.output
    counts = json.loads(first.output)
    assert counts["imported"] + counts["duplicates"] + counts["quarantined"] == 169
    assert counts["quarantined"] == 0
    again = run(config, "import", str(SAMPLE), "--list", "dev", "--json")
    assert json.loads(again.output) == {"imported": 0, "duplicates": 169, "quarantined": 0}
    threads = run(config, "threads", "--list", "dev", "--json")
    assert threads.exit_code == 0
    rows = [json.loads(line) for line in threads.output.splitlines()]
    assert sum(len(r["messages"]) for r in rows) == counts["imported"]
    for row in rows:
        assert set(row) >= {"thread_id", "messages"}
        for m in row["messages"]:
            assert m["link"] in ("references", "thread-index", "subject", "root")


def test_import_into_unconfigured_list_creates_it(config: Path) -> None:
    result = run(
        config,
        "import",
        str(FRENCH / "innovation.mbox"),
        "--list",
        "nouvelle",
        "--json",
        "--jobs",
        "1",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["imported"] == 45
    assert run(config, "threads", "--list", "nouvelle", "--json").exit_code == 0


def test_maildir_and_plain_mbox(config: Path, tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new" / "1.eml").write_bytes(make_mail("m1@x", "Un"))
    (maildir / "cur" / "2.eml").write_bytes(make_mail("m2@x", "Re: Un", in_reply_to="m1@x"))
    result = run(config, "import", str(maildir), "--list", "dev", "--json")
    assert json.loads(result.output)["imported"] == 2
    mbox = tmp_path / "x.mbox.gz"
    body = make_mail("m3@x", "mboxrd", body="Texte\n>From the archive\nFrom here\n")
    escaped = body.replace(b"\n>From ", b"\n>>From ").replace(b"\nFrom here", b"\n>From here")
    mbox.write_bytes(gzip.compress(b"From x@y Mon Mar  3 09:00:00 2025\n" + escaped + b"\n"))
    result = run(config, "import", str(mbox), "--list", "dev", "--json")
    assert json.loads(result.output)["imported"] == 1


def test_quarantine_list_and_retry(config: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x00\x01 not mail at all\n")
    result = run(config, "import", str(junk), "--list", "dev", "--json")
    assert json.loads(result.output)["quarantined"] == 1
    listing = run(config, "quarantine", "list", "--json")
    entries = json.loads(listing.output)
    assert len(entries) == 1 and entries[0]["reason"]
    retry = run(config, "quarantine", "retry")
    assert retry.exit_code == 0 and "0 of 1 archived" in retry.output
    missing = run(config, "quarantine", "retry", "999")
    assert missing.exit_code != 0 and "999" in missing.output


def test_rebuild_gives_the_same_threads(config: Path) -> None:
    run(config, "import", str(FRENCH / "rse-pilotes.mbox"), "--list", "rse-pilotes", "--jobs", "1")
    before = run(config, "threads", "--list", "rse-pilotes", "--json").output
    result = run(config, "rebuild", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "30 messages" in result.output
    after = run(config, "threads", "--list", "rse-pilotes", "--json").output

    def shape(output: str) -> set:
        return {
            frozenset((m["message_id"], m["parent"], m["link"]) for m in json.loads(t)["messages"])
            for t in output.splitlines()
        }

    assert shape(before) == shape(after)
    search = run(config, "rebuild", "--search")
    assert search.exit_code == 0 and "30 messages" in search.output, search.output


def test_clear_errors(config: Path, tmp_path: Path) -> None:
    not_mbox = tmp_path / "notes.txt"
    not_mbox.write_text("hello\n")
    assert run(config, "threads", "--list", "nope").exit_code == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("lists = 3\n[[", encoding="utf-8")
    result = CliRunner().invoke(main, ["threads", "--config", str(bad), "--list", "dev"])
    assert result.exit_code == 1 and "not valid TOML" in result.output
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(
        main, ["import", "--config", str(config), "/nonexistent", "--list", "dev"]
    )
    assert missing.exit_code == 2


def test_init_writes_starter_config(tmp_path: Path) -> None:
    target = tmp_path / "conf" / "mailgate.toml"
    result = CliRunner().invoke(main, ["init", "--config", str(target)])
    assert result.exit_code == 0, result.output
    assert "[[lists]]" in target.read_text()
    again = CliRunner().invoke(main, ["init", "--config", str(target)])
    assert again.exit_code == 1 and "--force" in again.output


def test_demo_imports_the_bundled_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    CliRunner().invoke(main, ["init"])
    result = CliRunner().invoke(main, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "imported 5" in result.output
    assert "thread-index" in result.output
