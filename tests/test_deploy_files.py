"""The files under deploy/ agree with the code: configurations are valid, the services the
systemd units and the container name exist, Postfix accepts its settings, the proxy header
nginx sets is the one the archive reads, and the Dockerfile copies what exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import mailgate.cli
from mailgate.cli_ops import validate_sections
from mailgate.config import load_settings
from mailgate.ingest.gateway import service_names
from tests.conftest import service_missing
from web.settings import web_settings

ROOT = Path(__file__).parent.parent
DEPLOY = ROOT / "deploy"
SERVE_FLAGS = re.compile(r"serve(?:\"?,)?\s+\"?--(only|without)\"?,?\s+\"?([\w,]+)")


def _service_lists(text: str) -> list[str]:
    return [name for _flag, names in SERVE_FLAGS.findall(text) for name in names.split(",")]


def test_units_and_compose_name_only_registered_services() -> None:
    known = set(service_names())
    files = [*(DEPLOY / "systemd").glob("*.service"), DEPLOY / "container" / "compose.yaml"]
    named = {name for path in files for name in _service_lists(path.read_text())}
    assert {"smtp", "lmtp", "imap", "web"} <= named
    assert named - known <= {"digest", "commands"}, named - known  # workers of other packages


def test_unit_commands_exist() -> None:
    commands = mailgate.cli.main.commands
    for path in (DEPLOY / "systemd").glob("*.service"):
        for line in re.findall(
            r"^Exec\w*=/opt/mailgate/bin/mailgate (\w+)", path.read_text(), re.M
        ):
            assert line in commands, f"{path.name}: mailgate {line} does not exist"


def test_container_configuration_is_valid() -> None:
    settings = load_settings(DEPLOY / "container" / "mailgate.toml")
    validate_sections(settings)
    assert str(settings.data_dir) == "/var/lib/mailgate/data"


def test_nginx_sets_the_header_the_archive_trusts() -> None:
    header = web_settings(load_settings(DEPLOY / "mailgate.example.toml")).proxy_user_header
    conf = (DEPLOY / "nginx" / "mailgate.conf").read_text()
    assert f'proxy_set_header {header} "";' in conf  # a browser cannot send its own
    assert f"proxy_set_header {header} $remote_user;" in conf


def test_dockerfile_copies_what_exists() -> None:
    text = (DEPLOY / "container" / "Dockerfile").read_text()
    for sources in re.findall(r"^COPY (.+) \S+$", text, re.M):
        for source in sources.split():
            assert (ROOT / source).exists(), source


def test_postfix_accepts_the_example_settings(tmp_path: Path) -> None:
    postconf = shutil.which("postconf") or "/usr/sbin/postconf"
    if not Path(postconf).exists():
        service_missing("postfix is not installed (Debian package postfix)")
    shutil.copy(DEPLOY / "postfix" / "main.cf", tmp_path / "main.cf")
    shutil.copy("/etc/postfix/master.cf", tmp_path / "master.cf")
    done = subprocess.run(
        [postconf, "-c", str(tmp_path), "-n"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr
    settings = dict(line.split(" = ", 1) for line in done.stdout.splitlines() if " = " in line)
    assert settings["transport_maps"] == "hash:/etc/postfix/transport"
    transport = (DEPLOY / "postfix" / "transport").read_text()
    domain = settings["relay_domains"]
    assert re.search(rf"^{re.escape(domain)}\s+lmtp:inet:127\.0\.0\.1:2424$", transport, re.M)
