"""The 68- and 81-point landmark layouts: derived forehead points and horizontal-flip permutations.

68-point layout (iBUG 300-W): jaw 0-16, brows 17-21 / 22-26, nose 27-35, eyes 36-41 / 42-47, mouth 48-67.
The 81-point layout used by SBI masks appends 13 forehead points 68-80 in contour order (the order the
official code obtains after ``reorder_landmark``): from the temple above jaw point 0, over the top of the
forehead, to the temple above jaw point 16.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: the 13 jaw points that are lifted into forehead points, in contour order (0 ... 16)
FOREHEAD_SOURCE_JAW = np.array([0, 1, 2, 3, 4, 6, 8, 10, 12, 13, 14, 15, 16])
#: height of the forehead arc above the eye line, as a fraction of the jaw point's depth below it
FOREHEAD_LIFT = 0.62


def _perm_from_pairs(n: int, pairs: list[tuple[int, int]]) -> np.ndarray:
    perm = np.arange(n)
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


_PAIRS_68 = (
    [(i, 16 - i) for i in range(8)]
    + [(17 + i, 26 - i) for i in range(5)]
    + [(31, 35), (32, 34)]
    + [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    + [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
)
#: index permutation for a horizontal flip of 68 points: ``flipped[i] = mirrored[FLIP_68[i]]``
FLIP_68 = _perm_from_pairs(68, _PAIRS_68)
#: the same for 81 points (forehead 68-80 in contour order, mirrored end to end)
FLIP_81 = _perm_from_pairs(81, _PAIRS_68 + [(68 + i, 80 - i) for i in range(6)])

for _p in (FLIP_68, FLIP_81):
    _p.setflags(write=False)


class LandmarkError(ValueError):
    """Raised for landmark arrays of the wrong shape."""


def _check(lms: np.ndarray, counts: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(lms, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] not in counts:
        raise LandmarkError(f"expected landmarks of shape (N, 2) with N in {counts}, got {arr.shape}")
    return arr


def eye_frame(lms68: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin (mid-point of the eye centres), unit eye-line direction ``u`` and unit ``up`` vector."""
    p = _check(lms68, (68, 81))
    left, right = p[36:42].mean(0), p[42:48].mean(0)
    origin = (left + right) / 2
    u = right - left
    norm = np.linalg.norm(u)
    u = np.array([1.0, 0.0]) if norm < 1e-9 else u / norm
    up = np.array([u[1], -u[0]])  # rotate u by -90 degrees: image y points down
    if np.dot(p[8] - origin, up) > 0:  # chin must be below the eye line
        up = -up
    return origin, u, up


def forehead_points(lms68: np.ndarray, lift: float = FOREHEAD_LIFT) -> np.ndarray:
    """13 forehead points derived from the 68 landmarks by reflecting the jaw about the eye line.

    Method: express each of 13 jaw points (``FOREHEAD_SOURCE_JAW``: 0-4, 6, 8, 10, 12-16) in the face's eye
    frame (origin at the mid-point of the two eye centres, axis ``u`` along the eye line, axis ``up``
    perpendicular to it, away from the chin). A jaw point at ``a*u - b*up`` (b > 0 below the eye line) is
    reflected about the eye line and its height scaled by ``lift``: ``a*u + lift*b*up``. With
    ``lift = 0.62`` the top of the arc sits about 0.62 of the eye-chin distance above the eyes (the
    hairline of an average face: hairline-brow, brow-nose and nose-chin are about equal thirds), the end
    points sit at the temples, and the arc follows the face's width, roll and yaw asymmetry. Points that
    would fall below the brows (jaw points above the eye line) are lifted to the brow line.
    """
    p = _check(lms68, (68, 81))
    origin, u, up = eye_frame(p)
    jaw = p[FOREHEAD_SOURCE_JAW] - origin
    a = jaw @ u
    b = -(jaw @ up)  # depth below the eye line
    brow_h = (p[17:27] - origin) @ up
    min_h = max(float(brow_h.max()), 0.0)
    h = np.maximum(lift * b, min_h)
    pts = origin + a[:, None] * u + h[:, None] * up
    return pts.astype(np.float32)


