"""Fixtures for the cross-package tests (shared data comes from the root conftest)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def builtin_detector():
    from laanet_model import Detector

    return Detector.from_weights("laanet-lite0-sbi-lfw", device="cpu")
