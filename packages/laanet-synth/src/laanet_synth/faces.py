"""Face detection and 68-point landmarks: the ``FaceFinder`` protocol and its offline backends."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np


class FaceFinderError(RuntimeError):
    """Raised when a face-finding backend cannot be set up (missing package or model file)."""


class InvalidImageError(ValueError):
    """Raised when an image given to a face finder is not an ``(H, W, 3)`` uint8 RGB array."""


@dataclass(frozen=True, eq=False)
class Face:
    """One face in an image: ``box`` (x1, y1, x2, y2) in image pixels, detector ``score``, 68 ``landmarks``."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        box = np.asarray(self.box, dtype=np.float32).reshape(-1)
        lms = np.asarray(self.landmarks, dtype=np.float32)
        if box.shape != (4,):
            raise ValueError(f"Face.box must have 4 values (x1, y1, x2, y2), got shape {box.shape}")
        if lms.shape != (68, 2):
            raise ValueError(f"Face.landmarks must have shape (68, 2), got {lms.shape}")
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "landmarks", lms)
        object.__setattr__(self, "score", float(self.score))

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)


@runtime_checkable
class FaceFinder(Protocol):
    """Anything that finds faces with 68 landmarks in an RGB uint8 image."""

    def find(self, image_rgb: np.ndarray) -> list[Face]:
        """Return the faces found in ``image_rgb`` (H, W, 3) uint8, largest first."""
        ...


