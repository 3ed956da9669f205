"""Training pairs from real face swaps: a real frame and a swap of it made by a face-swap tool (same pose and
framing), cut with the real face's landmarks, with a blend mask recovered from where the two differ.

The mask is an estimate: the tool's own blend mask is not published with its outputs, so the swapped region
is taken to be where the smoothed per-pixel difference between fake and real exceeds a floor, softened into
a [0, 1] mask whose boundary gives the heatmap and self-consistency targets as for SBI and BI pairs.
:class:`SwapPairDataset` yields the same items as the SBI and BI datasets; :class:`laanet_synth.dataset.ShareMixDataset`
mixes them into another pair dataset at a given share.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .crops import CropRecipe, crop_face
from .dataset import FaceIndex, _PairDataset, dataset_recipe
from .imageio import read_image
from .masks import boundary_map, clip01
from .quality import QualityAugment, rescale_source


@dataclass(frozen=True)
class DifferenceMask:
    """How a swap's region is recovered: per-pixel colour difference (0-255, max over channels) after a blur of
    ``pre_blur`` of the side; below ``floor`` nothing changed, above ``full`` the pixel was replaced; the mask is
    closed and softened by a blur of ``soften`` of the side."""

    pre_blur: float = 0.01
    floor: float = 6.0
    full: float = 24.0
    soften: float = 0.03


DEFAULT_DIFFERENCE = DifferenceMask()


def difference_mask(real: np.ndarray, fake: np.ndarray, cfg: DifferenceMask = DEFAULT_DIFFERENCE) -> np.ndarray:
    """The estimated swap mask (H, W) float32 in [0, 1] of two aligned uint8 RGB images of one shape."""
    if real.shape != fake.shape or real.ndim != 3:
        raise ValueError(f"real and fake must be aligned RGB images of one shape, got {real.shape} and {fake.shape}")
    side = max(real.shape[:2])

    def blur(a: np.ndarray, frac: float) -> np.ndarray:
        sigma = max(0.5, frac * side)
        return cv2.GaussianBlur(a, (0, 0), sigma)

    diff = np.abs(blur(real.astype(np.float32), cfg.pre_blur) - blur(fake.astype(np.float32), cfg.pre_blur)).max(axis=2)
    m = clip01((diff - cfg.floor) / (cfg.full - cfg.floor))
    k = max(3, int(round(cfg.soften * side)) | 1)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return clip01(blur(m, cfg.soften))


@dataclass(frozen=True)
class SwapPair:
    """A real crop, its swapped crop, the estimated ``mask`` (S, S) and ``boundary_small`` (S/4, S/4) uint8."""

    real: np.ndarray
    fake: np.ndarray
    mask: np.ndarray
    boundary_small: np.ndarray


def make_swap_pair(real: np.ndarray, fake: np.ndarray, rng: np.random.Generator, train: bool = True,
                   cfg: DifferenceMask = DEFAULT_DIFFERENCE) -> SwapPair:
    """A pair from aligned square crops (side divisible by 4): a joint horizontal flip (training, p = 0.5), the
    difference mask and its boundary at a quarter of the side."""
    S = real.shape[0]
    if real.shape[:2] != (S, S) or S % 4:
        raise ValueError(f"expected square crops with a side divisible by 4, got {real.shape[:2]}")
    if train and rng.random() < 0.5:
        real, fake = cv2.flip(real, 1), cv2.flip(fake, 1)
    mask = difference_mask(real, fake, cfg)
    small = cv2.resize(boundary_map(mask), (S // 4, S // 4), interpolation=cv2.INTER_AREA)
    return SwapPair(real=real, fake=fake, mask=mask, boundary_small=np.round(clip01(small) * 255).astype(np.uint8))


class SwapPairDataset(_PairDataset):
    """(real, fake) pairs from real face swaps. ``index`` holds the real frames (with their 68 landmarks); item
    ``i`` is ``fakes[i]`` = (path of a swap, row of its real frame in ``index``). Both images are rendered at the
    same random effective resolution (``quality``), cut with the real frame's face, and degraded identically, so
    the pair differs by the swap alone."""

    def __init__(self, index: FaceIndex, fakes: Sequence[tuple[str, int]], recipe: CropRecipe | int, seed: int = 0,
                 split: str = "train", mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.5, 0.5, 0.5),
                 quality: QualityAugment | None = None, real_views: bool = False) -> None:
        if not fakes:
            raise ValueError("no swapped images given")
        for path, row in fakes:
            if not 0 <= int(row) < len(index):
                raise ValueError(f"{path}: real frame row {row} is outside the index of {len(index)} faces")
        self.index = index
        self.fakes = [(str(p), int(r)) for p, r in fakes]
        self.recipe = dataset_recipe(index, recipe)
        self.seed, self.split, self.epoch = int(seed), split, 0
        self.mean, self.std = tuple(mean), tuple(std)
        self.quality = quality if split == "train" else None
        self._set_views(real_views, split)

    def __len__(self) -> int:
        return len(self.fakes)

    def raw_item(self, i: int) -> dict[str, np.ndarray]:
        path, row = self.fakes[i]
        real_img, face = read_image(self.index.image_path(row)), self.index.face(row)
        fake_img = read_image(path)
        if fake_img.shape != real_img.shape:
            fake_img = cv2.resize(fake_img, (real_img.shape[1], real_img.shape[0]), interpolation=cv2.INTER_AREA)
        rng = self.rng_for(i)
        qrng = None
        if self.quality is not None:
            qrng = np.random.default_rng([self.seed, self.epoch, int(i), 1])
            same = copy.deepcopy(qrng)
            real_img, face_r = rescale_source(real_img, face, qrng, self.quality)
            fake_img, _ = rescale_source(fake_img, face, same, self.quality)
            face = face_r
        pair = make_swap_pair(crop_face(real_img, face, self.recipe).image, crop_face(fake_img, face, self.recipe).image,
                              rng, train=self.split == "train")
        return self.finish(i, pair.real, pair.fake, pair.mask, pair.boundary_small, qrng)
