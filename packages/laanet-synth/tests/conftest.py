"""Fixtures for laanet-synth tests: a few real LFW faces (``lfw_dir`` comes from the root conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def lfw_sample(lfw_dir: Path):
    """A few LFW faces: list of (image RGB uint8, 68 landmarks float32, dlib box)."""
    from laanet_synth.imageio import read_image

    d = np.load(lfw_dir / "landmarks68_dlib.npz")
    out = []
    for i in range(0, 400, 50):
        if d["landmarks"][i][0, 0] < 0:
            continue
        img = read_image(lfw_dir / "images_deepfunneled" / str(d["names"][i]))
        out.append((img, d["landmarks"][i].astype(np.float32), d["boxes"][i].astype(np.float32)))
    return out
