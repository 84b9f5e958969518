"""Playlist writers (beatrun.export): every format read back by a parser."""

from __future__ import annotations

import configparser
import csv
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from beatrun.errors import BeatrunError
from beatrun.export import (
    PLAYLIST_FORMATS,
    XSPF_NS,
    read_playlist_json,
    uri_to_path,
    write_playlist,
)
from beatrun.match import Playlist, Segment, build_playlist
from beatrun.models import TempoEstimate, Track

NAMES = [
    ("Björk", "Jóga", "Homogenic"),
    ("Sigur Rós", "Hoppípolla", "Takk…"),
    ("AC/DC", "T.N.T. 100% #1", None),
]


@pytest.fixture()
def music(tmp_path: Path) -> tuple[Path, list[Track]]:
    """Three local songs under folders with spaces and non-ASCII letters, one Spotify track."""
    folder = tmp_path / "Mü sic" / "Läufe & Sprints"
    folder.mkdir(parents=True)
    tracks = []
    for i, (artist, title, album) in enumerate(NAMES, 1):
        path = folder / f"{i:02d} {title.replace('/', '_')}.flac"
        path.write_bytes(b"")
        tracks.append(
            Track(
                id=i, path=str(path), artist=artist, title=title, album=album,
                duration_s=200.0 + i, bpm=170.0, bpm_source="analysis",
                tempo=TempoEstimate(bpm=170.0, confidence=0.9, beat_offset_s=0.1,
                                    beat_period_s=60 / 170),
            )
        )
    tracks.append(
        Track(id=4, source="spotify", spotify_uri="spotify:track:4uLU6hMCjMI75M1A2tKUQC",
              artist="Rick Astley", title="Never Gonna Give You Up", duration_s=213.0,
              bpm=85.0, bpm_source="spotify")
    )
    return tmp_path, tracks


@pytest.fixture()
def playlist(music) -> Playlist:
    _, tracks = music
    return build_playlist(tracks, segments=[Segment("main", 13, 170.0)], name="Läufe 170")


def local_paths(playlist: Playlist) -> list[str]:
    return [m.track.path for m in playlist.entries if m.track.path]


@pytest.fixture(params=[False, True], ids=["absolute", "relative"])
def relative(request) -> bool:
    return request.param


def out_dir(root: Path) -> Path:
    folder = root / "Play lists ß"
    folder.mkdir(exist_ok=True)
    return folder


def resolve(written: str, base: Path, *, relative: bool) -> str:
    assert os.path.isabs(written) != relative, written
    return os.path.normpath(os.path.join(base, written))


@pytest.mark.parametrize("ext", [".m3u8", ".m3u"])
def test_m3u(music, playlist, relative, ext):
    root, _ = music
    target = out_dir(root) / f"run{ext}"
    result = write_playlist(playlist, target, relative=relative)
    assert (result.written, result.skipped) == (3, 1)
    lines = target.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[1] == "#PLAYLIST:Läufe 170"
    body = lines[2:]
    assert len(body) == 6
    paths = []
    for info, path in zip(body[::2], body[1::2], strict=True):
        assert info.startswith("#EXTINF:")
        paths.append(resolve(path, target.parent, relative=relative))
    assert paths == local_paths(playlist)
    first = next(m for m in playlist.entries if m.track.path)
    name = f"{first.track.artist} - {first.track.title}"
    assert body[0] == f"#EXTINF:{round(first.duration_s)},{name}"
    assert all(Path(p).exists() for p in paths)


def test_xspf(music, playlist, relative):
    root, _ = music
    target = out_dir(root) / "run.xspf"
    result = write_playlist(playlist, target, relative=relative)
    assert result.skipped == 1
    tree = ET.parse(target)
    ns = {"x": XSPF_NS}
    assert tree.getroot().tag == f"{{{XSPF_NS}}}playlist"
    assert tree.getroot().get("version") == "1"
    assert tree.findtext("x:title", namespaces=ns) == "Läufe 170"
    tracks = tree.findall("x:trackList/x:track", ns)
    local = [m for m in playlist.entries if m.track.path]
    assert len(tracks) == len(local) == 3
    for element, match in zip(tracks, local, strict=True):
        location = element.findtext("x:location", namespaces=ns)
        assert location.isascii() and " " not in location  # percent-encoded
        assert location.startswith("file:///") != relative
        path = uri_to_path(location, base=target.parent)
        assert os.path.normpath(path) == match.track.path
        assert element.findtext("x:title", namespaces=ns) == match.track.title
        assert element.findtext("x:creator", namespaces=ns) == match.track.artist
        assert element.findtext("x:duration", namespaces=ns) == str(round(match.duration_s * 1000))


