"""Audio files in and out. The only package that knows codecs.

- :mod:`beatrun.audio.decode`: any file to mono float32 at any rate
  (libsndfile or FFmpeg by measurement; only the requested span is decoded).
- :mod:`beatrun.audio.decode_av`: the FFmpeg (PyAV) reader behind it.
- :mod:`beatrun.audio.stream`: :class:`AudioStream`, random access to a song's
  frames in all its channels (rendering).
- :mod:`beatrun.audio.write`: :func:`write_audio` (whole arrays) and
  :func:`write_stream` (blocks, for rendered songs and mixes), both atomic.

numpy, soundfile, av, soxr and pedalboard are imported inside the functions
that need them.
"""

from beatrun.audio.decode import (
    AUDIO_EXTENSIONS,
    check_file,
    load,
    load_excerpts,
    mute_native_messages,
    probe_duration,
    sniff,
)
from beatrun.audio.stream import AudioStream
from beatrun.audio.write import (
    STREAM_FORMATS,
    check_writable,
    part_path,
    stream_format,
    write_audio,
    write_stream,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "STREAM_FORMATS",
    "AudioStream",
    "check_file",
    "check_writable",
    "load",
    "load_excerpts",
    "mute_native_messages",
    "part_path",
    "probe_duration",
    "sniff",
    "stream_format",
    "write_audio",
    "write_stream",
]
