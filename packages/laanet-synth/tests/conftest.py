"""Fixtures for laanet-synth tests: the shared data folder and a few real faces."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def shared_dir() -> Path:
    env = os.environ.get("LAANET_SHARED")
    if env:
        return Path(env)
    return (Path(__file__).resolve().parents[3] / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_dir() / "data"
    if not d.is_dir():
        pytest.skip(f"shared data folder {d} is absent")
    return d


@pytest.fixture(scope="session")
def lfw_dir(shared_data: Path) -> Path:
    d = shared_data / "lfw"
    if not (d / "landmarks68_dlib.npz").is_file():
        pytest.skip(f"LFW landmarks not found under {d}")
    return d


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
