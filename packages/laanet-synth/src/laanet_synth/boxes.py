"""Box area and overlap: pure functions on boxes given as x1, y1, x2, y2 (the one definition of a box's area)."""

from __future__ import annotations

import numpy as np


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas (N,) float64 of boxes (N, 4) x1, y1, x2, y2 in pixels; a box with a negative side has area 0."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)


def box_area(box: np.ndarray | tuple[float, float, float, float] | None) -> float:
    """Area of one box x1, y1, x2, y2 in pixels (0 for ``None`` or a box with a negative side)."""
    if box is None:
        return 0.0
    return float(box_areas(np.asarray(box, dtype=np.float64))[0])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` (N, 4) with every box of ``b`` (M, 4), x1, y1, x2, y2."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a, area_b = box_areas(a), box_areas(b)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
