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
#: A short interval session that the demo music can always fill (with an 8% stretch budget).
INTERVALS = ("warm-up=2m@160,fast 1=1m@175,easy 1=1m@160,fast 2=1m@175,easy 2=1m@160,"
             "cool-down=1m@155")
#: Fixed dates, so that the demo prints the same every day.
PLAN_START = "2026-11-02"
REVIEW_DATE = "2026-11-16"
#: The runner held week 1 (about 166 spm, target 166) and only partly held week 2.
DEMO_RUNS = {1: [166, 165, 166], 2: [163, 164, 162]}


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
    # 5. Intervals: the mix changes cadence at the planned minute, not where a song ends.
    _run(["playlist", "--segments", INTERVALS, "--stretch", "8%", "--name", "Intervals",
          "-o", str(out / "intervals.json"), "--mix", str(out / "intervals-mix.mp3")])
    # 6. A coach's 4-week ramp: weekly playlists, chart, summary, watch workouts, a page.
    plan_dir = out / "plan"
    _run(["plan", "--from", "164", "--to", "170", "--weeks", "4", "--minutes", "6",
          "--warmup", "1", "--cooldown", "1", "--start", PLAN_START,
          "--playlists", str(plan_dir), "-o", str(plan_dir / "plan.md"),
          "--workouts", "--report"])
    # 7. Two weeks later: what the watch recorded (generated runs), reviewed; the ramp adapts.
    from beatrun.activity.synth import write_plan_runs

    runs = write_plan_runs(plan_dir / "plan.json", out / "runs", DEMO_RUNS, minutes=6)
    click.echo(f"\nGenerated {len(runs)} runs (FIT, GPX, TCX) of weeks 1 and 2 in {out / 'runs'}")
    _run(["plan", "review", str(plan_dir / "plan.json"), str(out / "runs"),
          "--as-of", REVIEW_DATE, "--playlists", str(plan_dir), "--report",
          "--name", "Demo runner"])
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
