"""The settings file is outside input: one clear line for each kind of damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from beatrun import config
from beatrun.cli import cli
from beatrun.errors import BeatrunError


@pytest.fixture
def settings_file() -> Path:
    return Path(os.environ["BEATRUN_CONFIG"])


def write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def test_missing_file_means_no_settings(settings_file):
    assert not settings_file.exists()
    assert config.load_settings() == {}
    assert config.setting("spotify", "client_id", "dflt") == "dflt"


def test_good_file_is_read_and_converted(settings_file):
    write(settings_file, '[spotify]\nclient_id = "abc"\ntimeout_s = 5\nretries = 2\n'
                         'wait_budget_s = 90.5\n[reccobeats]\nenabled = true\n')
    assert config.load_settings() == {
        "spotify": {"client_id": "abc", "timeout_s": 5.0, "retries": 2, "wait_budget_s": 90.5},
        "reccobeats": {"enabled": True},
    }
    assert config.settings_warnings() == []


@pytest.mark.parametrize("content, message", [
    (b"[spotify]\nclient_id = \"caf\xe9\"\n", "is not UTF-8 text (byte 26); save it as UTF-8"),
    ("[spotify\nclient_id = 1", "is not valid TOML (Expected ']' at the end of a table "
                                "declaration (at line 1, column 9)); fix or remove it"),
    ('spotify = "x"\n', ": spotify must be a section ([spotify] with key = value lines), "
                        "got a string; fix it"),
    ("spotify = [1, 2]\n", ": spotify must be a section ([spotify] with key = value lines), "
                           "got a list; fix it"),
    ("[reccobeats]\nenabled = 3\n", ": reccobeats.enabled must be true or false, got '3'; "
                                    "fix it"),
    ("[spotify]\nclient_id = 5\n", ": spotify.client_id must be a string, got a number; fix it"),
    ("[spotify]\ntimeout_s = inf\n", ": spotify.timeout_s must be a finite number, got inf; "
                                     "fix it"),
    ("[spotify]\ntimeout_s = nan\n", ": spotify.timeout_s must be a finite number, got nan; "
                                     "fix it"),
    ("[spotify]\ntimeout_s = -1\n", ": spotify.timeout_s must be between 0.001 and 600, got -1; "
                                    "fix it"),
    ("[spotify]\nwait_budget_s = 1e300\n", ": spotify.wait_budget_s must be between 0 and "
                                           "86400, got a huge number; fix it"),
    ("[spotify]\nretries = 2.5\n", ": spotify.retries must be a whole number, got 2.5; fix it"),
    ("[spotify]\nretries = true\n", ": spotify.retries must be a number, got true/false; "
                                    "fix it"),
    ('[spotify]\nbackoff_s = "soon"\n', ": spotify.backoff_s must be a number, got 'soon'; "
                                        "fix it"),
    ("[spotify]\nretries = 99999999999999999999999\n", ": spotify.retries must be between 0 "
                                                       "and 20, got a huge number; fix it"),
])
def test_damaged_settings_are_one_line_naming_file_and_key(settings_file, content, message):
    write(settings_file, content)
    with pytest.raises(BeatrunError) as err:
        config.load_settings()
    text = str(err.value)
    assert str(settings_file) in text and text.endswith(message)
    assert "\n" not in text


def test_huge_settings_file_is_refused_without_reading_it_all(settings_file):
    write(settings_file, b"# " + b"x" * (config.MAX_SETTINGS_BYTES + 10))
    with pytest.raises(BeatrunError, match=r"is larger than 256 KiB"):
        config.load_settings()


def test_deeply_nested_settings_file_is_one_line(settings_file):
    write(settings_file, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(BeatrunError) as err:
        config.load_settings()
    assert str(settings_file) in str(err.value) and "\n" not in str(err.value)


def test_settings_file_that_is_a_folder_is_one_line(settings_file):
    settings_file.mkdir(parents=True)
    with pytest.raises(BeatrunError, match="is a folder, not a regular file"):
        config.load_settings()


def test_unknown_keys_are_ignored_and_warned(settings_file):
    write(settings_file, '[spotify]\nclientid = "abc"\n[colours]\nx = 1\n')
    assert config.load_settings() == {"spotify": {}}
    assert config.settings_warnings() == [
        f"settings file {settings_file}: unknown key spotify.clientid ignored (known: "
        "client_id, timeout_s, retries, backoff_s, wait_budget_s)",
        f"settings file {settings_file}: unknown section [colours] ignored",
    ]


def test_environment_values_are_checked_too(monkeypatch):
    monkeypatch.setenv("BEATRUN_SPOTIFY_TIMEOUT_S", "infinity")
    with pytest.raises(BeatrunError) as err:
        config.setting("spotify", "timeout_s", 15.0, env="BEATRUN_SPOTIFY_TIMEOUT_S")
    assert str(err.value) == ("environment variable: BEATRUN_SPOTIFY_TIMEOUT_S must be a "
                              "finite number, got inf; fix it")
    monkeypatch.setenv("BEATRUN_SPOTIFY_TIMEOUT_S", "2.5")
    assert config.setting("spotify", "timeout_s", 15.0, env="BEATRUN_SPOTIFY_TIMEOUT_S") == 2.5


@pytest.mark.parametrize("content, tail", [
    (b'spotify = "x"\n', "spotify must be a section ([spotify] with key = value lines), got a "
                         "string; fix it\n"),
    (b"\xff\xfe[spotify]\n", "is not UTF-8 text (byte 0); save it as UTF-8\n"),
])
def test_cli_shows_one_line_for_a_damaged_settings_file(settings_file, monkeypatch, content,
                                                       tail):
    monkeypatch.delenv("BEATRUN_SPOTIFY_CLIENT_ID", raising=False)
    write(settings_file, content)
    result = CliRunner().invoke(cli, ["spotify", "status"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: settings file {settings_file}")
    assert result.output.endswith(tail) and result.output.count("\n") == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_cli_warns_about_unknown_keys(settings_file, monkeypatch):
    monkeypatch.delenv("BEATRUN_SPOTIFY_CLIENT_ID", raising=False)
    write(settings_file, '[spotify]\nclient_id = "abc123"\nmax_retry_wait_s = 60\n')
    result = CliRunner().invoke(cli, ["spotify", "status"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith(
        f"Warning: settings file {settings_file}: unknown key spotify.max_retry_wait_s ignored")
    assert "Client ID:       abc123" in result.stdout
