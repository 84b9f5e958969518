"""Plan writers: CSV, JSON and Markdown tables, the athlete's summary, the PNG chart.

The plan folder (plan files, weekly playlists, watch workouts, the athlete's
page) is written by :func:`beatrun.workflows.coaching.write_plan_bundle`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from beatrun.cadence import bpm_bands
from beatrun.errors import BeatrunError
from beatrun.fsutil import atomic_write

if TYPE_CHECKING:
    from beatrun.plan import Plan


def _minutes(value: float) -> str:
    """"1 minute", "2.5 minutes"."""
    return f"{value:g} minute" + ("" if value == 1 else "s")

PLAN_EVIDENCE = (
    "Raising step rate by 5-10% reduces the load on the knee (and at +10% on the hip) "
    "(Heiderscheit et al. 2011), and a +7.5% increase cued over 8 sessions still held a "
    "month later (Willy et al. 2016). No study fixes a weekly rate, so this plan rises in "
    "small steps of at most a few percent a week, with music whose beat you can follow "
    "(runners fall in with music within a few percent of their cadence)."
)


def week_dates(plan: Plan, week: int) -> str:
    """"2026-12-07 to 2026-12-13" (empty for a plan without dates)."""
    starts, ends = plan.week_start(week), plan.week_end(week)
    return "" if starts is None else f"{starts.isoformat()} to {ends.isoformat()}"


def _plan_rows(plan: Plan, *, tolerance_pct: float) -> list[dict[str, Any]]:
    rows = []
    for week in plan.weeks:
        parts = {s.name: s for s in week.segments}
        (_, lo1, hi1), (_, lo2, hi2) = bpm_bands(
            week.cadence_spm, tolerance_pct=tolerance_pct, steps_per_beat=(1, 2))
        starts, ends = plan.week_start(week.week), plan.week_end(week.week)
        rows.append({
            "week": week.week,
            "starts": "" if starts is None else starts.isoformat(),
            "ends": "" if ends is None else ends.isoformat(),
            "cadence_spm": week.cadence_spm,
            "change_spm": week.change_spm,
            "change_pct": round(week.change_pct, 1),
            "hold": "yes" if week.hold else "",
            "warmup": f"{parts['warm-up'].minutes:g} min @ {parts['warm-up'].cadence_spm}"
            if "warm-up" in parts else "",
            "main": f"{parts['main'].minutes:g} min @ {parts['main'].cadence_spm}",
            "cooldown": f"{parts['cool-down'].minutes:g} min @ {parts['cool-down'].cadence_spm}"
            if "cool-down" in parts else "",
            "music_bpm": f"{lo1:.0f}-{hi1:.0f}",
            "half_time_bpm": f"{lo2:.0f}-{hi2:.0f}",
        })
    return rows


PLAN_COLUMNS = ("week", "starts", "ends", "cadence_spm", "change_spm", "change_pct", "hold",
                "warmup", "main", "cooldown", "music_bpm", "half_time_bpm")


def plan_markdown(plan: Plan, *, tolerance_pct: float = 3.0, title: str | None = None) -> str:
    """The plan as a Markdown table with a short header."""
    lines = [
        f"# {title or 'Cadence plan'}",
        "",
        f"From {plan.start_spm} to {plan.goal_spm} steps per minute over {len(plan.weeks)} "
        f"weeks (at most +{plan.max_weekly_increase_pct:g}% a week"
        + (f", a hold week every {plan.hold_every} weeks" if plan.hold_every else "")
        + f"); {plan.sessions_per_week} sessions of {plan.minutes_per_session:g} minutes a week"
        + (f", from Monday {plan.start_date.isoformat()}." if plan.start_date is not None
           and plan.start_date.weekday() == 0 else
           f", from {plan.start_date.isoformat()}." if plan.start_date is not None else "."),
        "",
    ]
    for warning in plan.warnings:
        lines += [f"> Warning: {warning}", ""]
    dated = plan.start_date is not None
    header = ["Week", *(["Dates"] if dated else []), "Cadence (spm)", "Change", "Hold",
              "Warm-up", "Main set", "Cool-down", "Music BPM", "Half-time BPM"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---"] * len(header)) + "|")
    for row in _plan_rows(plan, tolerance_pct=tolerance_pct):
        dates = f" {row['starts']} to {row['ends']} |" if dated else ""
        lines.append(
            f"| {row['week']} |{dates} {row['cadence_spm']} | {row['change_spm']:+d} "
            f"({row['change_pct']:+.1f}%) | {row['hold']} | {row['warmup']} | {row['main']} | "
            f"{row['cooldown']} | {row['music_bpm']} | {row['half_time_bpm']} |"
        )
    return "\n".join(lines) + "\n"


def write_plan(plan: Plan, path: str | os.PathLike[str], *, tolerance_pct: float = 3.0) -> Path:
    """Write a plan as CSV, JSON or Markdown, chosen by the extension (.csv .json .md).

    The JSON is ``Plan.to_dict()``: a list ``weeks``, each with ``week``,
    ``cadence_spm`` and the session ``segments``.
    """

    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".json":
        text = json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"
    elif ext == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=PLAN_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_plan_rows(plan, tolerance_pct=tolerance_pct))
        text = buf.getvalue()
    elif ext in {".md", ".markdown"}:
        text = plan_markdown(plan, tolerance_pct=tolerance_pct)
    else:
        raise BeatrunError(
            f"cannot write a plan as {path.name!r}: use a .csv, .json or .md file name"
        )
    atomic_write(path, text, what="plan")
    return path


def plan_chart(
    plan: Plan,
    path: str | os.PathLike[str],
    *,
    tolerance_pct: float = 3.0,
    width_px: int = 900,
    height_px: int = 500,
    title: str | None = None,
) -> Path:
    """Draw the ramp as a PNG: cadence per week and the song tempo bands that serve it.

    The shaded band is the tempo of songs with a step on every beat
    (cadence +/- ``tolerance_pct``); the right axis reads the same band as
    half-time songs (BPM = cadence / 2). ``width_px`` x ``height_px`` pixels.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise BeatrunError(f"a chart is a PNG image: use a .png file name, not {path.name!r}")
    dpi = 100
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)
    weeks = [0] + [w.week for w in plan.weeks]
    cadence = [plan.start_spm] + [w.cadence_spm for w in plan.weeks]
    low = [c * (1 - tolerance_pct / 100) for c in cadence]
    high = [c * (1 + tolerance_pct / 100) for c in cadence]
    ax.fill_between(weeks, low, high, step="mid", alpha=0.25, color="tab:orange",
                    label=f"songs at cadence BPM (±{tolerance_pct:g}%)")
    ax.step(weeks, cadence, where="mid", color="tab:blue", linewidth=2)
    ax.plot(weeks, cadence, "o", color="tab:blue", label="weekly cadence target (spm)")
    holds = [(w.week, w.cadence_spm) for w in plan.weeks if w.hold]
    if holds:
        ax.plot(*zip(*holds, strict=True), "s", color="tab:green", label="hold week")
    for week, spm in zip(weeks, cadence, strict=True):
        ax.annotate(str(spm), (week, spm), textcoords="offset points", xytext=(0, 8),
                    ha="center", fontsize=8)
    ax.axhline(plan.goal_spm, color="tab:red", linestyle="--", linewidth=1,
               label=f"goal {plan.goal_spm} spm")
    ax.set_xticks(weeks, ["start"] + [str(w) for w in weeks[1:]])
    ax.set_xlabel("week")
    ax.set_ylabel("steps per minute = song BPM (1 step per beat)")
    half = ax.secondary_yaxis("right", functions=(lambda x: x / 2, lambda x: x * 2))
    half.set_ylabel("half-time song BPM (2 steps per beat)")
    ax.set_ylim(min(low) - 3, max(max(high), plan.goal_spm) + 4)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title or f"Cadence plan: {plan.start_spm} to {plan.goal_spm} spm")
    fig.tight_layout()
    from beatrun.export.charts import save_png

    save_png(fig, path, what="chart", dpi=dpi)
    return path


