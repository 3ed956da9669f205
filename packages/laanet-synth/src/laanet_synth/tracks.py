"""Linking the faces of sampled video frames into people: box overlap between neighbouring samples, and a
face descriptor to rejoin a person after a gap. Pure functions; the descriptor comes in as a callback."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .boxes import iou_matrix

#: a face is "the same person" as one in the previous sample when their boxes overlap at least this much
IOU_LINK = 0.3
#: dlib's 128-d descriptors of one person are closer than this (Euclidean); dlib's own same-person threshold
DESCRIPTOR_MATCH = 0.6

DescribeFn = Callable[[int, int], np.ndarray]


def link_tracks(
    boxes: Sequence[np.ndarray],
    describe: DescribeFn | None = None,
    iou_link: float = IOU_LINK,
    max_distance: float = DESCRIPTOR_MATCH,
) -> list[list[int]]:
    """A track id (0, 1, ...) for every face of every sample.

    ``boxes[t]`` (n_t, 4) holds the face boxes of sample ``t``. Faces of sample ``t`` are matched to the
    tracks that had a face in sample ``t - 1`` by box overlap (greedy, highest IoU first, at least
    ``iou_link``). A face left over is compared, through ``describe(t, j)`` (a descriptor vector of face
    ``j`` of sample ``t``), with the last face of every track that is not in sample ``t`` (a person lost
    for a while, or who moved too far between samples); the nearest one within ``max_distance`` takes
    it, else it starts a new track. A track never holds two faces of one sample. Descriptors are asked
    for only when needed, and at most once per face.
    """
    ids: list[list[int]] = []
    last: list[tuple[int, int]] = []  # per track: (sample, face) of its latest face
    cache: dict[tuple[int, int], np.ndarray] = {}

    def vec(t: int, j: int) -> np.ndarray:
        if (t, j) not in cache:
            assert describe is not None
            cache[(t, j)] = np.asarray(describe(t, j), dtype=np.float64).reshape(-1)
        return cache[(t, j)]

    for t, cur in enumerate(boxes):
        cur = np.asarray(cur, dtype=np.float64).reshape(-1, 4)
        assigned = [-1] * len(cur)
        taken: set[int] = set()
        if t > 0 and len(cur):
            prev_tracks = [k for k, (s, _) in enumerate(last) if s == t - 1]
            if prev_tracks:
                prev_boxes = np.asarray(boxes[t - 1], dtype=np.float64).reshape(-1, 4)
                ious = iou_matrix(cur, prev_boxes[[last[k][1] for k in prev_tracks]])
                for flat in np.argsort(-ious, axis=None, kind="stable"):
                    j, m = divmod(int(flat), len(prev_tracks))
                    if ious[j, m] < iou_link:
                        break
                    k = prev_tracks[m]
                    if assigned[j] < 0 and k not in taken:
                        assigned[j] = k
                        taken.add(k)
        for j in range(len(cur)):
            if assigned[j] >= 0:
                continue
            dormant = [k for k, (s, _) in enumerate(last) if s < t and k not in taken]
            best, best_d = -1, max_distance
            if describe is not None and dormant:
                for k in dormant:
                    d = float(np.linalg.norm(vec(t, j) - vec(*last[k])))
                    if d < best_d:
                        best, best_d = k, d
            if best < 0:
                best = len(last)
                last.append((t, j))
            assigned[j] = best
            taken.add(best)
        for j, k in enumerate(assigned):
            last[k] = (t, j)
        ids.append(assigned)
    return ids
