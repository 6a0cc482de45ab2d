"""`mailgate search` through click's CliRunner on both backends: text and JSON output, --list,
--limit, paging with --cursor, --as/--anonymous against a private list, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailgate.cli import main
from tests.conftest import FRENCH

JSON_KEYS = {"message_id", "thread_id", "list", "subject", "from", "date", "snippet"}


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "mailgate.toml"
    path.write_text(
        f'data_dir = "data"\ndatabase_url = "{database_url}"\n'
        'domain = "listes.groupe-exemple.example"\n'
        '[[lists]]\nname = "rse-pilotes"\n'
        '[[lists]]\nname = "comite-direction"\nvisibility = "private"\nreaders = ["alice"]\n',
        encoding="utf-8",
    )
    for name in ("rse-pilotes", "comite-direction"):
        done = run(path, "import", str(FRENCH / f"{name}.mbox"), "--list", name, "--jobs", "1")
        assert done.exit_code == 0, done.output
    return path


def run(config: Path, command: str, *args: str):
    return CliRunner().invoke(main, [command, "--config", str(config), *args])


def test_json_hits(config: Path) -> None:
    result = run(config, "search", "bilan carbone", "--json", "--limit", "3")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert 0 < len(hits) <= 3
    for hit in hits:
        assert set(hit) >= JSON_KEYS
        assert hit["list"] == "rse-pilotes"
        assert hit["date"].endswith("Z")
        for start, end in hit["highlights"]:
            assert hit["snippet"][start:end].lower().startswith(("bilan", "carbon"))


def test_text_output_and_pages(config: Path) -> None:
    first = run(config, "search", "list:rse-pilotes", "--limit", "4", "--order", "newest")
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("30 matching messages")
    cursor = first.stderr.split("--cursor ")[1].strip()
    second = run(config, "search", "list:rse-pilotes", "--limit", "4", "--order", "newest",
                 "--cursor", cursor, "--json")  # fmt: skip
    assert second.exit_code == 0, second.output
    assert len(json.loads(second.stdout)) == 4


def test_lists_and_viewers(config: Path) -> None:
    def found(*args: str) -> set[str]:
        result = run(config, "search", "", "--json", "--limit", "100", *args)
        assert result.exit_code == 0, result.output
        return {hit["list"] for hit in json.loads(result.stdout)}

    assert found() == {"rse-pilotes", "comite-direction"}  # the administrator sees all
    assert found("--list", "comite-direction") == {"comite-direction"}
    assert found("--as", "alice") == {"rse-pilotes", "comite-direction"}
    assert found("--as", "bob") == {"rse-pilotes"}
    assert found("--anonymous") == {"rse-pilotes"}
    assert found("--anonymous", "--list", "comite-direction") == set()
    assert run(config, "search", "budget", "--threads", "--json").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (('"budget',), "invalid query: unclosed quote starting at position 1"),
        (("form:x",), 'did you mean "from:"'),
        (("budget", "--list", "nope"), "unknown list 'nope'"),
        (("budget", "--cursor", "garbage"), "invalid query: this page link is invalid"),
        (("budget", "--as", "x", "--anonymous"), "either --as USER or --anonymous"),
    ],
)
def test_errors_are_one_clear_line(config: Path, args: tuple[str, ...], message: str) -> None:
    result = run(config, "search", *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
