"""The renderings a photo is scored in, each keyed ``<folder>/<name>#<view>`` so that faces found once serve the
report, the selection and the face-score floor: as it is (``#full``), shrunk to a quarter of its side
(``#quarter``), and saved at 240p to 1080p (``#h<height>``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

#: image heights of the resolution sweep (240p to 1080p)
SWEEP_HEIGHTS = (240, 480, 720, 1080)
#: LFW renderings for the specificity check: scale of the 250 px image and the interpolation used
LFW_RENDERINGS = (("0.5x area", 0.5, cv2.INTER_AREA), ("1x", 1.0, None), ("4x cubic", 4.0, cv2.INTER_CUBIC))

Rendering = tuple[str, np.ndarray]


def at_height(image: np.ndarray, height: int) -> np.ndarray:
    """The image resized to ``height`` rows (aspect kept): area averaging when it shrinks, bicubic when it
    enlarges, as a photo would be saved at 240p ... 1080p."""
    h, w = image.shape[:2]
    if h == height:
        return image
    interp = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
    return cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=interp)


def quarter(image: np.ndarray) -> np.ndarray:
    """The image shrunk to a quarter of its side with area averaging."""
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w / 4)), max(1, round(h / 4))), interpolation=cv2.INTER_AREA)


def read_photos(paths: Sequence[Path]) -> list[Rendering]:
    """``(<folder>/<name>, image)`` of each photo, read once."""
    from laanet_synth.imageio import read_image

    return [(f"{path.parent.name}/{path.name}", read_image(path)) for path in paths]


def calibration_views(image: np.ndarray, key: str) -> list[Rendering]:
    """``(key#full, image)`` and ``(key#quarter, image at a quarter of its side)``."""
    return [(f"{key}#full", image), (f"{key}#quarter", quarter(image))]


def sweep_views(image: np.ndarray, key: str) -> list[Rendering]:
    """``(key#h<height>, image at that height)`` for every :data:`SWEEP_HEIGHTS` height."""
    return [(f"{key}#h{h}", at_height(image, h)) for h in SWEEP_HEIGHTS]


def calibration_renderings(selection: Sequence[Path]) -> list[Rendering]:
    """:func:`calibration_views` of each selection photo: read once, scored by every checkpoint."""
    return [view for key, image in read_photos(selection) for view in calibration_views(image, key)]


def sweep_renderings(paths: Sequence[Path]) -> list[Rendering]:
    """:func:`sweep_views` of each photo, keyed ``<folder>/<name>#h<height>``."""
    return [view for key, image in read_photos(paths) for view in sweep_views(image, key)]


def selection_renderings(selection: Sequence[Path]) -> tuple[list[Rendering], list[Rendering]]:
    """:func:`calibration_renderings` and :func:`sweep_renderings` of the same photos, each photo read once."""
    photos = read_photos(selection)
    return ([view for key, image in photos for view in calibration_views(image, key)],
            [view for key, image in photos for view in sweep_views(image, key)])
