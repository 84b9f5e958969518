"""Synthetic music with a known tempo: the test corpus of tests, benchmarks and the demo.

Every pattern is drums plus a bass line, hi-hats, a few melodic tones, velocity
variation and a little noise, so that tempo estimation is not trivial. All of
it is deterministic given ``seed``.

What the *truth* is, per style (the tempo a runner would tap to):

* ``four_on_floor`` (house, 100-150): the kick on every beat.
* ``rock`` (70-180): the quarter note; kick on 1 and 3, snare backbeat on 2 and 4.
* ``halftime_hiphop`` (64-100): a half-time feel (kick on 1, snare only on 3,
  syncopated kicks, 8th hi-hats). The truth is the quarter note the groove is
  written in (85 for an 85 BPM groove): the bar-level pulse of kick and snare
  is half of it. Runners use these songs at *double* the tempo (one step per
  8th note: an 85 BPM groove carries 170 spm), which is why the estimator must
  list the double among its candidates.
* ``dnb`` (160-190): the quarter note of a two-step break (kick on 1 and the
  "and" of 3, snare on 2 and 4), i.e. the fast tempo (174, not 87).
* ``swing`` (100-200): the quarter note: ride cymbal "ding, ding-a" with
  swung 8ths, hi-hat pedal on 2 and 4, walking bass on every beat.
* ``waltz`` (84-180): the quarter note of a 3/4 "oom-pah-pah", not the bar.
* ``ballad`` (60-80): the quarter note of a sparse, soft groove.
* ``six_eight`` (66-116): 6/8 compound meter (kick on 1, snare on 4, hi-hats on
  every 8th). The truth is the dotted quarter, two beats per bar: what people
  clap and what a runner steps to (one or two steps per beat); the 8th-note
  pulse (3x) and the quarter-triplet feel (1.5x) are wrong answers.
* ``electro_sidechain`` (120-138): syncopated electronic (2-step kicks on 1 and
  the "and" of 3, claps on 2 and 4, 16th-note bass off the beat) over a pad
  ducked by a sidechain on every beat: the pad *swells* after each beat.
* ``latin`` (90-130): son clave 3-2 over two bars, cowbell on the quarters,
  conga tumbao, anticipated bass (no bass on the one), shaker 8ths, a soft kick
  on the one. The truth is the quarter note.
* ``bass_reverb`` (75-140): heavy sustained 808 sub bass with the kick on 1 and
  the "and" of 3, snare on 2 and 4, the whole mix through a 2 s reverb.

Dense, loud styles (distorted power-chord guitars, double-tracked, through a room
and a compressed master, no bass line):

* ``metal`` (150-200): double kick in 16ths, snare backbeat on 2 and 4, ride on the
  quarters; guitars chugging palm-muted 16ths and 8ths, then a ringing chord.
* ``metal_blast`` (150-200): four bars of blast beat (kick on the 8ths, snare on the
  16ths between, crash on each one, tremolo-picked guitars) then four of the metal groove.
* ``punk`` (160-200): punk beat (kick 1 and 3, snare 2 and 4) then a d-beat bar (hardcore),
  washy open hats in 8ths, down-picked open 8th-note chords.

The truth is the quarter note (the snare's 2 and 4 are beats 2 and 4).

Styles without a steady beat (truth ``None``): ``pad`` (slow chord swells and a
drone), ``noise`` (slowly breathing pink-ish noise), ``silence`` and
``rubato`` (a free-time piano piece: the local tempo wanders between about 45
and 110 BPM phrase by phrase, with fermatas; nothing a runner could step to).

Any beat style can also get, deterministically:

* timing jitter (``humanize_ms``, a standard deviation);
* a beatless pad intro (``beatless_intro_s``) before the first beat;
* a slow tempo drift (``drift_pct``, a live band): the tempo moves linearly
  from ``bpm * (1 - drift)`` to ``bpm * (1 + drift)`` (or down, by seed) over
  the song, so the mean tempo, and the truth, is ``bpm``;
* a breakdown (``breakdown_frac``): no drums, bass or stabs for that fraction
  of the song around its middle, only a pad.

Corpora also hold fast rock (kind ``rock+fast``, 140-190 BPM, the truth still the
written quarter note). Drum one-shots sound the same at any rate from 22.05 kHz up
(made at :data:`DRUM_SR` and resampled), so a 44.1 kHz song is no brighter than a
22.05 kHz one.

Modules: ``drums`` (one-shots), ``instruments`` (tones, textures, effects), ``styles``
(bars, bass lines, ``render_pattern``), ``corpus`` (files with their truth, demo library).
"""

from __future__ import annotations

from beatrun.synth.corpus import (
    CLASSIC_KINDS,
    CORPUS_KINDS,
    CorpusItem,
    make_corpus,
    make_demo_library,
    write_truth,
)
from beatrun.synth.drums import DRUM_SR, _clap, _hat, _kick, _snare
from beatrun.synth.styles import (
    BEAT_STYLES,
    BEATLESS_STYLES,
    DENSE_STYLES,
    FAST_BPM_RANGE,
    STYLE_BPM_RANGE,
    STYLES,
    _beat_clock,
    first_beat_time,
    render_pattern,
)

__all__ = [
    "BEATLESS_STYLES",
    "BEAT_STYLES",
    "DENSE_STYLES",
    "CLASSIC_KINDS",
    "CORPUS_KINDS",
    "DRUM_SR",
    "FAST_BPM_RANGE",
    "STYLES",
    "STYLE_BPM_RANGE",
    "CorpusItem",
    "first_beat_time",
    "make_corpus",
    "make_demo_library",
    "render_pattern",
    "write_truth",
    "_beat_clock",
    "_clap",
    "_hat",
    "_kick",
    "_snare",
]
