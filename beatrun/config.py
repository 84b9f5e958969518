"""Where beatrun keeps things: paths (platformdirs), settings file, environment.

Environment variables override the settings file, which overrides defaults:

- ``BEATRUN_LIBRARY``: path of the SQLite library file.
- ``BEATRUN_CONFIG``: path of the settings file (TOML).
- ``BEATRUN_CACHE_DIR``: where caches (e.g. Spotify tokens) live.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from beatrun.errors import BeatrunError

APP_NAME = "beatrun"


def _dirs():
    import platformdirs

    return platformdirs.PlatformDirs(APP_NAME, appauthor=False)


def data_dir() -> Path:
    """The user data directory (created on demand by writers)."""
    return Path(_dirs().user_data_dir)


def cache_dir() -> Path:
    """The user cache directory; ``BEATRUN_CACHE_DIR`` overrides it."""
    env = os.environ.get("BEATRUN_CACHE_DIR")
    return Path(env) if env else Path(_dirs().user_cache_dir)


def config_path() -> Path:
    """The settings file; ``BEATRUN_CONFIG`` overrides it."""
    env = os.environ.get("BEATRUN_CONFIG")
    return Path(env) if env else Path(_dirs().user_config_dir) / "config.toml"


def library_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The library file: ``--library`` wins, then ``BEATRUN_LIBRARY``, then the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("BEATRUN_LIBRARY")
    if env:
        return Path(env).expanduser()
    return data_dir() / "library.db"


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """Read the settings file; a missing file means no settings.

    Raises :class:`BeatrunError` with the file and line when the TOML is invalid.
    """
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BeatrunError(f"cannot read settings file {path}: {exc.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BeatrunError(
            f"settings file {path} is not valid TOML ({exc}); fix or remove it"
        ) from None


def setting(section: str, key: str, default: Any = None, *, env: str | None = None) -> Any:
    """One setting: the environment variable ``env`` wins, then ``[section] key`` in the file."""
    if env and os.environ.get(env):
        return os.environ[env]
    return load_settings().get(section, {}).get(key, default)
