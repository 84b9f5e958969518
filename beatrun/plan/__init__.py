"""Cadence plans: a multi-week ramp with safety caps, rosters, weekly music, reviews.

Modules (pure functions; nothing here prints):

- :mod:`beatrun.plan.model`: ``Plan``, ``PlanWeek``, ``PlanSegment``, dates,
  the week's target band, what a review measured (``WeekReview``), the
  ``plan.json`` format (``plan_from_json``).
- :mod:`beatrun.plan.ramp`: ``make_plan`` (the ramp and its caps), start dates.
- :mod:`beatrun.plan.roster`: a coach's roster TOML (``read_roster``, ``parse_roster``).
- :mod:`beatrun.plan.music`: song tempi per week (``music_bands``) and weekly
  playlists (``plan_playlists``).
- :mod:`beatrun.plan.review`: a plan against what was run, and the adjusted plan.

Workflows that read and write files (a plan folder, a roster, a review) live in
:mod:`beatrun.workflows.coaching`.
"""

from beatrun.plan.model import (
    DEFAULT_MAX_WEEKLY_INCREASE_PCT,
    MAX_PLAN_WEEKS,
    MAX_SPM,
    MAX_WEEKS,
    MIN_SPM,
    SAFE_TOTAL_INCREASE_PCT,
    TARGET_BAND_PCT,
    VERDICTS,
    Plan,
    PlanSegment,
    PlanWeek,
    RunSummary,
    WeekReview,
    plan_from_json,
    target_band,
)
from beatrun.plan.music import WeekPlaylist, music_bands, plan_playlists
from beatrun.plan.ramp import (
    check_number,
    make_plan,
    next_monday,
    parse_start_date,
    session_shape,
    weeks_needed,
)
from beatrun.plan.review import PlanReview, adjust_plan, advice, review_plan, review_weeks
from beatrun.plan.roster import (
    MAX_ATHLETES,
    RosterAthlete,
    parse_roster,
    read_roster,
    safe_folder_name,
)

__all__ = [
    "DEFAULT_MAX_WEEKLY_INCREASE_PCT", "MAX_ATHLETES", "MAX_PLAN_WEEKS", "MAX_SPM", "MAX_WEEKS",
    "MIN_SPM", "SAFE_TOTAL_INCREASE_PCT", "TARGET_BAND_PCT", "VERDICTS", "Plan", "PlanReview",
    "PlanSegment", "PlanWeek", "RosterAthlete", "RunSummary", "WeekPlaylist", "WeekReview",
    "adjust_plan", "advice", "check_number", "make_plan", "music_bands", "next_monday",
    "parse_roster", "parse_start_date", "plan_from_json", "plan_playlists", "read_roster",
    "review_plan", "review_weeks", "safe_folder_name", "session_shape", "target_band",
    "weeks_needed",
]
