"""The CLI's shape: help everywhere, clean errors, fast start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from beatrun.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, cmd in group.commands.items():
        full = f"{prefix}{name}"
        found.append((full, cmd))
        if isinstance(cmd, click.Group):
            found.extend(_commands(cmd, full + " "))
    return found


def test_every_command_has_help_and_is_in_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name, cmd in _commands(cli):
        assert (cmd.help or "").strip(), f"command {name!r} has no help text"
        assert f"beatrun {name}" in readme, f"README does not show `beatrun {name}`"
        result = CliRunner().invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0, result.output


def test_help_does_not_import_heavy_modules():
    code = (
        "import sys; from beatrun.cli import cli\n"
        "heavy = [m for m in ('librosa', 'numba', 'spotipy', 'matplotlib', 'rich', 'av',"
        " 'mutagen', 'numpy', 'pedalboard') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "beatrun" in result.output
