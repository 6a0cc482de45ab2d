"""The `[smtp]` and `[imap]` settings: every key documented in deploy/mailgate.example.toml,
the example itself valid, passwords read from the environment or a file, clear errors."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from mailgate.config import ConfigError, load_settings
from mailgate.ingest import imap_config as imap_module
from mailgate.ingest import smtp as smtp_module
from mailgate.ingest.imap_config import imap_config, read_password
from mailgate.ingest.smtp import smtp_config

EXAMPLE = Path(__file__).parent.parent / "deploy" / "mailgate.example.toml"


def _section(text: str, header: str) -> str:
    start = text.index(header)
    following = re.search(r"^\[", text[start + len(header) :], re.M)
    return text[start : start + len(header) + following.start()] if following else text[start:]


def test_every_setting_is_documented_in_the_example() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for header, keys in (
        ("[smtp]", smtp_module._SMTP_KEYS),
        ("[imap]", set(imap_module._GLOBAL_KEYS) - {"sources"}),
        ("[[imap.sources]]", imap_module._SOURCE_KEYS),
    ):
        section = _section(text, header)
        for key in keys:
            assert re.search(rf"^{key} = .*# \S", section, re.M), f"{header} {key} undocumented"


def test_the_example_is_a_valid_configuration() -> None:
    settings = load_settings(EXAMPLE)
    assert smtp_config(settings).port == 2525
    source = imap_config(settings).sources[0]
    assert (source.list_name, source.port, source.tls) == ("general", 993, True)


def test_passwords_come_from_the_environment_or_a_file(tmp_path, monkeypatch) -> None:
    settings = load_settings(EXAMPLE)
    source = imap_config(settings).sources[0]
    monkeypatch.delenv("MAILGATE_IMAP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="MAILGATE_IMAP_PASSWORD is not set"):
        read_password(source)
    monkeypatch.setenv("MAILGATE_IMAP_PASSWORD", "s3cret")
    assert read_password(source) == "s3cret"
    (tmp_path / "pw").write_text("from-file\n")
    from_file = replace(source, password_env="", password_file=tmp_path / "pw")
    assert read_password(from_file) == "from-file"


def test_relative_paths_are_from_the_configuration_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "mailgate.toml"
    config.parent.mkdir()
    config.write_text('[smtp]\ntls_cert = "tls/cert.pem"\ntls_key = "tls/key.pem"\n')
    assert smtp_config(load_settings(config)).tls_cert == tmp_path / "conf" / "tls" / "cert.pem"