def plan_summary_markdown(
    plan: Plan,
    *,
    title: str | None = None,
    tolerance_pct: float = 3.0,
    chart: str | None = None,
    playlists: Any = (),
) -> str:
    """The athlete's README: the plan table, why, how to use each week, the playlists."""
    who = f" for {title}" if title else ""
    lines = [plan_markdown(plan, tolerance_pct=tolerance_pct,
                           title=f"Cadence plan{who}").rstrip("\n"), ""]
    if chart:
        lines += [f"![Cadence per week and the song tempi that serve it]({chart})", ""]
    lines += ["## Why", "", PLAN_EVIDENCE, ""]
    (_, lo1, hi1), (_, lo2, hi2) = bpm_bands(plan.final_spm, tolerance_pct=tolerance_pct)
    lines += [
        "## How to use each week",
        "",
        f"- Run {plan.sessions_per_week} sessions a week of about "
        f"{_minutes(plan.minutes_per_session)} with that week's playlist, in order.",
        f"- Warm up for {_minutes(plan.warmup_minutes)} at last week's cadence (the first "
        f"songs), run the main set at this week's cadence, and cool down for "
        f"{_minutes(plan.cooldown_minutes)} back at last week's cadence.",
        "- Land one step on every beat; with the slower, half-time songs land one step on "
        f"every half beat (songs at {lo2:.0f}-{hi2:.0f} BPM serve the same cadence as songs "
        f"at {lo1:.0f}-{hi1:.0f} BPM).",
        "- Keep your usual pace: shorter, quicker steps, not a faster run.",
        "- Hold weeks repeat last week's cadence: let it settle.",
        "- If a week feels forced, or anything hurts, repeat that week before moving on.",
        "",
    ]
    entries = list(playlists)
    if entries:
        lines += ["## Playlists", "", "| Playlist | Cadence (spm) | Songs | Minutes | Note |",
                  "|---|---|---|---|---|"]
        cadence = {w.week: w.cadence_spm for w in plan.weeks}
        for item in entries:
            wp, path = item
            songs = len(wp.playlist) if wp.playlist is not None else 0
            minutes = wp.playlist.total_s / 60 if wp.playlist is not None else 0.0
            link = f"[{Path(path).name}]({Path(path).name})" if path else "(none)"
            lines.append(f"| {link} | {cadence[wp.week]} | {songs} | {minutes:.0f} | "
                         f"{wp.note or ''} |")
        lines.append("")
    return "\n".join(lines)


def plan_history_name(week: int, *, session: int | None = None, title: str | None = None) -> str:
    """The name a plan's playlist gets in the library history: "plan Ana week 2 session 1"."""
    who = f" {title}" if title else ""
    return f"plan{who} week {week}" + (f" session {session}" if session else "")
