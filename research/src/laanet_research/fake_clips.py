"""The clips of ``videos/`` that their source names fake, scored at video level as ``laanet predict`` scores a
video."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .shared_data import FAKE_CLIPS


def fake_clip_probs(detector: Any, videos_dir: Path) -> dict[str, float | None]:
    """The video probability of each clip of :data:`FAKE_CLIPS`, as ``laanet predict`` gives it: the recipe's
    ``frames_per_video`` evenly spaced frames through :meth:`Detector.predict_video` (``None`` when no frame
    has a judged face)."""
    from laanet_synth.video import read_frames

    probs: dict[str, float | None] = {}
    for name in FAKE_CLIPS:
        frames = read_frames(videos_dir / name, detector.preprocessing.frames_per_video)
        prob = detector.predict_video(frames, people=False).prob
        probs[Path(name).stem] = None if prob is None else round(float(prob), 4)
    return probs
