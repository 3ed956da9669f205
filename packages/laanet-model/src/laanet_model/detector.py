"""``Detector``: the one way from an image to a score (per-face fake probabilities and heatmaps out).

The weights' preprocessing is executable here, as stages every front end calls (the demo, ``laanet predict``,
the benchmark harness, training validation, threshold calibration, export and folder evaluation)::

    image --find_faces--> faces --crop_faces--> crops --normalise--> tensor
          --predict_logits (network + flip test)--> face logits --aggregate--> frame logit
          --aggregate_video--> video probability

An image (or a video none of whose sampled frames has a judged face) gets what the recipe's ``no_face`` rule
says (:meth:`Detector.no_face_logit`): no score, the chance score 0.5, or the whole image warped to the input
size (:meth:`Detector.whole_image_crop`) and scored as one face.

``predict_crops`` and ``predict_image`` compose them, as do ``predict_frames`` (frames detected together,
every face scored in batches, stage times) and ``predict_video`` (people linked across frames); faces
narrower than the recipe's ``min_face_size``, and detections less certain than its ``min_face_score``, leave
at ``crop_faces`` as not judged. A caller that caches between stages (the harness) calls the stages one by
one. The network runs on torch or onnxruntime (``BACKENDS``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import numpy as np
import torch
from laanet_synth.boxes import box_area, box_areas

from .card_checks import CardMismatch, check_recipe
from .checkpoints import OFFICIAL_VARIANT, CheckpointError, file_sha256, load_checkpoint, read_card
from .heads import HEAD_NAMES, HM_CLAMP
from .network import LAANet
from .onnx_backend import OnnxNetwork, default_onnx_device
from .provenance import WeightsIdentity
from .scoring import Verdict, clip_score, frame_score, sigmoid, verdict, video_score
from .weights import (
    WEIGHTS,
    Preprocessing,
    Thresholds,
    WeightSpec,
    get_weights,
    preprocessing_from_card,
    resolve_weights_file,
    spec_for_file,
    spec_from_card,
)

if TYPE_CHECKING:
    from .video import VideoPrediction

__all__ = [
    "Detector", "FacePrediction", "ImagePrediction", "FaceCrops", "NotJudgedFace", "DetectorInputError",
    "too_small_reason", "unsure_face_reason", "BACKENDS",
]

Backend = Literal["torch", "onnxruntime"]
BACKENDS: tuple[str, ...] = ("torch", "onnxruntime")


class DetectorInputError(ValueError):
    """The input given to the detector is not what it expects (shape, dtype, size)."""


@dataclass(frozen=True, eq=False)
class FacePrediction:
    """One face: fake probability, logit and heatmaps; image-level fields are set by ``predict_image``.

    ``heatmap`` (h, w) float32 in [1e-4, 1 - 1e-4] at the model's output resolution; ``heatmap_crop`` the
    same resized to the crop (``input_size`` square). ``crop_matrix`` (2, 3) maps image pixels to crop pixels.
    """

    prob: float
    logit: float
    heatmap: np.ndarray
    heatmap_crop: np.ndarray
    box: np.ndarray | None = None
    landmarks: np.ndarray | None = None
    crop: np.ndarray | None = None
    crop_matrix: np.ndarray | None = None
    detector_score: float | None = None

    @property
    def area(self) -> float:
        """Box area in image pixels (0 without a box)."""
        return box_area(self.box)


@dataclass(frozen=True, eq=False)
class NotJudgedFace:
    """A face that was found but not scored, and why (narrower than the recipe's ``min_face_size``, or found with
    a confidence below its ``min_face_score``)."""

    box: np.ndarray
    reason: str
    landmarks: np.ndarray | None = None
    detector_score: float | None = None


def too_small_reason(box_width: float, min_face_size: int) -> str | None:
    """Why a face of ``box_width`` pixels is not judged under ``min_face_size``, or ``None`` when it is judged."""
    if box_width >= min_face_size:
        return None
    return (
        f"face too small to judge: {box_width:.0f} px wide, the model needs at least {min_face_size} px"
    )


def unsure_face_reason(score: float | None, min_face_score: float | None) -> str | None:
    """Why a detection of face-finder confidence ``score`` is not judged under ``min_face_score``, or ``None``
    when it is judged (no threshold, or a finder that gives no confidence)."""
    if min_face_score is None or score is None or score >= min_face_score:
        return None
    return (
        f"face finder unsure this is a face: confidence {score:.3f}, the model judges detections from "
        f"{min_face_score:.3g}"
    )


@dataclass(frozen=True, eq=False)
class ImagePrediction:
    """All faces found in one image (largest first, as the face finder orders them).

    ``faces`` are the judged faces; ``not_judged`` the faces found but not scored, each with its reason (they
    count in no frame or video score). ``no_face_logit`` is what the recipe's ``no_face`` rule gives the image
    when it has no judged face (``None`` when it has one, or when the rule gives no score); :meth:`score_logit`
    and :meth:`score` are the image's score under the whole recipe, :meth:`frame_logit` and :meth:`prob` the
    score of its judged faces alone.
    """

    faces: list[FacePrediction]
    image_size: tuple[int, int]
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    not_judged: list[NotJudgedFace] = field(default_factory=list)
    frame_policy: str = "max"
    no_face_logit: float | None = None

    def frame_logit(self, policy: str | None = None) -> float | None:
        """The frame's logit over all its faces under the recipe's ``frame_policy`` (or ``policy``);
        ``None`` without faces."""
        return frame_score([f.logit for f in self.faces], policy or self.frame_policy, [f.area for f in self.faces])

    def prob(self, policy: str | None = None) -> float | None:
        """The frame's fake probability (see :meth:`frame_logit`); ``None`` without faces."""
        logit = self.frame_logit(policy)
        return None if logit is None else sigmoid(logit)

    def score_logit(self, policy: str | None = None) -> float | None:
        """The image's logit under the recipe: :meth:`frame_logit` over its judged faces, else ``no_face_logit``
        (the recipe's no-face rule); ``None`` when neither gives a score."""
        logit = self.frame_logit(policy)
        return self.no_face_logit if logit is None else logit

    def score(self, policy: str | None = None) -> float | None:
        """The image's fake probability under the recipe (see :meth:`score_logit`)."""
        logit = self.score_logit(policy)
        return None if logit is None else sigmoid(logit)


