"""Face detection and 68-point landmarks: the ``FaceFinder`` protocol and its offline backends."""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import cv2
import numpy as np


class FaceFinderError(RuntimeError):
    """Raised when a face-finding backend cannot be set up (missing package or model file)."""


class InvalidImageError(ValueError):
    """Raised when an image given to a face finder is not an ``(H, W, 3)`` uint8 RGB array."""


#: box conventions (``Face.box_convention``). "retinaface": the WIDER FACE style box RetinaFace draws, from
#: cheek edge to cheek edge and from mid-forehead to just below the chin (about 1.1 x 1.3 of the landmark
#: box); the official crop recipe's 25 % margin is meant for it. "dlib-hog": dlib's square HOG box, from the
#: brows to the chin, narrower than the jaw line. "s3fd": the face-alignment package's S3FD box.
#: "whole-image": the box is the whole (pre-cropped) image. "landmarks": any other box (default).
BOX_RETINAFACE = "retinaface"
BOX_HOG = "dlib-hog"
BOX_S3FD = "s3fd"
BOX_CONVENTIONS = (BOX_RETINAFACE, BOX_HOG, BOX_S3FD, "whole-image", "landmarks")


@dataclass(frozen=True, eq=False)
class Face:
    """One face in an image: ``box`` (x1, y1, x2, y2) in image pixels, detector ``score``, 68 ``landmarks``
    and the ``box_convention`` of the backend that drew the box (one of :data:`BOX_CONVENTIONS`)."""

    box: np.ndarray
    score: float
    landmarks: np.ndarray
    box_convention: str = "landmarks"

    def __post_init__(self) -> None:
        box = np.asarray(self.box, dtype=np.float32).reshape(-1)
        lms = np.asarray(self.landmarks, dtype=np.float32)
        if box.shape != (4,):
            raise ValueError(f"Face.box must have 4 values (x1, y1, x2, y2), got shape {box.shape}")
        if lms.shape != (68, 2):
            raise ValueError(f"Face.landmarks must have shape (68, 2), got {lms.shape}")
        if self.box_convention not in BOX_CONVENTIONS:
            raise ValueError(f"Face.box_convention must be one of {BOX_CONVENTIONS}, got {self.box_convention!r}")
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
        """Box area in image pixels (:func:`laanet_synth.boxes.box_area`)."""
        from .boxes import box_area

        return box_area(self.box)


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


def sort_largest_first(faces: list[Face]) -> list[Face]:
    """Faces ordered by box area, largest first (ties: higher score first)."""
    return sorted(faces, key=lambda f: (-f.area, -f.score))


def detection_scale(height: int, width: int, max_pixels: int, min_scale: float) -> float:
    """The factor (<= 1) a frame is resized by before detection.

    Scaling is by area, not by the longer side, so that a wide or tall frame (a 10000 x 200 panorama)
    is shrunk no more than a frame of usual proportions with as many pixels: the detection image holds at
    most about ``max_pixels``. It is never below ``min_scale`` (a detector that finds faces down to ``m``
    pixels wide finds every face ``m / min_scale`` pixels wide at any frame size), and never above 1.
    """
    if height < 1 or width < 1 or max_pixels < 1:
        raise ValueError(f"expected positive sizes, got {height}x{width} and max_pixels={max_pixels}")
    by_area = math.sqrt(max_pixels / float(height * width))
    return float(min(1.0, max(by_area, min_scale)))


class DlibModelFile:
    """A dlib model file, by default :attr:`file_name` of ``face-recognition-models``, loaded on first
    use by :meth:`build` (never pickled). A missing file is a :class:`FaceFinderError` naming the file
    expected."""

    #: the file's name in the ``face-recognition-models`` folder
    file_name: ClassVar[str]
    #: what the file holds, for the error message
    what: ClassVar[str]

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else face_recognition_models_dir() / self.file_name
        self._model: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_model": None}

    def check_file(self) -> None:
        """Raise :class:`FaceFinderError` unless :attr:`path` is a file."""
        if not self.path.is_file():
            raise FaceFinderError(f"{self.what} not found at {self.path}; expected {self.file_name}")

    def model(self) -> Any:
        """The loaded dlib model (loaded on the first call)."""
        if self._model is None:
            self.check_file()
            self._model = self.build(str(self.path))
        return self._model

    @staticmethod
    def build(path: str) -> Any:
        """The dlib model read from ``path``."""
        raise NotImplementedError


