"""Songs time-stretched to the exact cadence, a continuous beat-matched mix, a click.

Input: a :class:`beatrun.playlist.Playlist` (``beatrun.export.read_playlist_json``
reads one from a file). Modules:

- :mod:`~beatrun.render.model`: what render reads of a playlist entry
  (:class:`RenderEntry`) and the results (:class:`RenderResult`, :class:`MixResult`...).
- :mod:`~beatrun.render.stretch`: Rubber Band through pedalboard; one song to a
  file (:func:`stretch_file`) and the streamed piecewise stretch (settings measured).
- :mod:`~beatrun.render.folder`: :func:`render_playlist`, a folder of stretched
  songs with an M3U8 and a manifest (resume, rename, clean-up).
- :mod:`~beatrun.render.mix`: :func:`render_mix`, one continuous file; and
  :mod:`~beatrun.render.timeline`, the mix on the workout's clock (segment
  changes at their planned times).
- :mod:`~beatrun.render.click`: :func:`click_track`, :func:`write_click`.
- :mod:`~beatrun.render.outputs`: :func:`render_outputs`, the folder and/or the
  mix in one call (what ``beatrun render`` runs).

Audio is read and written through :mod:`beatrun.audio`; the worker pool is
:mod:`beatrun.workers`.
"""

from beatrun.render.click import click_track, write_click
from beatrun.render.folder import (
    MANIFEST_NAME,
    RENDER_VERSION,
    m3u8_file_name,
    render_playlist,
    rendered_name,
    safe_filename,
)
from beatrun.render.mix import render_mix
from beatrun.render.model import (
    MAX_RATIO,
    MIN_RATIO,
    MixBoundary,
    MixPart,
    MixResult,
    MixSkip,
    MixTransition,
    RenderedTrack,
    RenderEntry,
    RenderResult,
    entries_of,
)
from beatrun.render.outputs import RenderOptions, RenderOutputs, render_outputs
from beatrun.render.stretch import STRETCH_SETTINGS, beat_phase_s, stretch_file

__all__ = [
    "MANIFEST_NAME",
    "MAX_RATIO",
    "MIN_RATIO",
    "RENDER_VERSION",
    "STRETCH_SETTINGS",
    "MixBoundary",
    "MixPart",
    "MixResult",
    "MixSkip",
    "MixTransition",
    "RenderEntry",
    "RenderOptions",
    "RenderOutputs",
    "RenderResult",
    "RenderedTrack",
    "beat_phase_s",
    "click_track",
    "entries_of",
    "m3u8_file_name",
    "render_mix",
    "render_outputs",
    "render_playlist",
    "rendered_name",
    "safe_filename",
    "stretch_file",
    "write_click",
]
