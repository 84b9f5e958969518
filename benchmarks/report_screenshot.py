"""Render an athlete's page in headless Chromium at desktop and phone width.

Builds a dated plan, generated runs (held, partly, not held, a week without
runs), a review with the adjusted plan, weekly playlists from made-up songs
(titles with HTML in them, to see the escaping), writes the page and takes
two screenshots. Look at them.

    python benchmarks/report_screenshot.py [OUT_DIR]

Needs Debian's ``chromium`` (``apt-get install chromium``); prints a clear
line and exits 0 when it is missing. Chromium is started with networking
features off and a fresh profile; the page itself loads nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from beatrun.activity.synth import week_runs, write_runs  # noqa: E402
from beatrun.models import Track  # noqa: E402
from beatrun.plan import make_plan, plan_playlists  # noqa: E402
from beatrun.report import athlete_page, page_playlist  # noqa: E402
from beatrun.workflows.coaching import measure_activities  # noqa: E402

SIZES = {"desktop": (1280, 2900), "phone": (390, 2000)}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def fake_tracks(count: int = 80, seed: int = 5) -> list[Track]:
    rng = random.Random(seed)
    tracks = []
    for i in range(count):
        bpm = rng.uniform(155, 180) if i % 3 else rng.uniform(78, 90)
        title = f"Song {i:02d}" if i % 7 else f"<b>Loud</b> & \"quoted\" {i}"
        tracks.append(Track(id=i + 1, source="local", path=f"/music/{i}.mp3",
                            artist=f"Artist {i % 9}", title=title,
                            duration_s=round(rng.uniform(150, 260), 1), tag_bpm=round(bpm, 2),
                            bpm=round(bpm, 2)))
    return tracks


def build_page(folder: Path) -> Path:
    from beatrun.plan import review_plan

    plan = make_plan(start_spm=162, goal_spm=172, weeks=6, hold_every=3,
                     start_date=dt.date(2026, 11, 2))
    runs = week_runs(plan, {1: [165, 166, 164], 2: [165, 166], 3: [161, 160, 162]})
    measured = measure_activities([str(p) for p in write_runs(folder / "runs", runs)])
    review = review_plan(plan, measured.reports, as_of=dt.date(2026, 11, 30))
    adjusted = review.adjusted
    lists = plan_playlists(adjusted, fake_tracks())
    page = athlete_page(adjusted, title="Ana <Ortiz> & Co", playlists=[
        page_playlist(wp.week, wp.name, wp.playlist, wp.note) for wp in lists])
    out = folder / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


def screenshot(browser: str, page: Path, png: Path, size: tuple[int, int]) -> None:
    profile = tempfile.mkdtemp(prefix="beatrun-chromium-")
    try:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
             f"--screenshot={png}", f"--window-size={size[0]},{size[1]}", page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="report-"))
    out.mkdir(parents=True, exist_ok=True)
    page = build_page(out)
    print(f"page: {page} ({page.stat().st_size} bytes)")
    browser = chromium()
    if browser is None:
        print("chromium is not installed (apt-get install chromium): no screenshots taken")
        return 0
    for name, size in SIZES.items():
        png = out / f"report-{name}.png"
        screenshot(browser, page, png, size)
        print(f"{name:8s} {size[0]}x{size[1]}: {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
