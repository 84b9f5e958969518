"""tags.py: lenient BPM reading for every format, safe atomic BPM writing."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from beatrun import tags
from beatrun.errors import AudioError, UsageError

# (file name, encoder, container format, sample rate, channel layout)
FORMATS = {
    "mp3": ("libmp3lame", None, 22050, "mono"),
    "m4a": ("aac", "ipod", 22050, "mono"),
    "flac": ("flac", None, 22050, "mono"),
    "ogg": ("vorbis", "ogg", 22050, "stereo"),
    "opus": ("libopus", "ogg", 48000, "mono"),
    "wma": ("wmav2", "asf", 44100, "mono"),
    "wav": ("pcm_s16le", "wav", 22050, "mono"),
}


def _encode(path: Path, codec: str, container: str | None, sr: int, layout: str) -> None:
    """A 1-second tone written with PyAV (tests make their own audio)."""
    import av
    import numpy as np

    t = np.arange(sr) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    channels = 2 if layout == "stereo" else 1
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        stream.bit_rate = 64000
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "-2"}
        size = stream.codec_context.frame_size or 1024
        for start in range(0, len(tone), size):
            chunk = np.tile(tone[start:start + size], (channels, 1))
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp",
                                               layout=layout)
            frame.sample_rate = sr
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.fixture(scope="session")
def originals(tmp_path_factory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("tag-originals")
    made = {}
    for ext, (codec, container, sr, layout) in FORMATS.items():
        path = directory / f"tone.{ext}"
        _encode(path, codec, container, sr, layout)
        made[ext] = path
    return made


@pytest.fixture
def fresh(originals, tmp_path):
    """A private copy of one generated file: ``fresh("mp3")``."""

    def copy(ext: str, name: str | None = None) -> Path:
        target = tmp_path / (name or f"song.{ext}")
        shutil.copyfile(originals[ext], target)
        return target

    return copy


def _tag(path: Path, *, bpm: str | None, title="Run Boy Run", artist="Woodkid",
         album="The Golden Age", isrc="FRUM71200001") -> None:
    """Tag a file with mutagen the way other tools do."""
    import mutagen
    from mutagen.id3 import TALB, TBPM, TIT2, TPE1, TSRC

    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    t = audio.tags
    ext = path.suffix.lower()
    if ext in (".mp3", ".wav"):
        t.add(TIT2(encoding=3, text=[title]))
        t.add(TPE1(encoding=3, text=[artist]))
        t.add(TALB(encoding=3, text=[album]))
        t.add(TSRC(encoding=3, text=[isrc]))
        if bpm is not None:
            t.add(TBPM(encoding=3, text=[bpm]))
        audio.save(v2_version=3)
        return
    if ext == ".m4a":
        from mutagen.mp4 import MP4FreeForm

        t["\xa9nam"], t["\xa9ART"], t["\xa9alb"] = [title], [artist], [album]
        t["----:com.apple.iTunes:ISRC"] = [MP4FreeForm(isrc.encode())]
        if bpm is not None:
            t["tmpo"] = [int(float(bpm))]
    elif ext == ".wma":
        t["Title"], t["Author"], t["WM/AlbumTitle"], t["WM/ISRC"] = title, artist, album, isrc
        if bpm is not None:
            t["WM/BeatsPerMinute"] = bpm
    else:
        t["title"], t["artist"], t["album"], t["isrc"] = [title], [artist], [album], [isrc]
        t["comment"] = ["keep me"]
        if bpm is not None:
            t["bpm"] = [bpm]
    audio.save()


def _packets(path: Path) -> list[bytes]:
    """The raw audio packets of the file's audio stream (PyAV demuxer, no decoding)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def _after_id3(path: Path) -> bytes:
    """The bytes of an MP3 after its ID3v2 header (the MPEG frames, plus any ID3v1)."""
    data = path.read_bytes()
    assert data[:3] == b"ID3"
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return data[10 + size + footer:]


# -- parsing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "bpm", "note"),
    [
        ("128", 128.0, None),
        ("125.93", 125.93, None),
        ("125,93", 125.93, "TBPM '125,93' read as 125.93 (comma decimal)"),
        ("12593", 125.93, "TBPM '12593' read as 125.93 (BPM x 100)"),
        ("17000", 170.0, "TBPM '17000' read as 170.00 (BPM x 100)"),
        (" 174 BPM", 174.0, None),
        ("fast", None, "TBPM 'fast' is not a number; ignored"),
        ("999", None, "TBPM '999' is outside 30-300 BPM; ignored"),
        ("12", None, "TBPM '12' is outside 30-300 BPM; ignored"),
        ("0", None, "TBPM '0' is outside 30-300 BPM; ignored"),
        ("", None, None),
        (b"172\x00", 172.0, None),
        (172, 172.0, None),
    ],
)
def test_parse_bpm_is_lenient_and_explains(raw, bpm, note):
    assert tags.parse_bpm(raw, field="TBPM") == (bpm, note)


