"""Fixtures for the cross-package tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``../shared/data`` beside the checkout (or ``$LAANET_SHARED/data``)."""
    root = Path(os.environ["LAANET_SHARED"]) if "LAANET_SHARED" in os.environ else REPO.parent / "shared"
    return root / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = shared_data_dir()
    if not data.is_dir():
        pytest.skip(f"sample data not found at {data} (expected ../shared/data beside the checkout)")
    return data


@pytest.fixture(scope="session")
def builtin_detector():
    from laanet_model import Detector

    return Detector.from_weights("laanet-lite0-sbi-lfw", device="cpu")
