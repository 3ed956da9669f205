"""Frames -> faces -> crops -> logits -> frame and video scores, with every step cached per item.

Crops are cached per item under a tag of (recipe, face finder, frame count, perturbation, no-face rule);
logits per item under a tag of (weights sha256, crop tag, TTA). Each entry is written atomically when its item
is done, so a run that is killed resumes where it stopped and recomputes nothing it finished.

Every setting left unset in :class:`EvalSettings` is the weights' recipe's (``laanet_model.weights.Preprocessing``):
frames per video, the frame policy, the flip test and the no-face rule; :func:`resolve_settings` fills them in,
and the records say what was used.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from laanet_synth.boxes import box_areas
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
NoFace = Literal["no_score", "chance", "whole_image"]
NO_FACE_RULES: tuple[str, ...] = ("no_score", "chance", "whole_image")
#: the settings that come from the weights' recipe when left unset (``None``)
RECIPE_SETTINGS: tuple[str, ...] = ("n_frames", "face_policy", "tta", "no_face")


class EvaluationError(RuntimeError):
    """The evaluation cannot go on (bad settings, nothing to score)."""


@dataclass(frozen=True)
class EvalSettings:
    """How items are scored and aggregated. ``None`` (the default of the first four) is the weights' recipe:
    ``n_frames`` its ``frames_per_video``, ``face_policy`` its ``frame_policy``, ``tta`` ``"flip"`` when it
    asks for the flip test, ``no_face`` its no-face rule (what a frame, or a video none of whose frames has a
    judged face, gets: no score, 0.5, or the whole frame scored as one face)."""

    n_frames: int | None = None
    face_policy: FacePolicy | None = None
    tta: TTA | None = None
    no_face: NoFace | None = None
    batch_size: int = 8
    perturbation: Perturbation | None = None
    from_recipe: tuple[str, ...] = ()
    """The settings :func:`resolve_settings` took from the recipe (the records list them)."""

    def __post_init__(self) -> None:
        if self.n_frames is not None and self.n_frames < 1:
            raise EvaluationError(f"n_frames must be >= 1, got {self.n_frames}")
        if self.face_policy not in (None, "max", "largest"):
            raise EvaluationError(f"face_policy must be 'max' or 'largest', got {self.face_policy!r}")
        if self.tta not in (None, "none", "flip"):
            raise EvaluationError(f"tta must be 'none' or 'flip', got {self.tta!r}")
        if self.no_face is not None and self.no_face not in NO_FACE_RULES:
            raise EvaluationError(f"no_face must be one of {NO_FACE_RULES}, got {self.no_face!r}")
        if self.batch_size < 1:
            raise EvaluationError(f"batch_size must be >= 1, got {self.batch_size}")

    @property
    def resolved(self) -> bool:
        """Whether every recipe setting is set (see :func:`resolve_settings`)."""
        return all(getattr(self, name) is not None for name in RECIPE_SETTINGS)


def resolve_settings(settings: EvalSettings, scorer: FaceScorer) -> EvalSettings:
    """``settings`` with every unset recipe setting taken from ``scorer.preprocessing`` (the weights' recipe),
    and the names of those settings in ``from_recipe``; settings already resolved are returned as they are."""
    if settings.resolved:
        return settings
    pre = scorer.preprocessing
    recipe = {"n_frames": int(pre.frames_per_video), "face_policy": pre.frame_policy,
              "tta": "flip" if pre.flip_test else "none", "no_face": pre.no_face}
    unset = tuple(name for name in RECIPE_SETTINGS if getattr(settings, name) is None)
    return replace(settings, **{name: recipe[name] for name in unset}, from_recipe=settings.from_recipe + unset)


@dataclass(frozen=True, eq=False)
class ItemResult:
    """The scores of one item: per-frame logits (frames with a judged face, and frames without one that the
    no-face rule gives a score), the video's fake probability (``None`` when no frame has a judged face and the
    rule gives no score, or when it failed), how many sampled frames had no judged face, and whether it came
    from the cache."""

    item: MediaItem
    frame_logits: np.ndarray
    video_prob: float | None
    cached: bool
    error: str = ""
    n_no_face_frames: int = 0
    n_frames_read: int = 0

    @property
    def has_face(self) -> bool:
        """Whether some sampled frame of the item had a judged face."""
        return self.n_no_face_frames < self.n_frames_read


@dataclass
class RunStats:
    """Counts of one pipeline run."""

    computed: int = 0
    cached: int = 0
    failed: int = 0
    computed_keys: list[str] = field(default_factory=list)


def crop_tag(scorer: FaceScorer, settings: EvalSettings) -> str:
    settings = resolve_settings(settings, scorer)
    p = settings.perturbation
    return digest({**crop_tag_data(scorer), "n_frames": settings.n_frames,
                   "perturbation": None if p is None else [p.name, p.level, p.seed],
                   "whole_frames": settings.no_face == "whole_image", "version": 2})


def score_tag(scorer: FaceScorer, settings: EvalSettings) -> str:
    settings = resolve_settings(settings, scorer)
    return digest({"weights": scorer.weights_sha256, "precision": scorer.precision,
                   "crops": crop_tag(scorer, settings), "tta": settings.tta})


def extract_crops(item: MediaItem, scorer: FaceScorer, settings: EvalSettings) -> CropEntry:
    """Decode the item's frames, perturb them, find and crop the faces with the scorer's recipe; under the
    ``"whole_image"`` no-face rule a frame with no judged face adds its whole frame (``whole``)."""
    settings = resolve_settings(settings, scorer)
    frames = load_frames(item, settings.n_frames)
    images = perturb_frames(frames.images, settings.perturbation, key=item.key, fps=frames.fps)
    size = scorer.recipe.input_size
    if item.pre_cropped:
        found = [[whole_image_face(im.shape[1], im.shape[0], np.zeros((68, 2), np.float32))] for im in images]
    else:
        found = scorer.find_faces_batch(images)  # the frames of an item detected in batches
    crops, owners, boxes, whole = [], [], [], []
    for j, (image, faces) in enumerate(zip(images, found, strict=True)):
        cut = scorer.crop_faces(image, faces, pre_cropped=item.pre_cropped)
        crops += cut.images
        owners += [j] * len(cut.images)
        boxes += list(cut.boxes)
        whole += [False] * len(cut.images)
        if not cut.images and settings.no_face == "whole_image":
            crops.append(scorer.whole_image_crop(image))
            owners.append(j)
            boxes.append(np.array([0, 0, image.shape[1], image.shape[0]], np.float32))
            whole.append(True)
    return CropEntry(
        crops=np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8),
        frame_of_face=np.asarray(owners, dtype=np.int64),
        boxes=np.stack(boxes) if boxes else np.zeros((0, 4), np.float32),
        frame_indices=frames.indices,
        whole=np.asarray(whole, dtype=bool),
    )


def crop_logits(scorer: FaceScorer, crops: np.ndarray, settings: EvalSettings) -> np.ndarray:
    """Logits of the crops in batches; with flip TTA the scorer averages each crop with its mirror."""
    settings = resolve_settings(settings, scorer)
    out = []
    flip = settings.tta == "flip"
    for start in range(0, len(crops), settings.batch_size):
        batch = crops[start:start + settings.batch_size]
        out.append(np.asarray(scorer.crop_logits(batch, flip=flip), dtype=np.float64).reshape(-1))
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float64)


def score_item(item: MediaItem, scorer: FaceScorer, settings: EvalSettings, cache: EvalCache
               ) -> tuple[ScoreEntry, bool]:
    """The item's face logits, from the cache when present (``True``) or computed and cached (``False``)."""
    settings = resolve_settings(settings, scorer)
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
    entry = ScoreEntry(logits=crop_logits(scorer, crops.crops, settings), frame_of_face=crops.frame_of_face,
                       areas=box_areas(crops.boxes), frame_indices=crops.frame_indices, whole=crops.whole)
    cache.save_scores(stag, fp, entry)
    return entry, False