def test_pls(music, playlist, relative):
    root, _ = music
    target = out_dir(root) / "run.pls"
    write_playlist(playlist, target, relative=relative)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(target, encoding="utf-8")
    section = parser["playlist"]
    assert section["NumberOfEntries"] == "3"
    assert section["Version"] == "2"
    paths = [resolve(section[f"File{i}"], target.parent, relative=relative) for i in (1, 2, 3)]
    assert paths == local_paths(playlist)
    first = next(m for m in playlist.entries if m.track.path)
    assert section["Title1"] == first.track.display_name
    assert section["Length1"] == str(round(first.duration_s))


def test_json_keeps_spotify_tracks_and_reads_back(music, playlist, relative):
    root, _ = music
    target = out_dir(root) / "run.json"
    result = write_playlist(playlist, target, relative=relative)
    assert (result.written, result.skipped) == (4, 0)
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["paths"] == ("relative" if relative else "absolute")
    assert [e["spotify_uri"] for e in data["entries"]].count(
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC") == 1
    again = read_playlist_json(target)
    assert again.to_dict() == playlist.to_dict()


def test_csv(music, playlist, relative):
    root, _ = music
    target = out_dir(root) / "run.csv"
    write_playlist(playlist, target, relative=relative)
    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert [r["position"] for r in rows] == ["1", "2", "3", "4"]
    by_artist = {r["artist"]: r for r in rows}
    assert by_artist["Rick Astley"]["path"] == ""
    assert by_artist["Rick Astley"]["steps_per_beat"] == "2"
    joga = by_artist["Björk"]
    assert joga["title"] == "Jóga" and joga["bpm"] == "170.00" and joga["stretch_pct"] == "0.00"
    assert joga["segment"] == "main"
    assert resolve(joga["path"], target.parent, relative=relative).endswith("01 Jóga.flac")
    assert rows[0]["start"] == "0:00"


def test_unknown_extension_lists_the_formats_and_writes_nothing(music, playlist):
    root, _ = music
    target = root / "run.txt"
    with pytest.raises(BeatrunError) as info:
        write_playlist(playlist, target)
    assert str(info.value) == (
        "cannot write a playlist as '.txt' (run.txt); use one of "
        ".m3u8, .m3u, .xspf, .pls, .json, .csv"
    )
    assert not target.exists()
    assert PLAYLIST_FORMATS == (".m3u8", ".m3u", ".xspf", ".pls", ".json", ".csv")


def test_missing_folder_is_a_clear_error(music, playlist):
    root, _ = music
    target = root / "nope" / "run.m3u8"
    with pytest.raises(BeatrunError) as info:
        write_playlist(playlist, target)
    assert str(info.value) == (
        f"cannot write playlist {target}: folder {target.parent} does not exist; create it"
    )


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(music, playlist, monkeypatch):
    root, _ = music
    target = root / "run.m3u8"
    target.write_text("old\n", encoding="utf-8")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(BeatrunError) as info:
        write_playlist(playlist, target)
    assert str(info.value) == (
        f"cannot write playlist {target}: no space left on device; choose another folder"
    )
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in root.iterdir()) == ["Mü sic", "run.m3u8"]


def test_read_playlist_json_errors(tmp_path):
    with pytest.raises(
        BeatrunError, match=r"does not exist; check the path or save one with `beatrun playlist"
    ):
        read_playlist_json(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(BeatrunError, match=r"is not valid JSON \(line 1\)"):
        read_playlist_json(bad)
    other = tmp_path / "other.json"
    other.write_text("[]", encoding="utf-8")
    with pytest.raises(BeatrunError, match=r"other.json: not a beatrun playlist JSON"):
        read_playlist_json(other)


@pytest.mark.parametrize("ext", [".m3u8", ".m3u"])
def test_m3u_relative_path_starting_with_hash_is_not_read_as_a_comment(tmp_path, ext):
    """A song next to the playlist named "#1 Hit.flac" must not become a '#' comment line."""
    names = ["#1 Hit ?%23 Läuft.flac", "plain.flac"]
    tracks = []
    for i, name in enumerate(names, 1):
        (tmp_path / name).write_bytes(b"")
        tracks.append(Track(id=i, path=str(tmp_path / name), artist=f"A{i}", title=f"T{i}",
                            duration_s=300.0, bpm=170.0, bpm_source="tag"))
    playlist = build_playlist(tracks, segments=[Segment("main", 9, 170.0)])
    target = tmp_path / f"run{ext}"
    write_playlist(playlist, target, relative=True)
    lines = target.read_text(encoding="utf-8").splitlines()
    # What a player does: every line not starting with '#' is an entry.
    entries = [line for line in lines if line and not line.startswith("#")]
    read = [os.path.normpath(os.path.join(tmp_path, line)) for line in entries]
    assert sorted(read) == sorted(str(tmp_path / name) for name in names)
    assert all(Path(p).is_file() for p in read)
