"""`mailgate web` and its settings: password hashes, [web] validation with clear errors, the
trusted-proxy rule, and the server answering on a real loopback socket (CliRunner + uvicorn)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from mailgate.cli import main
from mailgate.config import ConfigError, Settings
from web.auth import hash_password, verify_password
from web.settings import web_settings

SERVE_TIMEOUT = 20.0


def test_hash_password_command_makes_a_verifiable_hash() -> None:
    result = CliRunner().invoke(
        main, ["web", "hash-password", "alice", "--stdin"], input="s3cret\n"
    )
    assert result.exit_code == 0, result.output
    name, _, quoted = result.output.strip().partition(" = ")
    assert name == "alice"
    stored = quoted.strip('"')
    assert stored.startswith("scrypt$") and verify_password("s3cret", stored)
    assert not verify_password("other", stored)
    web = web_settings(Settings(sections={"web": {"users": {"alice": stored}}}))
    assert web.users == {"alice": stored}


def test_password_hash_formats() -> None:
    assert verify_password("pw", hash_password("pw"))
    assert not verify_password("pw", "scrypt$garbage")
    assert not verify_password("pw", "plain-text")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"port": "80"}, "port"),
        ({"trusted_proxies": ["not-an-ip"]}, "trusted_proxies"),
        ({"users": {"alice": "plaintext"}}, "hash-password"),
        ({"colour": "blue"}, "unknown"),
        ({"obfuscate_addresses": "yes"}, "obfuscate_addresses"),
        ({"page_size": 0}, "page_size"),
    ],
)
def test_bad_web_settings_are_named(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        web_settings(Settings(sections={"web": table}))


def test_trusted_proxies_match_addresses_and_networks() -> None:
    web = web_settings(
        Settings(sections={"web": {"trusted_proxies": ["127.0.0.1", "10.1.0.0/16"]}})
    )
    assert web.trusts("127.0.0.1") and web.trusts("10.1.2.3")
    assert not web.trusts("10.2.0.1") and not web.trusts("testclient") and not web.trusts(None)


def test_bad_config_is_one_line_error(tmp_path: Path) -> None:
    config = tmp_path / "mailgate.toml"
    config.write_text(f'data_dir = "{tmp_path}"\n[web]\nport = "x"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["web", "--config", str(config)])
    assert result.exit_code != 0
    assert "port must be an integer" in result.output and "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_mailgate_web_serves(tmp_path: Path) -> None:
    port = _free_port()
    config = tmp_path / "mailgate.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[[lists]]\nname = "dev"\n[web]\nhost = "127.0.0.1"\n',
        encoding="utf-8",
    )
    command = [str(Path(sys.executable).parent / "mailgate"), "web", "--config", str(config)]
    server = subprocess.Popen([*command, "--port", str(port)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("mailgate web did not start")
                time.sleep(0.05)  # polling a condition with a deadline
    finally:
        server.terminate()
        server.wait(SERVE_TIMEOUT)
    assert response.status_code == 200 and 'href="/l/dev/"' in response.text
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "server" not in response.headers


def test_every_web_setting_is_documented() -> None:
    from web.settings import KEYS

    example = (Path(__file__).parent.parent / "deploy" / "mailgate.example.toml").read_text()
    section = example.split("[web]", 1)[1]
    for key in KEYS - {"users"}:
        assert re.search(rf"^{key} = ", section, re.M), key
    assert "[web.users]" in section and "mailgate web hash-password" in section


def test_example_web_section_is_valid() -> None:
    import tomllib

    example = (Path(__file__).parent.parent / "deploy" / "mailgate.example.toml").read_text()
    web = web_settings(Settings(sections={"web": tomllib.loads(example)["web"]}))
    assert web.port == 8080 and web.obfuscate_addresses and web.users == {}


def test_web_service_starts_and_stops_in_a_running_loop(tmp_path: Path) -> None:
    import asyncio
    from types import SimpleNamespace

    from mailgate.db import open_database
    from web.cli import start_web

    settings = Settings(
        data_dir=tmp_path, sections={"web": {"host": "127.0.0.1", "port": _free_port()}}
    )
    db = open_database(settings)

    async def run() -> int:
        service = await start_web(SimpleNamespace(settings=settings, db=db))
        assert service.describe().startswith("web listening on 127.0.0.1:")
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://{service.address}/")
        await service.stop()
        return response.status_code

    try:
        assert asyncio.run(run()) == 200
    finally:
        db.dispose()


def test_web_service_disabled_or_port_taken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio
    from types import SimpleNamespace

    from web.cli import start_web

    off = Settings(data_dir=tmp_path, sections={"web": {"enabled": False}})
    assert asyncio.run(start_web(SimpleNamespace(settings=off, db=None))) is None
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = Settings(data_dir=tmp_path, sections={"web": {"port": port}})
        assert asyncio.run(start_web(SimpleNamespace(settings=taken, db=None))) is None
    assert "web archive not started" in caplog.text


def test_mailgate_serve_runs_the_archive(tmp_path: Path) -> None:
    from tests.services import MailgateProcess

    config = tmp_path / "mailgate.toml"
    config.write_text(
        f'data_dir = "{tmp_path}"\n[[lists]]\nname = "dev"\n[smtp]\nport = 0\n[web]\nport = 0\n',
        encoding="utf-8",
    )
    server = MailgateProcess("serve", "--config", str(config)).start(expect=("smtp", "web"))
    try:
        response = httpx.get(f"http://127.0.0.1:{server.ports['web']}/l/dev/", timeout=10)
        assert response.status_code == 200 and "script-src 'self'" in response.text + str(
            response.headers
        )
    finally:
        assert server.terminate() == 0
