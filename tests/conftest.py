"""Shared fixtures. Tests never reach the internet and never touch the user's real dirs."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """Point every beatrun path (library, config, cache) at a private temp dir."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("BEATRUN_LIBRARY", str(home / "library.db"))
    monkeypatch.setenv("BEATRUN_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("BEATRUN_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "xcache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield home


@pytest.fixture(scope="module")
def library_db(tmp_path_factory) -> Path:
    """A library of 90 tagged songs at 150-182 BPM and half-time 75-91 BPM (plan tests)."""
    from test_plan_cli import make_tracks

    from beatrun.library import Library

    path = tmp_path_factory.mktemp("lib") / "library.db"
    with Library(path) as library:
        for track in make_tracks():
            library.upsert_track(track)
    return path
