"""`beatrun scan` and beatrun.scan: walk, skip unchanged, store as it goes, survive bad files,
kill -9, concurrent scans and a Dask cluster."""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_audio import can_deny_permission, run_without_permission_override

from beatrun import audio, scan, synth, tags, tempo
from beatrun.cli import cli
from beatrun.errors import AudioError, BeatrunError, UsageError
from beatrun.library import Library

SR = 11025
SECONDS = 6.0

# relative path -> (style, bpm); all analyse to a confident tempo
GOOD = {
    "Artist A/Album/01 Fast song.mp3": ("rock", 170.0),
    "Artist A/Album/02 Slow ünïcode sông.flac": ("halftime_hiphop", 86.0),
    "Björk & Co/trăck  with   spaces.ogg": ("four_on_floor", 128.0),
    "m4a/song.m4a": ("four_on_floor", 124.0),
    "loose.wav": ("rock", 150.0),
}
# readable, analysed, but no tempo: rows without a BPM, not failures
NO_BEAT = ["edge/one-second.wav", "edge/silence.wav"]
BROKEN = {
    "broken/corrupt.mp3": "cannot decode audio: the data is corrupt or in an unsupported format",
    "broken/empty.flac": "file is empty (0 bytes); re-copy or re-download it",
    "broken/notes.mp3": "not an audio file (it contains text); check what this file is",
}
EXTENSIONLESS = "no extension"  # WAV data without a suffix: picked by content
IGNORED = ["cover.jpg", "readme.txt", ".hidden.mp3", "Artist A/._01 Fast song.mp3"]


def _runner_ok(found: float | None, truth: float) -> bool:
    """Right tempo, or its half or double (usable for running), within 1%."""
    return found is not None and any(
        abs(found - truth * k) <= 0.01 * truth * k for k in (1.0, 0.5, 2.0))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Path:
    """A small music folder with good, edge and broken files, links and a symlink loop."""
    root = tmp_path_factory.mktemp("music-template")
    for i, (rel, (style, bpm)) in enumerate(GOOD.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        audio.write_audio(path, synth.render_pattern(style, bpm=bpm, seconds=SECONDS, sr=SR,
                                                     seed=i), sr=SR)
    (root / "edge").mkdir()
    one = synth.render_pattern("rock", bpm=120.0, seconds=1.0, sr=SR)
    audio.write_audio(root / NO_BEAT[0], one, sr=SR)
    audio.write_audio(root / NO_BEAT[1], np.zeros(int(SR * 4), np.float32), sr=SR)
    (root / "broken").mkdir()
    (root / "broken/corrupt.mp3").write_bytes(np.random.default_rng(3).bytes(4000))
    (root / "broken/empty.flac").write_bytes(b"")
    (root / "broken/notes.mp3").write_text("not music\n", encoding="utf-8")
    shutil.copyfile(root / "loose.wav", root / EXTENSIONLESS)
    for rel in IGNORED:
        (root / rel).write_bytes(b"\xff\xd8\xff\xe0 JFIF" if rel.endswith("jpg") else b"x\n")
    os.symlink(".", root / "loop")  # a symlink loop
    os.symlink("..", root / "Artist A" / "up")  # another way round
    os.symlink("Artist A/Album/01 Fast song.mp3", root / "alias.mp3")  # same file twice
    os.symlink("nowhere.mp3", root / "dangling.mp3")
    return root


@pytest.fixture
def music(template, tmp_path) -> Path:
    """A private copy of the template (tests change files)."""
    dest = tmp_path / "music"
    shutil.copytree(template, dest, symlinks=True)
    return dest


def _rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT path, bpm, tempo_confidence, error, missing FROM tracks ORDER BY path"
        ).fetchall()


