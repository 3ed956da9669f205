"""Resolution and quality invariance for training pairs.

Two steps, both pure functions of an explicit ``numpy.random.Generator``:

- :func:`rescale_source` renders a real face at a random effective resolution *before* the crop: the whole
  source image is shrunk or enlarged by a log-uniform factor with a random interpolation, and its landmarks
  and box follow. The crop recipe then resamples that image to the network input exactly as inference does,
  so a face seen small, large, aliased or smooth is still a real face.
- :func:`degrade_pair` applies one random draw of global edge-preserving smoothing, sharpening or blur, sensor
  noise, greyscale and JPEG *identically* to a real face and to its fake (the same noise pixels, the same JPEG
  quality), so the only difference the label can come from is the blend itself.

Edge-preserving smoothing (a bilateral filter) stands for what phone cameras' noise reduction and beauty
filters do to every photo: smooth skin, sharp edges. A model trained without it reads that look as a blend
(a mild bilateral filter sent half of the real validation faces above 0.5 for one checkpoint), so recipe v3
(:data:`QUALITY_RECIPES`) adds it; recipe v2 is kept exactly as it was.

A third step, :func:`reframe_source`, cuts the source image close around the face before the crop, as a photo
cropped to the face (a profile picture, a dataset's face crop) arrives: the crop recipe's margin is then clipped
by the frame on some sides and the face reaches the network stretched and off centre, as at inference. Without
it, the LFW-trained weights saw every face with its whole margin, and called many tightly cropped real faces
fake. Recipe ``v2-framed`` adds it to v2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .colour import jpeg
from .crops import calibrate_box
from .faces import Face

#: interpolations a camera pipeline, a browser or an editor may have used to shrink an image
SHRINK_INTERPOLATIONS = (cv2.INTER_AREA, cv2.INTER_LINEAR, cv2.INTER_NEAREST, cv2.INTER_CUBIC)
#: interpolations used to enlarge one
ENLARGE_INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4, cv2.INTER_NEAREST)


@dataclass(frozen=True)
class QualityAugment:
    """Probabilities and ranges of the resolution and quality steps (all applied at training time only).

    ``scale_range`` bounds the log-uniform source rescale factor: below 1 the face loses detail and the
    crop enlarges it back; above 1 it is upsampled first and the crop shrinks it. ``p_smooth`` is the
    probability of a bilateral filter (colour sigma in ``smooth_sigma_color`` grey levels, space sigma in
    ``smooth_sigma_space`` crop pixels) before the sharpen-or-blur draw; at 0 no random number is drawn for
    it, so a recipe without smoothing renders exactly what it rendered before the step existed.
    ``view_scale`` bounds the log-uniform factor of :func:`resample_view` (used only by datasets with real
    views).
    """

    p_rescale: float = 0.7
    scale_range: tuple[float, float] = (0.45, 2.5)
    p_sharpen: float = 0.25
    sharpen_amount: tuple[float, float] = (0.3, 1.5)
    sharpen_sigma: tuple[float, float] = (0.6, 1.6)
    p_blur: float = 0.15
    blur_sigma: tuple[float, float] = (0.3, 1.2)
    p_noise: float = 0.2
    noise_sigma: tuple[float, float] = (1.0, 6.0)
    p_grey: float = 0.1
    p_jpeg: float = 0.4
    jpeg_quality: tuple[int, int] = (35, 95)
    p_smooth: float = 0.0
    smooth_sigma_color: tuple[float, float] = (20.0, 70.0)
    smooth_sigma_space: tuple[float, float] = (1.5, 4.5)
    view_scale: tuple[float, float] = (0.25, 0.85)
    p_frame: float = 0.0
    frame_margin: tuple[float, float] = (0.0, 0.25)
    p_frame_side: float = 0.5

    def __post_init__(self) -> None:
        lo, hi = self.scale_range
        if not 0 < lo <= hi:
            raise ValueError(f"scale_range must satisfy 0 < low <= high, got {self.scale_range}")
        q0, q1 = self.jpeg_quality
        if not 1 <= q0 <= q1 <= 100:
            raise ValueError(f"jpeg_quality must lie in [1, 100], got {self.jpeg_quality}")
        v0, v1 = self.view_scale
        if not 0 < v0 <= v1 <= 1:
            raise ValueError(f"view_scale must satisfy 0 < low <= high <= 1, got {self.view_scale}")
        for name in ("smooth_sigma_color", "smooth_sigma_space"):
            a, b = getattr(self, name)
            if not 0 < a <= b:
                raise ValueError(f"{name} must satisfy 0 < low <= high, got {(a, b)}")
        f0, f1 = self.frame_margin
        if not 0.0 <= f0 <= f1:
            raise ValueError(f"frame_margin must satisfy 0 <= low <= high, got {self.frame_margin}")
        for name in ("p_rescale", "p_sharpen", "p_blur", "p_noise", "p_grey", "p_jpeg", "p_smooth", "p_frame",
                     "p_frame_side"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be a probability, got {p}")


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """A scale factor drawn log-uniformly over [lo, hi] (one draw)."""
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _pick(rng: np.random.Generator, choices: Sequence[int]) -> int:
    """One of ``choices`` (OpenCV interpolation flags), uniformly (one draw)."""
    return choices[int(rng.integers(len(choices)))]


def rescale_source(image: np.ndarray, face: Face, rng: np.random.Generator, cfg: QualityAugment) -> tuple[np.ndarray, Face]:
    """``image`` and ``face`` rendered at a random effective resolution (unchanged with ``1 - p_rescale``)."""
    if rng.random() >= cfg.p_rescale:
        return image, face
    s = _log_uniform(rng, *cfg.scale_range)
    h, w = image.shape[:2]
    nw, nh = max(8, round(w * s)), max(8, round(h * s))
    interp = _pick(rng, SHRINK_INTERPOLATIONS if s < 1 else ENLARGE_INTERPOLATIONS)
    out = cv2.resize(image, (nw, nh), interpolation=interp)
    sx, sy = nw / w, nh / h
    scale = np.array([sx, sy], np.float32)
    lms = (np.asarray(face.landmarks, np.float32) + 0.5) * scale - 0.5
    box = np.asarray(face.box, np.float32) * np.array([sx, sy, sx, sy], np.float32)
    return out, dataclasses.replace(face, box=box, landmarks=lms)


def frame_window(face: Face, width: int, height: int, rng: np.random.Generator, cfg: QualityAugment
                 ) -> tuple[int, int, int, int] | None:
    """The window (x1, y1, x2, y2) :func:`reframe_source` cuts, or ``None`` (the image stays whole: with
    ``1 - p_frame``, and when no side would move). Each side is cut, with ``p_frame_side`` (at least one side
    each time), at a margin drawn uniformly from ``frame_margin`` (a fraction of the landmark-calibrated box's
    width or height, :func:`~laanet_synth.crops.calibrate_box`) outside the box; a side already closer to the
    frame than that stays where it is. The draws are made whether or not a side moves, so the stream's use does
    not depend on the image."""
    if cfg.p_frame <= 0.0 or rng.random() >= cfg.p_frame:
        return None
    sides = rng.random(4) < cfg.p_frame_side
    sides[int(rng.integers(4))] = True
    margins = rng.uniform(*cfg.frame_margin, size=4)
    box = calibrate_box(face).astype(np.float64)
    want = box + np.array([-1.0, -1.0, 1.0, 1.0]) * margins * np.tile(box[2:] - box[:2], 2)
    full = np.array([0, 0, width, height])
    cut = np.r_[np.maximum(np.floor(want[:2]), 0), np.minimum(np.ceil(want[2:]), full[2:])]
    x1, y1, x2, y2 = (int(v) for v in np.where(sides, cut, full))
    if (x1, y1, x2, y2) == (0, 0, width, height) or x2 - x1 < 8 or y2 - y1 < 8:
        return None
    return x1, y1, x2, y2


def reframe_source(image: np.ndarray, face: Face, rng: np.random.Generator, cfg: QualityAugment
                   ) -> tuple[np.ndarray, Face]:
    """``image`` cut to a window close around ``face`` (:func:`frame_window`), the face's box and landmarks moved
    with it (unchanged when no window is drawn)."""
    win = frame_window(face, image.shape[1], image.shape[0], rng, cfg)
    if win is None:
        return image, face
    x1, y1, x2, y2 = win
    shift = np.array([x1, y1], np.float32)
    return (np.ascontiguousarray(image[y1:y2, x1:x2]),
            dataclasses.replace(face, box=np.asarray(face.box, np.float32) - np.tile(shift, 2),
                                landmarks=np.asarray(face.landmarks, np.float32) - shift))


def _unsharp(img: np.ndarray, amount: float, sigma: float) -> np.ndarray:
    f = img.astype(np.float32)
    return f + amount * (f - cv2.GaussianBlur(f, (0, 0), sigma))


def degrade_pair(
    real: np.ndarray, fake: np.ndarray, rng: np.random.Generator, cfg: QualityAugment
) -> tuple[np.ndarray, np.ndarray]:
    """The same random sharpen-or-blur, noise, greyscale and JPEG applied to both uint8 RGB images."""
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {real.shape} and {fake.shape}")
    out = degrade_images([real, fake], rng, cfg)
    return out[0], out[1]


def degrade_images(images: list[np.ndarray], rng: np.random.Generator, cfg: QualityAugment) -> list[np.ndarray]:
    """One random draw of smoothing, sharpen-or-blur, noise, greyscale and JPEG applied identically to each of
    ``images`` (uint8 RGB, one shape). The draws do not depend on how many images there are, so a generator in
    the same state degrades a third image exactly as it degraded a pair."""
    if not images or any(x.shape != images[0].shape for x in images):
        raise ValueError(f"expected one or more images of one shape, got {[x.shape for x in images]}")
    imgs = [x.astype(np.float32) for x in images]
    if cfg.p_smooth > 0 and rng.random() < cfg.p_smooth:
        sc, ss = rng.uniform(*cfg.smooth_sigma_color), rng.uniform(*cfg.smooth_sigma_space)
        imgs = [cv2.bilateralFilter(x, 0, sc, ss) for x in imgs]
    u = rng.random()
    if u < cfg.p_sharpen:
        amount, sigma = rng.uniform(*cfg.sharpen_amount), rng.uniform(*cfg.sharpen_sigma)
        imgs = [_unsharp(x, amount, sigma) for x in imgs]
    elif u < cfg.p_sharpen + cfg.p_blur:
        sigma = rng.uniform(*cfg.blur_sigma)
        imgs = [cv2.GaussianBlur(x, (0, 0), sigma) for x in imgs]
    if rng.random() < cfg.p_noise:
        noise = rng.normal(0.0, rng.uniform(*cfg.noise_sigma), size=images[0].shape).astype(np.float32)
        imgs = [x + noise for x in imgs]
    out = [np.clip(np.rint(x), 0, 255).astype(np.uint8) for x in imgs]
    if rng.random() < cfg.p_grey:
        out = [cv2.cvtColor(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB) for x in out]
    if rng.random() < cfg.p_jpeg:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        out = [jpeg(x, q) for x in out]
    return out


def resample_view(image: np.ndarray, rng: np.random.Generator, cfg: QualityAugment) -> np.ndarray:
    """``image`` at a lower effective resolution and the same size: shrunk by a log-uniform factor over
    ``cfg.view_scale`` with a random shrinking interpolation, then enlarged back with a random enlarging one,
    as a face photographed smaller and enlarged by the crop."""
    s = _log_uniform(rng, *cfg.view_scale)
    h, w = image.shape[:2]
    down, up = _pick(rng, SHRINK_INTERPOLATIONS), _pick(rng, ENLARGE_INTERPOLATIONS)
    small = cv2.resize(image, (max(4, round(w * s)), max(4, round(h * s))), interpolation=down)
    return cv2.resize(small, (w, h), interpolation=up)


#: the named quality recipes of our own training configs (``data.quality``); ``true`` means ``"v2"``
QUALITY_RECIPES: dict[str, QualityAugment] = {
    "v2": QualityAugment(),
    "v3": QualityAugment(p_smooth=0.35),
    # v2 with a wider source rescale (0.35x to 4x), sharpening and greyscale twice as often: large, crisp faces
    # shrunk into the crop and greyscale faces were the selection photos whose score moved most with resolution
    "v4": QualityAugment(scale_range=(0.35, 4.0), p_sharpen=0.5, p_grey=0.2),
    # v2 with a third of the source images cut close around the face (:func:`reframe_source`), as face crops
    # arrive: the margin clipped by the frame on some sides
    "v2-framed": QualityAugment(p_frame=0.35),
}


def quality_recipe(name: str | bool) -> QualityAugment | None:
    """The :class:`QualityAugment` a config's ``data.quality`` names (``False``: none, ``True``: ``"v2"``)."""
    if name is False:
        return None
    key = "v2" if name is True else name
    if key not in QUALITY_RECIPES:
        raise ValueError(f"unknown quality recipe {name!r}; expected true, false or one of {sorted(QUALITY_RECIPES)}")
    return QUALITY_RECIPES[key]