@dataclass(frozen=True, eq=False)
class FaceCrops:
    """The faces of one image cut by the recipe (stage ``crop_faces``).

    ``faces`` the faces kept (``laanet_synth.faces.Face``), ``crops`` their ``laanet_synth.crops.FaceCrop``
    (network-input image, image -> crop affine, landmarks), ``notes`` one line per face that could not be cut,
    ``not_judged`` the faces set aside as not judged (too small, or too unsure a detection).
    """

    faces: list[Any]
    crops: list[Any]
    notes: list[str]
    not_judged: list[NotJudgedFace] = field(default_factory=list)

    @property
    def images(self) -> list[np.ndarray]:
        """The crop images, ``input_size`` square RGB uint8."""
        return [c.image for c in self.crops]

    @property
    def boxes(self) -> np.ndarray:
        """``(N, 4)`` float32 boxes of the kept faces."""
        return np.asarray([np.asarray(f.box, np.float32) for f in self.faces], np.float32).reshape(-1, 4)

    @property
    def areas(self) -> list[float]:
        """Box areas of the kept faces, in image pixels."""
        return [float(a) for a in box_areas(self.boxes)]


def _default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Detector:
    """LAA-Net inference with a weights' preprocessing recipe.

    Scores are flip-test averages of the class logit when the recipe says so; the heatmap of the
    mirrored input is mirrored back before its logits are averaged with the direct one (the official
    evaluation averages them without mirroring back, which only affects the heatmap, not the score).
    The self-consistency head is never computed. ``official_float64=True`` runs model and input in
    float64, as the official evaluation does.
    """

    def __init__(
        self,
        model: LAANet | OnnxNetwork,
        preprocessing: Preprocessing,
        *,
        thresholds: Thresholds | None = None,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        face_finder: Any = None,
        batch_size: int = 8,
        official_float64: bool = False,
        spec: WeightSpec | None = None,
        backend: Backend = "torch",
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "onnxruntime":
            if official_float64 or dtype != torch.float32:
                raise ValueError("the onnxruntime backend runs in float32 only (no official_float64, no dtype)")
            if not isinstance(model, OnnxNetwork):
                model = OnnxNetwork.from_model(model, preprocessing, weights_name=spec.name if spec else "",
                                               weights_sha256=(spec.sha256 or "") if spec else "")
        elif isinstance(model, OnnxNetwork):
            raise ValueError("an ONNX model needs backend='onnxruntime'")
        self.backend = backend
        if device is None and backend == "onnxruntime":
            device = default_onnx_device()
        self.device = torch.device(device) if device is not None else _default_device()
        self.dtype = torch.float64 if official_float64 else dtype
        self.official_float64 = official_float64
        self.model = model.to(device=self.device, dtype=self.dtype).eval()
        self.preprocessing = preprocessing
        self.thresholds = thresholds or (spec.thresholds if spec else Thresholds())
        self.spec = spec
        #: the weights file behind this detector and its sha256, when it was built by :meth:`from_weights`
        self.weights: WeightsIdentity | None = None
        self.batch_size = batch_size
        self._face_finder = face_finder
        self._face_describer: Any = None
        self._heads = tuple(h for h in ("hm", "cls") if h in model.head_names)
        if "cls" not in self._heads:
            raise ValueError(
                f"the model has no 'cls' head (heads: {model.head_names}); expected one of {HEAD_NAMES}"
            )

    # --- construction -----------------------------------------------------------------------------------
    @classmethod
    def from_weights(
        cls,
        name_or_path: str | os.PathLike[str],
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype = torch.float32,
        face_finder: Any = None,
        official_float64: bool = False,
        weights_dir: str | os.PathLike[str] | None = None,
        batch_size: int = 8,
        backend: Backend = "torch",
    ) -> Detector:
        """Build from a registered weights name, a ``.safetensors`` (+ card), an official ``.pth`` or an
        ``.onnx`` file written by ``laanet export-onnx``.

        An official ``.pth`` with a registered file name gets that entry's recipe; any other ``.pth``
        is read as the official B4 with the official SBI recipe. ``backend="onnxruntime"`` runs the network
        with onnxruntime (float32; other weights are exported in memory first); an ``.onnx`` file always is.
        """
        given = Path(name_or_path)
        if given.suffix.lower() == ".onnx":
            net = OnnxNetwork.from_file(name_or_path)
            _check_recipe(net.preprocessing, given.name)
            det = cls(net, net.preprocessing, thresholds=net.thresholds, device=device, dtype=dtype,
                      face_finder=face_finder, batch_size=batch_size, official_float64=official_float64,
                      backend="onnxruntime")
            det.weights = WeightsIdentity(given.name, given, net.sha256)
            return det
        spec = _spec_for(name_or_path, weights_dir)
        _check_recipe(spec.preprocessing, spec.name)  # before any network is built
        path = _path_for(name_or_path, spec, weights_dir)
        model = load_checkpoint(path, variant=spec.variant, sha256=spec.sha256)  # checks a declared sha256
        if not spec.sha256:
            spec = dataclasses.replace(spec, sha256=file_sha256(path))
        det = cls(
            model,
            spec.preprocessing,
            thresholds=spec.thresholds,
            device=device,
            dtype=dtype,
            face_finder=face_finder,
            batch_size=batch_size,
            official_float64=official_float64,
            spec=spec,
            backend=backend,
        )
        # the name a user gave (the file name for a path) and the file's hash, already checked or computed above
        det.weights = WeightsIdentity(given.name if given.is_file() else str(name_or_path), path, str(spec.sha256))
        return det

    @property
    def input_size(self) -> int:
        """Side of the square crops the network expects."""
        return self.preprocessing.input_size

    @property
    def face_finder(self) -> Any:
        """The face finder (created on first use from the recipe's detector name)."""
        if self._face_finder is None:
            from laanet_synth.faces import make_face_finder

            self._face_finder = make_face_finder(self.preprocessing.face_detector)
        return self._face_finder

    def verdict(self, prob: float) -> Verdict:
        """``real`` / ``uncertain`` / ``fake`` under these weights' thresholds."""
        return verdict(prob, self.thresholds)

    # --- stages -----------------------------------------------------------------------------------------
    def check_image(self, image_rgb: np.ndarray) -> np.ndarray:
        """The image as an ``(H, W, 3)`` RGB uint8 array; a clear :class:`DetectorInputError` otherwise."""
        from laanet_synth.faces import check_rgb_uint8

        try:
            return check_rgb_uint8(image_rgb)
        except (ValueError, TypeError) as exc:
            raise DetectorInputError(f"expected an RGB uint8 image (H, W, 3): {exc}") from exc

    def find_faces(self, image_rgb: np.ndarray) -> list[Any]:
        """Stage 1: every face the recipe's face finder sees (``laanet_synth.faces.Face``, largest first)."""
        return list(self.face_finder.find(self.check_image(image_rgb)))

    def find_faces_batch(self, images: Sequence[np.ndarray], timer: Any = None) -> list[list[Any]]:
        """:meth:`find_faces` for several images: frames of one size are detected together when the face
        finder detects in batches (``laanet_synth.faces.find_faces_batch``; ``timer`` collects the time of
        its "detect" and "landmarks" stages)."""
        from laanet_synth.faces import find_faces_batch

        return find_faces_batch(self.face_finder, [self.check_image(im) for im in images], timer)

    def crop_faces(self, image_rgb: np.ndarray, faces: Sequence[Any], *, pre_cropped: bool = False) -> FaceCrops:
        """Stage 2: cut each face with the recipe's crop (``pre_cropped``: the image is already the recipe's
        margin crop, so only its second stage runs). Faces narrower than the recipe's ``min_face_size`` are
        set aside as not judged (a pre-cropped image's box is the whole image, so it is always judged); faces
        that cannot be cut are noted, not raised."""
        from laanet_synth.crops import CropError, crop_face
        from laanet_synth.crops import pre_cropped as second_stage

        image = self.check_image(image_rgb)
        recipe = second_stage(self.preprocessing.crop) if pre_cropped else self.preprocessing.crop
        kept, crops, notes, not_judged = [], [], [], []
        for i, face in enumerate(faces):
            set_aside = None if pre_cropped else self._not_judged(face)
            if set_aside is not None:
                not_judged.append(set_aside)
                continue
            try:
                crops.append(crop_face(image, face, recipe))
                kept.append(face)
            except CropError as exc:
                notes.append(f"face {i} skipped: {exc}")
        return FaceCrops(faces=kept, crops=crops, notes=notes, not_judged=not_judged)

    def _not_judged(self, face: Any) -> NotJudgedFace | None:
        """``face`` as a :class:`NotJudgedFace` when its box is narrower than the recipe's ``min_face_size`` or
        the face finder's confidence is below its ``min_face_score``; ``None`` when it is judged."""
        box = np.asarray(face.box, dtype=np.float32).reshape(4)
        score = _score_of(face)
        reason = (too_small_reason(float(box[2] - box[0]), self.preprocessing.min_face_size)
                  or unsure_face_reason(score, self.preprocessing.min_face_score))
        if reason is None:
            return None
        return NotJudgedFace(
            box=box, reason=reason, landmarks=np.asarray(face.landmarks, dtype=np.float32),
            detector_score=0.0 if score is None else score,
        )

    def normalise(self, crops: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
        """Stage 3: uint8 RGB crops ``(N, S, S, 3)`` at ``input_size`` -> the network's ``(N, 3, S, S)`` input
        (scaled to [0, 1], minus ``mean``, over ``std``) on the detector's device and dtype."""
        from laanet_synth.normalise import normalise_images

        pre = self.preprocessing
        return normalise_images(self._check_crops(crops), pre.mean, pre.std, dtype=self.dtype, device=self.device)

    def aggregate(self, face_logits: Sequence[float], areas: Sequence[float] | None = None,
                  policy: str | None = None) -> float | None:
        """Stage 5: the frame logit from its faces' logits under the recipe's ``frame_policy`` (or ``policy``);
        ``None`` for a frame without faces."""
        return frame_score(face_logits, policy or self.preprocessing.frame_policy, areas)

    def aggregate_video(self, frame_logits: Sequence[float | None]) -> float:
        """Stage 6: a video's fake probability from its frame logits (frames without faces are left out)."""
        if self.preprocessing.video_aggregation != "mean_logit":
            raise ValueError(f"unknown video aggregation {self.preprocessing.video_aggregation!r}")
        return video_score(frame_logits)

    def aggregate_clip(self, frame_logits: Sequence[float | None],
                       no_face_logits: Sequence[float | None] = ()) -> float | None:
        """Stage 6 under the recipe's no-face rule: :meth:`aggregate_video` over the frames with a judged face;
        when no frame has one, over ``no_face_logits`` (what :meth:`no_face_logit` gave each frame); ``None``
        when neither holds a logit."""
        if self.preprocessing.video_aggregation != "mean_logit":
            raise ValueError(f"unknown video aggregation {self.preprocessing.video_aggregation!r}")
        return clip_score(frame_logits, no_face_logits)

    def whole_image_crop(self, image_rgb: np.ndarray) -> np.ndarray:
        """The whole image warped to the input size (letter-boxed when not square): the crop the ``"whole_image"``
        no-face rule scores as one face."""
        from laanet_synth.crops import warp_to_size

        return warp_to_size(self.check_image(image_rgb), self.input_size)

    def no_face_logit(self, image_rgb: np.ndarray | None = None, flip_test: bool | None = None) -> float | None:
        """What the recipe's ``no_face`` rule gives an image with no judged face, as a logit: ``None`` for
        ``"no_score"``, 0.0 (probability 0.5) for ``"chance"``, and for ``"whole_image"`` the logit of
        :meth:`whole_image_crop` through :meth:`predict_crops` (flip test as the recipe, or ``flip_test``)."""
        if image_rgb is None and self.preprocessing.no_face == "whole_image":
            raise ValueError("the 'whole_image' no-face rule needs the image")
        return self.no_face_logits([image_rgb], flip_test)[0]

    def no_face_logits(self, images: Sequence[np.ndarray | None], flip_test: bool | None = None
                       ) -> list[float | None]:
        """:meth:`no_face_logit` of several images, the whole images scored together (in batches of
        ``batch_size``, one network pass for a video's sampled frames at the default size)."""
        rule = self.preprocessing.no_face
        if rule == "no_score":
            return [None] * len(images)
        if rule == "chance":
            return [0.0] * len(images)
        return [p.logit for p in self.predict_crops([self.whole_image_crop(im) for im in images], flip_test)]

    # --- composed inference -------------------------------------------------------------------------------
    def _check_crops(self, crops: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        s = self.input_size
        if isinstance(crops, np.ndarray) and crops.ndim == 3:
            crops = crops[None]
        arr = [np.asarray(c) for c in crops]
        for i, c in enumerate(arr):
            if c.dtype != np.uint8 or c.ndim != 3 or c.shape != (s, s, 3):
                raise DetectorInputError(
                    f"crop {i}: expected a uint8 RGB array of shape ({s}, {s}, 3) (the recipe's input size), "
                    f"got {c.dtype} {c.shape}; crop faces with laanet_synth.crops.crop_face or use predict_image"
                )
        if not arr:
            return np.zeros((0, s, s, 3), np.uint8)
        return np.stack(arr)

    @torch.inference_mode()
    def predict_logits(
        self, x: torch.Tensor, flip_test: bool | None = None, outputs: dict[str, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stage 4, the network: class logits (B,) and heatmap logits (B, h, w) for normalised inputs. With the
        flip test (the recipe's setting unless ``flip_test`` says otherwise) each is the mean over the input
        and its mirror. ``outputs`` are the network's outputs for ``x`` when the caller has already run it
        (as training validation has, for its loss); only the mirror is then run."""
        out = self.model(x, heads=self._heads) if outputs is None else outputs
        cls = out["cls"].reshape(-1)
        hm = out["hm"][:, 0] if "hm" in out else None
        if self.preprocessing.flip_test if flip_test is None else flip_test:
            out_f = self.model(torch.flip(x, dims=[3]), heads=self._heads)
            cls = (cls + out_f["cls"].reshape(-1)) / 2
            if hm is not None:
                hm = (hm + torch.flip(out_f["hm"][:, 0], dims=[2])) / 2
        if hm is None:
            hm = cls.new_zeros((cls.shape[0], x.shape[2] // 4, x.shape[3] // 4))
        return cls, hm

    def predict_crops(
        self, crops: Sequence[np.ndarray] | np.ndarray, flip_test: bool | None = None
    ) -> list[FacePrediction]:
        """Score aligned face crops (uint8 RGB, ``input_size`` square), in batches of ``batch_size``, with the
        recipe's flip test unless ``flip_test`` overrides it (the harness's test-time augmentation switch)."""
        arr = self._check_crops(crops)
        results: list[FacePrediction] = []
        s = self.input_size
        for start in range(0, len(arr), self.batch_size):
            chunk = arr[start : start + self.batch_size]
            cls, hm = self.predict_logits(self.normalise(chunk), flip_test)
            probs = torch.clamp(torch.sigmoid(hm), HM_CLAMP, 1.0 - HM_CLAMP).float().cpu().numpy()
            for logit, heat in zip(cls.double().cpu().tolist(), probs, strict=True):
                results.append(
                    FacePrediction(
                        prob=sigmoid(logit),
                        logit=float(logit),
                        heatmap=heat,
                        heatmap_crop=cv2.resize(heat, (s, s), interpolation=cv2.INTER_LINEAR),
                    )
                )
        return results

    def predict_image(self, image_rgb: np.ndarray, faces: Sequence[Any] | None = None) -> ImagePrediction:
        """Every face of an image scored: :meth:`find_faces` (unless ``faces`` are given), :meth:`crop_faces`
        (faces narrower than the recipe's ``min_face_size`` set aside as not judged), then
        :meth:`predict_crops` (normalise, network with the recipe's flip test). The frame score is
        ``ImagePrediction.frame_logit`` / ``prob`` (:meth:`aggregate` over all judged faces)."""
        image = self.check_image(image_rgb)
        found = self.find_faces(image) if faces is None else list(faces)
        return self._score_faces([image], [found], None, no_face=True)[0]

    def predict_frames(self, images: Sequence[np.ndarray], timer: Any = None, *,
                       no_face: bool = True) -> list[ImagePrediction]:
        """:meth:`predict_image` for several frames at once: frames of one size are detected together (when
        the face finder detects in batches) and every face of every frame is scored in batches of
        ``batch_size``. ``timer`` (a ``laanet_synth.stages.StageTimer``) collects the time of the
        "detect", "landmarks", "crop" and "network" stages. ``no_face=False`` leaves the no-face rule's
        ``ImagePrediction.no_face_logit`` unset (a video asks for it only when no frame has a face)."""
        checked = [self.check_image(im) for im in images]
        return self._score_faces(checked, self.find_faces_batch(checked, timer), timer, no_face=no_face)

    def predict_video(
        self, frames: Sequence[tuple[int, np.ndarray]], *, people: bool = True, chunk: int = 8,
        progress: Any = None, timer: Any = None,
    ) -> VideoPrediction:
        """Score sampled video frames ``(frame number, RGB uint8)`` and link their faces into people.

        Frames go through :meth:`predict_frames` ``chunk`` at a time (``progress(done, total)`` after each).
        The clip score follows the recipe (``frame_policy`` over the faces of a frame, then the sigmoid of
        the mean frame logit; when no frame has a judged face, the ``no_face`` rule over every frame, as
        :meth:`aggregate_clip`); with ``people`` each person found gets the same rule over their own faces.
        Returns a :class:`laanet_model.video.VideoPrediction`.
        """
        from laanet_synth.stages import StageTimer

        from .video import build_video_prediction

        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        timer = timer if timer is not None else StageTimer()
        numbers = [int(n) for n, _ in frames]
        images = [self.check_image(im) for _, im in frames]
        preds: list[ImagePrediction] = []
        for start in range(0, len(images), chunk):
            preds.extend(self.predict_frames(images[start:start + chunk], timer, no_face=False))
            if progress is not None:
                progress(len(preds), len(images))
        no_face: list[float | None] = []
        if not any(p.faces for p in preds):
            with timer.stage("network"):
                no_face = self.no_face_logits(images)
            preds = [dataclasses.replace(p, no_face_logit=v) for p, v in zip(preds, no_face, strict=True)]
        describer = self.face_describer if people else None
        return build_video_prediction(images, numbers, preds, self.preprocessing.frame_policy, describer, timer,
                                      no_face)

    @property
    def face_describer(self) -> Any:
        """dlib's face descriptor used to rejoin a person after a gap (created on first use)."""
        if self._face_describer is None:
            from laanet_synth.faces import FaceDescriber

            self._face_describer = FaceDescriber()
        return self._face_describer

    def _score_faces(
        self, images: Sequence[np.ndarray], faces_per_image: Sequence[Sequence[Any]], timer: Any, *,
        no_face: bool,
    ) -> list[ImagePrediction]:
        """:meth:`crop_faces` for every image ("crop" stage), then every crop of every image scored together
        by :meth:`predict_crops` ("network" stage); with ``no_face`` an image with no judged face gets the
        recipe's no-face rule (:meth:`no_face_logit`), its whole image (under ``"whole_image"``) scored in the
        same batches as the faces, so the network sees each image once."""
        from laanet_synth.stages import StageTimer

        timer = timer if timer is not None else StageTimer()
        whole_rule = no_face and self.preprocessing.no_face == "whole_image"
        with timer.stage("crop"):
            cuts = [self.crop_faces(im, found) for im, found in zip(images, faces_per_image, strict=True)]
            faceless = [k for k, cut in enumerate(cuts) if not cut.crops] if whole_rule else []
            wholes = [self.whole_image_crop(images[k]) for k in faceless]
        with timer.stage("network"):
            preds = self.predict_crops([crop for cut in cuts for crop in cut.images] + wholes)
        n_faces = len(preds) - len(wholes)
        whole_logits = {k: p.logit for k, p in zip(faceless, preds[n_faces:], strict=True)}
        out: list[ImagePrediction] = []
        start = 0
        for k, (image, found, cut) in enumerate(zip(images, faces_per_image, cuts, strict=True)):
            pred = self._image_prediction(image, len(found), cut, preds[start:start + len(cut.crops)])
            if no_face and not pred.faces:
                logit = whole_logits[k] if whole_rule else self.no_face_logit(image)
                pred = dataclasses.replace(pred, no_face_logit=logit)
            out.append(pred)
            start += len(cut.crops)
        return out

    def _image_prediction(
        self, image: np.ndarray, n_found: int, cut: FaceCrops, preds: Sequence[FacePrediction]
    ) -> ImagePrediction:
        """One image's result: each crop's prediction with its face's box, landmarks, crop and matrix."""
        faces = [
            dataclasses.replace(
                p,
                box=np.asarray(face.box, dtype=np.float32),
                landmarks=np.asarray(face.landmarks, dtype=np.float32),
                crop=fc.image,
                crop_matrix=fc.matrix,
                detector_score=float(getattr(face, "score", 0.0)),
            )
            for p, face, fc in zip(preds, cut.faces, cut.crops, strict=True)
        ]
        return ImagePrediction(
            faces=faces, image_size=image.shape[:2], skipped=n_found - len(cut.faces) - len(cut.not_judged),
            notes=cut.notes, not_judged=cut.not_judged, frame_policy=self.preprocessing.frame_policy,
        )


def _score_of(face: Any) -> float | None:
    """A face finder's confidence for ``face``, or ``None`` when it gives none."""
    score = getattr(face, "score", None)
    return None if score is None else float(score)


def _spec_for(name_or_path: str | os.PathLike[str], weights_dir: str | os.PathLike[str] | None) -> WeightSpec:
    name = str(name_or_path)
    p = Path(name_or_path)
    if name in WEIGHTS and not p.exists():
        return get_weights(name)
    if not p.exists():
        raise CheckpointError(
            f"{name!r} is neither a registered weights name nor an existing file; expected one of "
            f"{sorted(WEIGHTS)} or a .safetensors / .pth path"
        )
    if p.suffix == ".safetensors":
        card = read_card(p)
        try:
            base = WeightSpec(
                name=p.stem,
                variant=str(card.get("variant") or "custom"),
                preprocessing=preprocessing_from_card(card),
                source=str(p),
                licence=str(card.get("licence", "unknown")),
                file_name=p.name,
                sha256=None,
            )
            return spec_from_card(base, card)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CheckpointError(f"card of {p.name} has an invalid recipe: {type(exc).__name__}: {exc}") from exc
    known = spec_for_file(p)
    if known is not None:
        return known
    official = get_weights("laanet-official-sbi")
    return dataclasses.replace(
        official, name=p.stem, variant=OFFICIAL_VARIANT, source=str(p), file_name=p.name, sha256=None
    )


def _check_recipe(preprocessing: Any, name: str) -> None:
    try:
        check_recipe(preprocessing)
    except CardMismatch as exc:
        raise CheckpointError(f"card of {name}: {exc}") from exc


def _path_for(
    name_or_path: str | os.PathLike[str], spec: WeightSpec, weights_dir: str | os.PathLike[str] | None
) -> Path:
    p = Path(name_or_path)
    if p.exists():
        return p
    return resolve_weights_file(spec, weights_dir)
