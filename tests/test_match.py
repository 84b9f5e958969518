"""Cadence matching and playlist building (beatrun.match), on hand-made Track rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beatrun.errors import NotEnoughMusicError, UsageError
from beatrun.match import (
    STRONG_CANDIDATE,
    LooserSetting,
    Match,
    Playlist,
    Preferences,
    Segment,
    build_playlist,
    fits,
    format_segments,
    parse_segments,
    parse_workout,
)
from beatrun.models import TempoCandidate, TempoEstimate, Track

ROOT = Path(__file__).resolve().parent.parent


def song(
    track_id: int,
    bpm: float,
    *,
    artist: str | None = None,
    duration_s: float = 200.0,
    source: str = "tag",
    candidates: tuple[tuple[float, float], ...] = (),
    confidence: float = 0.9,
    isrc: str | None = None,
) -> Track:
    tempo = None
    if candidates or source.startswith("analysis"):
        tempo = TempoEstimate(
            bpm=bpm,
            confidence=confidence,
            candidates=tuple(TempoCandidate(b, s) for b, s in candidates),
            beat_offset_s=0.25,
            beat_period_s=60.0 / bpm,
            pulse_clarity=0.8,
        )
    return Track(
        id=track_id,
        path=f"/music/{track_id}.mp3",
        artist=artist if artist is not None else f"Artist {track_id}",
        title=f"Song {track_id}",
        duration_s=duration_s,
        bpm=bpm,
        bpm_source=source,
        tempo=tempo,
        isrc=isrc,
    )


def main(minutes: float, cadence: float = 170.0) -> list[Segment]:
    return [Segment("main", minutes, cadence)]


# ---------------------------------------------------------------------------
# An independent oracle of the fit rule, for the property tests.
# ---------------------------------------------------------------------------


def tempo_options(track: Track) -> list[float]:
    options = [track.bpm]
    if track.tempo and track.bpm_source != "override":
        options += [c.bpm for c in track.tempo.candidates if c.strength >= STRONG_CANDIDATE]
    return options


def track_fits(track: Track, cadence: float, *, tol: float, stretch: float, steps) -> bool:
    for bpm in tempo_options(track):
        for s in steps:
            if abs(bpm * s / cadence - 1) * 100 <= tol + 1e-9:
                return True
            if stretch > 0 and abs(cadence / (bpm * s) - 1) * 100 <= stretch + 1e-9:
                return True
    return False


@st.composite
def libraries(draw):
    count = draw(st.integers(min_value=0, max_value=45))
    artists = draw(st.lists(st.sampled_from("ABCDEFG"), min_size=1, max_size=5, unique=True))
    tracks = []
    for i in range(count):
        bpm = draw(
            st.one_of(
                st.floats(60, 200),
                st.floats(80, 95),  # half-time material
                st.floats(150, 185),  # one step per beat
            )
        )
        candidates = ()
        if draw(st.booleans()):
            candidates = ((bpm * 2, draw(st.floats(0, 1))), (bpm / 2, draw(st.floats(0, 1))))
        tracks.append(
            song(
                i + 1,
                round(bpm, 2),
                artist=draw(st.sampled_from(artists)),
                duration_s=draw(st.floats(60, 420)),
                source=draw(st.sampled_from(["analysis", "tag", "override", "spotify"])),
                candidates=candidates,
                confidence=draw(st.floats(0, 1)),
            )
        )
    return tracks


segment_lists = st.lists(
    st.tuples(
        st.floats(0.5, 25),
        st.sampled_from([155.0, 160.0, 165.0, 170.0, 172.5, 178.0, 180.0]),
    ),
    min_size=1,
    max_size=4,
).map(lambda items: [Segment(f"seg {i}", m, c) for i, (m, c) in enumerate(items, 1)])
step_sets = st.sampled_from([(1,), (1, 2), (0.5, 1, 2), (2,), (0.5, 1)])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tracks=libraries(),
    segments=segment_lists,
    tol=st.floats(0, 6),
    stretch=st.one_of(st.just(0.0), st.floats(0, 12)),
    steps=step_sets,
    seed=st.integers(0, 2**31),
    history=st.dictionaries(st.integers(1, 45), st.integers(0, 12), max_size=10),
    liked=st.lists(st.sampled_from("ABCDEFG"), max_size=2),
)
def test_playlist_properties(tracks, segments, tol, stretch, steps, seed, history, liked):
    kwargs = dict(segments=segments, tolerance_pct=tol, stretch_pct=stretch,
                  steps_per_beat=steps, seed=seed, allow_short=True, history=history,
                  preferences=Preferences(like_artists=tuple(liked)))
    try:
        playlist = build_playlist(tracks, **kwargs)
    except NotEnoughMusicError as err:
        # Only when nothing at all fits (or the library is empty).
        assert not any(
            track_fits(t, seg.cadence_spm, tol=tol, stretch=stretch, steps=steps)
            for t in tracks for seg in segments
        ) or "only 0 of" in str(err)
        return
    entries = playlist.entries
    target = sum(seg.minutes for seg in segments) * 60

    # Every song fits its segment's cadence (tolerance or stretch) at its steps per beat.
    for m in entries:
        assert m.cadence_spm == segments[m.segment_index].cadence_spm
        assert m.segment == segments[m.segment_index].name
        assert m.steps_per_beat in steps
        assert any(abs(m.bpm - b) < 1e-9 for b in tempo_options(m.track))
        assert fits(m, tolerance_pct=tol, stretch_pct=stretch)
        assert m.exact_ratio == pytest.approx(m.cadence_spm / (m.bpm * m.steps_per_beat))
        if stretch > 0:
            assert m.stretch_ratio == m.exact_ratio
            assert (abs(m.fit_error_pct) <= tol + 1e-9
                    or abs(m.stretch_ratio - 1) * 100 <= stretch + 1e-9)
        else:
            assert m.stretch_ratio == 1.0
            assert abs(m.fit_error_pct) <= tol + 1e-9

    # Songs follow each other without gaps; segments come in order.
    for a, b in zip(entries, entries[1:], strict=False):
        assert b.start_s == pytest.approx(a.end_s)
        assert b.segment_index >= a.segment_index
    assert entries[0].start_s == 0

    # No song twice.
    ids = [m.track.id for m in entries]
    assert len(ids) == len(set(ids))

    # Length: within one song of the target, never short when the library allows it.
    total = playlist.total_s
    if not playlist.is_short:
        assert total >= target - 1e-6
        assert total - entries[-1].duration_s < target
        assert playlist.shortfall is None
    else:
        assert playlist.short_segments and playlist.shortfall.startswith("only ")
        used = set(ids)
        for seg in segments:
            if seg.name in playlist.short_segments:
                fitting = {
                    t.id for t in tracks
                    if track_fits(t, seg.cadence_spm, tol=tol, stretch=stretch, steps=steps)
                }
                assert fitting <= used, "a segment ran short while fitting songs were unused"

    # Same artist back to back only when every unused fitting song is by that artist.
    for i in range(1, len(entries)):
        prev, cur = entries[i - 1], entries[i]
        if prev.track.artist != cur.track.artist:
            continue
        used_before = {m.track.id for m in entries[:i]}
        seg = segments[cur.segment_index]
        others = [
            t for t in tracks
            if t.id not in used_before and t.artist != cur.track.artist
            and track_fits(t, seg.cadence_spm, tol=tol, stretch=stretch, steps=steps)
        ]
        assert not others, f"{cur.track.artist} twice in a row though {others[0].artist} fits"

    # Deterministic: same seed, same playlist.
    again = build_playlist(tracks, **kwargs)
    assert again.to_dict() == playlist.to_dict()


def test_seed_varies_the_choice_among_similar_songs():
    tracks = [song(i, 170.0 + (i % 5) * 0.1, duration_s=180) for i in range(1, 60)]
    orders = {
        tuple(m.track.id for m in build_playlist(tracks, segments=main(30), seed=s).entries)
        for s in range(6)
    }
    assert len(orders) > 1


# ---------------------------------------------------------------------------
# Half-time, candidates, stretch
# ---------------------------------------------------------------------------


def half_time_library(count: int = 20) -> list[Track]:
    # 84.0 to 87.5 BPM: 168 to 175 steps at two steps per beat, all within 3% of 170.
    return [song(i, 84.0 + (i % 8) * 0.5, duration_s=150.0) for i in range(1, count + 1)]


def test_half_time_songs_fill_a_170_spm_playlist():
    playlist = build_playlist(half_time_library(), segments=main(45))
    assert playlist.total_s >= 45 * 60
    assert {m.steps_per_beat for m in playlist.entries} == {2.0}
    assert all(abs(m.fit_error_pct) <= 3 for m in playlist.entries)


def test_no_half_time_fails_with_the_numbers():
    with pytest.raises(NotEnoughMusicError) as info:
        build_playlist(half_time_library(), segments=main(45), steps_per_beat=(1,))
    # 20 songs x 150 s = 50 minutes of half-time music.
    assert str(info.value) == (
        "only 0 of 45 minutes at 170 spm +/-3% without half-time songs; "
        "50 minutes with half-time songs"
    )
    # the same as data, for front ends that name their own flags
    info = info.value.shortfall
    assert (info.achieved_s, info.target_s, info.verdict) == (0.0, 2700.0, "proved")
    assert info.looser == (LooserSetting("half_time", None, 3000.0),)


def test_shortfall_message_counts_what_looser_settings_give():
    tracks = [song(i, 170.0, duration_s=180) for i in range(1, 7)]  # 18 min exact
    tracks += [song(100 + i, 177.65, duration_s=60) for i in range(13)]  # +4.5%: 13 min
    tracks += [song(200 + i, 182.8, duration_s=180) for i in range(7)]  # 7% stretch: 21 min
    with pytest.raises(NotEnoughMusicError) as info:
        build_playlist(tracks, segments=main(45))
    assert str(info.value) == (
        "only 18 of 45 minutes at 170 spm +/-3%; 52 minutes with stretch 8%; "
        "31 with tolerance 5%; pass allow_short=True to accept a shorter playlist"
    )
    short = build_playlist(tracks, segments=main(45), allow_short=True)
    assert short.shortfall == (
        "only 18 of 45 minutes at 170 spm +/-3%; 52 minutes with stretch 8%; "
        "31 with tolerance 5%"
    )
    assert short.shortfall_info.sentence(lambda looser: f"<{looser.setting}>") == (
        "only 18 of 45 minutes at 170 spm +/-3%; 52 minutes with <stretch_pct>; "
        "31 with <tolerance_pct>"
    )
    assert short.short_by_s == pytest.approx(27 * 60)
    assert len(short.entries) == 6


def test_shortfall_names_segments_that_ran_out():
    tracks = [song(i, 160.0, duration_s=240) for i in range(1, 4)]
    tracks += [song(10 + i, 172.0, duration_s=240) for i in range(30)]
    short = build_playlist(
        tracks, segments=parse_segments("20m@160,30m@172"), allow_short=True
    )
    assert short.short_segments == ("warm-up",)
    assert short.shortfall.startswith(
        "only 44 of 50 minutes for 20m@160,30m@172 +/-3% (warm-up ran out of songs); "
        "52 minutes with stretch 8%"
    )


def test_nothing_fits_anywhere_is_an_error_even_when_short_is_allowed():
    with pytest.raises(NotEnoughMusicError, match=r"^only 0 of 45 minutes at 170 spm \+/-3%; "
                       r"looser settings do not help: add songs near 170 or 85 BPM$"):
        build_playlist([song(1, 120.0)], segments=main(45), allow_short=True)


def test_empty_library_says_to_scan_first():
    with pytest.raises(NotEnoughMusicError) as info:
        build_playlist([Track(id=1, path="/x.mp3", bpm=None, duration_s=100)], segments=main(5))
    assert str(info.value) == (
        "the library has no songs with a known tempo and length; run `beatrun scan FOLDER` first"
    )


def test_strong_candidate_counts_weak_one_does_not():
    strong = song(1, 87.0, source="analysis", candidates=((174.0, 0.8),), duration_s=400)
    weak = song(2, 87.5, source="analysis", candidates=((175.0, 0.2),), duration_s=400)
    playlist = build_playlist([strong, weak], segments=main(5, 174.0), steps_per_beat=(1,))
    (only,) = playlist.entries
    assert only.track.id == 1 and only.bpm == 174.0 and only.bpm_basis == "candidate"
    assert only.beat_period_s == pytest.approx(60 / 174)


def test_override_ignores_candidates():
    track = song(1, 87.0, source="override", candidates=((174.0, 0.9),))
    with pytest.raises(NotEnoughMusicError):
        build_playlist([track], segments=main(3, 174.0), steps_per_beat=(1,))


def test_stretch_budget_gives_the_exact_ratio():
    track = song(1, 160.0, duration_s=400)
    with pytest.raises(NotEnoughMusicError):
        build_playlist([track], segments=main(5))
    playlist = build_playlist([track], segments=main(5), stretch_pct=8)
    (m,) = playlist.entries
    assert m.stretch_ratio == pytest.approx(170 / 160)
    assert m.fit_error_pct == pytest.approx((160 / 170 - 1) * 100)
    close = build_playlist([song(2, 171.0, duration_s=400)], segments=main(5))
    assert close.entries[0].stretch_ratio == 1.0
    assert close.entries[0].exact_ratio == pytest.approx(170 / 171)


def test_double_time_is_opt_in():
    fast = song(1, 340.0, duration_s=400)
    with pytest.raises(NotEnoughMusicError, match="; 6 minutes with double-time songs$"):
        build_playlist([fast], segments=main(5))
    playlist = build_playlist([fast], segments=main(5), steps_per_beat=(0.5, 1, 2))
    assert playlist.entries[0].steps_per_beat == 0.5


# ---------------------------------------------------------------------------
# Score: closeness, preferences, history; artists; duplicates
# ---------------------------------------------------------------------------


def test_closer_song_comes_first():
    tracks = [song(1, 174.5, duration_s=400), song(2, 170.2, duration_s=400)]
    assert build_playlist(tracks, segments=main(5)).entries[0].track.id == 2


def test_liked_artist_first_and_excluded_artist_never():
    tracks = [song(i, 170.0, artist=f"Band {i % 3}", duration_s=120) for i in range(1, 13)]
    prefs = Preferences(like_artists=("band 2",), exclude_artists=("BAND 0",))
    playlist = build_playlist(tracks, segments=main(6), preferences=prefs)
    artists = [m.track.artist for m in playlist.entries]
    assert artists[0] == "Band 2"
    assert "Band 0" not in artists


def test_exclude_ids():
    tracks = [song(i, 170.0, duration_s=120) for i in range(1, 5)]
    playlist = build_playlist(tracks, segments=main(4), exclude_ids=[1, 2])
    assert {m.track.id for m in playlist.entries} == {3, 4}


def test_recently_used_songs_score_lower():
    tracks = [song(1, 170.0, duration_s=300), song(2, 170.0, duration_s=300)]
    first = build_playlist(tracks, segments=main(4)).entries[0].track.id
    other = 3 - first
    again = build_playlist(tracks, segments=main(4), history={first: 0})
    assert again.entries[0].track.id == other
    old = build_playlist(tracks, segments=main(4), history={first: 50})
    assert old.entries[0].track.id == first


def test_same_artist_not_back_to_back_when_avoidable():
    tracks = [song(i, 170.0, artist="Solo", duration_s=200) for i in range(1, 4)]
    tracks += [song(i, 171.0, artist="Duo", duration_s=200) for i in range(4, 7)]
    playlist = build_playlist(tracks, segments=main(19))
    artists = [m.track.artist for m in playlist.entries]
    assert len(artists) == 6
    assert all(a != b for a, b in zip(artists, artists[1:], strict=False))


def test_same_recording_from_two_sources_is_used_once():
    local = song(1, 170.0, isrc="USABC1234567", duration_s=200)
    remote = song(2, 170.0, isrc="usabc1234567", duration_s=200).with_(
        source="spotify", path=None, spotify_uri="spotify:track:x"
    )
    playlist = build_playlist([local, remote], segments=main(6), allow_short=True)
    assert len(playlist.entries) == 1


def test_missing_files_and_tracks_without_length_are_ignored():
    tracks = [
        song(1, 170.0).with_(missing=True),
        song(2, 170.0).with_(duration_s=None),
        song(3, 170.0, duration_s=300),
    ]
    playlist = build_playlist(tracks, segments=main(5))
    assert [m.track.id for m in playlist.entries] == [3]


# ---------------------------------------------------------------------------
# Segments, workouts
# ---------------------------------------------------------------------------


def test_segments_each_song_in_its_segment_and_the_length_fits():
    tracks = []
    for cadence, base in ((160, 0), (172, 100), (155, 200)):
        tracks += [song(base + i, cadence, duration_s=170 + 7 * i) for i in range(1, 15)]
    shape = parse_segments("8m@160,30m@172,5m@155")
    playlist = build_playlist(tracks, segments=shape)
    assert [s.name for s in playlist.segments] == ["warm-up", "main", "cool-down"]
    for m in playlist.entries:
        assert m.cadence_spm == {"warm-up": 160, "main": 172, "cool-down": 155}[m.segment]
    assert playlist.total_s >= 43 * 60 > playlist.total_s - playlist.entries[-1].duration_s
    # A segment change happens within one song of the plan.
    first_main = next(m for m in playlist.entries if m.segment == "main")
    assert 8 * 60 <= first_main.start_s < 8 * 60 + 300


def test_parse_segments_forms_and_names():
    shape = parse_segments(" 8m@160, 30 min @ 172 ,300s@155 ")
    assert shape == (
        Segment("warm-up", 8, 160), Segment("main", 30, 172), Segment("cool-down", 5, 155)
    )
    assert format_segments(shape) == "8m@160,30m@172,5m@155"
    assert parse_segments("45@170") == (Segment("main", 45, 170),)
    named = parse_segments("easy=10m@160,fast=5m@180")
    assert [s.name for s in named] == ["easy", "fast"]
    assert [s.name for s in parse_segments("5@160,5@165,5@170,5@160")] == [
        "warm-up", "main 1", "main 2", "cool-down"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'segments are empty; give them as "8m@160,30m@172,5m@155"'),
        ("8m160", "cannot read segment '8m160'; write MINUTES@SPM items such as "
                  '"8m@160,30m@172,5m@155"'),
        ("0m@160", "segment '0m@160': minutes must be between 0 and 1440, got 0"),
        ("8m@400", "segment '8m@400': cadence must be between 30 and 300 spm, got 400"),
    ],
)
def test_parse_segments_errors(text, message):
    with pytest.raises(UsageError) as info:
        parse_segments(text)
    assert str(info.value) == message


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("workout-*.toml")))
def test_example_workouts_parse(path):
    workout = parse_workout(path.read_text(encoding="utf-8"), source=path.name)
    assert workout.name and workout.segments
    assert all(seg.minutes > 0 and 30 <= seg.cadence_spm <= 300 for seg in workout.segments)


def test_workout_repeats_are_numbered():
    workout = parse_workout(
        """
        name = "2 x fast"
        [[segments]]
        name = "warm-up"
        minutes = 5
        cadence_spm = 160
        [[segments]]
        repeat = 2
        segments = [{ name = "fast", minutes = 3, cadence_spm = 178 },
                    { name = "easy", minutes = 2, cadence_spm = 164 }]
        """
    )
    assert [(s.name, s.cadence_spm) for s in workout.segments] == [
        ("warm-up", 160), ("fast 1", 178), ("easy 1", 164), ("fast 2", 178), ("easy 2", 164)
    ]
    assert workout.minutes == 15


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = ", "w.toml is not valid TOML"),
        ("nme = 'x'", "w.toml: unknown key 'nme' (use name, description, segments)"),
        ("name = 'x'", "w.toml: needs a non-empty list of segments ([[segments]] tables)"),
        ("[[segments]]\nminutes = 5\ncadence = 170",
         "w.toml segment 1: unknown key 'cadence' (use name, minutes, cadence_spm)"),
        ("[[segments]]\nminutes = 5",
         "w.toml segment 1: cadence_spm is missing (each segment needs minutes and cadence_spm)"),
        ("[[segments]]\nminutes = '10'\ncadence_spm = 170",
         "w.toml segment 1: minutes must be a number, got '10'"),
        ("[[segments]]\nminutes = 5\ncadence_spm = 170\n[[segments]]\nname = 'fast'\n"
         "minutes = 3\ncadence_spm = 1780",
         "w.toml segment 2 ('fast'): cadence must be between 30 and 300 spm, got 1780"),
        ("[[segments]]\nrepeat = 2\nsegments = [{name = 'easy', minutes = 2, cadence = 160}]",
         "w.toml segment 1 segment 1 ('easy'): unknown key 'cadence'"),
        ("[[segments]]\nrepeat = 0\nsegments = [{minutes = 1, cadence_spm = 170}]",
         "w.toml segment 1: repeat must be a whole number from 1 to 100"),
        ("[[segments]]\nminutes = 5\ncadence_spm = 20",
         "w.toml segment 1: cadence must be between 30 and 300 spm, got 20"),
    ],
)
def test_workout_errors(text, message):
    with pytest.raises(UsageError) as info:
        parse_workout(text, source="w.toml")
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tolerance_pct": 30}, "tolerance_pct must be between 0 and 20 percent, got 30"),
        ({"stretch_pct": -1}, "stretch_pct must be between 0 and 30 percent, got -1"),
        ({"steps_per_beat": (3,)}, "steps_per_beat must be some of 0.5, 1, 2, got (3.0,)"),
        ({"segments": []}, "a playlist needs at least one segment (a cadence and minutes)"),
    ],
)
def test_bad_parameters(kwargs, message):
    kwargs = {"segments": main(5), **kwargs}
    with pytest.raises(UsageError) as info:
        build_playlist([song(1, 170.0)], **kwargs)
    assert str(info.value) == message


# ---------------------------------------------------------------------------
# The JSON form
# ---------------------------------------------------------------------------


def test_playlist_dict_round_trip_has_what_render_needs():
    tracks = [song(i, 85.0 + i * 0.2, source="analysis", duration_s=200) for i in range(1, 9)]
    playlist = build_playlist(tracks, segments=main(10), stretch_pct=8, name="Easy 170")
    data = json.loads(json.dumps(playlist.to_dict()))
    entry = data["entries"][0]
    for key in ("track_id", "path", "spotify_uri", "artist", "title", "duration_s", "bpm",
                "steps_per_beat", "stretch_ratio", "cadence_spm", "segment", "start_s",
                "beat_offset_s", "beat_period_s"):
        assert key in entry
    assert entry["beat_offset_s"] == 0.25
    assert entry["beat_period_s"] == pytest.approx(60 / entry["bpm"])
    again = Playlist.from_dict(data)
    assert again.to_dict() == playlist.to_dict()
    assert isinstance(again.entries[0], Match)
    assert again.name == "Easy 170" and again.stretch_pct == 8


def test_from_dict_rejects_other_json():
    with pytest.raises(UsageError, match='not a beatrun playlist JSON'):
        Playlist.from_dict({"entries": []})
    with pytest.raises(UsageError, match="newer than this beatrun understands"):
        Playlist.from_dict({"format": "beatrun-playlist", "version": 99})


def test_a_twenty_minute_song_does_not_swallow_a_five_minute_warm_up():
    """A perfect-fit 20 min song at the warm-up cadence must not push the main part back."""
    warm = [song(i, 156.5 + (i % 3) * 0.2, duration_s=210.0, source="analysis",
                 confidence=0.5) for i in range(1, 6)]
    fast = [song(10 + i, 172.0 + (i % 5) * 0.3, duration_s=240.0) for i in range(12)]
    epic = song(100, 160.0, duration_s=1200.0, source="override")
    playlist = build_playlist([*warm, *fast, epic],
                              segments=parse_segments("5m@160,30m@172"))
    assert 100 not in [m.track.id for m in playlist.entries]
    main_start = next(m.start_s for m in playlist.entries if m.segment == "main")
    assert main_start <= 9 * 60  # within one song of the planned 5 min
    # With nothing else at 160 spm, the long song is still used.
    alone = build_playlist([*fast, epic], segments=parse_segments("5m@160,30m@172"))
    assert alone.entries[0].track.id == 100


# ---------------------------------------------------------------------------
# Song identity (beatrun.identity): one key for selection, Spotify and the library.
# ---------------------------------------------------------------------------


def test_song_key_isrc_first_then_normalised_names():
    from beatrun import identity

    a = Track(id=1, artist="Beyoncé & JAY-Z", title="Crazy in Love (feat. JAY-Z) - Remastered")
    b = Track(id=2, artist="beyonce", title="crazy  in love")
    assert identity.song_key(a) == identity.song_key(b) == "song:beyonce\x00crazy in love"
    assert identity.song_key(Track(id=3, isrc=" usrc1760783-9", title="x")) == "isrc:USRC17607839"
    assert identity.song_key(Track(id=4, title="only a title")) is None
    # both ISRCs known: they decide, whatever the names say
    c = Track(id=5, artist="A", title="Song", isrc="GBAAA0000001")
    d = Track(id=6, artist="A", title="Song", isrc="GBAAA0000002")
    assert not identity.same_song(c, d)
    assert identity.same_song(c, Track(id=7, artist="A", title="Song (Radio Edit)"))
    assert identity.is_valid_isrc("usrc17607839") and not identity.is_valid_isrc("x")


def test_a_remastered_copy_is_not_played_twice():
    tracks = [
        Track(id=1, path="/a.mp3", artist="Band", title="Run", duration_s=200.0, bpm=170.0,
              bpm_source="tag"),
        Track(id=2, path="/b.mp3", artist="Band", title="Run - Remastered 2011",
              duration_s=200.0, bpm=170.0, bpm_source="tag"),
    ]
    playlist = build_playlist(tracks, segments=main(6), allow_short=True)
    assert len(playlist.entries) == 1 and playlist.is_short
