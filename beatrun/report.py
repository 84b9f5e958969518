"""An athlete's page: one self-contained HTML file (inline CSS and SVG, no network).

The page shows the ramp (an SVG chart: each week's target band and, after a
review, the measured median), each week's target, dates and session, what a
review measured and its verdict, the playlists of each week and plain-language
advice from the plan's rules (:func:`beatrun.plan.review.advice`). Every string
from outside (names, song titles, artists, file names) goes through
:func:`html.escape`; the page loads nothing (no scripts, fonts, images or
style sheets from anywhere) and reads on a phone (viewport meta, one column
below 640 px).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from beatrun.cadence import bpm_bands
from beatrun.export.plans import PLAN_EVIDENCE
from beatrun.plan.model import Plan, WeekReview, target_band
from beatrun.plan.review import advice
from beatrun.text import fmt_clock


@dataclass(frozen=True)
class PageSong:
    """One song of a week's playlist as the page shows it."""

    artist: str
    title: str
    bpm: float | None
    seconds: float
    steps_per_beat: float = 1.0


@dataclass(frozen=True)
class PagePlaylist:
    """A week's playlist for the page: week number, file stem, songs, a note."""

    week: int
    name: str
    songs: tuple[PageSong, ...]
    note: str | None = None

    @property
    def minutes(self) -> float:
        return sum(s.seconds for s in self.songs) / 60.0


def page_playlist(week: int, name: str, playlist, note: str | None = None) -> PagePlaylist:
    """A :class:`PagePlaylist` from a ``beatrun.match.Playlist`` (or None: no songs)."""
    songs = ()
    if playlist is not None:
        songs = tuple(
            PageSong(str(m.track.artist or ""), str(m.track.title or ""), m.bpm, m.duration_s,
                     m.steps_per_beat)
            for m in playlist.entries
        )
    return PagePlaylist(week, name, songs, note)