def aggregate_entry(entry: ScoreEntry, scorer: FaceScorer, settings: EvalSettings
                    ) -> tuple[np.ndarray, float | None, int]:
    """Frame logits (in frame order: frames with a judged face, and frames without one that the no-face rule
    scores), the video's fake probability (the detector's aggregation stages: frames with a judged face, else
    the rule's scores of every frame) and the number of frames without a judged face."""
    settings = resolve_settings(settings, scorer)
    whole = entry.whole if entry.whole.shape == entry.logits.shape else np.zeros(entry.logits.shape, bool)
    face_frames: list[float | None] = []
    no_face: list[float | None] = []
    for j in range(len(entry.frame_indices)):
        faces = (entry.frame_of_face == j) & ~whole
        if faces.any():
            face_frames.append(scorer.frame_logit(entry.logits[faces], entry.areas[faces], settings.face_policy))
            no_face.append(None)
            continue
        face_frames.append(None)
        rest = (entry.frame_of_face == j) & whole
        if settings.no_face == "whole_image" and rest.any():
            no_face.append(float(entry.logits[rest][0]))
        else:
            no_face.append(0.0 if settings.no_face == "chance" else None)
    rows = [f if f is not None else n for f, n in zip(face_frames, no_face, strict=True)]
    frames = np.asarray([v for v in rows if v is not None], dtype=np.float64)
    n_no_face = sum(1 for f in face_frames if f is None)
    return frames, scorer.clip_prob(face_frames, no_face), n_no_face


def evaluate_items(items: Sequence[MediaItem], scorer: FaceScorer, settings: EvalSettings, cache: EvalCache,
                   progress: bool = True, desc: str = "evaluating",
                   on_item: Callable[[ItemResult], None] | None = None) -> tuple[list[ItemResult], RunStats]:
    """Score every item (resuming from the cache); unreadable items are reported and left out."""
    settings = resolve_settings(settings, scorer)
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
            frames, video, n_no_face = aggregate_entry(entry, scorer, settings)
            res = ItemResult(item, frames, video, cached, n_no_face_frames=n_no_face,
                             n_frames_read=len(entry.frame_indices))
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