class ShapePredictor68(DlibModelFile):
    """dlib's 68-point shape predictor (``face-recognition-models``), loaded on first use."""

    file_name = "shape_predictor_68_face_landmarks.dat"
    what = "68-point predictor"

    @staticmethod
    def build(path: str) -> Any:
        import dlib

        return dlib.shape_predictor(path)

    def predict(self, image_rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """68 landmarks (68, 2) float32 predicted inside ``box`` (x1, y1, x2, y2) in dlib HOG convention."""
        import dlib

        predictor = self.model()
        rect = dlib.rectangle(*(int(round(float(v))) for v in np.asarray(box).reshape(4)))
        shape = predictor(image_rgb, rect)
        return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


class FaceDescriber(DlibModelFile):
    """dlib's 128-d face descriptor (``dlib_face_recognition_resnet_model_v1.dat`` of
    ``face-recognition-models``), loaded on first use. Descriptors of one person lie within about 0.6
    (Euclidean) of each other."""

    file_name = "dlib_face_recognition_resnet_model_v1.dat"
    what = "face descriptor model"

    @staticmethod
    def build(path: str) -> Any:
        import dlib

        return dlib.face_recognition_model_v1(path)

    def describe(self, image_rgb: np.ndarray, face: Face) -> np.ndarray:
        """The (128,) float64 descriptor of ``face`` (its 68 landmarks place dlib's aligned face chip)."""
        import dlib

        model = self.model()
        image = check_rgb_uint8(image_rgb)
        lms = np.asarray(face.landmarks, dtype=np.float64)
        (x1, y1), (x2, y2) = lms.min(0), lms.max(0)
        rect = dlib.rectangle(int(round(x1)), int(round(y1)), int(round(x2)), int(round(y2)))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in lms])
        return np.asarray(model.compute_face_descriptor(image, shape), dtype=np.float64)


#: smallest face (pixels) the HOG detector's 80 px window finds without upsampling
HOG_WINDOW = 80.0