def test_first_scan_stores_every_file_and_every_failure(music, tmp_path):
    before = {p: _digest(p) for p in music.rglob("*") if p.is_file() and not p.is_symlink()}
    with Library(tmp_path / "lib.db") as lib:
        summary = scan.scan([music], library=lib, workers=1)
        tracks = {Path(t.path).relative_to(music).as_posix(): t for t in lib.tracks()}
    n_ok = len(GOOD) + len(NO_BEAT) + 1
    assert (summary.added, summary.updated, summary.unchanged, summary.failed,
            summary.removed) == (n_ok, 0, 0, len(BROKEN), 0)
    assert summary.line() == (
        f"scanned {n_ok + len(BROKEN)} files: {n_ok} added, 0 updated, 0 unchanged, "
        f"{len(BROKEN)} failed, 0 removed"
    )
    errors = {Path(p).relative_to(music).as_posix(): e for p, e in summary.errors}
    assert sorted(errors) == sorted(BROKEN)
    for rel, message in BROKEN.items():
        assert errors[rel].startswith(message)
    # links and loops listed once, ignored names absent, failures are rows with their error
    assert set(tracks) == set(GOOD) | set(NO_BEAT) | {EXTENSIONLESS} | set(BROKEN)
    for rel, message in BROKEN.items():
        assert tracks[rel].error.startswith(message) and tracks[rel].bpm is None
    for rel, (_, bpm) in GOOD.items():
        assert _runner_ok(tracks[rel].bpm, bpm), rel
        assert tracks[rel].bpm_source == "analysis"
        assert (music / rel).exists()  # the unicode / spaced path is stored exactly
    for rel in NO_BEAT:
        assert tracks[rel].bpm is None and tracks[rel].error is None
    after = {p: _digest(p) for p in before}
    assert after == before  # a scan never changes a file


def test_rescan_skips_unchanged_and_follows_changes(music, tmp_path):
    db = tmp_path / "lib.db"
    with Library(db) as lib:
        scan.scan([music], library=lib, workers=1)
        again = scan.scan([music], library=lib, workers=1)
        n_ok = len(GOOD) + len(NO_BEAT) + 1
        # failed files are tried again (they may have been fixed); good ones are skipped
        assert (again.added, again.updated, again.unchanged, again.failed) == (
            0, 0, n_ok, len(BROKEN))

        changed = music / "loose.wav"
        os.utime(changed, (time.time(), time.time() + 5))
        (music / "m4a/song.m4a").unlink()
        shutil.copyfile(music / "loose.wav", music / "edge/new song.wav")
        (music / "broken/empty.flac").unlink()
        third = scan.scan([music], library=lib, workers=1)
        assert (third.added, third.updated, third.unchanged, third.failed, third.removed) == (
            1, 1, n_ok - 2, len(BROKEN) - 1, 2)
        missing = lib.tracks(include_missing=True, text="song.m4a")
        assert len(missing) == 1 and missing[0].missing

        forced = scan.scan([music], library=lib, workers=1, rescan=True)
        assert (forced.added, forced.updated, forced.unchanged) == (0, n_ok, 0)

        # scanning a sub-folder does not mark the rest of the library missing
        part = scan.scan([music / "edge"], library=lib, workers=1)
        assert part.removed == 0 and part.unchanged == 3
        assert len(lib.tracks()) == n_ok + len(BROKEN) - 1


def test_file_deleted_between_walk_and_analysis(music, tmp_path):
    with Library(tmp_path / "lib.db") as lib:
        plan = scan.plan_scan([music], library=lib)
        victim = music / "Björk & Co/trăck  with   spaces.ogg"
        victim.unlink()
        summary = scan.scan([music], library=lib, workers=1, plan=plan)
        assert (str(victim), "file disappeared during the scan") in summary.errors
        assert summary.added == len(GOOD) + len(NO_BEAT)  # the rest went on
        assert lib.tracks(text="spaces") == []  # no row for a file that is gone


