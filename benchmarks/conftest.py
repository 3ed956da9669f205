"""Fixtures shared by the benchmark suites."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from laanet_synth.imageio import read_image

#: frames in the synthetic 1080p clip (the demo's and ``laanet predict``'s video sample)
N_FRAMES = 32
#: (LFW row, pasted photo side in px, x, y): the photo's face is about 0.45 of its side
PEOPLE = ((0, 230, 250, 600), (100, 420, 700, 250), (200, 520, 1250, 380))


@pytest.fixture(scope="session")
def clip_frames() -> int:
    """How many frames :func:`clip_1080p` holds, and so how many a video verdict on it samples."""
    return N_FRAMES


@pytest.fixture(scope="module")
def clip_1080p(tmp_path_factory: pytest.TempPathFactory, lfw_dir: Path) -> Path:
    """A synthetic 32-frame 1920 x 1080 MPEG-4 clip: three LFW photos pasted at different sizes on a dim,
    noisy background, drifting slowly (faces of about 100, 190 and 230 px)."""
    d = np.load(lfw_dir / "landmarks68_dlib.npz")
    photos = [(read_image(lfw_dir / "images_deepfunneled" / str(d["names"][i])), s, x, y) for i, s, x, y in PEOPLE]
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("video") / "synthetic-1080p.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (1920, 1080))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write mp4v videos")
    yy, xx = np.mgrid[0:1080, 0:1920].astype(np.float32)
    room = np.stack([70 + 30 * np.sin(xx / 200), 60 + 25 * np.cos(yy / 150), 50 + 0.02 * xx], -1)
    for t in range(N_FRAMES):
        frame = room.copy()
        for photo, side, x, y in photos:
            x0, y0 = x + 3 * t, y + int(2 * np.sin(t / 4))
            frame[y0:y0 + side, x0:x0 + side] = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        frame = np.clip(frame * 0.45 + rng.normal(0, 4, frame.shape), 0, 255).astype(np.uint8)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


