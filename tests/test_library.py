"""library.py: schema and migrations, upserts, effective BPM, queries, concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from beatrun import library as libmod
from beatrun.errors import LibraryError, UsageError
from beatrun.export.charts import tempo_chart
from beatrun.library import Library, effective_bpm
from beatrun.library import rows as librows
from beatrun.library import schema as libschema
from beatrun.models import FileAnalysis, TagInfo, TempoCandidate, TempoEstimate, Track


def tempo(bpm: float | None, confidence: float = 0.9, version: str = "1") -> TempoEstimate:
    if bpm is None:
        return TempoEstimate.no_beat(analyser_version=version)
    return TempoEstimate(
        bpm=bpm, confidence=confidence,
        candidates=(TempoCandidate(bpm, 1.0), TempoCandidate(bpm / 2, 0.4),
                    TempoCandidate(bpm * 2, 0.2)),
        beat_offset_s=0.12, beat_period_s=60.0 / bpm, pulse_clarity=0.7,
        analyser_version=version,
    )


def analysis(path: str | Path, bpm: float | None = 170.0, *, confidence: float = 0.9,
             tag_bpm: float | None = None, error: str | None = None, artist: str = "Artist",
             title: str | None = None, size: int = 1000, mtime: float = 1.0e9) -> FileAnalysis:
    return FileAnalysis(
        path=str(path), duration_s=200.0,
        tempo=None if error else tempo(bpm, confidence),
        tags=TagInfo(title=title or Path(path).stem, artist=artist, album="Album",
                     isrc="GBAAA0000001", bpm=tag_bpm,
                     bpm_raw=None if tag_bpm is None else f"{tag_bpm:g}"),
        size=size, mtime=mtime, error=error,
    )


@pytest.fixture
def lib(tmp_path):
    with Library(tmp_path / "lib.db") as library:
        yield library


# -- opening and migrations ----------------------------------------------------


def test_default_path_comes_from_config(tmp_path, monkeypatch):
    monkeypatch.setenv("BEATRUN_LIBRARY", str(tmp_path / "deep" / "er" / "music.db"))
    with Library() as library:
        assert library.path == tmp_path / "deep" / "er" / "music.db"
    assert (tmp_path / "deep" / "er" / "music.db").is_file()


def test_migrations_recorded_and_idempotent(tmp_path):
    path = tmp_path / "lib.db"
    with Library(path) as first:
        applied = first.migrations()
    assert [name for name, _ in applied] == [name for name, _ in libmod.MIGRATIONS]
    with Library(path) as second:
        assert second.migrations() == applied  # nothing re-applied, same timestamps
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(applied)
    conn.close()


def test_missing_migration_is_applied_later(tmp_path, monkeypatch):
    path = tmp_path / "lib.db"
    monkeypatch.setattr(libschema, "MIGRATIONS", libschema.MIGRATIONS[:1])
    with Library(path) as old:
        assert [n for n, _ in old.migrations()] == ["0001_tracks"]
    monkeypatch.undo()
    with Library(path) as new:
        assert [n for n, _ in new.migrations()] == [
            "0001_tracks", "0002_playlist_history", "0003_replaced_tag_bpm"]
        new.record_playlist("ok", [])


def test_newer_library_is_refused(tmp_path):
    path = tmp_path / "lib.db"
    Library(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO migrations VALUES ('0099_future', 'x')")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match=r"written by a newer beatrun \(migration 0099_future\)"):
        Library(path)


def test_corrupt_library_file_message(tmp_path):
    path = tmp_path / "lib.db"
    payload = b"definitely not sqlite" * 100
    path.write_bytes(payload)
    with pytest.raises(LibraryError) as err:
        Library(path)
    assert str(err.value) == (
        f"{path} is not a beatrun library (file is not a database); "
        "move it away or pass --library"
    )
    assert path.read_bytes() == payload  # nothing lost


def test_foreign_sqlite_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match=r"is not a beatrun library \(it holds other tables\)"):
        Library(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
    conn.close()


def test_directory_as_library_path(tmp_path):
    with pytest.raises(LibraryError) as err:
        Library(tmp_path)
    assert str(err.value) == (
        f"library path {tmp_path} is a directory; pass a file such as {tmp_path / 'library.db'}"
    )


# -- effective BPM -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (dict(override=150.0, tempo_bpm=170.0, confidence=0.9, tag_bpm=160.0), (150.0, "override")),
        (dict(override=None, tempo_bpm=170.0, confidence=0.9, tag_bpm=160.0), (170.0, "analysis")),
        (dict(override=None, tempo_bpm=170.0, confidence=0.5, tag_bpm=160.0), (170.0, "analysis")),
        (dict(override=None, tempo_bpm=170.0, confidence=0.2, tag_bpm=160.0), (160.0, "tag")),
        (dict(override=None, tempo_bpm=170.0, confidence=0.2, tag_bpm=None),
         (170.0, "analysis-low")),
        (dict(override=None, tempo_bpm=None, confidence=0.0, tag_bpm=None, external_bpm=128.0,
              external_source="spotify"), (128.0, "spotify")),
        (dict(override=None, tempo_bpm=170.0, confidence=0.1, tag_bpm=None, external_bpm=128.0,
              external_source="spotify"), (170.0, "analysis-low")),
        (dict(override=None, tempo_bpm=None, confidence=0.0, tag_bpm=None), (None, None)),
        # a confident analysis at half or double the tag's tempo: the tag chose the beat
        # level (DJ software, the user), the analysis gives the precise value at that level
        (dict(override=None, tempo_bpm=87.02, confidence=0.9, tag_bpm=174.0),
         (174.04, "analysis")),
        (dict(override=None, tempo_bpm=171.0, confidence=0.9, tag_bpm=86.0), (85.5, "analysis")),
        # not an octave apart (3:2): the analysis wins as before
        (dict(override=None, tempo_bpm=116.0, confidence=0.9, tag_bpm=174.0),
         (116.0, "analysis")),
    ],
)
def test_effective_bpm_rule_order(kwargs, expected):
    assert effective_bpm(**kwargs) == expected


def test_record_analysis_stores_everything_and_round_trips(lib, tmp_path):
    path = tmp_path / "song one.mp3"
    result = analysis(path, 171.23, tag_bpm=170.0, title="Sprint")
    assert lib.record_analysis(result) == "added"
    track = lib.get(str(path))
    assert track.path == str(path) and track.source == "local"
    assert (track.artist, track.title, track.album, track.isrc) == (
        "Artist", "Sprint", "Album", "GBAAA0000001")
    assert track.tempo == result.tempo
    assert track.tag_bpm == 170.0 and track.extra["tag_bpm_raw"] == "170"
    assert (track.bpm, track.bpm_source) == (171.23, "analysis")
    assert track.duration_s == 200.0
    assert lib.get(track.id) == track and lib.get(str(track.id)) == track
    assert lib.file_states() == {str(path): (1000, 1.0e9, "1")}


def test_bulk_read_objects_equal_normally_built_ones(lib, tmp_path):
    import dataclasses

    result = analysis(tmp_path / "a.mp3", 171.0, tag_bpm=170.0)
    lib.record_analysis(result)
    assert librows._FAST  # the models still have the fields the fast path fills
    (fast,) = lib.tracks()
    built = Track(
        id=1, source="local", path=str(tmp_path / "a.mp3"), artist="Artist", title="a",
        album="Album", duration_s=200.0, isrc="GBAAA0000001", tag_bpm=170.0,
        tempo=TempoEstimate(**{f.name: getattr(result.tempo, f.name)
                               for f in dataclasses.fields(TempoEstimate)}),
        bpm=171.0, bpm_source="analysis",
    )
    assert fast == built and hash(fast.tempo) == hash(built.tempo)
    assert fast.extra == {} and lib.tracks(details=True)[0].extra["size"] == 1000
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.bpm = 1.0


def test_record_analysis_upserts_by_absolute_path(lib, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lib.record_analysis(analysis("a.mp3", 170)) == "added"
    assert lib.record_analysis(analysis(tmp_path / "a.mp3", 172, size=2000)) == "updated"
    (track,) = lib.tracks(details=True)
    assert track.path == str(tmp_path / "a.mp3") and track.bpm == 172
    assert track.extra["size"] == 2000


def test_low_confidence_analysis_loses_to_tag_and_override_survives_rescans(lib, tmp_path):
    path = tmp_path / "x.flac"
    lib.record_analysis(analysis(path, 120, confidence=0.2, tag_bpm=86.0))
    assert (lib.get(str(path)).bpm, lib.get(str(path)).bpm_source) == (86.0, "tag")
    lib.set_override(str(path), "172")
    lib.record_analysis(analysis(path, 120, confidence=0.9, tag_bpm=86.0))
    track = lib.get(str(path))
    assert (track.bpm, track.bpm_source, track.bpm_override) == (172.0, "override", 172.0)


def test_failed_analysis_of_a_changed_file_is_recorded_with_error(lib, tmp_path):
    path = tmp_path / "broken.mp3"
    lib.record_analysis(analysis(path, 170))
    lib.record_analysis(analysis(path, error="not an audio file", mtime=2.0e9))
    track = lib.get(str(path))
    assert track.error == "not an audio file"
    assert track.tempo is None and track.bpm is None
    assert lib.file_states()[str(path)] == (1000, 2.0e9, None)


def test_passing_read_error_on_an_unchanged_file_keeps_its_tempo(lib, tmp_path):
    """A rescan that cannot read a file this time (network drive) loses nothing."""
    path = tmp_path / "on-nas.flac"
    lib.record_analysis(analysis(path, 171.5))
    lib.record_analysis(analysis(path, error="cannot read the file (I/O error)"))
    track = lib.get(str(path))
    assert track.error == "cannot read the file (I/O error)"
    assert (track.bpm, track.bpm_source) == (171.5, "analysis")
    assert track.tempo is not None and track.tempo.bpm == 171.5
    assert lib.file_states()[str(path)] == (1000, 1.0e9, None)  # tried again next scan


def test_no_beat_analysis(lib, tmp_path):
    lib.record_analysis(analysis(tmp_path / "ambient.ogg", None, confidence=0.0))
    track = lib.get(str(tmp_path / "ambient.ogg"))
    assert track.tempo is not None and track.tempo.bpm is None
    assert track.bpm is None and track.bpm_source is None


# -- set-bpm ---------------------------------------------------------------------


def test_set_override_number_x2_half_clear(lib, tmp_path):
    lib.record_analysis(analysis(tmp_path / "a.mp3", 86.0))
    assert lib.set_override(1, "x2").bpm == 172.0
    assert lib.set_override(1, "/2").bpm == 86.0
    track = lib.set_override(1, "172,5")
    assert (track.bpm, track.bpm_source, track.bpm_override) == (172.5, "override", 172.5)
    track = lib.set_override(1, "clear")
    assert (track.bpm, track.bpm_source, track.bpm_override) == (86.0, "analysis", None)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("fast", "cannot read BPM 'fast': give a number like 172.5, 'x2', '/2' or 'clear'"),
        ("1000", "BPM 1000 from '1000' is outside 20-400; give a tempo in that range"),
        ("x0", "cannot use BPM 'x0': the factor must be above 0"),
        ("x5", "BPM 430 from 'x5' is outside 20-400; give a tempo in that range"),
    ],
)
def test_set_override_bad_expression_changes_nothing(lib, tmp_path, expr, message):
    lib.record_analysis(analysis(tmp_path / "a.mp3", 86.0))
    before = lib.get(1)
    with pytest.raises(UsageError) as err:
        lib.set_override(1, expr)
    assert str(err.value) == message
    assert lib.get(1) == before


def test_set_override_x2_without_bpm(lib, tmp_path):
    lib.record_analysis(analysis(tmp_path / "a.mp3", error="file is empty"))
    with pytest.raises(UsageError, match="the track has no BPM yet; give a number like 172.5"):
        lib.set_override(1, "x2")
    assert lib.set_override(1, "165").bpm == 165.0


def test_unknown_track(lib):
    with pytest.raises(LibraryError) as err:
        lib.get(42)
    assert str(err.value) == (
        f"no track '42' in library {lib.path}; see `beatrun library list` for ids and paths")
    with pytest.raises(LibraryError, match="no track '/nope.mp3'"):
        lib.set_override("/nope.mp3", "170")


# -- queries ------------------------------------------------------------------


@pytest.fixture
def filled(lib, tmp_path):
    songs = [
        ("fast.mp3", 171.0, "Daft Punk"),   # 1:1 at 170
        ("half.mp3", 85.5, "Beyonce"),      # 2 steps per beat at 170
        ("edge.mp3", 175.0, "Muse"),        # 170 * 1.03 = 175.1 -> in
        ("out.mp3", 176.0, "Muse"),         # out
        ("slow.mp3", 120.0, "Adele"),       # out
        ("double.mp3", 340.0 / 2 * 2, "Drum & Bass_"),  # 340 > range unless 0.5
    ]
    for name, bpm, artist in songs:
        lib.record_analysis(analysis(tmp_path / name, bpm, artist=artist))
    return lib


def _names(tracks: list[Track]) -> list[str]:
    return [Path(t.path).name for t in tracks]


def test_cadence_filter_steps_per_beat(filled):
    assert _names(filled.tracks(cadence_spm=170)) == ["fast.mp3", "half.mp3", "edge.mp3"]
    assert _names(filled.tracks(cadence_spm=170, steps_per_beat=(1,))) == [
        "fast.mp3", "edge.mp3"]
    assert _names(filled.tracks(cadence_spm=170, steps_per_beat=(2,))) == ["half.mp3"]
    assert _names(filled.tracks(cadence_spm=170, steps_per_beat=(0.5,))) == ["double.mp3"]
    assert _names(filled.tracks(cadence_spm=170, tolerance_pct=1.0)) == ["fast.mp3", "half.mp3"]


def test_cadence_query_uses_the_bpm_index(filled):
    plan = filled._store._conn.execute(
        "EXPLAIN QUERY PLAN SELECT id FROM tracks WHERE missing = 0 AND "
        "(bpm BETWEEN 1 AND 2 OR bpm BETWEEN 3 AND 4)"
    ).fetchall()
    assert "tracks_missing_bpm" in " ".join(str(row) for row in plan)


def test_bpm_artist_text_source_limit_filters(filled):
    assert _names(filled.tracks(min_bpm=170, max_bpm=175)) == ["fast.mp3", "edge.mp3"]
    assert _names(filled.tracks(artist="muse")) == ["edge.mp3", "out.mp3"]
    assert _names(filled.tracks(artist="_")) == ["double.mp3"]  # LIKE wildcards escaped
    assert _names(filled.tracks(text="HALF")) == ["half.mp3"]
    assert _names(filled.tracks(limit=2)) == ["fast.mp3", "half.mp3"]
    assert filled.tracks(source="spotify") == []


def test_bad_query_parameters(filled):
    with pytest.raises(UsageError, match=r"cadence_spm=-5 must be a positive number"):
        filled.tracks(cadence_spm=-5)
    with pytest.raises(UsageError, match=r"steps_per_beat=0 must be a positive number"):
        filled.tracks(cadence_spm=170, steps_per_beat=(0,))


def test_mark_missing_and_prune(filled, tmp_path):
    gone = [str(tmp_path / "out.mp3"), str(tmp_path / "slow.mp3"), str(tmp_path / "nope.mp3")]
    assert filled.mark_missing(gone) == 2
    assert filled.mark_missing(gone) == 0
    assert "out.mp3" not in _names(filled.tracks())
    assert "out.mp3" in _names(filled.tracks(include_missing=True))
    assert str(tmp_path / "out.mp3") not in filled.file_states()
    assert filled.stats()["missing"] == 2
    # a missing file that comes back is present again
    filled.record_analysis(analysis(tmp_path / "slow.mp3", 120))
    assert filled.prune() == 1
    assert len(filled.tracks(include_missing=True)) == 5
    assert filled.prune() == 0


def test_disagreements(lib, tmp_path):
    cases = {
        "same.mp3": (170.0, 171.0),   # within 4%
        "double.mp3": (172.0, 86.0),  # x2 relation: fine
        "half.mp3": (85.0, 172.0),    # x1/2: fine
        "three.mp3": (120.0, 180.0),  # 3:2: disagreement
        "off.mp3": (140.0, 128.0),    # 9%: disagreement
        "notag.mp3": (140.0, None),
    }
    for name, (bpm, tag) in cases.items():
        lib.record_analysis(analysis(tmp_path / name, bpm, tag_bpm=tag))
    assert _names(lib.disagreements()) == ["three.mp3", "off.mp3"]


def test_stats(filled, tmp_path):
    filled.record_analysis(analysis(tmp_path / "bad.mp3", error="file is empty"))
    stats = filled.stats()
    assert stats["total"] == 7 and stats["failed"] == 1 and stats["without_bpm"] == 1
    assert stats["by_source"] == {"local": 7}
    assert stats["by_bpm_source"] == {"analysis": 6, "none": 1}
    assert stats["histogram"] == [[80.0, 1], [120.0, 1], [170.0, 3], [340.0, 1]]


def test_tempo_chart_png(filled, tmp_path):
    out = tempo_chart(filled.stats(), tmp_path / "tempo.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(UsageError, match="must end in .png"):
        tempo_chart(filled.stats(), tmp_path / "tempo.jpg")


# -- spotify rows and playlist history ------------------------------------------


def test_upsert_spotify_track(lib):
    track = Track(id=None, source="spotify", spotify_uri="spotify:track:abc", artist="A",
                  title="T", duration_s=180.0, isrc="USAAA1", bpm=128.0, bpm_source="spotify")
    stored = lib.upsert_track(track)
    assert stored.id == 1 and (stored.bpm, stored.bpm_source) == (128.0, "spotify")
    again = lib.upsert_track(track.with_(bpm=86.0, bpm_source="reccobeats", title="T2"))
    assert again.id == 1 and (again.bpm, again.bpm_source, again.title) == (
        86.0, "reccobeats", "T2")
    lib.set_override("spotify:track:abc", "172")
    assert lib.upsert_track(track).bpm == 172.0  # the user's override wins
    assert lib.file_states() == {}
    assert [t.spotify_uri for t in lib.tracks(source="spotify", cadence_spm=172)] == [
        "spotify:track:abc"]
    with pytest.raises(UsageError, match="needs a spotify_uri or a path"):
        lib.upsert_track(Track(id=None, source="spotify"))


def test_playlist_history(filled):
    filled.record_playlist("monday", [1, 2, 3])
    filled.record_playlist("tuesday", [3, 4, 999])  # unknown ids are skipped
    filled.record_playlist("wednesday", [5])
    assert filled.recent_track_ids() == {5: 0, 3: 1, 4: 1, 1: 2, 2: 2}
    assert filled.recent_track_ids(limit_playlists=2) == {5: 0, 3: 1, 4: 1}
    filled.mark_missing([filled.get(5).path])
    filled.prune()
    assert filled.recent_track_ids(limit_playlists=1) == {}


# -- concurrency -----------------------------------------------------------------


def _writer(path: str, prefix: str, count: int) -> None:
    with Library(path) as library:
        for i in range(count):
            library.record_analysis(analysis(f"/music/{prefix}-{i}.mp3", 170.0))
            library.tracks(cadence_spm=170)


def test_two_processes_write_at_once_without_locking_errors(tmp_path):
    path = str(tmp_path / "shared.db")  # first open races too: migrations under BEGIN IMMEDIATE
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, name, 60)) for name in ("a", "b")]
    for proc in procs:
        proc.start()
    _writer(path, "c", 60)
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0, 0]
    with Library(path) as library:
        assert len(library.tracks()) == 180
        assert len(library.migrations()) == len(libmod.MIGRATIONS)


def test_threads_write_at_once(tmp_path):
    path = str(tmp_path / "threads.db")
    errors: list[BaseException] = []

    def run(prefix: str) -> None:
        try:
            _writer(path, prefix, 40)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in "xyz"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Library(path) as library:
        assert len(library.tracks()) == 120


def test_update_file_state_keeps_the_analysis(lib, tmp_path):
    path = tmp_path / "tagged.mp3"
    lib.record_analysis(analysis(path, 170.0))
    before = lib.get(str(path))
    lib.update_file_state(str(path), size=2222, mtime=2.0e9)
    assert lib.file_states()[str(path)] == (2222, 2.0e9, "1")
    after = lib.get(str(path))
    assert after.tempo == before.tempo and after.bpm == before.bpm


def test_many_first_opens_at_once_do_not_hit_database_is_locked(tmp_path):
    """Switching a new file to WAL needs an exclusive lock; openers must wait, not fail."""
    failures: list[str] = []
    for round_ in range(25):
        path = tmp_path / f"fresh{round_}.db"
        barrier = threading.Barrier(5)

        def open_and_read(path=path, barrier=barrier) -> None:
            barrier.wait()
            try:
                with Library(path) as lib:
                    lib.tracks()
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(str(exc))

        threads = [threading.Thread(target=open_and_read) for _ in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []


def test_a_library_that_cannot_be_written_is_a_one_line_error(tmp_path):
    """A full disk or a read-only mount: one clear line, and what was stored stays."""
    with Library(tmp_path / "lib.db") as lib:
        lib.record_analysis(FileAnalysis(path=str(tmp_path / "a.mp3"), size=1, mtime=1.0))
        lib._store._conn.execute("PRAGMA query_only = ON")  # writes now fail as on read-only media
        with pytest.raises(LibraryError) as err:
            lib.record_analysis(FileAnalysis(path=str(tmp_path / "b.mp3"), size=1, mtime=1.0))
        assert str(err.value) == (
            f"cannot write to library {tmp_path / 'lib.db'} (attempt to write a readonly "
            "database); check free disk space and that the file and its folder are writable"
        )
        lib._store._conn.execute("PRAGMA query_only = OFF")
        assert [t.path for t in lib.tracks()] == [str(tmp_path / "a.mp3")]
        lib.record_analysis(FileAnalysis(path=str(tmp_path / "b.mp3"), size=1, mtime=1.0))
        assert len(lib.tracks()) == 2  # the connection is still usable
