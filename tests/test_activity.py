"""Measured cadence: generated FIT, GPX and TCX files with a known cadence."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from beatrun.activity import ActivityError, measure_cadence
from beatrun.errors import BeatrunError

T0 = dt.datetime(2024, 5, 1, 6, 0, 0, tzinfo=dt.UTC)
LAT0, LON0 = 52.0, 4.0


def activity_points(
    *,
    run_spm: float = 171.0,
    run_speed: float = 3.2,
    walk_spm: float = 110.0,
    walk_speed: float = 1.4,
    minutes: float = 12.0,
    irregular: bool = True,
) -> list[dict]:
    """A run with a walking break and a stop: known steps per minute while running.

    Layout: run 5 min, walk 2 min, stop 1 min (zero speed, zero cadence), run
    the rest. While running, each minute spends 30 s at ``run_spm``, 15 s at
    2 spm below and 15 s at 2 spm above (median and mean ``run_spm``).
    Sampling is irregular (gaps of 1, 2, 1, 3 s) to check time weighting.
    """
    points, t, dist = [], 0.0, 0.0
    gaps = [1.0, 2.0, 1.0, 3.0] if irregular else [1.0]
    i = 0
    while t < minutes * 60:
        minute = t / 60
        if 5 <= minute < 7:
            spm, speed = walk_spm, walk_speed
        elif 7 <= minute < 8:
            spm, speed = 0.0, 0.0
        else:
            phase = t % 60
            wobble = 0.0 if phase < 30 else (-2.0 if phase < 45 else 2.0)
            spm, speed = run_spm + wobble, run_speed
        points.append({"t": t, "spm": spm, "speed": speed, "dist": dist})
        gap = gaps[i % len(gaps)]
        dist += speed * gap
        t += gap
        i += 1
    return points


def _latlon(dist_m: float) -> tuple[float, float]:
    return LAT0 + dist_m / 111_195.0, LON0


def write_fit(path: Path, points: list[dict], *, sessions: tuple = (), timer: tuple = ()) -> Path:
    """A FIT activity.

    ``sessions`` holds (sport name, start s, end s) session messages; ``timer``
    holds (seconds, event type name such as "start" or "stop_all") timer events,
    written in time order among the records.
    """
    from fit_tool.fit_file_builder import FitFileBuilder
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.profile_type import FileType, Manufacturer

    t0_ms = round(T0.timestamp()) * 1000
    builder = FitFileBuilder(auto_define=True, min_string_size=50)
    file_id = FileIdMessage()
    file_id.type = FileType.ACTIVITY
    file_id.manufacturer = Manufacturer.GARMIN.value
    file_id.product = 0
    file_id.time_created = t0_ms
    file_id.serial_number = 0x1234
    builder.add(file_id)
    records = []
    events = sorted(timer)
    for p in points:
        while events and events[0][0] <= p["t"]:
            records.append(_timer_event(t0_ms, *events.pop(0)))
        rec = RecordMessage()
        rec.timestamp = t0_ms + round(p["t"] * 1000)
        per_foot = p["spm"] / 2.0
        rec.cadence = int(per_foot)
        rec.fractional_cadence = per_foot - int(per_foot)
        rec.speed = p["speed"]
        rec.distance = p["dist"]
        records.append(rec)
    records += [_timer_event(t0_ms, *event) for event in events]
    builder.add_all(records)
    if sessions:
        from fit_tool.profile.messages.session_message import SessionMessage
        from fit_tool.profile.profile_type import Sport

        for sport, start, end in sessions:
            session = SessionMessage()
            session.timestamp = t0_ms + round(end * 1000)
            session.start_time = t0_ms + round(start * 1000)
            session.total_elapsed_time = float(end - start)
            session.sport = sport if isinstance(sport, int) else Sport[sport.upper()]
            builder.add(session)
    builder.build().to_file(str(path))
    return path


def _timer_event(t0_ms: int, seconds: float, kind: str):
    from fit_tool.profile.messages.event_message import EventMessage
    from fit_tool.profile.profile_type import Event, EventType

    event = EventMessage()
    event.timestamp = t0_ms + round(seconds * 1000)
    event.event = Event.TIMER
    event.event_type = EventType[kind.upper()]
    return event


def write_gpx(path: Path, points: list[dict]) -> Path:
    rows = []
    for p in points:
        lat, lon = _latlon(p["dist"])
        stamp = (T0 + dt.timedelta(seconds=p["t"])).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(
            f'<trkpt lat="{lat:.7f}" lon="{lon:.7f}"><ele>1.0</ele><time>{stamp}</time>'
            f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>150</gpxtpx:hr>"
            f"<gpxtpx:cad>{p['spm'] / 2:.0f}</gpxtpx:cad></gpxtpx:TrackPointExtension>"
            f"</extensions></trkpt>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        "<trk><name>Morning run</name><trkseg>" + "".join(rows) + "</trkseg></trk></gpx>",
        encoding="utf-8",
    )
    return path


def write_tcx(path: Path, points: list[dict], *, tag: str = "RunCadence") -> Path:
    rows = []
    for p in points:
        stamp = (T0 + dt.timedelta(seconds=p["t"])).strftime("%Y-%m-%dT%H:%M:%SZ")
        lat, lon = _latlon(p["dist"])
        cad = f"{p['spm'] / 2:.0f}"
        plain = f"<Cadence>{cad}</Cadence>" if tag == "Cadence" else ""
        ext = (
            f"<ns3:TPX><ns3:Speed>{p['speed']}</ns3:Speed><ns3:RunCadence>{cad}"
            "</ns3:RunCadence></ns3:TPX>" if tag == "RunCadence"
            else f"<ns3:TPX><ns3:Speed>{p['speed']}</ns3:Speed></ns3:TPX>"
        )
        rows.append(
            f"<Trackpoint><Time>{stamp}</Time><Position><LatitudeDegrees>{lat:.7f}"
            f"</LatitudeDegrees><LongitudeDegrees>{lon:.7f}</LongitudeDegrees></Position>"
            f"<DistanceMeters>{p['dist']:.1f}</DistanceMeters>{plain}"
            f"<Extensions>{ext}</Extensions></Trackpoint>"
        )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<TrainingCenterDatabase xmlns="http://www.garmin.com/xmlschemas/'
        'TrainingCenterDatabase/v2" xmlns:ns3="http://www.garmin.com/xmlschemas/'
        'ActivityExtension/v2"><Activities><Activity Sport="Running"><Id>2024-05-01T06:00:00Z'
        '</Id><Lap StartTime="2024-05-01T06:00:00Z"><Track>' + "".join(rows)
        + "</Track></Lap></Activity></Activities></TrainingCenterDatabase>",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def points():
    return activity_points()


@pytest.mark.parametrize("fmt", ["fit", "gpx", "tcx", "tcx-cadence"])
def test_known_cadence_measured_within_1_spm(tmp_path, points, fmt):
    writer = {"fit": write_fit, "gpx": write_gpx, "tcx": write_tcx,
              "tcx-cadence": lambda p, pts: write_tcx(p, pts, tag="Cadence")}[fmt]
    # even cadence so that GPX/TCX whole per-foot values are exact
    path = writer(tmp_path / f"run.{fmt.split('-')[0]}", points)
    report = measure_cadence(path)
    assert abs(report.median_spm - 171.0) <= 1.0, report
    assert report.format == fmt.split("-")[0].upper()
    # 12 minutes recorded, 9 of them running, 2 walking, 1 stopped
    assert report.total_s == pytest.approx(720, abs=5)
    assert report.running_s == pytest.approx(540, abs=5)
    assert report.walking_s == pytest.approx(120, abs=5)
    assert report.stopped_s == pytest.approx(60, abs=5)
    # running 9 min at 3.2 m/s and walking 2 min at 1.4 m/s
    assert report.distance_m == pytest.approx(9 * 60 * 3.2 + 120 * 1.4, rel=0.02)
    assert report.notes == ()


def test_fit_fractional_cadence_counts(tmp_path):
    # 85.5 strides per minute per foot -> 171 spm exactly, only with fractional_cadence
    pts = [{"t": float(t), "spm": 171.0, "speed": 3.0, "dist": 3.0 * t} for t in range(300)]
    report = measure_cadence(write_fit(tmp_path / "frac.fit", pts))
    assert report.median_spm == pytest.approx(171.0, abs=0.05)
    assert report.cadence_bands[3].label == "170-180"
    assert report.cadence_bands[3].share == pytest.approx(1.0)
    assert [b.label for b in report.pace_bands] == ["5:30-6:00"]  # 3.0 m/s = 5:33 min/km


def test_walking_and_stops_do_not_pull_the_median_down(tmp_path):
    # a long walk (40% of the time) and a long stop: the running median stays put
    pts, t, dist = [], 0.0, 0.0
    for minute in range(20):
        if minute < 8:
            spm, speed = 104.0, 1.3
        elif minute < 10:
            spm, speed = 0.0, 0.0
        else:
            spm, speed = 176.0, 3.5
        for _ in range(30):
            pts.append({"t": t, "spm": spm, "speed": speed, "dist": dist})
            t += 2.0
            dist += speed * 2.0
    report = measure_cadence(write_fit(tmp_path / "walky.fit", pts))
    assert report.median_spm == pytest.approx(176.0, abs=0.5)
    assert report.walking_s == pytest.approx(480, abs=3)
    assert report.stopped_s == pytest.approx(120, abs=3)


def test_irregular_sampling_is_time_weighted(tmp_path):
    # 10 min at 160 spm sampled every 10 s, then 10 min at 180 spm sampled every 1 s:
    # a per-sample median would say 180, the time-weighted one sits at the boundary.
    pts, t = [], 0.0
    while t < 600:
        pts.append({"t": t, "spm": 160.0, "speed": 3.0, "dist": 3.0 * t})
        t += 10.0
    while t < 1200:
        pts.append({"t": t, "spm": 180.0, "speed": 3.0, "dist": 3.0 * t})
        t += 1.0
    report = measure_cadence(write_fit(tmp_path / "irregular.fit", pts))
    assert report.mean_spm == pytest.approx(170.0, abs=0.5)
    shares = {b.label: round(b.share, 2) for b in report.cadence_bands}
    assert shares["160-170"] == pytest.approx(0.5, abs=0.02)
    assert shares[">=180"] == pytest.approx(0.5, abs=0.02)


def test_pauses_are_not_counted(tmp_path):
    pts = [{"t": float(t), "spm": 170.0, "speed": 3.0, "dist": 3.0 * t} for t in range(120)]
    pts += [{"t": 3600.0 + t, "spm": 170.0, "speed": 3.0, "dist": 360.0 + 3.0 * t}
            for t in range(120)]
    report = measure_cadence(write_fit(tmp_path / "paused.fit", pts))
    assert report.total_s == pytest.approx(240, abs=2)


def test_report_to_dict_is_json(tmp_path, points):
    data = measure_cadence(write_tcx(tmp_path / "run.tcx", points)).to_dict()
    text = json.dumps(data)
    assert json.loads(text)["cadence_bands"][0]["band"] == "<150"
    assert data["median_spm"] == pytest.approx(171.0, abs=1.0)


# ---------------------------------------------------------------------------
# Bad input: one clear line, nothing else.
# ---------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(BeatrunError,
                       match=r"^activity file .*nope\.fit does not exist; check the path$"):
        measure_cadence(tmp_path / "nope.fit")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.gpx"
    path.write_bytes(b"")
    with pytest.raises(ActivityError, match="is empty; export the activity again"):
        measure_cadence(path)


def test_not_an_activity_file(tmp_path):
    path = tmp_path / "song.fit"
    path.write_bytes(b"ID3\x03\x00" + bytes(200))
    with pytest.raises(ActivityError) as err:
        measure_cadence(path)
    assert str(err.value) == f"{path} is not a FIT, GPX or TCX activity file"


def test_corrupt_fit(tmp_path, points):
    good = write_fit(tmp_path / "good.fit", points).read_bytes()
    bad = tmp_path / "bad.fit"
    bad.write_bytes(good[: len(good) // 2])  # truncated: header says more data follows
    with pytest.raises(ActivityError, match=r"is a damaged FIT file .*; export the activity again"):
        measure_cadence(bad)
    assert (tmp_path / "good.fit").read_bytes() == good  # nothing touched


def test_corrupt_gpx(tmp_path):
    path = tmp_path / "bad.gpx"
    path.write_text('<?xml version="1.0"?><gpx version="1.1"><trk><trkseg><trkpt lat="1"',
                    encoding="utf-8")
    with pytest.raises(ActivityError, match="is a damaged GPX file"):
        measure_cadence(path)


def test_no_cadence_data(tmp_path):
    pts = [{"t": float(t), "spm": 170.0, "speed": 3.0, "dist": 3.0 * t} for t in range(60)]
    path = write_gpx(tmp_path / "nocad.gpx", pts)
    path.write_text(path.read_text().replace("<gpxtpx:cad>85</gpxtpx:cad>", ""))
    with pytest.raises(ActivityError, match="has no cadence data; record with a watch or foot pod"):
        measure_cadence(path)


def test_only_walking(tmp_path):
    pts = [{"t": float(t), "spm": 100.0, "speed": 1.3, "dist": 1.3 * t} for t in range(60)]
    with pytest.raises(ActivityError, match="has no running time"):
        measure_cadence(write_tcx(tmp_path / "walk.tcx", pts))


# ---------------------------------------------------------------------------
# Real devices: other sports, multi-sport files, exports from apps.
# ---------------------------------------------------------------------------


def _steady(spm: float, speed: float, start: float, seconds: int, dist0: float = 0.0) -> list:
    return [{"t": start + t, "spm": spm, "speed": speed, "dist": dist0 + speed * t}
            for t in range(seconds)]


def test_fit_cycling_activity_is_not_a_run(tmp_path):
    # 85 rpm pedalling would read as 170 "spm": say it is a ride instead
    pts = _steady(170.0, 8.0, 0.0, 300)
    path = write_fit(tmp_path / "ride.fit", pts, sessions=(("cycling", 0.0, 299.0),))
    with pytest.raises(ActivityError) as err:
        measure_cadence(path)
    assert str(err.value) == (
        f"{path} is a cycling activity, not a run: its cadence counts pedal turns, not steps; "
        "measure a running activity instead"
    )


def test_fit_multisport_counts_the_running_session_only(tmp_path):
    # a brick: 5 min on the bike at 90 rpm (read as 180), then 5 min running at 166 spm
    pts = _steady(180.0, 9.0, 0.0, 300) + _steady(166.0, 3.0, 300.0, 300, dist0=2700.0)
    path = write_fit(tmp_path / "brick.fit", pts,
                     sessions=(("cycling", 0.0, 299.0), ("running", 300.0, 599.0)))
    report = measure_cadence(path)
    assert report.median_spm == pytest.approx(166.0, abs=0.05)
    assert report.running_s == pytest.approx(300, abs=2)
    assert report.distance_m == pytest.approx(900, abs=10)


def test_fit_running_session_is_measured(tmp_path):
    pts = _steady(172.0, 3.2, 0.0, 200)
    path = write_fit(tmp_path / "run.fit", pts, sessions=(("running", 0.0, 199.0),))
    assert measure_cadence(path).median_spm == pytest.approx(172.0, abs=0.05)


def test_fit_sport_unknown_to_the_decoder_is_still_measured(tmp_path):
    # a sport number newer than fitdecode's profile: unknown, not "not a run"
    pts = _steady(174.0, 3.4, 0.0, 120)
    path = write_fit(tmp_path / "new.fit", pts, sessions=((250, 0.0, 119.0),))
    assert measure_cadence(path).median_spm == pytest.approx(174.0, abs=0.05)


def test_tcx_biking_is_not_a_run(tmp_path):
    path = write_tcx(tmp_path / "ride.tcx", _steady(170.0, 8.0, 0.0, 60))
    path.write_text(path.read_text().replace('Sport="Running"', 'Sport="Biking"'))
    with pytest.raises(ActivityError, match=r"is a cycling activity, not a run: its cadence "
                                            r"counts pedal turns, not steps"):
        measure_cadence(path)


def test_gpx_cycling_track_is_not_a_run(tmp_path):
    path = write_gpx(tmp_path / "ride.gpx", _steady(170.0, 8.0, 0.0, 60))
    path.write_text(path.read_text().replace("<name>Morning run</name>",
                                             "<name>Morning ride</name><type>cycling</type>"))
    with pytest.raises(ActivityError, match="is a cycling activity, not a run"):
        measure_cadence(path)


def test_gpx_running_type_and_v2_extension_without_prefix(tmp_path):
    # Strava/Garmin Connect: <type>running</type>, TrackPointExtension v2 as default namespace
    path = write_gpx(tmp_path / "run.gpx", _steady(168.0, 3.0, 0.0, 120))
    text = path.read_text().replace("<name>Morning run</name>",
                                    "<name>Morning run</name><type>running</type>")
    text = text.replace(
        "<gpxtpx:TrackPointExtension>",
        '<TrackPointExtension xmlns="http://www.garmin.com/xmlschemas/TrackPointExtension/v2">',
    ).replace("</gpxtpx:TrackPointExtension>", "</TrackPointExtension>")
    text = text.replace("gpxtpx:hr", "hr").replace("gpxtpx:cad", "cad")
    path.write_text(text)
    assert measure_cadence(path).median_spm == pytest.approx(168.0, abs=0.05)


def test_half_spm_median_rounds_up_for_the_plan(tmp_path):
    # 82.25 strides per foot = 164.5 spm: the plan starts at 165, not the even 164
    pts = _steady(164.5, 3.0, 0.0, 120)
    report = measure_cadence(write_fit(tmp_path / "half.fit", pts))
    assert report.median_spm == pytest.approx(164.5, abs=0.01)
    assert report.cadence_spm == 165


# ---------------------------------------------------------------------------
# Watch timer pauses (FIT) and files that already store steps per minute.
# ---------------------------------------------------------------------------


def _paused_run(pause_s: int = 25) -> list[dict]:
    """200 s at 172 spm, a pause of ``pause_s`` seconds (under the 30 s gap rule)
    whose records still show 172 spm and 3.2 m/s (distance frozen), 200 s at 164 spm."""
    pts = _steady(172.0, 3.2, 0.0, 200)
    pts += [{"t": 200.0 + t, "spm": 172.0, "speed": 3.2, "dist": 640.0} for t in range(pause_s)]
    pts += _steady(164.0, 3.2, 200.0 + pause_s, 200, dist0=640.0)
    return pts


@pytest.mark.parametrize("stop", ["stop_all", "stop"])
def test_fit_timer_stop_leaves_the_pause_out(tmp_path, stop):
    pts = _paused_run(25)
    end = pts[-1]["t"]
    path = write_fit(tmp_path / "timer.fit", pts,
                     timer=((0.0, "start"), (200.0, stop), (225.0, "start"), (end, "stop_all")))
    report = measure_cadence(path)
    # 400 s of running: the 25 s pause at 172 spm is neither running nor recorded time
    assert report.running_s == pytest.approx(400, abs=1.5)
    assert report.total_s == pytest.approx(400, abs=1.5)
    assert report.stopped_s == 0 and report.walking_s == 0
    bands = {b.label: b.seconds for b in report.cadence_bands}
    assert bands["170-180"] == pytest.approx(200, abs=1.5)
    assert bands["160-170"] == pytest.approx(200, abs=1.5)
    assert report.cadence_bands[2].share == pytest.approx(0.5, abs=0.01)
    assert report.distance_m == pytest.approx(400 * 3.2, abs=10)


def test_fit_without_timer_events_counts_a_short_gap_as_running(tmp_path):
    # the same records without timer events: nothing says it was a pause
    report = measure_cadence(write_fit(tmp_path / "no-timer.fit", _paused_run(25)))
    assert report.running_s == pytest.approx(425, abs=1.5)
    assert {b.label: b.seconds for b in report.cadence_bands}["170-180"] == pytest.approx(
        225, abs=1.5)


def test_fit_timer_never_restarted_after_a_stop(tmp_path):
    # the watch stopped at 300 s but kept writing records: they are not running time
    pts = _steady(170.0, 3.0, 0.0, 400)
    path = write_fit(tmp_path / "stopped.fit", pts, timer=((0.0, "start"), (300.0, "stop_all")))
    report = measure_cadence(path)
    assert report.running_s == pytest.approx(300, abs=1.5)


def _writer(fmt: str):
    return {"gpx": write_gpx, "tcx": write_tcx}[fmt]


@pytest.mark.parametrize("fmt", ["gpx", "tcx"])
def test_file_storing_steps_per_minute_is_not_doubled(tmp_path, fmt):
    # the exporter wrote 171 (steps per minute) where per-foot 85.5 belongs: doubled
    # it reads 342 spm, impossible for running; walking breaks were stored as 110
    pts = activity_points(run_spm=2 * 171.0, walk_spm=2 * 110.0, irregular=False)
    path = _writer(fmt)(tmp_path / f"full.{fmt}", pts)
    report = measure_cadence(path)
    assert report.median_spm == pytest.approx(171.0, abs=1.0)
    assert report.cadence_spm == 171
    assert report.running_s == pytest.approx(540, abs=5)
    assert report.walking_s == pytest.approx(120, abs=5)  # 110 spm is walking again
    bands = {b.label: b.share for b in report.cadence_bands}
    assert bands["170-180"] > 0.7 and bands[">=180"] == 0
    assert len(report.notes) == 1
    assert report.notes[0].startswith(
        "the file's cadence field already held steps per minute (doubling it gave 342 spm")
    assert json.loads(json.dumps(report.to_dict()))["notes"] == list(report.notes)


@pytest.mark.parametrize("fmt", ["gpx", "tcx"])
def test_implausible_cadence_whose_half_is_implausible_too_is_kept(tmp_path, fmt):
    # 300 per "foot" -> 600 doubled, 300 halved: neither is a running cadence, no guess
    path = _writer(fmt)(tmp_path / f"odd.{fmt}", _steady(600.0, 3.0, 0.0, 60))
    report = measure_cadence(path)
    assert report.median_spm == pytest.approx(600.0)
    assert report.notes == ()


def test_fit_cadence_is_never_halved(tmp_path):
    # FIT stores per-foot cadence by specification: the rule is for GPX/TCX exports
    report = measure_cadence(write_fit(tmp_path / "fast.fit", _steady(340.0, 3.0, 0.0, 60)))
    assert report.median_spm == pytest.approx(340.0, abs=0.05)
    assert report.notes == ()


def test_cli_prints_the_note(tmp_path):
    from click.testing import CliRunner

    from beatrun.cli import cli

    path = write_gpx(tmp_path / "full.gpx", _steady(2 * 168.0, 3.0, 0.0, 120))
    result = CliRunner().invoke(cli, ["cadence", str(path)])
    assert result.exit_code == 0, result.output
    assert "median 168.0 spm" in result.output
    assert "note: the file's cadence field already held steps per minute" in result.output
