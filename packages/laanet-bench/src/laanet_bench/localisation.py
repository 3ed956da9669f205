"""Where a heatmap points, against where a fake was blended: the share of fakes whose heatmap peak lies in the
blended region, and the per-image pixel AUC of the heatmap against that region.

Pure functions over arrays: ``heatmaps`` are the network's heatmap probabilities at its output stride
(``h x w``), ``masks`` the blend masks of the same fakes at any resolution (resized to ``h x w`` by area
averaging). A pixel is *blended* where the resized mask exceeds ``region_above``: the blend reached it at all,
its boundary band included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from .metrics import auc

#: A heatmap pixel counts as blended where the area-resized blend mask exceeds this.
REGION_ABOVE = 0.1


def blend_region(mask: np.ndarray, shape: tuple[int, int], region_above: float = REGION_ABOVE) -> np.ndarray:
    """The boolean blended region of ``mask`` at heatmap size ``shape`` (h, w)."""
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim == 3:
        m = m[..., 0] if m.shape[-1] == 1 else m[0]
    if m.ndim != 2:
        raise ValueError(f"expected an (H, W) blend mask, got shape {np.shape(mask)}")
    h, w = shape
    small = m if m.shape == (h, w) else cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)
    return small > region_above


def peak_position(heatmap: np.ndarray) -> tuple[int, int]:
    """(row, column) of the heatmap's maximum (the first one on a tie)."""
    hm = np.asarray(heatmap)
    if hm.ndim != 2 or hm.size == 0:
        raise ValueError(f"expected a non-empty (h, w) heatmap, got shape {hm.shape}")
    r, c = np.unravel_index(int(np.argmax(hm)), hm.shape)
    return int(r), int(c)


def heatmap_localisation(heatmaps: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                         region_above: float = REGION_ABOVE) -> dict[str, Any]:
    """Localisation figures of fakes' heatmaps against their blend masks.

    ``peak_in_blend``: share of fakes whose heatmap maximum lies in the blended region. ``pixel_auc``: mean over
    fakes of the AUC of heatmap values against the region (fakes whose region covers no pixel or every pixel
    are left out of it; ``n_auc`` counts the rest). ``chance``: the mean share of heatmap pixels inside the region
    (what a peak placed at random would score). ``peak_median``: the median heatmap maximum.
    """
    if len(heatmaps) != len(masks):
        raise ValueError(f"{len(heatmaps)} heatmaps against {len(masks)} masks")
    if not heatmaps:
        raise ValueError("no fakes to measure")
    hits, aucs, cover, peaks = [], [], [], []
    for heat, mask in zip(heatmaps, masks, strict=True):
        hm = np.asarray(heat, dtype=np.float64)
        region = blend_region(mask, hm.shape, region_above)
        r, c = peak_position(hm)
        hits.append(bool(region[r, c]))
        cover.append(float(region.mean()))
        peaks.append(float(hm.max()))
        if 0 < region.sum() < region.size:
            aucs.append(auc(region.ravel().astype(np.int64), hm.ravel()))
    return {
        "n": len(hits),
        "peak_in_blend": round(float(np.mean(hits)), 4),
        "chance": round(float(np.mean(cover)), 4),
        "pixel_auc": round(float(np.mean(aucs)), 4) if aucs else None,
        "n_auc": len(aucs),
        "peak_median": round(float(np.median(peaks)), 4),
        "region_above": region_above,
    }
