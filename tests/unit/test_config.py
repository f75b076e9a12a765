# SPDX-License-Identifier: GPL-2.0-or-later
"""Settings: defaults, LKML_* variables, the config file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from lkml_assistant.config import ConfigFileError, ConfigFileMissingError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("LKML_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def test_defaults_follow_kernel_org(tmp_path):
    settings = load_settings()
    assert settings.patchwork_url == "https://patchwork.kernel.org"
    assert settings.patchwork_api_version == "1.3"
    assert settings.patchwork_api_url == "https://patchwork.kernel.org/api/1.3"
    assert settings.lore_url == "https://lore.kernel.org"
    assert settings.projects == ["rust-for-linux"]
    assert settings.sqlite_path.is_absolute()
    assert str(settings.sqlite_path).startswith(str(tmp_path / "data"))


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("LKML_PATCHWORK_URL", "http://127.0.0.1:8000/")
    monkeypatch.setenv("LKML_PROJECTS", "netdevbpf, linux-pwm,")
    monkeypatch.setenv("LKML_STORE", f"sqlite:///{tmp_path}/s.db")
    monkeypatch.setenv("LKML_USER_AGENT_EXTRA", "(me@example.org)")
    settings = load_settings()
    assert settings.patchwork_url == "http://127.0.0.1:8000"
    assert settings.projects == ["netdevbpf", "linux-pwm"]
    assert settings.sqlite_path == tmp_path / "s.db"
    assert settings.user_agent_extra == "(me@example.org)"


def test_config_file_is_read_and_env_wins(monkeypatch, tmp_path):
    config = tmp_path / "lkml.toml"
    config.write_text('projects = ["linux-pwm"]\nlore_url = "http://127.0.0.1:9/"\n')
    monkeypatch.setenv("LKML_CONFIG", str(config))
    assert load_settings().projects == ["linux-pwm"]
    assert load_settings().lore_url == "http://127.0.0.1:9"
    monkeypatch.setenv("LKML_PROJECTS", "netdevbpf")
    assert load_settings().projects == ["netdevbpf"]


def test_missing_config_file_named_explicitly_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LKML_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigFileMissingError, match=r"nope\.toml"):
        load_settings()


def test_a_config_file_that_is_not_toml_is_an_error_naming_it(monkeypatch, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('projects = ["netdevbpf"\n')
    monkeypatch.setenv("LKML_CONFIG", str(path))
    with pytest.raises(ConfigFileError, match=r"config\.toml is not valid TOML"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LKML_PATCHWORK_URL", "patchwork.kernel.org", "http"),
        ("LKML_PATCHWORK_API_VERSION", "latest", "1.3"),
        ("LKML_STORE", "sqlite:///", "no file"),
        ("LKML_STORE", "postgres://x", "sqlite"),
        ("LKML_PROJECTS", ",", "no project"),
        ("LKML_PROJECTS", "net dev", "link name"),
        ("LKML_PATCHWORK_TIMEZONE", "Mars/Olympus", "time zone"),
        ("LKML_REQUEST_INTERVAL", "-1", "greater than or equal"),
    ],
)
def test_bad_values_say_what_is_wrong(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        load_settings()


def test_settings_are_not_read_at_import_time():
    source = Path(__import__("lkml_assistant.config").config.__file__).read_text()
    assert "\nsettings = " not in source
