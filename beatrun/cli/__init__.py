"""The ``beatrun`` command line: a thin layer over the core.

One module per command group; each command parses its options, calls one core
function and formats the result (a table by default, ``--json`` for machines).
Heavy modules are imported inside the commands that need them so that
``beatrun --help`` starts fast. A :class:`~beatrun.errors.BeatrunError` becomes
``Error: <message>`` on standard error and its exit code; no traceback.
"""

from beatrun.cli import analyze, library, plan, playlist, render, scan, spotify  # noqa: F401
from beatrun.cli.base import cli, main

__all__ = ["cli", "main"]