# -- reading -----------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mp3", "m4a", "flac", "ogg", "opus", "wma", "wav"])
def test_read_tags_every_format(fresh, ext):
    path = fresh(ext)
    _tag(path, bpm="174")
    info = tags.read_tags(path)
    assert (info.title, info.artist, info.album, info.isrc) == (
        "Run Boy Run", "Woodkid", "The Golden Age", "FRUM71200001")
    assert info.bpm == 174.0
    assert info.bpm_raw == "174"
    assert info.duration_s == pytest.approx(1.0, abs=0.15) or ext == "ogg"
    assert info.notes == ()


def test_read_mp3_tbpm_x100_and_garbage(fresh):
    path = fresh("mp3")
    _tag(path, bpm="12593")
    info = tags.read_tags(path)
    assert info.bpm == 125.93
    assert info.bpm_raw == "12593"
    assert info.notes == ("TBPM '12593' read as 125.93 (BPM x 100)",)

    _tag(path, bpm="lots")
    info = tags.read_tags(path)
    assert info.bpm is None and info.bpm_raw == "lots"
    assert info.notes == ("TBPM 'lots' is not a number; ignored",)


def test_out_of_range_bpm_is_ignored_with_a_note(fresh):
    path = fresh("flac")
    _tag(path, bpm="420")
    info = tags.read_tags(path)
    assert info.bpm is None
    assert info.notes == ("BPM '420' is outside 30-300 BPM; ignored",)
    assert info.title == "Run Boy Run"


def test_mp4_freeform_bpm_is_read_when_tmpo_is_absent(fresh):
    from mutagen.mp4 import MP4, MP4FreeForm

    path = fresh("m4a")
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    audio.tags["----:com.apple.iTunes:BPM"] = [MP4FreeForm(b"86.5")]
    audio.save()
    info = tags.read_tags(path)
    assert info.bpm == 86.5 and info.bpm_raw == "86.5"


def test_ape_tags_are_read():
    from mutagen.apev2 import APEv2

    ape = APEv2()
    ape["Title"], ape["Artist"], ape["BPM"] = "Tempo", "Band", "88,25"
    fields = tags._read_fields(ape)
    assert fields["title"] == "Tempo" and fields["artist"] == "Band"
    assert fields["bpm_values"] == [("BPM", "88,25")]
    assert tags.parse_bpm("88,25")[0] == 88.25


def test_untagged_file_gives_empty_taginfo(fresh):
    info = tags.read_tags(fresh("flac"))
    assert info.bpm is None and info.title is None and info.notes == ()
    assert info.duration_s == pytest.approx(1.0, abs=0.01)


def test_non_audio_with_audio_extension_does_not_raise(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("this is a shopping list, not a song\n")
    info = tags.read_tags(path)
    assert info.bpm is None and info.title is None


def test_read_tags_unopenable_file_raises_one_line(tmp_path):
    with pytest.raises(AudioError, match=r"missing\.mp3 does not exist; check the path$"):
        tags.read_tags(tmp_path / "missing.mp3")
    with pytest.raises(AudioError, match="is a folder, not a regular file"):
        tags.read_tags(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_read_tags_zero_permission(fresh):
    path = fresh("mp3")
    path.chmod(0)
    with pytest.raises(AudioError, match="permission denied"):
        tags.read_tags(path)


# -- writing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ext", "written", "stored"),
    [
        ("mp3", 172.46, "172"),
        ("m4a", 172.46, 172),
        ("flac", 172.46, "172.46"),
        ("ogg", 86.0, "86"),
        ("opus", 172.46, "172.46"),
        ("wma", 172.46, "172"),
        ("wav", 172.46, "172"),
    ],
)
def test_write_bpm_keeps_other_tags_and_audio_bytes(fresh, ext, written, stored):
    import mutagen

    path = fresh(ext, name=f"Ünïcode song {ext}.{ext}")
    _tag(path, bpm="120")
    path.chmod(0o640)
    before_packets = _packets(path)
    before = tags.read_tags(path)
    before_mp3 = _after_id3(path) if ext == "mp3" else None

    tags.write_bpm(path, written)

    after = tags.read_tags(path)
    assert after.bpm == pytest.approx(float(stored))
    assert (after.title, after.artist, after.album, after.isrc) == (
        before.title, before.artist, before.album, before.isrc)
    assert _packets(path) == before_packets
    assert len(before_packets) > 5
    if before_mp3 is not None:
        assert _after_id3(path) == before_mp3
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp left
    raw = mutagen.File(path).tags
    if ext in ("mp3", "wav"):
        assert raw["TBPM"].text == [stored]
        assert raw.version[:2] == (2, 3)  # the file's ID3 version is kept
    elif ext == "m4a":
        assert raw["tmpo"] == [stored]
    elif ext == "wma":
        assert str(raw["WM/BeatsPerMinute"][0]) == stored
    else:
        assert raw["bpm"] == [stored]
        assert raw["comment"] == ["keep me"]


def test_write_bpm_adds_a_tag_to_an_untagged_file(fresh):
    path = fresh("mp3")
    packets = _packets(path)
    tags.write_bpm(path, 90)
    assert tags.read_tags(path).bpm == 90.0
    assert _packets(path) == packets


def test_write_bpm_updates_mp4_freeform_too(fresh):
    from mutagen.mp4 import MP4, MP4FreeForm

    path = fresh("m4a")
    audio = MP4(path)
    if audio.tags is None:
        audio.add_tags()
    audio.tags["----:com.apple.iTunes:BPM"] = [MP4FreeForm(b"120")]
    audio.save()
    tags.write_bpm(path, 171.5)
    stored = MP4(path).tags
    assert stored["tmpo"] == [172]
    assert bytes(stored["----:com.apple.iTunes:BPM"][0]) == b"171.5"


def test_write_bpm_through_a_symlink_keeps_the_link(fresh):
    path = fresh("flac")
    link = path.parent / "link.flac"
    link.symlink_to(path)
    tags.write_bpm(link, 150)
    assert link.is_symlink()
    assert tags.read_tags(path).bpm == 150.0


@pytest.mark.parametrize("bad", [0, -5, 1000, float("nan"), "fast"])
def test_write_bpm_rejects_bad_values_and_leaves_file_alone(fresh, bad):
    path = fresh("mp3")
    data = path.read_bytes()
    with pytest.raises(UsageError, match="give a number between 30 and 300"):
        tags.write_bpm(path, bad)
    assert path.read_bytes() == data


def test_write_bpm_read_only_file_is_refused(fresh, monkeypatch):
    path = fresh("mp3")
    data = path.read_bytes()
    path.chmod(0o444)
    if os.geteuid() == 0:  # root may write anyway: simulate what a user sees
        monkeypatch.setattr(tags.os, "access", lambda p, mode: False)
    with pytest.raises(AudioError, match="permission denied"):
        tags.write_bpm(path, 170)
    assert path.read_bytes() == data


def test_write_bpm_failure_leaves_original_and_no_temp(fresh, monkeypatch):
    path = fresh("flac")
    _tag(path, bpm="100")
    data = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tags.os, "replace", boom)
    with pytest.raises(AudioError, match=r"cannot write the BPM tag \(no space left on device\)"):
        tags.write_bpm(path, 170)
    assert path.read_bytes() == data
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_write_bpm_non_audio_file(tmp_path):
    path = tmp_path / "fake.mp3"
    path.write_bytes(b"\x00" * 2000)
    with pytest.raises(AudioError, match="fake.mp3"):
        tags.write_bpm(path, 170)
    assert path.read_bytes() == b"\x00" * 2000