def test_unreadable_folder_is_reported_and_its_files_are_not_marked_missing(
    music, tmp_path, monkeypatch
):
    with Library(tmp_path / "lib.db") as lib:
        scan.scan([music], library=lib, workers=1)
        real_scandir = os.scandir
        locked = str(music / "Artist A" / "Album")

        def scandir(path="."):
            if os.fspath(path) == locked:
                raise PermissionError(13, "Permission denied")
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
        summary = scan.scan([music], library=lib, workers=1)
        assert (locked, "folder not read: permission denied") in summary.errors
        assert summary.removed == 0
        assert all(not t.missing for t in lib.tracks(include_missing=True))


def test_zero_permission_file_is_a_recorded_error(music, tmp_path):
    if not can_deny_permission(tmp_path):
        pytest.skip("cannot make a file unreadable here (root without CAP_SETPCAP)")
    locked = music / "loose.wav"
    locked.chmod(0)
    db = tmp_path / "lib.db"
    try:
        result = run_without_permission_override(
            [sys.executable, "-m", "beatrun", "scan", str(music), "--library", str(db),
             "--workers", "1", "--json"],
            timeout=120,
        )
    finally:
        locked.chmod(0o644)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert {"path": str(locked),
            "error": "permission denied; make the file readable (chmod +r)"} in report["errors"]
    assert report["added"] == len(GOOD) + len(NO_BEAT)  # everything else was stored
    with Library(db) as lib:  # readable again: the next scan picks it up
        assert scan.scan([music], library=lib, workers=1).updated == 1


