"""People through its interfaces, on both backends: the `mailgate people` commands (JSON
shapes, clear errors and exit codes) and the web archive's person pages (profile shown,
addresses obfuscated for anonymous readers, nothing from private lists)."""

from __future__ import annotations

import base64
import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailgate import links
from mailgate.cli import main
from mailgate.models import MailingList, Message, MessageList
from tests.webarchive import PASSWORDS, PRIVATE, Site, site_factory

__all__ = ["site_factory"]
GARNIER = "philippe.garnier@groupe-exemple.example"  # writes on the private list only
GIRARD = "thomas.girard@groupe-exemple.example"  # on public lists and the private one


def basic(user: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{PASSWORDS[user]}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def site(site_factory, backend) -> Site:
    return site_factory(backend)


def _config(site: Site, tmp_path) -> str:
    lists = "".join(
        f'[[lists]]\nname = "{lst.name}"\naddress = "{lst.address}"\n'
        f'visibility = "{lst.visibility}"\nreaders = {json.dumps(list(lst.readers))}\n'
        for lst in site.settings.lists
    )
    path = tmp_path / "mailgate.toml"
    path.write_text(
        f'database_url = "{site.settings.db_url}"\ndomain = "{site.settings.domain}"\n{lists}',
        encoding="utf-8",
    )
    return str(path)


def test_cli_show_who_knows_related_and_errors(site, tmp_path) -> None:
    config = _config(site, tmp_path)
    runner = CliRunner()
    shown = runner.invoke(main, ["people", "show", GARNIER, "--json", "--config", config])
    assert shown.exit_code == 0, shown.output
    profile = json.loads(shown.output)
    assert GARNIER in profile["addresses"] and PRIVATE in profile["lists"]
    anonymous = runner.invoke(
        main, ["people", "show", GIRARD, "--json", "--anonymous", "--config", config]
    )
    assert PRIVATE not in json.loads(anonymous.output)["lists"]
    hidden = runner.invoke(main, ["people", "show", GARNIER, "--anonymous", "--config", config])
    assert hidden.exit_code == 1 and "no visible message" in hidden.output
    ranked = runner.invoke(main, ["people", "who-knows", "bilan carbone", "--json",
                                  "--config", config])  # fmt: skip
    experts = json.loads(ranked.output)
    assert experts and set(experts[0]) == {"person_id", "name", "score", "evidence"}
    assert experts[0]["evidence"] and experts[0]["score"] >= experts[-1]["score"]
    related = runner.invoke(main, ["people", "related", GARNIER, "--json", "--config", config])
    assert related.exit_code == 0 and isinstance(json.loads(related.output), list)
    unknown = runner.invoke(main, ["people", "show", "nobody@nowhere.example", "--config", config])
    assert unknown.exit_code == 1 and "nobody writes from" in unknown.output
    bad = runner.invoke(main, ["people", "who-knows", '"open', "--config", config])
    assert bad.exit_code == 1 and "invalid query" in bad.output and "Traceback" not in bad.output


def test_cli_merge_split_undo(site, tmp_path) -> None:
    config = _config(site, tmp_path)
    runner = CliRunner()
    a, b = "claire.martin@groupe-exemple.example", "c.martin@groupe-exemple.example"
    merged = runner.invoke(main, ["people", "merge", a, b, "--actor", "t", "--config", config])
    assert merged.exit_code == 0, merged.output
    change = re.search(r"change (\d+)", merged.output).group(1)
    again = runner.invoke(main, ["people", "merge", a, b, "--config", config])
    assert again.exit_code == 1 and "cannot be merged with itself" in again.output
    undone = runner.invoke(main, ["people", "undo", change, "--config", config])
    assert undone.exit_code == 0 and "undone" in undone.output
    proposed = runner.invoke(main, ["people", "proposals", "--json", "--config", config])
    # an undone merge was a mistake: the pair is not proposed again
    assert not any(set(p["addresses"]) == {a, b} for p in json.loads(proposed.output))
    split = runner.invoke(main, ["people", "split", a, "--config", config])
    assert split.exit_code == 1 and "already a person of its own" in split.output


def _private_mids(site: Site) -> set[str]:
    """Messages only on the private list."""
    ml = MessageList.__table__
    lid = select(MailingList.id).where(MailingList.name == PRIVATE).scalar_subquery()
    with site.db.reader() as session:
        only = session.execute(
            select(Message.message_id).where(
                Message.id.in_(select(ml.c.message_pk).where(ml.c.list_id == lid)),
                ~Message.id.in_(select(ml.c.message_pk).where(ml.c.list_id != lid)),
            )
        )
        return set(only.scalars())


def test_person_page_shows_the_profile_without_leaks(site) -> None:
    url = links.person_path(links.person_key(GIRARD))
    anonymous = site.client().get(url)
    assert anonymous.status_code == 200
    page = anonymous.text
    assert "Sujets" in page or "Topics" in page
    assert GIRARD not in page and PRIVATE not in page
    assert not any(links.message_path(mid) in page for mid in _private_mids(site))
    alice = site.client().get(url, headers=basic("alice"))
    assert alice.status_code == 200 and PRIVATE in alice.text and GIRARD in alice.text
    only_private = links.person_path(links.person_key(GARNIER))
    assert site.client().get(only_private).status_code == 404