def test_id3_tag_on_undecodable_mp3_is_still_read(tmp_path):
    from mutagen.id3 import ID3, TBPM, TIT2

    path = tmp_path / "broken.mp3"
    path.write_bytes(b"\x00" * 4000)
    tag = ID3()
    tag.add(TIT2(encoding=3, text=["Still Here"]))
    tag.add(TBPM(encoding=3, text=["88"]))
    tag.save(path)
    info = tags.read_tags(path)
    assert (info.title, info.bpm, info.duration_s) == ("Still Here", 88.0, None)


def test_parse_bpm_never_raises_and_stays_in_range():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(max_size=12), st.integers(-10**6, 10**6), st.binary(max_size=8)))
    def check(raw):
        bpm, note = tags.parse_bpm(raw)
        assert bpm is None or tags.BPM_RANGE[0] <= bpm <= tags.BPM_RANGE[1]
        assert note is None or "\n" not in note

    check()


@pytest.mark.parametrize("ext", ["mp3", "m4a", "flac", "ogg", "opus", "wma"])
def test_write_tags_sets_text_fields_and_keeps_audio_bytes(fresh, ext):
    path = fresh(ext)
    _tag(path, bpm="120")
    before_packets = _packets(path)
    before = tags.read_tags(path)

    tags.write_tags(path, title="Schneller / Faster", artist="Ægir", album=None, bpm=171)

    after = tags.read_tags(path)
    assert (after.title, after.artist) == ("Schneller / Faster", "Ægir")
    assert after.album == before.album  # None leaves a field alone
    assert after.isrc == before.isrc
    assert after.bpm == pytest.approx(171)
    assert _packets(path) == before_packets
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_write_tags_with_nothing_to_write_leaves_file_alone(fresh):
    path = fresh("flac")
    data = path.read_bytes()
    tags.write_tags(path)
    assert path.read_bytes() == data


def test_write_bpm_in_a_read_only_folder_is_a_one_line_error(fresh, monkeypatch):
    """A writable file in a folder the user cannot write to (e.g. a shared or mounted
    library): the safe copy cannot be made next to it; say so instead of a traceback."""
    path = fresh("mp3")
    data = path.read_bytes()

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tags.tempfile, "mkstemp", denied)  # what a read-only folder does
    with pytest.raises(AudioError) as err:
        tags.write_bpm(path, 170)
    assert str(err.value) == (
        f"{path}: cannot write the BPM tag: its folder is not writable (permission denied); "
        "beatrun writes a copy next to the file and renames it"
    )
    assert path.read_bytes() == data
    assert [p.name for p in path.parent.iterdir()] == [path.name]