def check_rgb_uint8(image: Any) -> np.ndarray:
    """Validate an ``(H, W, 3)`` uint8 image, raising :class:`InvalidImageError` otherwise."""
    if not isinstance(image, np.ndarray):
        raise InvalidImageError(f"expected a numpy (H, W, 3) uint8 RGB image, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidImageError(f"expected a uint8 RGB image, got dtype {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidImageError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image)


def face_recognition_models_dir() -> Path:
    """Folder holding the dlib ``.dat`` model files of the ``face-recognition-models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FaceFinderError(
            "the 'face-recognition-models' package is not installed; it provides "
            "shape_predictor_68_face_landmarks.dat (pip install face-recognition-models)"
        )
    return Path(spec.origin).parent / "models"


def _sort_largest_first(faces: list[Face]) -> list[Face]:
    return sorted(faces, key=lambda f: (-f.area, -f.score))


@dataclass
class DlibFaceFinder:
    """dlib HOG face detector + 68-point shape predictor, fully offline.

    Detection runs on a grey copy downscaled so that its longer side is at most ``max_side`` pixels; the
    boxes are mapped back and the landmarks predicted on the full-resolution image. The detector is run
    with each upsampling count of ``upsample_schedule`` in turn until a face is found (0 then 1 by
    default). Models load lazily on the first call, so constructing the finder is cheap.
    """

    upsample_schedule: tuple[int, ...] = (0, 1)
    max_side: int = 1600
    predictor_path: str | None = None
    adjust_threshold: float = 0.0
    _detector: Any = field(default=None, init=False, repr=False)
    _predictor: Any = field(default=None, init=False, repr=False)

    def _load(self) -> None:
        if self._detector is not None:
            return
        import dlib

        path = Path(self.predictor_path) if self.predictor_path else (
            face_recognition_models_dir() / "shape_predictor_68_face_landmarks.dat"
        )
        if not path.is_file():
            raise FaceFinderError(f"68-point predictor not found at {path}; expected shape_predictor_68_face_landmarks.dat")
        self._predictor = dlib.shape_predictor(str(path))
        self._detector = dlib.get_frontal_face_detector()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_detector"] = None
        state["_predictor"] = None
        return state

    def detect_boxes(self, image_rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """HOG boxes ``(x1, y1, x2, y2)`` in image pixels with their scores (no landmarks)."""
        image = check_rgb_uint8(image_rgb)
        self._load()
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        out: list[tuple[np.ndarray, float]] = []
        for up in self.upsample_schedule:
            rects, scores, _ = self._detector.run(grey, int(up), float(self.adjust_threshold))
            if len(rects):
                for r, s in zip(rects, scores, strict=True):
                    box = np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float32) / scale
                    out.append((box, float(s)))
                break
        return out

    def find(self, image_rgb: np.ndarray) -> list[Face]:
        """Faces with their 68 landmarks, largest first."""
        import dlib

        image = check_rgb_uint8(image_rgb)
        faces = []
        for box, score in self.detect_boxes(image):
            rect = dlib.rectangle(*(int(round(v)) for v in box))
            shape = self._predictor(image, rect)
            lms = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
            faces.append(Face(box=box, score=score, landmarks=lms))
        return _sort_largest_first(faces)


FACE_ALIGNMENT_WEIGHTS = ("2DFAN4-cd938726ad.zip", "s3fd-619a316812.pth")


@dataclass
class FaceAlignmentFinder:
    """The ``face-alignment`` package (S3FD detector + 2D FAN landmarks), local weights only.

    The weights must already be in the torch hub cache (``$TORCH_HOME/hub/checkpoints``, by default
    ``~/.cache/torch/hub/checkpoints``): ``2DFAN4-cd938726ad.zip`` and ``s3fd-619a316812.pth``. Nothing is
    downloaded; a :class:`FaceFinderError` says which file is missing where.
    """

    device: str = "cpu"
    _fa: Any = field(default=None, init=False, repr=False)

    @staticmethod
    def checkpoint_dir() -> Path:
        torch_home = os.environ.get("TORCH_HOME") or os.path.join(
            os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
        )
        return Path(torch_home) / "hub" / "checkpoints"

    def _load(self) -> None:
        if self._fa is not None:
            return
        if importlib.util.find_spec("face_alignment") is None:
            raise FaceFinderError(
                "the optional 'face-alignment' package is not installed (pip install face-alignment); "
                "use the 'dlib' backend instead"
            )
        ckpt = self.checkpoint_dir()
        missing = [name for name in FACE_ALIGNMENT_WEIGHTS if not (ckpt / name).is_file()]
        if missing:
            raise FaceFinderError(
                f"face-alignment weights missing: put {', '.join(missing)} in {ckpt} "
                "(this project never downloads weights at run time)"
            )
        import face_alignment

        lt = getattr(face_alignment.LandmarksType, "TWO_D", None) or face_alignment.LandmarksType._2D
        self._fa = face_alignment.FaceAlignment(lt, device=self.device, face_detector="sfd")

    def find(self, image_rgb: np.ndarray) -> list[Face]:
        image = check_rgb_uint8(image_rgb)
        self._load()
        res = self._fa.get_landmarks_from_image(image, return_bboxes=True)
        lms_list, _, boxes = res if isinstance(res, tuple) else (res, None, None)
        if not lms_list:
            return []
        faces = []
        for i, lms in enumerate(lms_list):
            if boxes is not None and i < len(boxes):
                b = np.asarray(boxes[i], dtype=np.float32)
                box, score = b[:4], float(b[4]) if b.shape[0] > 4 else 1.0
            else:
                lm = np.asarray(lms)[:, :2]
                box, score = np.concatenate([lm.min(0), lm.max(0)]), 1.0
            faces.append(Face(box=box, score=score, landmarks=np.asarray(lms)[:, :2]))
        return _sort_largest_first(faces)


FACE_FINDERS: dict[str, type] = {"dlib": DlibFaceFinder, "face-alignment": FaceAlignmentFinder}


def make_face_finder(name: str = "dlib", **kwargs: Any) -> FaceFinder:
    """Build a face finder by backend name (``"dlib"`` or ``"face-alignment"``)."""
    try:
        cls = FACE_FINDERS[name]
    except KeyError:
        raise ValueError(f"unknown face finder {name!r}; expected one of {sorted(FACE_FINDERS)}") from None
    return cls(**kwargs)
