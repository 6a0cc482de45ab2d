"""Every setting the code reads is explained in deploy/mailgate.example.toml.

The list of settings comes from the code, not from a copy kept here: the top-level keys are
the fields of `Settings`, `[[lists]]` keys the fields of `ListConfig`, and every table's keys
are what its parsing module registers with `config.register_keys` (importing every module of
mailgate, web and digest runs those registrations). A source scan checks that every table
read with `settings.section("...")` is registered, with every key read from it directly."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

from mailgate.config import KNOWN_SECTIONS, KNOWN_TOP_KEYS, SECTION_KEYS, load_settings

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "deploy" / "mailgate.example.toml"
PACKAGES = ("mailgate", "web", "digest")
_HEADER = re.compile(r"^\[\[?([\w.]+)\]\]?", re.M)


def _import_everything() -> None:
    for package in PACKAGES:
        if not (ROOT / package).is_dir():
            continue
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, f"{package}."):
            if ".migrations" not in info.name and not info.name.endswith("__main__"):
                importlib.import_module(info.name)


def example_tables() -> dict[str, str]:
    """Text of each table of the example ("" for the top level), by table name."""
    text = EXAMPLE.read_text(encoding="utf-8")
    marks = [(m.start(), m.group(1)) for m in _HEADER.finditer(text)]
    tables = {"": text[: marks[0][0] if marks else len(text)]}
    for (start, name), nxt in zip(marks, [*marks[1:], (len(text), "")], strict=True):
        tables[name] = tables.get(name, "") + text[start : nxt[0]]
    return tables


def _explained(table: str, key: str) -> bool:
    """`key = ...` is in the table with a comment on its line, or above its group of keys."""
    lines = table.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"#?\s*{re.escape(key)} = ", line):
            if " # " in line:
                return True
            above = i - 1
            while above >= 0 and re.match(r"#?\s*\w+ = ", lines[above]):
                above -= 1  # a group of keys under one explanation
            return above >= 0 and lines[above].startswith("#")
    return False


def _section_reads() -> list[tuple[str, str, str | None]]:
    """(file, table, key or None) for every `X.section("table")` and `.get("key")` on it."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                inner = node.func.value
                if node.func.attr == "section" and node.args:
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.append((path.name, arg.value, None))
                elif (
                    node.func.attr == "get"
                    and isinstance(inner, ast.Call)
                    and isinstance(inner.func, ast.Attribute)
                    and inner.func.attr == "section"
                    and isinstance(inner.args[0], ast.Constant)
                    and isinstance(node.args[0], ast.Constant)
                ):
                    found.append((path.name, inner.args[0].value, node.args[0].value))
    return found


@pytest.fixture(scope="module")
def registry() -> dict[str, frozenset[str]]:
    _import_everything()
    return dict(SECTION_KEYS)


def test_every_table_the_code_reads_registers_its_keys(registry) -> None:
    reads = _section_reads()
    assert reads, "the scan found no settings.section(...) call"
    for where, table, key in reads:
        assert table in KNOWN_SECTIONS, f"{where} reads [{table}], not in config.KNOWN_SECTIONS"
        assert table in registry, f"{where} reads [{table}] but no module registers its keys"
        if key is not None:
            assert key in registry[table], f"{where} reads [{table}] {key}, not registered"


def test_every_setting_is_explained_in_the_example(registry) -> None:
    tables = example_tables()
    wanted = {"": KNOWN_TOP_KEYS - {"lists"}, **registry}
    missing = []
    for table, keys in sorted(wanted.items()):
        if table not in tables:
            missing.append(f"[{table}] (the whole table)")
            continue
        missing += [
            f"[{table}] {key}" for key in sorted(keys) if not _explained(tables[table], key)
        ]
    assert missing == [], "undocumented in deploy/mailgate.example.toml: " + ", ".join(missing)


def test_the_example_documents_nothing_the_code_ignores(registry) -> None:
    tables = example_tables()
    for table, text in tables.items():
        known = KNOWN_TOP_KEYS if table == "" else registry.get(table)
        assert known is not None, f"the example has [{table}], which no code reads"
        if table == "web.users":
            continue  # user names, not settings
        for key in re.findall(r"^#?\s*(\w+) = ", text, re.M):
            assert key in known, f"the example's [{table}] {key} is read by no code"


def test_the_example_is_a_valid_configuration(registry) -> None:
    from mailgate.cli_ops import validate_sections

    validate_sections(load_settings(EXAMPLE))
