"""``make demo``: beatrun's main jobs end to end on an embedded default.

Generates a small demo music folder (synthetic drum and bass songs at known
tempi, tagged like real music), then runs the real commands on it, each shown
as the line a user would type:

    python -m beatrun.demo [OUT_DIR]

Everything is written under OUT_DIR (default ``demo-output``); the library is
``OUT_DIR/library.db`` unless ``BEATRUN_LIBRARY`` says otherwise. Running it
again reuses the music and shows that an unchanged library is not analysed
twice.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import click

from beatrun.cli import cli

DEMO_SONGS = 24


def _run(args: list[str], *, allowed: tuple[int, ...] = (0,)) -> int:
    """Run one beatrun command in this process, echoing it first."""
    click.secho(f"\n$ beatrun {shlex.join(args)}", bold=True)
    try:
        code = cli.main(args, prog_name="beatrun", standalone_mode=False)
    except SystemExit as exit_:  # pragma: no cover - click may still exit
        code = exit_.code
    code = 0 if code is None else int(code)
    if code not in allowed:
        raise click.ClickException(f"demo step failed with exit code {code}: beatrun {args[0]}")
    return code


def _music(folder: Path) -> list[Path]:
    from beatrun import synth

    truth = folder / "truth.csv"
    existing = sorted(p for p in folder.glob("*") if p.suffix in {".mp3", ".flac", ".m4a", ".ogg"})
    if truth.exists() and len(existing) == DEMO_SONGS:
        click.echo(f"Reusing {len(existing)} demo songs in {folder}")
        return existing
    click.echo(f"Generating {DEMO_SONGS} demo songs (synthetic drums and bass) in {folder} ...")
    items = synth.make_demo_library(folder, count=DEMO_SONGS, seed=0)
    return [Path(item.path) for item in items]


def run_demo(out: Path) -> None:
    """Generate the demo music and run every main command on it."""
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BEATRUN_LIBRARY", str(out / "library.db"))
    songs = _music(out / "music")

    # 1. Tempo of single files.
    _run(["analyze", *(str(p) for p in songs[:4])])
    # 2. The library: scan once (a second scan skips unchanged files).
    _run(["scan", str(out / "music")])
    _run(["library", "stats"])
    _run(["library", "list", "--cadence", "170", "--limit", "8"])
    # 3. The main job: a playlist at 170 spm, warm-up and cool-down included.
    playlist_json = out / "run-170.json"
    _run(["playlist", "--segments", "2m@160,6m@170,1m@160", "--stretch", "8%",
          "--name", "Run 170", "-o", str(playlist_json)])
    _run(["playlist", "--cadence", "170", "--minutes", "8", "-o", str(out / "run-170.m3u8")])
    # 4. Stretch every song onto the cadence and make one continuous mix with a click.
    _run(["render", str(playlist_json), str(out / "rendered"), "--format", "mp3",
          "--mix", str(out / "run-170-mix.mp3"), "--click", "--click-volume", "0.2"])
    _run(["click", "--cadence", "170", "--minutes", "0.5", "-o", str(out / "click-170.mp3")])
    # 5. A coach's 4-week ramp with weekly playlists, a chart and a summary.
    _run(["plan", "--from", "164", "--to", "170", "--weeks", "4", "--minutes", "6",
          "--warmup", "1", "--cooldown", "1", "--playlists", str(out / "plan"),
          "-o", str(out / "plan" / "plan.md")])
    click.secho(f"\nDemo finished: everything is in {out}/", bold=True)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "demo-output")
    try:
        run_demo(out)
    except click.ClickException as err:
        err.show()
        sys.exit(1)


if __name__ == "__main__":
    main()
