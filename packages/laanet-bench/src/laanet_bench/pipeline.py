"""Frames -> faces -> crops -> logits -> frame and video scores, with every step cached per item.

Crops are cached per item under a tag of (recipe, face finder, frame count, perturbation); logits per item
under a tag of (weights sha256, crop tag, TTA). Each entry is written atomically when its item is done, so a
run that is killed resumes where it stopped and recomputes nothing it finished.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from laanet_synth.crops import whole_image_face
from laanet_synth.imageio import ImageReadError
from laanet_synth.video import VideoReadError
from tqdm.auto import tqdm

from .cache import CropEntry, EvalCache, ScoreEntry, digest, item_fingerprint
from .datasets.base import MediaItem
from .frames import load_frames
from .perturbations import Perturbation, perturb_frames
from .scorer import FaceScorer, crop_tag_data

FacePolicy = Literal["max", "largest"]
TTA = Literal["none", "flip"]
NoFace = Literal["0.5", "skip"]


class EvaluationError(RuntimeError):
    """The evaluation cannot go on (bad settings, nothing to score)."""


@dataclass(frozen=True)
class EvalSettings:
    """How items are scored and aggregated."""

    n_frames: int = 32
    face_policy: FacePolicy = "max"
    tta: TTA = "none"
    no_face: NoFace = "0.5"
    batch_size: int = 8
    perturbation: Perturbation | None = None

    def __post_init__(self) -> None:
        if self.n_frames < 1:
            raise EvaluationError(f"n_frames must be >= 1, got {self.n_frames}")
        if self.face_policy not in ("max", "largest"):
            raise EvaluationError(f"face_policy must be 'max' or 'largest', got {self.face_policy!r}")
        if self.tta not in ("none", "flip"):
            raise EvaluationError(f"tta must be 'none' or 'flip', got {self.tta!r}")
        if self.no_face not in ("0.5", "skip"):
            raise EvaluationError(f"no_face must be '0.5' or 'skip', got {self.no_face!r}")
        if self.batch_size < 1:
            raise EvaluationError(f"batch_size must be >= 1, got {self.batch_size}")


@dataclass(frozen=True, eq=False)
class ItemResult:
    """The scores of one item: per-frame logits (frames with a face), the video's fake probability (``None``
    without a face or when it failed), and whether it came from the cache."""

    item: MediaItem
    frame_logits: np.ndarray
    video_prob: float | None
    cached: bool
    error: str = ""


@dataclass
class RunStats:
    """Counts of one pipeline run."""

    computed: int = 0
    cached: int = 0
    failed: int = 0
    computed_keys: list[str] = field(default_factory=list)


def crop_tag(scorer: FaceScorer, settings: EvalSettings) -> str:
    p = settings.perturbation
    return digest({**crop_tag_data(scorer), "n_frames": settings.n_frames,
                   "perturbation": None if p is None else [p.name, p.level, p.seed], "version": 1})


def score_tag(scorer: FaceScorer, settings: EvalSettings) -> str:
    return digest({"weights": scorer.weights_sha256, "precision": scorer.precision,
                   "crops": crop_tag(scorer, settings), "tta": settings.tta})


def extract_crops(item: MediaItem, scorer: FaceScorer, settings: EvalSettings) -> CropEntry:
    """Decode the item's frames, perturb them, find and crop the faces with the scorer's recipe."""
    frames = load_frames(item, settings.n_frames)
    images = perturb_frames(frames.images, settings.perturbation, key=item.key, fps=frames.fps)
    size = scorer.recipe.input_size
    if item.pre_cropped:
        found = [[whole_image_face(im.shape[1], im.shape[0], np.zeros((68, 2), np.float32))] for im in images]
    else:
        found = scorer.find_faces_batch(images)  # the frames of an item detected in batches
    crops, owners, boxes = [], [], []
    for j, (image, faces) in enumerate(zip(images, found, strict=True)):
        cut = scorer.crop_faces(image, faces, pre_cropped=item.pre_cropped)
        crops += cut.images
        owners += [j] * len(cut.images)
        boxes += list(cut.boxes)
    return CropEntry(
        crops=np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8),
        frame_of_face=np.asarray(owners, dtype=np.int64),
        boxes=np.stack(boxes) if boxes else np.zeros((0, 4), np.float32),
        frame_indices=frames.indices,
    )


def crop_logits(scorer: FaceScorer, crops: np.ndarray, settings: EvalSettings) -> np.ndarray:
    """Logits of the crops in batches; with flip TTA the scorer averages each crop with its mirror."""
    out = []
    flip = settings.tta == "flip"
    for start in range(0, len(crops), settings.batch_size):
        batch = crops[start:start + settings.batch_size]
        out.append(np.asarray(scorer.crop_logits(batch, flip=flip), dtype=np.float64).reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)


def score_item(item: MediaItem, scorer: FaceScorer, settings: EvalSettings, cache: EvalCache
               ) -> tuple[ScoreEntry, bool]:
    """The item's face logits, from the cache when present (``True``) or computed and cached (``False``)."""
    fp = item_fingerprint(item)
    stag = score_tag(scorer, settings)
    entry = cache.load_scores(stag, fp)
    if entry is not None:
        return entry, True
    ctag = crop_tag(scorer, settings)
    crops = cache.load_crops(ctag, fp)
    if crops is None:
        crops = extract_crops(item, scorer, settings)
        cache.save_crops(ctag, fp, crops)
    boxes = crops.boxes.astype(np.float64)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) if len(boxes) else np.zeros(0)
    entry = ScoreEntry(logits=crop_logits(scorer, crops.crops, settings), frame_of_face=crops.frame_of_face,
                       areas=areas, frame_indices=crops.frame_indices)
    cache.save_scores(stag, fp, entry)
    return entry, False


def aggregate_entry(entry: ScoreEntry, scorer: FaceScorer, settings: EvalSettings
                    ) -> tuple[np.ndarray, float | None]:
    """Frame logits (frames with at least one face, in frame order) and the video's fake probability, by the
    detector's aggregation stages."""
    frame_logits = []
    for j in np.unique(entry.frame_of_face):
        sel = entry.frame_of_face == j
        frame_logits.append(scorer.frame_logit(entry.logits[sel], entry.areas[sel], settings.face_policy))
    frames = np.asarray(frame_logits, dtype=np.float64)
    return frames, (scorer.video_prob(frames) if frames.size else None)


def evaluate_items(items: Sequence[MediaItem], scorer: FaceScorer, settings: EvalSettings, cache: EvalCache,
                   progress: bool = True, desc: str = "evaluating",
                   on_item: Callable[[ItemResult], None] | None = None) -> tuple[list[ItemResult], RunStats]:
    """Score every item (resuming from the cache); unreadable items are reported and left out."""
    results: list[ItemResult] = []
    stats = RunStats()
    bar = tqdm(items, desc=desc, unit="video", disable=not progress)
    for item in bar:
        try:
            entry, cached = score_item(item, scorer, settings, cache)
        except (VideoReadError, ImageReadError, OSError) as exc:
            warnings.warn(f"skipped {item.key}: {exc}", stacklevel=2)
            stats.failed += 1
            res = ItemResult(item, np.zeros(0), None, False, error=str(exc))
        else:
            frames, video = aggregate_entry(entry, scorer, settings)
            res = ItemResult(item, frames, video, cached)
            if cached:
                stats.cached += 1
            else:
                stats.computed += 1
                stats.computed_keys.append(item.key)
        results.append(res)
        if on_item is not None:
            on_item(res)
        bar.set_postfix(cached=stats.cached, computed=stats.computed, failed=stats.failed)
    return results, stats
