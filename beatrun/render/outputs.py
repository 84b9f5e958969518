"""One call for what ``beatrun render`` (and ``playlist --render/--mix``) produce."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from beatrun.render.folder import render_playlist
from beatrun.render.mix import render_mix
from beatrun.render.model import MixResult, RenderedTrack, RenderResult

if TYPE_CHECKING:
    from beatrun.playlist import Playlist


@dataclass(frozen=True)
class RenderOptions:
    """How to render. format : "flac", "mp3", "ogg" or "wav" (songs of the folder).

    click/click_volume : a metronome under the music, level in (0, 1].
    crossfade_beats, glide_beats : the mix's overlap and tempo glide, in steps.
    workers : processes for the folder render (None: one per core).
    """

    format: str = "flac"
    click: bool = False
    click_volume: float = 0.3
    crossfade_beats: int = 8
    glide_beats: int = 16
    workers: int | None = None


@dataclass(frozen=True)
class RenderOutputs:
    """The folder render and/or the mix of one playlist (None: not asked for)."""

    render: RenderResult | None
    mix: MixResult | None

    @property
    def failed(self) -> int:
        """Songs that could not be rendered into the folder."""
        return self.render.failed if self.render else 0

    @property
    def mix_failed(self) -> int:
        """Songs with a local file left out of the mix."""
        return self.mix.failed if self.mix else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "render": self.render.to_dict() if self.render else None,
            "mix": self.mix.to_dict() if self.mix else None,
            "failed": self.failed,
            "mix_failed": self.mix_failed,
        }


def render_outputs(
    playlist: Playlist,
    *,
    out_dir: str | os.PathLike[str] | None,
    mix_path: str | os.PathLike[str] | None,
    options: RenderOptions | None = None,
    progress: Callable[[RenderedTrack | MixResult], None] | None = None,
) -> RenderOutputs:
    """Render ``playlist`` into ``out_dir`` and/or mix it into ``mix_path`` (either may be None).

    progress : called with each RenderedTrack as it finishes, then with the MixResult.
    Raises BeatrunError / UsageError for what stops a whole render (a folder
    that cannot be written, no song that can be mixed...); single songs that
    fail are reported in the results.
    """
    options = options or RenderOptions()
    result = mix = None
    if out_dir is not None:
        result = render_playlist(playlist, out_dir, format=options.format,
                                 workers=options.workers, progress=progress,
                                 click=options.click, click_volume=options.click_volume)
    if mix_path is not None:
        mix = render_mix(playlist, mix_path, crossfade_beats=options.crossfade_beats,
                         glide_beats=options.glide_beats, click=options.click,
                         click_volume=options.click_volume)
        if progress is not None:
            progress(mix)
    return RenderOutputs(result, mix)
