"""Where beatrun keeps things: paths (platformdirs), settings file, environment.

Environment variables override the settings file, which overrides defaults:

- ``BEATRUN_LIBRARY``: path of the SQLite library file.
- ``BEATRUN_CONFIG``: path of the settings file (TOML).
- ``BEATRUN_CACHE_DIR``: where caches (e.g. Spotify tokens) live.

The settings file is outside input: it is read bounded (:data:`MAX_SETTINGS_BYTES`),
must be UTF-8 TOML, and every known key is checked for its type and range
(:data:`SCHEMA`); a bad file or value is one :class:`BeatrunError` line naming
the file and the key. Unknown sections and keys are ignored and reported by
:func:`settings_warnings` (a typo should not go unnoticed).
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beatrun.errors import BeatrunError

APP_NAME = "beatrun"
#: A settings file is a few lines; anything larger is not one.
MAX_SETTINGS_BYTES = 256 * 1024


@dataclass(frozen=True)
class Key:
    """One known setting: its kind ("str", "bool", "int", "float") and range."""

    kind: str
    minimum: float | None = None
    maximum: float | None = None


#: Known sections and keys of the settings file.
SCHEMA: dict[str, dict[str, Key]] = {
    "spotify": {
        "client_id": Key("str"),
        "timeout_s": Key("float", 0.001, 600.0),
        "retries": Key("int", 0, 20),
        "backoff_s": Key("float", 0.0, 600.0),
        "wait_budget_s": Key("float", 0.0, 86400.0),
    },
    "reccobeats": {
        "enabled": Key("bool"),
    },
}


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


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def check_value(value: Any, key: Key, *, name: str, where: str) -> Any:
    """``value`` checked against ``key``; BeatrunError naming ``name`` and ``where`` if not."""
    def bad(why: str) -> BeatrunError:
        return BeatrunError(f"{where}: {name} {why}; fix it")

    if key.kind == "str":
        if not isinstance(value, str):
            raise bad(f"must be a string, got {_type_name(value)}")
        return value
    if key.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in (
                "1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
        raise bad(f"must be true or false, got {str(value)[:40]!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip()) if key.kind == "float" else int(value.strip())
        except ValueError:
            raise bad(f"must be {'a whole number' if key.kind == 'int' else 'a number'}, "
                      f"got {value[:40]!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"must be a number, got {_type_name(value)}")
    if key.kind == "int" and not float(value).is_integer():
        raise bad(f"must be a whole number, got {value!r}")
    if not math.isfinite(value):
        raise bad(f"must be a finite number, got {value!r}")
    if (key.minimum is not None and value < key.minimum) or (
            key.maximum is not None and value > key.maximum):
        shown = f"{value:g}" if abs(value) < 1e15 else "a huge number"
        raise bad(f"must be between {key.minimum:g} and {key.maximum:g}, got {shown}")
    return int(value) if key.kind == "int" else float(value)


def _read_settings(path: Path) -> dict[str, Any]:
    from beatrun.fsutil import read_text

    if not path.exists() and not path.is_symlink():
        return {}
    text = read_text(path, max_bytes=MAX_SETTINGS_BYTES, what="settings file")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BeatrunError(
            f"settings file {path} is not valid TOML ({exc}); fix or remove it"
        ) from None
    except RecursionError:
        raise BeatrunError(f"settings file {path} is nested too deeply; fix or remove it") from None
    return data


def load_settings(path: Path | None = None) -> dict[str, Any]:
    """Read and check the settings file; a missing file means no settings.

    Returns ``{section: {key: value}}`` for the known keys of :data:`SCHEMA`
    (values converted to their kind). Raises :class:`BeatrunError` with the file
    and the key when the file is not UTF-8, not TOML, too large, or a known
    section or key has the wrong type or an out-of-range value.
    """
    path = path or config_path()
    data = _read_settings(path)
    checked: dict[str, dict[str, Any]] = {}
    for section, keys in SCHEMA.items():
        if section not in data:
            continue
        table = data[section]
        if not isinstance(table, dict):
            raise BeatrunError(
                f"settings file {path}: {section} must be a section ([{section}] with "
                f"key = value lines), got {_type_name(table)}; fix it"
            )
        checked[section] = {
            key: check_value(table[key], spec, name=f"{section}.{key}",
                             where=f"settings file {path}")
            for key, spec in keys.items() if key in table
        }
    return checked


def settings_warnings(path: Path | None = None) -> list[str]:
    """One line per unknown section or key of the settings file (they are ignored).

    A file that cannot be read gives no warnings here (:func:`load_settings` says why).
    """
    path = path or config_path()
    try:
        data = _read_settings(path)
    except BeatrunError:
        return []
    lines = []
    for section, table in data.items():
        if section not in SCHEMA:
            lines.append(f"settings file {path}: unknown section [{section[:60]}] ignored")
        elif isinstance(table, dict):
            for key in table:
                if key not in SCHEMA[section]:
                    known = ", ".join(SCHEMA[section])
                    lines.append(f"settings file {path}: unknown key {section}.{key[:60]} "
                                 f"ignored (known: {known})")
    return lines


def setting(section: str, key: str, default: Any = None, *, env: str | None = None) -> Any:
    """One setting: the environment variable ``env`` wins, then ``[section] key`` in the file.

    Known keys are checked (the environment's text too) and converted to their kind.
    """
    spec = SCHEMA.get(section, {}).get(key)
    if env and os.environ.get(env):
        raw = os.environ[env]
        if spec is None:
            return raw
        return check_value(raw, spec, name=env, where="environment variable")
    return load_settings().get(section, {}).get(key, default)