@dataclass
class DlibFaceFinder:
    """dlib HOG face detector + 68-point shape predictor, fully offline.

    Detection runs on a grey copy resized by :func:`detection_scale` (at most about ``max_pixels``, by
    default a 1080p frame at 5/6 size, but never so small that a face ``min_face`` pixels wide drops below
    what the last upsampling step finds); boxes are mapped back and the landmarks predicted on the
    full-resolution image. The detector is run with each upsampling count of ``upsample_schedule`` in turn
    until a face is found (0 then 1 by default). Boxes are dlib HOG boxes (``box_convention ==
    "dlib-hog"``). Models load lazily on the first call, so constructing the finder is cheap.
    """

    upsample_schedule: tuple[int, ...] = (0, 1)
    max_pixels: int = 1600 * 900
    min_face: float = 60.0
    predictor_path: str | None = None
    adjust_threshold: float = 0.0
    _detector: Any = field(default=None, init=False, repr=False)
    _predictor: ShapePredictor68 | None = field(default=None, init=False, repr=False)

    def _load(self) -> None:
        if self._detector is not None:
            return
        import dlib

        self._predictor = ShapePredictor68(self.predictor_path)
        self._predictor.check_file()
        self._detector = dlib.get_frontal_face_detector()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_detector"] = None
        state["_predictor"] = None
        return state

    def smallest_face(self) -> float:
        """Smallest face width (pixels of the detection image) the upsampling schedule reaches."""
        return HOG_WINDOW / 2 ** max(self.upsample_schedule, default=0)

    def detect_boxes(self, image_rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """HOG boxes ``(x1, y1, x2, y2)`` in image pixels with their scores (no landmarks)."""
        image = check_rgb_uint8(image_rgb)
        self._load()
        h, w = image.shape[:2]
        scale = detection_scale(h, w, self.max_pixels, self.smallest_face() / self.min_face)
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        sx, sy = grey.shape[1] / w, grey.shape[0] / h
        out: list[tuple[np.ndarray, float]] = []
        for up in self.upsample_schedule:
            rects, scores, _ = self._detector.run(grey, int(up), float(self.adjust_threshold))
            if len(rects):
                for r, sc in zip(rects, scores, strict=True):
                    box = np.array([r.left() / sx, r.top() / sy, r.right() / sx, r.bottom() / sy], dtype=np.float32)
                    out.append((box, float(sc)))
                break
        return out

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[list[tuple[np.ndarray, float]]]:
        """:meth:`detect_boxes` for each image (HOG has no batched form)."""
        return [self.detect_boxes(im) for im in images]

    def align(self, image_rgb: np.ndarray, detections: Sequence[tuple[np.ndarray, float]]) -> list[Face]:
        """Faces (largest first) with 68 landmarks predicted in each HOG box."""
        image = check_rgb_uint8(image_rgb)
        self._load()
        assert self._predictor is not None
        faces = [Face(box=box, score=score, landmarks=self._predictor.predict(image, box), box_convention=BOX_HOG)
                 for box, score in detections]
        return sort_largest_first(faces)

    def find(self, image_rgb: np.ndarray) -> list[Face]:
        """Faces with their 68 landmarks, largest first."""
        return self.align(image_rgb, self.detect_boxes(image_rgb))


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
            faces.append(Face(box=box, score=score, landmarks=np.asarray(lms)[:, :2], box_convention=BOX_S3FD))
        return sort_largest_first(faces)


#: backend names accepted by :func:`make_face_finder`, the default first
FACE_FINDER_NAMES = ("retinaface", "dlib", "face-alignment")


def face_finder_class(name: str) -> type:
    """The class of a face-finding backend by name (one of :data:`FACE_FINDER_NAMES`)."""
    if name == "retinaface":
        from .retinaface import RetinaFaceFinder

        return RetinaFaceFinder
    if name == "dlib":
        return DlibFaceFinder
    if name == "face-alignment":
        return FaceAlignmentFinder
    raise ValueError(f"unknown face finder {name!r}; expected one of {list(FACE_FINDER_NAMES)}")


#: the packages each backend needs besides this one's own dependencies (RetinaFace runs on onnxruntime, the
#: 68-point landmarks on dlib's predictor of face-recognition-models)
FACE_FINDER_PACKAGES = {
    "retinaface": ("onnxruntime", "dlib", "face_recognition_models"),
    "dlib": ("dlib", "face_recognition_models"),
    "face-alignment": ("face_alignment",),
}


def check_face_finder(name: Any) -> str:
    """``name`` if it is a known face-finding backend whose packages are installed; :class:`FaceFinderError`
    otherwise, in one line. Nothing is imported or built, so a weights card can be checked before it is used."""
    if not isinstance(name, str) or name not in FACE_FINDER_NAMES:
        raise FaceFinderError(f"unknown face detector {name!r}; expected one of {list(FACE_FINDER_NAMES)}")
    missing = [m for m in FACE_FINDER_PACKAGES[name] if importlib.util.find_spec(m) is None]
    if missing:
        raise FaceFinderError(
            f"face detector {name!r} is not installed (missing Python package {', '.join(missing)}); installed: "
            f"{[n for n in FACE_FINDER_NAMES if all(importlib.util.find_spec(m) for m in FACE_FINDER_PACKAGES[n])]}"
        )
    return name


def make_face_finder(name: str = "retinaface", **kwargs: Any) -> FaceFinder:
    """Build a face finder by backend name: ``"retinaface"`` (default), ``"dlib"`` or ``"face-alignment"``."""
    return face_finder_class(name)(**kwargs)


def find_faces_batch(finder: Any, images: Sequence[np.ndarray], timer: Any = None) -> list[list[Face]]:
    """Faces in each image. A finder with ``detect_batch`` and ``align`` (RetinaFace, dlib) detects the
    images together and, with a ``timer`` (:class:`laanet_synth.stages.StageTimer`), the "detect" and
    "landmarks" stages are timed apart; any other finder is called image by image (all "detect")."""
    from .stages import StageTimer

    timer = timer if timer is not None else StageTimer()
    if hasattr(finder, "detect_batch") and hasattr(finder, "align"):
        with timer.stage("detect"):
            detections = finder.detect_batch(images)
        with timer.stage("landmarks"):
            return [finder.align(im, d) for im, d in zip(images, detections, strict=True)]
    with timer.stage("detect"):
        return [list(finder.find(im)) for im in images]