def to_81(lms68: np.ndarray) -> np.ndarray:
    """68 landmarks -> 81 (the 68 followed by the 13 derived forehead points)."""
    p = _check(lms68, (68,))
    return np.concatenate([p.astype(np.float32), forehead_points(p)], axis=0)


def flip_landmarks(lms: np.ndarray, width: int | float) -> np.ndarray:
    """Mirror 68 or 81 landmarks for an image of ``width`` pixels flipped left-right (``x -> width-1-x``).

    Point indices are permuted so that each index keeps its anatomical meaning; applying it twice gives
    the input back.
    """
    p = np.asarray(lms)
    arr = _check(p, (68, 81))
    perm = FLIP_68 if arr.shape[0] == 68 else FLIP_81
    out = arr.copy()
    out[:, 0] = (width - 1) - out[:, 0]
    return out[perm].astype(p.dtype if np.issubdtype(p.dtype, np.floating) else np.float32)


def template_landmarks(cx: float = 128.0, cy: float = 128.0, scale: float = 1.0, angle_deg: float = 0.0) -> np.ndarray:
    """A symmetric frontal 68-point face template (about 100 px wide at ``scale`` 1) centred at (cx, cy).

    Rotated by ``angle_deg`` (image coordinates). Useful for drawing test faces and for geometry checks.
    """
    jaw = np.stack([np.linspace(-50, 50, 17), 5 + 55 * np.sin(np.linspace(0.0, np.pi, 17))], 1)
    jaw[:, 0] *= 1 - 0.3 * np.sin(np.linspace(0.0, np.pi, 17)) ** 4
    brow_l = np.stack([np.linspace(-38, -8, 5), [-22, -27, -29, -28, -25]], 1)
    brow_r = brow_l[::-1] * [-1, 1]
    nose_bridge = np.stack([np.zeros(4), np.linspace(-12, 12, 4)], 1)
    nose_base = np.stack([np.linspace(-10, 10, 5), [20, 22, 23, 22, 20]], 1)
    ang = np.linspace(0, 2 * np.pi, 7)[:-1]
    eye_l = np.stack([-22 - 10 * np.cos(ang), -10 - 4 * np.sin(ang)], 1)
    eye_r = eye_l[[3, 2, 1, 0, 5, 4]] * [-1, 1]
    mouth_o = np.stack([20 * np.cos(np.linspace(np.pi, -np.pi, 13)[:-1]), 38 - 8 * np.sin(np.linspace(np.pi, -np.pi, 13)[:-1])], 1)
    mouth_i = np.stack([14 * np.cos(np.linspace(np.pi, -np.pi, 9)[:-1]), 38 - 3 * np.sin(np.linspace(np.pi, -np.pi, 9)[:-1])], 1)
    pts = np.concatenate([jaw, brow_l, brow_r, nose_bridge, nose_base, eye_l, eye_r, mouth_o, mouth_i])
    a = np.radians(angle_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (pts @ r.T * scale + [cx, cy]).astype(np.float32)


def read_pts(path: str | os.PathLike[str]) -> np.ndarray:
    """An ibug ``.pts`` landmark file (1-based pixel coordinates between ``{`` and ``}``) as 0-based (N, 2)
    float64; raises ``ValueError`` when it holds no points."""
    rows = []
    inside = False
    for line in Path(path).read_text().splitlines():
        if line.strip() == "{":
            inside = True
        elif line.strip() == "}":
            inside = False
        elif inside and line.strip():
            x, y = line.split()[:2]
            rows.append((float(x), float(y)))
    if not rows:
        raise ValueError(f"{path}: no landmark points between '{{' and '}}'; expected an ibug .pts file")
    return np.array(rows, dtype=np.float64) - 1.0
