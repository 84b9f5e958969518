"""`beatrun library ...` through click's CliRunner: exact output pieces and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from beatrun.cli import cli
from beatrun.library import Library
from beatrun.models import FileAnalysis, TagInfo, TempoCandidate, TempoEstimate


def _analysis(path: str, bpm: float | None, *, tag_bpm: float | None = None,
              artist: str = "Artist", title: str = "Title", confidence: float = 0.9,
              error: str | None = None) -> FileAnalysis:
    tempo = None
    if error is None:
        tempo = TempoEstimate(
            bpm=bpm, confidence=confidence if bpm else 0.0,
            candidates=(TempoCandidate(bpm, 1.0), TempoCandidate(bpm * 2, 0.5)) if bpm else (),
            beat_offset_s=0.25 if bpm else None, beat_period_s=60 / bpm if bpm else None,
            pulse_clarity=0.8, analyser_version="1",
        )
    return FileAnalysis(
        path=path, duration_s=185.0, tempo=tempo,
        tags=TagInfo(title=title, artist=artist, album="Album", bpm=tag_bpm,
                     bpm_raw=None if tag_bpm is None else str(tag_bpm)),
        size=123, mtime=1.7e9, error=error,
    )


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "cli.db"
    with Library(path) as lib:
        lib.record_analysis(_analysis("/music/a.mp3", 171.0, artist="Daft Punk", title="One"))
        lib.record_analysis(_analysis("/music/b.mp3", 85.5, artist="Beyoncé", title="Halo",
                                      tag_bpm=86.0))
        lib.record_analysis(_analysis("/music/c.mp3", 120.0, artist="Adele", title="Skyfall",
                                      tag_bpm=180.0))
        lib.record_analysis(_analysis("/music/d d.ogg", None, artist="Eno", title="Ambient 1"))
        lib.record_analysis(_analysis("/music/e.mp3", None, error="not an audio file"))
    return path


def run(*args: str, library: Path | None = None):
    argv = list(args) + (["--library", str(library)] if library else [])
    return CliRunner().invoke(cli, argv, catch_exceptions=False)


def test_list_table(db):
    result = run("library", "list", library=db)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["id", "artist", "title", "BPM", "from", "conf.", "time", "path"]
    assert lines[1].split() == ["1", "Daft", "Punk", "One", "171.00", "analysis", "0.90", "3:05",
                                "/music/a.mp3"]
    assert lines[-1] == "5 tracks"


def test_list_cadence_shows_steps_per_beat(db):
    result = run("library", "list", "--cadence", "170", library=db)
    assert result.exit_code == 0
    rows = [line.split() for line in result.output.splitlines()[1:-1]]
    assert [(r[0], r[-2]) for r in rows] == [("1", "1"), ("2", "2")]
    assert result.output.splitlines()[-1] == "2 tracks"
    only_1 = run("library", "list", "--cadence", "170", "--steps-per-beat", "1", library=db)
    assert only_1.output.splitlines()[-1] == "1 track"


def test_list_json_and_filters(db):
    result = run("library", "list", "--min-bpm", "80", "--max-bpm", "130", "--json", library=db)
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert [(t["id"], t["bpm"], t["bpm_source"]) for t in data] == [
        (2, 85.5, "analysis"), (3, 120.0, "analysis")]
    assert data[0]["tempo"]["candidates"][1] == {"bpm": 171.0, "strength": 0.5}
    assert data[0]["tag_bpm_raw"] == "86.0" and data[0]["size"] == 123
    by_artist = json.loads(run("library", "list", "--artist", "beyoncé", "--json",
                               library=db).output)
    assert [t["path"] for t in by_artist] == ["/music/b.mp3"]
    by_text = json.loads(run("library", "list", "--text", "sky", "--json", library=db).output)
    assert [t["title"] for t in by_text] == ["Skyfall"]


def test_list_empty_and_no_match(tmp_path, db):
    assert run("library", "list", library=tmp_path / "new.db").output == (
        "The library is empty: add music with `beatrun scan DIR`.\n")
    assert run("library", "list", "--artist", "nobody", library=db).output == (
        "No tracks match these filters.\n")


def test_list_bad_steps_per_beat(db):
    result = run("library", "list", "--cadence", "170", "--steps-per-beat", "one", library=db)
    assert result.exit_code == 2
    assert ("Invalid value for '--steps-per-beat': 'one': give numbers like 1,2 or 0.5 "
            "(steps per beat)") in result.output


def test_show_by_id_and_path(db):
    result = run("library", "show", "2", library=db)
    assert result.exit_code == 0
    out = result.output
    for piece in [
        "path           /music/b.mp3\n",
        "BPM            85.50 (analysis)\n",
        "tag BPM        86.00 (stored as '86.0')\n",
        "candidates     85.50 (1.00), 171.00 (0.50)\n",
        "beat grid      first beat 0.250 s, period 0.7018 s\n",
        "analyser       1\n",
    ]:
        assert piece in out
    assert run("library", "show", "/music/b.mp3", library=db).output == out
    no_beat = run("library", "show", "/music/d d.ogg", library=db).output
    assert "analysed BPM   no steady beat\n" in no_beat
    failed = run("library", "show", "5", library=db).output
    assert "error          not an audio file\n" in failed


def test_show_json(db):
    data = json.loads(run("library", "show", "1", "--json", library=db).output)
    assert data["id"] == 1 and data["tempo"]["bpm"] == 171.0 and data["mtime"] == 1.7e9


def test_show_unknown_track(db):
    result = run("library", "show", "99", library=db)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: no track '99' in library {db}; see `beatrun library list` for ids and paths\n")


def test_stats_text_json_and_chart(db, tmp_path):
    result = run("library", "stats", "--chart", str(tmp_path / "t.png"), library=db)
    assert result.exit_code == 0
    assert "Tracks: 5 (local 5)\n" in result.output
    assert "Missing: 0  Failed: 1  Without BPM: 2\n" in result.output
    assert "BPM from: analysis 3, none 2\n" in result.output
    assert "     80-89    " + "#" * 40 + " 1\n" in result.output
    assert f"Chart written to {tmp_path / 't.png'}\n" in result.output
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    data = json.loads(run("library", "stats", "--json", library=db).output)
    assert data["histogram"] == [[80.0, 1], [120.0, 1], [170.0, 1]]


def test_set_bpm_forms(db):
    result = run("library", "set-bpm", "2", "x2", library=db)
    assert (result.exit_code, result.output) == (
        0, "Beyoncé - Halo (id 2): BPM 171.00 (override)\n")
    assert run("library", "set-bpm", "/music/b.mp3", "/2", library=db).output == (
        "Beyoncé - Halo (id 2): BPM 85.50 (override)\n")
    assert run("library", "set-bpm", "2", "172.5", library=db).output == (
        "Beyoncé - Halo (id 2): BPM 172.50 (override)\n")
    assert run("library", "set-bpm", "2", "clear", library=db).output == (
        "Beyoncé - Halo (id 2): override cleared; BPM 85.50 (analysis)\n")


def test_set_bpm_bad_expression_keeps_track(db):
    before = run("library", "show", "2", "--json", library=db).output
    result = run("library", "set-bpm", "2", "fast", library=db)
    assert result.exit_code == 2
    assert result.output == (
        "Error: cannot read BPM 'fast': give a number like 172.5, 'x2', '/2' or 'clear'\n")
    assert run("library", "show", "2", "--json", library=db).output == before
    unknown = run("library", "set-bpm", "/music/zzz.mp3", "170", library=db)
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: no track '/music/zzz.mp3' in library ")


def test_disagreements(db):
    result = run("library", "disagreements", library=db)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[1].split()[:7] == ["3", "Adele", "-", "Skyfall", "180.00", "120.00", "0.667"]
    assert lines[-1] == "1 disagreement; fix one with `beatrun library set-bpm ID BPM`"
    data = json.loads(run("library", "disagreements", "--json", library=db).output)
    assert [(d["id"], d["tag_bpm"], d["analysed_bpm"]) for d in data] == [(3, 180.0, 120.0)]


def test_prune(db):
    with Library(db) as lib:
        lib.mark_missing(["/music/a.mp3", "/music/c.mp3"])
    assert run("library", "prune", library=db).output == (
        "Removed 2 missing tracks from the library.\n")
    assert run("library", "prune", library=db).output == (
        "Removed 0 missing tracks from the library.\n")
    assert [t["id"] for t in json.loads(run("library", "list", "--json", library=db).output)] == [
        2, 4, 5]


def test_library_from_environment(db, monkeypatch):
    monkeypatch.setenv("BEATRUN_LIBRARY", str(db))
    assert run("library", "list").output.splitlines()[-1] == "5 tracks"


def test_corrupt_library_file(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"garbage" * 200)
    result = run("library", "stats", library=path)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path} is not a beatrun library (file is not a database); "
        "move it away or pass --library\n")
    assert path.read_bytes() == b"garbage" * 200


def test_library_path_is_a_directory(tmp_path, monkeypatch):
    result = run("library", "list", library=tmp_path)
    assert result.exit_code == 2
    assert f"Invalid value for '--library': File '{tmp_path}' is a directory." in result.output
    monkeypatch.setenv("BEATRUN_LIBRARY", str(tmp_path))
    assert run("library", "prune").exit_code == 2


def test_show_spotify_track_with_external_bpm(tmp_path):
    from beatrun.models import Track

    path = tmp_path / "sp.db"
    with Library(path) as lib:
        lib.upsert_track(Track(id=None, source="spotify", spotify_uri="spotify:track:xyz",
                               artist="Run DMC", title="Tricky", duration_s=182.0,
                               bpm=128.0, bpm_source="reccobeats"))
    out = run("library", "show", "spotify:track:xyz", library=path).output
    assert "spotify uri    spotify:track:xyz\n" in out
    assert "BPM            128.00 (reccobeats)\n" in out
    assert "external BPM   128.00 (reccobeats)\n" in out
    listed = run("library", "list", "--source", "spotify", library=path).output
    assert "spotify:track:xyz" in listed and "reccobeats" in listed