def test_cli_scan_prints_failures_and_summary(music, tmp_path):
    db = tmp_path / "lib.db"
    result = CliRunner().invoke(cli, ["scan", str(music), "--library", str(db),
                                      "--workers", "2"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.stdout.splitlines()
    n_ok = len(GOOD) + len(NO_BEAT) + 1
    assert lines[-1] == (f"scanned {n_ok + len(BROKEN)} files: {n_ok} added, 0 updated, "
                         f"0 unchanged, {len(BROKEN)} failed, 0 removed")
    failed = sorted(lines[:-1])
    assert len(failed) == len(BROKEN)
    for line, (rel, message) in zip(failed, sorted(BROKEN.items()), strict=True):
        assert line.startswith(f"failed: {music / rel}: {message}")

    # nothing failing: exit 0, and --json carries the same counts
    good_only = tmp_path / "good"
    shutil.copytree(music / "Artist A" / "Album", good_only)
    result = CliRunner().invoke(cli, ["scan", str(good_only), "--library", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["scanned"], report["added"], report["failed"], report["errors"]) == (
        2, 2, 0, [])


def test_cli_scan_bad_arguments(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["scan", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: folder not found: {tmp_path / 'nope'}; check the path"
    result = runner.invoke(cli, ["scan", str(tmp_path), "--workers", "2", "--executor",
                                 "tcp://127.0.0.1:8786"])
    assert result.exit_code == 2
    assert "--workers and --executor cannot be combined" in result.stderr


def test_write_tags_writes_confident_bpm_and_keeps_the_audio(music, tmp_path):
    picked = [rel for rel in GOOD if not rel.endswith(".wav")]  # mp3, flac, ogg, m4a
    sound_before = {rel: audio.load(music / rel, sr=SR) for rel in picked}
    db = tmp_path / "lib.db"
    result = CliRunner().invoke(cli, ["scan", str(music), "--library", str(db), "--workers", "1",
                                      "--write-tags", "--json"])
    report = json.loads(result.stdout)
    assert report["tags_written"] >= len(picked)
    with Library(db) as lib:
        for rel in picked:
            track = lib.get(str(music / rel))
            info = tags.read_tags(music / rel)
            assert info.bpm == pytest.approx(track.bpm, abs=0.51), rel
            assert track.tag_bpm == info.bpm  # the library knows what is in the tag now
            np.testing.assert_array_equal(audio.load(music / rel, sr=SR), sound_before[rel])
        again = scan.scan([music], library=lib, workers=1, write_tags=True)
    # writing tags does not force a re-analysis, and a tag already right is left alone
    assert (again.updated, again.added, again.tags_written) == (0, 0, 0)


def test_write_tags_later_covers_files_analysed_before(music, tmp_path):
    rel = "Artist A/Album/02 Slow ünïcode sông.flac"
    with Library(tmp_path / "lib.db") as lib:
        first = scan.scan([music], library=lib, workers=1)
        assert first.tags_written == 0 and tags.read_tags(music / rel).bpm is None
        later = scan.scan([music], library=lib, workers=1, write_tags=True)
        assert later.unchanged == first.added and later.tags_written >= len(GOOD)
        assert tags.read_tags(music / rel).bpm == pytest.approx(lib.get(str(music / rel)).bpm,
                                                                abs=0.51)
        assert scan.scan([music], library=lib, workers=1).unchanged == first.added


def test_write_tags_is_off_by_default(music, tmp_path):
    before = _digest(music / "Artist A/Album/01 Fast song.mp3")
    with Library(tmp_path / "lib.db") as lib:
        summary = scan.scan([music], library=lib, workers=1)
    assert summary.tags_written == 0
    assert _digest(music / "Artist A/Album/01 Fast song.mp3") == before


# ---------------------------------------------------------------------------
# Crashes and concurrency (real processes).
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many(tmp_path_factory) -> Path:
    """60 copies of one 30 s song: long enough to kill a scan halfway."""
    root = tmp_path_factory.mktemp("many")
    song = root / "song 00.wav"
    audio.write_audio(song, synth.render_pattern("rock", bpm=160.0, seconds=30.0, sr=SR), sr=SR)
    for i in range(1, 60):
        shutil.copyfile(song, root / f"song {i:02d}.wav")
    return root


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM tracks").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_kill_9_halfway_then_scan_again_resumes(many, tmp_path):
    db = tmp_path / "lib.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "beatrun", "scan", str(many), "--library", str(db),
         "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    try:
        while _count(db) < 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    stored = _count(db)
    assert 5 <= stored < 60, "the scan was not killed halfway"

    with Library(db) as lib:  # opens fine after kill -9
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        summary = scan.scan([many], library=lib, workers=1)
        assert (summary.unchanged, summary.added, summary.updated, summary.failed) == (
            stored, 60 - stored, 0, 0)
        paths = [t.path for t in lib.tracks()]
    assert len(paths) == len(set(paths)) == 60


def test_kill_9_leaves_no_orphan_workers(many, tmp_path):
    psutil = pytest.importorskip("psutil")
    db = tmp_path / "lib.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "beatrun", "scan", str(many), "--library", str(db),
         "--workers", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while _count(db) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    helpers = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert helpers, "the scan had no worker processes"
    try:
        gone, alive = psutil.wait_procs(helpers, timeout=15)
        assert alive == [], "workers outlived the killed scan"
    finally:
        for helper in helpers:  # never leave strays behind, even when failing
            try:
                helper.kill()
            except psutil.Error:
                pass


def test_two_scans_of_one_folder_at_once(many, tmp_path):
    db = tmp_path / "lib.db"
    cmd = [sys.executable, "-m", "beatrun", "scan", str(many), "--library", str(db),
           "--workers", "1", "--json"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err and "Traceback" not in err
        assert json.loads(out)["failed"] == 0
    reports = [json.loads(out) for out, _ in outputs]
    assert all(r["added"] + r["updated"] + r["unchanged"] == 60 for r in reports)
    assert sum(r["added"] for r in reports) == 60  # each file added once, by one of them
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*), count(DISTINCT path) FROM tracks").fetchone() == (
            60, 60)


def test_dask_local_cluster_through_executor_option(music, tmp_path):
    distributed = pytest.importorskip("distributed")
    db = tmp_path / "lib.db"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp://", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        result = CliRunner().invoke(cli, ["scan", str(music / "Artist A/Album"), "--library",
                                          str(db), "--executor", cluster.scheduler_address,
                                          "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["added"], report["failed"]) == (2, 0)
    with Library(db) as lib:
        found = {Path(t.path).name: t.bpm for t in lib.tracks()}
    assert len(found) == 2
    for rel in ("Artist A/Album/01 Fast song.mp3", "Artist A/Album/02 Slow ünïcode sông.flac"):
        assert _runner_ok(found[Path(rel).name], GOOD[rel][1])


def test_executor_address_is_checked_before_connecting(music, tmp_path):
    result = CliRunner().invoke(cli, ["scan", str(music), "--library", str(tmp_path / "l.db"),
                                      "--executor", "foo:bar"])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --executor 'foo:bar' is not a scheduler address; "
        "use tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786)")
    assert not (tmp_path / "l.db").exists() or _count(tmp_path / "l.db") == 0


def test_dask_address_that_does_not_answer():
    pytest.importorskip("distributed")
    with pytest.raises(BeatrunError) as info:
        with scan.dask_executor("tcp://127.0.0.1:9", timeout_s=0.5):
            pass
    assert str(info.value) == (
        "no Dask scheduler answers at tcp://127.0.0.1:9 within 0.5 s; "
        "start one with `dask scheduler` or drop --executor"
    )


# ---------------------------------------------------------------------------
# analyze_file / analyze_files contracts.
# ---------------------------------------------------------------------------


def test_two_hour_mix_is_analysed_in_bounded_memory(tmp_path):
    """A 2-hour file (230 MB as float32 samples) is analysed in a process of ~50 MB."""
    import soundfile as sf

    path = tmp_path / "two hour mix.wav"
    minute = np.zeros(8000 * 60, np.float32)
    minute[:: 8000 * 60 // 120] = 0.9  # 120 BPM clicks
    with sf.SoundFile(str(path), "w", 8000, 1, subtype="PCM_16") as out:
        for _ in range(120):
            out.write(minute)
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc to read the peak memory of a process")
    code = (  # VmHWM: peak RSS of this program (ru_maxrss would include the forked parent)
        "import json, sys\nfrom beatrun import scan\n"
        "r = scan.analyze_file(sys.argv[1])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(json.dumps([r.duration_s, r.tempo and r.tempo.bpm, r.error,"
        " int(hwm.split()[1]) / 1024]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=120)
    duration, bpm, error, peak_mb = json.loads(out.stdout)
    assert error is None and duration == pytest.approx(7200.0)
    assert _runner_ok(bpm, 120.0)
    assert peak_mb < 120, f"peak RSS {peak_mb:.0f} MB"


def test_analyze_file_turns_surprises_into_one_line(template, monkeypatch):
    path = template / "loose.wav"

    def boom(*args, **kwargs):
        raise ValueError("bad\nthing")

    monkeypatch.setattr(tempo, "estimate_tempo_excerpts", boom)
    result = scan.analyze_file(path)
    assert result.error == "internal error: ValueError: bad thing"
    assert result.size == path.stat().st_size and result.mtime == path.stat().st_mtime


def test_unreadable_tags_are_a_note_not_a_failure(template, monkeypatch):
    def no_tags(path):
        raise AudioError("tag block is damaged")

    monkeypatch.setattr(tags, "read_tags", no_tags)
    result = scan.analyze_file(template / "loose.wav")
    assert result.error is None and result.tempo.bpm == pytest.approx(150.0, rel=0.01)
    assert result.tags.notes == ("tags not read: tag block is damaged",)


def test_analyze_files_runs_on_any_executor(template):
    paths = [template / rel for rel in GOOD] + [template / "broken/empty.flac"]
    with cf.ThreadPoolExecutor(max_workers=2) as pool:
        results = list(scan.analyze_files(paths, executor=pool))
    assert sorted(r.path for r in results) == sorted(str(p) for p in paths)
    by_path = {Path(r.path): r for r in results}
    assert by_path[template / "broken/empty.flac"].error.startswith("file is empty")
    for rel, (_, bpm) in GOOD.items():
        assert _runner_ok(by_path[template / rel].tempo.bpm, bpm)


def _blas_threads_and_env() -> tuple[int, str | None]:
    from threadpoolctl import threadpool_info

    return (max(i["num_threads"] for i in threadpool_info()),
            os.environ.get("OPENBLAS_NUM_THREADS"))


def test_worker_processes_use_one_blas_thread():
    with scan.make_executor(2) as pool:
        assert pool.submit(_blas_threads_and_env).result(timeout=120) == (1, "1")


def test_analyze_files_rejects_a_bad_range(template):
    with pytest.raises(UsageError, match="min_bpm=0 is outside 20-400 BPM"):
        list(scan.analyze_files([template / "loose.wav"], min_bpm=0))


def test_write_tags_keeps_a_tag_at_double_the_analysed_tempo(music, tmp_path):
    """A DJ tool tagged the song at the other beat level: the tag is not overwritten with
    half (or double) its value, and the library uses the tag's level."""
    rel = "Artist A/Album/02 Slow ünïcode sông.flac"
    analysed = scan.analyze_file(music / rel, read_tags=False).tempo
    assert analysed is not None and analysed.confidence >= 0.5
    level = 2.0 if analysed.bpm < 120 else 0.5
    tags.write_bpm(music / rel, round(analysed.bpm * level))
    written = (music / rel).read_bytes()
    with Library(tmp_path / "lib.db") as lib:
        summary = scan.scan([music], library=lib, workers=1, write_tags=True)
        track = lib.get(str(music / rel))
    assert (music / rel).read_bytes() == written  # the user's tag survives
    assert str(music / rel) not in dict(summary.errors)
    assert track.bpm == pytest.approx(analysed.bpm * level, abs=0.02)
    assert track.bpm_source == "analysis"


def test_scan_through_a_symlinked_folder_adds_no_duplicates(music, tmp_path):
    """~/Music is often a link to another disk: both ways in are the same library."""
    link = tmp_path / "Music link"
    os.symlink(music, link)
    with Library(tmp_path / "lib.db") as lib:
        first = scan.scan([music], library=lib, workers=1)
        count = len(lib.tracks())
        again = scan.scan([link], library=lib, workers=1)
        assert (again.added, again.updated, again.removed) == (0, 0, 0)
        assert again.unchanged == first.added
        assert len(lib.tracks()) == count
        (music / "loose.wav").unlink()  # vanished files are still found through the link
        assert scan.scan([link], library=lib, workers=1).removed == 1
        assert lib.get(str(link / "Artist A/Album/01 Fast song.mp3")).path == str(
            music / "Artist A/Album/01 Fast song.mp3")


def test_moved_file_keeps_its_row_analysis_and_override(music, tmp_path):
    """Reorganising a library (same file, new folder) is not a new song: one row, the
    manual BPM survives, and nothing is decoded again."""
    old = music / "Artist A/Album/01 Fast song.mp3"
    new = music / "Sorted/Artist A - 01 Fast song.mp3"
    with Library(tmp_path / "lib.db") as lib:
        scan.scan([music], library=lib, workers=1)
        count = len(lib.tracks(include_missing=True))
        track_id = lib.get(str(old)).id
        lib.set_override(str(old), "x2")
        overridden = lib.get(str(old)).bpm
        new.parent.mkdir()
        os.rename(old, new)  # mv keeps size and mtime
        (music / "alias.mp3").unlink()  # the link that pointed at it now dangles
        summary = scan.scan([music], library=lib, workers=1)
        moved = lib.get(str(new))
        assert (summary.added, summary.updated, summary.removed, summary.moved) == (0, 0, 0, 1)
        assert "1 moved" in summary.line()
        assert len(lib.tracks(include_missing=True)) == count
        assert (moved.id, moved.bpm, moved.bpm_source) == (track_id, overridden, "override")
        assert scan.scan([music], library=lib, workers=1).unchanged == summary.unchanged


def test_file_moved_to_a_folder_scanned_on_its_own_is_not_duplicated(music, tmp_path):
    old = music / "loose.wav"
    elsewhere = tmp_path / "new music"
    elsewhere.mkdir()
    with Library(tmp_path / "lib.db") as lib:
        scan.scan([music], library=lib, workers=1)
        track_id = lib.get(str(old)).id
        shutil.move(old, elsewhere / "loose.wav")
        summary = scan.scan([elsewhere], library=lib, workers=1)
        assert (summary.added, summary.moved) == (0, 1)
        assert lib.get(str(elsewhere / "loose.wav")).id == track_id
        assert [t.id for t in lib.tracks() if t.id == track_id] == [track_id]


def test_a_copy_is_a_new_row_not_a_move(music, tmp_path):
    """The original is still there: a copy with the same size and mtime is its own row."""
    with Library(tmp_path / "lib.db") as lib:
        scan.scan([music], library=lib, workers=1)
        shutil.copy2(music / "loose.wav", music / "edge" / "copy.wav")
        summary = scan.scan([music], library=lib, workers=1)
        assert (summary.added, summary.moved) == (1, 0)
        assert lib.get(str(music / "loose.wav")).path == str(music / "loose.wav")


def test_cli_scan_failure_of_a_name_with_a_newline_stays_one_line(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "bad\nname.mp3").write_text("not music\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["scan", str(folder), "--library", str(tmp_path / "l.db")])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"failed: {folder}/bad\\nname.mp3: "
        "not an audio file (it contains text); check what this file is",
        "scanned 1 file: 0 added, 0 updated, 0 unchanged, 1 failed, 0 removed",
    ]
    with Library(tmp_path / "l.db") as lib:  # the real name is what is stored
        assert lib.get(str(folder / "bad\nname.mp3")).error is not None
    listing = CliRunner().invoke(cli, ["library", "list", "--library", str(tmp_path / "l.db")])
    assert len(listing.stdout.splitlines()) == 3  # header, one row, count
    assert "bad\\nname.mp3" in listing.stdout


def test_rows_stored_under_a_symlinked_path_follow_the_resolved_path(music, tmp_path):
    """A library made through ~/Music (a link) before roots were resolved: its rows are
    renamed to the real paths on the next scan, not duplicated and not re-analysed."""
    link = tmp_path / "Music link"
    os.symlink(music, link)
    rel = "Artist A/Album/01 Fast song.mp3"
    with Library(tmp_path / "lib.db") as lib:
        scan.scan([music], library=lib, workers=1)
        count = len(lib.tracks(include_missing=True))
        track_id = lib.get(str(music / rel)).id
        lib.move_file(str(music / rel), str(link / rel))  # as an older beatrun stored it
        summary = scan.scan([link], library=lib, workers=1)
        assert (summary.added, summary.updated, summary.moved) == (0, 0, 1)
        assert len(lib.tracks(include_missing=True)) == count
        assert lib.get(track_id).path == str(music / rel)


def test_file_name_that_is_not_utf8_fails_alone_with_a_reason(music, tmp_path):
    """Old collections copied from Windows or FAT drives keep Latin-1 names (b"caf\\xe9"):
    such a file is one failure with a reason; the rest of the scan goes on."""
    bad = os.path.join(os.fsencode(music), b"caf\xe9.wav")
    shutil.copyfile(music / "loose.wav", bad)
    shown = f"{music}/caf\\xe9.wav"
    db = tmp_path / "lib.db"
    with Library(db) as lib:
        summary = scan.scan([music], library=lib, workers=1)
        assert summary.added == len(GOOD) + len(NO_BEAT) + 1
        assert summary.failed == len(BROKEN) + 1
        assert dict(summary.errors)[shown] == (
            "file name is not valid UTF-8; rename the file (e.g. with convmv) so it can be stored")
        assert scan.scan([music], library=lib, workers=1).failed == len(BROKEN) + 1
    result = CliRunner().invoke(cli, ["scan", str(music), "--library", str(db), "--json"])
    assert result.exit_code == 1
    assert {e["path"] for e in json.loads(result.stdout)["errors"]} >= {shown}
    assert os.path.exists(bad)  # nothing renamed or touched


def test_analyze_and_show_of_a_name_that_is_not_utf8(music, tmp_path):
    bad = os.fsdecode(os.path.join(os.fsencode(music), b"caf\xe9.wav"))
    shutil.copyfile(music / "loose.wav", bad)
    result = scan.analyze_file(bad)
    assert result.error == "file name is not valid UTF-8; rename the file (e.g. with convmv)"
    shown = CliRunner().invoke(cli, ["library", "show", bad, "--library", str(tmp_path / "l.db")])
    assert shown.exit_code == 1
    assert shown.stderr.startswith("Error: no track '") and "caf\\udce9.wav" in shown.stderr


def test_files_that_come_back_are_not_analysed_again(music, tmp_path):
    """A drive unmounted under its mount point, or a folder moved away and back: the
    files were marked missing; when they return unchanged, they are present again at once."""
    away = tmp_path / "away"
    with Library(tmp_path / "lib.db") as lib:
        first = scan.scan([music], library=lib, workers=1)
        count = len(lib.tracks())
        shutil.move(music / "Artist A", away)
        gone = scan.scan([music], library=lib, workers=1)
        assert gone.removed == 2 and len(lib.tracks()) == count - 2
        shutil.move(away, music / "Artist A")
        back = scan.scan([music], library=lib, workers=1)
        assert (back.added, back.updated, back.unchanged) == (0, 0, first.added)
        assert len(lib.tracks()) == count
        assert not lib.get(str(music / "Artist A/Album/01 Fast song.mp3")).missing


# -- the worker pool (beatrun.workers) ----------------------------------------------


def _square_or_die(n: int) -> tuple[int, int]:
    if n == 3:
        os._exit(1)  # a decoder crash takes the worker process with it
    return n, n * n


def _square(n: int) -> tuple[int, int]:
    return n, os.getpid()


def test_worker_pool_runs_on_any_executor_and_leaves_it_open():
    from beatrun import workers

    with cf.ThreadPoolExecutor(max_workers=3) as pool:
        results = list(workers.run_unordered(_square, range(50), executor=pool,
                                             on_error=lambda n, exc: (n, -1)))
        assert pool.submit(abs, -2).result() == 2  # not shut down by run_unordered
    assert sorted(n for n, _ in results) == list(range(50))


def test_worker_pool_one_worker_runs_in_this_process():
    from beatrun import workers

    results = list(workers.run_unordered(_square, [1, 2, 3], workers=1,
                                         on_error=lambda n, exc: (n, -1)))
    assert results == [(1, os.getpid()), (2, os.getpid()), (3, os.getpid())]


def test_worker_pool_turns_a_dead_worker_into_results():
    from beatrun import workers

    results = list(workers.run_unordered(
        _square_or_die, range(6), workers=2,
        on_error=lambda n, exc: (n, workers.failure_reason(exc)),
    ))
    assert sorted(n for n, _ in results) == list(range(6))  # every item answered once
    by_item = dict(results)
    assert by_item[3] == "a worker process died (out of memory or a crash in a decoder)"
    assert workers.default_workers() >= 1


def test_new_rows_get_ids_in_walk_order_whatever_the_timing(music, tmp_path):
    with Library(tmp_path / "lib.db") as lib:
        walk = scan.plan_scan([music], library=lib).to_analyse
        scan.scan([music], library=lib, workers=2)
        ids = [lib.get(path).id for path in walk]
    assert ids == sorted(ids)


def test_results_wait_for_earlier_files_only():
    from beatrun.models import FileAnalysis
    from beatrun.scan.run import _InOrder

    order = _InOrder(["/a", "/b", "/c"])
    assert order.add(FileAnalysis(path="/c")) == []
    assert [r.path for r in order.add(FileAnalysis(path="/a"))] == ["/a"]
    assert [r.path for r in order.add(FileAnalysis(path="/elsewhere"))] == ["/elsewhere"]
    assert [r.path for r in order.add(FileAnalysis(path="/b"))] == ["/b", "/c"]
    assert order.rest() == []
