"""The layering rules of ARCHITECTURE, read from the source with `ast`, plus module style."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
PURE = (
    "config",
    "ids",
    "parse",
    "quoting",
    "quoting_rules",
    "quoting_index",
    "quoting_tail",
    "headers",
    "charsets",
    "mime",
    "htmltext",
    "subjects",
    "analysis",
    "query",
)
IMPURE_IMPORTS = (
    "sqlalchemy",
    "socket",
    "smtplib",
    "imapclient",
    "aiosmtpd",
    "urllib",
    "httpx",
    "starlette",
    "mailgate.db",
    "mailgate.store",
)
MAX_MODULE_LINES = 500
STDLIB_NAMES = set(sys.stdlib_module_names)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def _uses(names: set[str], prefix: str) -> bool:
    return any(n == prefix or n.startswith(prefix + ".") for n in names)


def test_pure_modules_touch_no_database_or_network() -> None:
    for name in PURE:
        imports = _imports(ROOT / "mailgate" / f"{name}.py")
        assert not [i for i in IMPURE_IMPORTS if _uses(imports, i)], name


def test_core_never_imports_entry_points_or_readers() -> None:
    for path in _modules("mailgate"):
        if path.name.startswith("cli") or "ingest" in path.parts:
            continue
        imports = _imports(path)
        for banned in ("mailgate.ingest", "digest", "web"):
            assert not _uses(imports, banned), f"{path.name} imports {banned}"


def test_web_and_digest_do_not_import_each_other() -> None:
    for package, other in (("web", "digest"), ("digest", "web")):
        for path in _modules(package):
            if path.name != "cli.py":
                assert not _uses(_imports(path), other), f"{path} imports {other}"


def test_importing_mailgate_does_not_load_the_web_stack() -> None:
    code = (
        "import sys, mailgate.cli, mailgate.pipeline; "
        "bad = [m for m in ('starlette', 'uvicorn', 'jinja2', 'web', 'digest') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_modules_are_documented_small_and_do_not_shadow_stdlib() -> None:
    for package in ("mailgate", "digest", "web"):
        for path in _modules(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert ast.get_docstring(tree), f"{path} has no module docstring"
            assert len(path.read_text().splitlines()) <= MAX_MODULE_LINES, path
            assert path.stem not in STDLIB_NAMES or path.stem == "__init__", path


def test_every_command_module_imports_on_its_own() -> None:
    """A `mailgate.cli_*` module imported first (by a script or a test) is not a circular
    import: they share `mailgate.cli_runtime`, which imports none of them."""
    names = sorted(p.stem for p in (ROOT / "mailgate").glob("cli_*.py"))
    assert "cli_serve" in names
    for name in names:
        code = f"import mailgate.{name}"
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