_CSS = """
:root{--ink:#1d2430;--muted:#5b6575;--line:#d9dee7;--band:#ffe2b8;--plan:#1f6feb;
--held:#1a7f37;--partly:#b58100;--not:#c62828;--none:#8a94a6;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1040px;margin:0 auto;padding:16px}
h1{font-size:1.5rem;margin:.2em 0}h2{font-size:1.15rem;margin:1.4em 0 .5em}
.sub{color:var(--muted);margin:0 0 1em}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:12px 14px}
.advice li{margin:.25em 0}
svg{width:100%;height:auto;display:block}
.weeks{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px}
.week h3{margin:0 0 .2em;font-size:1.05rem;display:flex;justify-content:space-between;
gap:8px;align-items:baseline}
.dates{color:var(--muted);font-size:.9rem;margin:0 0 .5em}
.target{font-size:1.6rem;font-weight:650}.target small{font-size:.85rem;color:var(--muted);
font-weight:400}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:.5em 0 0;font-size:.92rem}
dt{color:var(--muted)}dd{margin:0}
.badge{font-size:.8rem;padding:2px 8px;border-radius:999px;color:#fff;white-space:nowrap;
background:var(--none)}
.b-held{background:var(--held)}.b-partly{background:var(--partly)}
.b-not-held{background:var(--not)}.b-upcoming{background:#fff;color:var(--muted);
border:1px solid var(--line)}
.pill{font-size:.75rem;border:1px solid var(--line);border-radius:999px;padding:1px 7px;
color:var(--muted);vertical-align:middle;font-weight:400}
.adj{margin:.5em 0 0;font-size:.88rem;color:var(--plan)}
details{margin:.4em 0}summary{cursor:pointer;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9rem}
td,th{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
footer{color:var(--muted);font-size:.85rem;margin:2em 0 1em}
@media (max-width:640px){main{padding:10px}h1{font-size:1.3rem}
.weeks{grid-template-columns:1fr}table{font-size:.85rem}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _chart(plan: Plan, reviews: dict[int, WeekReview]) -> str:
    """The ramp as inline SVG: target bands, the target line and measured medians.

    Drawn in a 640-unit-wide box with large type, so that it stays legible
    when a phone scales it to about 340 pixels.
    """
    weeks = plan.weeks
    values = [plan.start_spm, plan.goal_spm]
    for week in weeks:
        values += list(target_band(week.cadence_spm))
    values += [r.median_spm for r in reviews.values() if r.median_spm is not None]
    low, high = min(values) - 2, max(values) + 2
    width, height, left, right, top, bottom = 640, 360, 64, 8, 14, 40
    inner_w, inner_h = width - left - right, height - top - bottom
    slot = inner_w / max(1, len(weeks))
    font = 'font-size="24" fill="#5b6575"'

    def y(spm: float) -> float:
        return top + inner_h * (1 - (spm - low) / (high - low))

    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="Cadence target per week">']
    tick = next(t for t in (2, 4, 5, 10, 20, 50) if (high - low) / t <= 6)
    for spm in range(int(low // tick + 1) * tick, int(high) + 1, tick):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(spm):.1f}" '
                     f'y2="{y(spm):.1f}" stroke="#e6e9ef"/>'
                     f'<text x="{left - 8}" y="{y(spm) + 8:.1f}" text-anchor="end" {font}>'
                     f"{spm}</text>")
    label_every = max(1, -(-len(weeks) // 10))
    points = []
    for index, week in enumerate(weeks):
        x0 = left + index * slot
        band_low, band_high = target_band(week.cadence_spm)
        parts.append(f'<rect x="{x0 + 1.5:.1f}" y="{y(band_high):.1f}" width="{slot - 3:.1f}" '
                     f'height="{y(band_low) - y(band_high):.1f}" fill="#ffe2b8" rx="3"/>')
        points.append(f"{x0:.1f},{y(week.cadence_spm):.1f} {x0 + slot:.1f},"
                      f"{y(week.cadence_spm):.1f}")
        if index % label_every == 0:
            parts.append(f'<text x="{x0 + slot / 2:.1f}" y="{height - bottom + 30}" '
                         f'text-anchor="middle" {font}>{week.week}</text>')
    goal_y = y(plan.goal_spm)
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{goal_y:.1f}" y2="{goal_y:.1f}" '
                 f'stroke="#c62828" stroke-width="2" stroke-dasharray="8 6"/>'
                 f'<text x="{left + 6}" y="{goal_y - 8:.1f}" font-size="22" fill="#c62828">'
                 f"goal {plan.goal_spm}</text>")
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#1f6feb" '
                 'stroke-width="4"/>')
    colors = {"held": "#1a7f37", "partly": "#b58100", "not held": "#c62828",
              "upcoming": "#5b6575"}
    for index, week in enumerate(weeks):
        review = reviews.get(week.week)
        if review is None or review.median_spm is None:
            continue
        cx, cy = left + (index + 0.5) * slot, y(review.median_spm)
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="11" stroke-width="3" '
                     f'fill="{colors.get(review.verdict, "#5b6575")}" stroke="#fff"/>')
    parts.append("</svg>")
    return "".join(parts)


def _week_card(plan: Plan, week, review: WeekReview | None, tolerance_pct: float) -> str:
    starts, ends = plan.week_start(week.week), plan.week_end(week.week)
    band_low, band_high = target_band(week.cadence_spm)
    (_, lo1, hi1), (_, lo2, hi2) = bpm_bands(week.cadence_spm, tolerance_pct=tolerance_pct)
    verdict = review.verdict if review is not None else None
    badge = (f'<span class="badge b-{verdict.replace(" ", "-")}">{_e(verdict)}</span>'
             if verdict else "")
    session = ", ".join(f"{_e(s.name)} {s.minutes:g} min at {s.cadence_spm}"
                        for s in week.segments)
    rows = [("Band", f"{band_low}-{band_high} spm"), ("Session", session),
            ("Music", f"{lo1:.0f}-{hi1:.0f} BPM or {lo2:.0f}-{hi2:.0f} half-time")]
    if review is not None and review.runs:
        median = "-" if review.median_spm is None else f"{review.median_spm:.1f} spm"
        rows += [("Runs", str(len(review.runs))),
                 ("Running", fmt_clock(review.running_s)),
                 ("Median", median),
                 ("In band", f"{fmt_clock(review.in_band_s)} ({review.in_band_share:.0%})")]
    elif review is not None and verdict != "upcoming":
        rows.append(("Runs", "none recorded"))
    body = "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in rows)
    dates = (f'<p class="dates">{starts:%a %d %b} to {ends:%a %d %b %Y}</p>'
             if starts is not None and ends is not None else "")
    hold = ' <span class="pill">hold week</span>' if week.hold else ""
    adjustment = f'<p class="adj">{_e(week.adjustment)}</p>' if week.adjustment else ""
    return (f'<section class="card week"><h3><span>Week {week.week}</span>{badge}</h3>{dates}'
            f'<div class="target">{week.cadence_spm} <small>spm{hold}</small></div>'
            f"<dl>{body}</dl>{adjustment}</section>")


def _bpm_cell(song: PageSong) -> str:
    if song.bpm is None:
        return "-"
    steps = {2.0: " (half-time)", 0.5: " (double-time)"}.get(float(song.steps_per_beat), "")
    return f"{song.bpm:.1f}{steps}"


def _playlist_block(item: PagePlaylist, *, is_open: bool = False) -> str:
    rows = "".join(
        f"<tr><td>{_e(s.artist)}</td><td>{_e(s.title)}</td>"
        f'<td class="n">{_bpm_cell(s)}</td>'
        f'<td class="n">{fmt_clock(s.seconds)}</td></tr>'
        for s in item.songs
    )
    note = f"<p>{_e(item.note)}</p>" if item.note else ""
    table = (f'<table><thead><tr><th>Artist</th><th>Title</th><th class="n">BPM</th>'
             f'<th class="n">Time</th></tr></thead><tbody>{rows}</tbody></table>'
             if item.songs else "<p>No songs fit this week.</p>")
    return (f"<details{' open' if is_open else ''}><summary>Week {item.week}: {_e(item.name)} "
            f"({len(item.songs)} songs, "
            f"{item.minutes:.0f} min)</summary>{note}{table}</details>")


def athlete_page(
    plan: Plan,
    *,
    title: str | None = None,
    playlists: Sequence[PagePlaylist] = (),
    tolerance_pct: float = 3.0,
) -> str:
    """The athlete's page as one HTML document (a str; see the module docstring)."""
    who = title or "your cadence plan"
    reviews = {r.week: r for r in plan.reviews}
    span = ""
    if plan.start_date is not None:
        last = plan.week_end(len(plan.weeks))
        span = f", {plan.start_date:%d %b %Y} to {last:%d %b %Y}"
    summary = (f"From {plan.start_spm} to {plan.goal_spm} steps per minute in "
               f"{len(plan.weeks)} weeks{span}; {plan.sessions_per_week} runs of "
               f"{plan.minutes_per_session:g} minutes a week, at most "
               f"+{plan.max_weekly_increase_pct:g}% a week.")
    tips = "".join(f"<li>{_e(line)}</li>" for line in advice(plan))
    warnings = "".join(f"<li>{_e(w)}</li>" for w in plan.warnings)
    cards = "".join(_week_card(plan, w, reviews.get(w.week), tolerance_pct) for w in plan.weeks)
    next_week = sum(1 for r in plan.reviews if r.verdict != "upcoming") + 1
    lists = "".join(_playlist_block(p, is_open=p.week == next_week)
                    for p in sorted(playlists, key=lambda p: (p.week, p.name)))
    legend = ('<p class="sub">Weeks 1 to ' f"{len(plan.weeks)}"
              ". Blue: the target of each week; shaded: its band; dots: the median measured "
              "(green held, amber partly, red not held).</p>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Cadence plan: {_e(who)}</title><style>{_CSS}</style></head><body><main>"
        f"<h1>Cadence plan for {_e(who)}</h1><p class=\"sub\">{_e(summary)}</p>"
        f'<section class="card advice"><h2 style="margin-top:0">What to do now</h2>'
        f"<ul>{tips}</ul>{f'<ul>{warnings}</ul>' if warnings else ''}</section>"
        f'<h2>The ramp</h2><div class="card">{_chart(plan, reviews)}{legend}</div>'
        f'<h2>Week by week</h2><div class="weeks">{cards}</div>'
        + (f'<h2>Playlists</h2><div class="card">{lists}</div>' if lists else "")
        + f"<footer><p>{_e(PLAN_EVIDENCE)}</p><p>Made with beatrun.</p></footer>"
        "</main></body></html>\n"
    )
