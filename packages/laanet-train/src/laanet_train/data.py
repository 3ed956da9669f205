"""Training data for the engine: face sources, identity-disjoint splits, epoch batch order, folders of
labelled real/fake images for validation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from laanet_synth.crops import CropRecipe, get_recipe, recipe_for_size
from laanet_synth.dataset import (
    EXTRA_MIX_STREAM,
    BIPairDataset,
    FaceIndex,
    SBIPairDataset,
    ShareMixDataset,
    mixed_pairs,
    read_lfw_people,
)
from laanet_synth.face_cache import FaceCache
from laanet_synth.faces import Face
from laanet_synth.media import is_image
from laanet_synth.quality import QualityAugment, quality_recipe
from laanet_synth.swaps import SwapPairDataset
from torch.utils.data import Dataset

from .config import DataConfig


class DataError(ValueError):
    """Training data that cannot be used (missing folder, empty split, overlapping identities)."""


def fork_safe_opencv() -> None:
    """Stop OpenCV's thread pool before loader workers are forked: a child forked while the pool exists
    hangs in its first OpenCV call that touches the pool. Workers then run OpenCV single-threaded."""
    import cv2

    cv2.setNumThreads(0)


def crop_recipe(cfg: DataConfig) -> CropRecipe:
    """The crop recipe of a data config at its input size (the same one inference must use)."""
    try:
        base = get_recipe(cfg.crop_recipe)
    except ValueError as exc:
        raise DataError(f"data.crop_recipe: {exc}") from exc
    return recipe_for_size(cfg.input_size, base)


def _take(index: FaceIndex, limit: int | None, seed: int) -> FaceIndex:
    """A reproducible subset of at most ``limit`` faces (spread over identities by a seeded shuffle)."""
    if limit is None or limit >= len(index):
        return index
    sel = np.sort(np.random.default_rng([seed, 11]).permutation(len(index))[:limit])
    return index.subset(sel)


def face_splits(cfg: DataConfig, seed: int) -> tuple[FaceIndex, FaceIndex]:
    """(train, val) face indexes with no identity (group) in both."""
    if not cfg.root:
        raise DataError("data.root: not set; give it in the config file (relative to the file) or on the "
                        "command line, e.g. data.root=../shared/data/lfw")
    root = Path(cfg.root).expanduser()
    if cfg.source == "lfw":
        if not (root / "landmarks68_dlib.npz").is_file():
            raise DataError(f"data.root: {root} is not an LFW folder (expected landmarks68_dlib.npz inside)")
        full = FaceIndex.from_lfw(root)
        lists = []
        for name in (cfg.train_list, cfg.val_list):
            path = root / name
            if not path.is_file():
                raise DataError(f"data: identity list {path} not found")
            lists.append(read_lfw_people(path))
        train, val = full.select_groups(lists[0]), full.select_groups(lists[1])
    else:
        path = root if root.is_file() else root / "index.npz"
        if not path.is_file():
            raise DataError(f"data.root: no face index at {path} (write one with 'laanet-synth preprocess')")
        train, val = FaceIndex.load(path).group_split(cfg.val_fraction, seed=cfg.validation_seed(seed))
    overlap = set(np.unique(train.groups)) & set(np.unique(val.groups))
    if overlap:
        raise DataError(f"train and validation share {len(overlap)} identities, e.g. {sorted(overlap)[:3]}")
    train = _take(train, cfg.max_train_faces, seed)
    val = _take(val, cfg.max_val_faces, cfg.validation_seed(seed))
    if len(train) < cfg.batch_pairs:
        raise DataError(f"only {len(train)} training faces; need at least data.batch_pairs={cfg.batch_pairs}")
    if len(val) == 0:
        raise DataError("the validation split is empty")
    return train, val


@dataclass(frozen=True)
class ExtraFaces:
    """What a labelled image list adds to training: its real faces (with landmarks) and its swaps, each with the
    row of its group's real frame in ``reals``."""

    reals: FaceIndex
    swaps: tuple[tuple[str, int], ...]
    unfound: tuple[str, ...]


def read_labelled_csv(path: str | Path, split: str, root: str | Path | None = None) -> list[dict[str, str]]:
    """The rows of a labelled image list (``path``, ``label``, ``group``, ``split``) in ``split``, with paths made
    absolute against ``root`` (default: the list's folder)."""
    import csv

    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"data.extra_csv: {p} not found")
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"data.extra_csv: {p} is not a UTF-8 CSV ({exc})") from None
    need = {"path", "label", "group", "split"}
    if not rows or not need <= set(rows[0]):
        raise DataError(f"data.extra_csv: {p} needs the columns {sorted(need)}")
    base = Path(root).expanduser() if root else p.parent
    out = [{**r, "path": str((base / r["path"]).resolve())} for r in rows if r["split"] == split]
    if not out:
        raise DataError(f"data.extra_csv: {p} has no rows in split {split!r}")
    return out


class _LazyFinder:
    """A face finder made on its first search, in the shape :class:`~laanet_synth.face_cache.FaceCache` calls:
    a list whose faces are all cached opens no detector at all."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._finder: Any = None

    def find_faces(self, image_rgb: np.ndarray) -> list[Face]:
        if self._finder is None:
            from laanet_synth.faces import make_face_finder

            self._finder = make_face_finder(self.name)
        return self._finder.find(image_rgb)


#: the folder of a run that keeps the faces found in ``data.extra_csv``'s real images
EXTRA_FACES_FOLDER = "extra-faces"


def extra_faces(cfg: DataConfig, finder: str = "retinaface", faces_dir: str | Path | None = None) -> ExtraFaces:
    """Find the largest face (68 landmarks) of every real row of ``cfg.extra_csv``'s ``extra_split`` and pair
    each fake row with the first real frame of its group whose face was found.

    With ``faces_dir`` the faces found are kept there (:class:`~laanet_synth.face_cache.FaceCache`, keyed by
    :func:`~laanet_synth.face_cache.file_key`: the path and its bytes), so a run that starts again reads them
    back and decodes and searches only images that are new or changed."""
    rows = read_labelled_csv(cfg.extra_csv or "", cfg.extra_split, cfg.extra_root)
    cache = FaceCache(Path(faces_dir) if faces_dir is not None else None, finder)
    find = _LazyFinder(finder)
    paths, groups, lms, boxes, unfound = [], [], [], [], []
    known = len(cache)
    for r in rows:
        if r["label"] != "0":
            continue
        faces = cache.file_faces(r["path"], find)
        if not faces:
            unfound.append(r["path"])
            continue
        paths.append(r["path"])
        groups.append("extra:" + r["group"])
        lms.append(faces[0].landmarks)
        boxes.append(faces[0].box)
    if len(cache) > known:
        cache.save()
    if not paths:
        raise DataError(f"data.extra_csv: no face found in any real image of split {cfg.extra_split!r}")
    reals = FaceIndex(Path("/"), np.array(paths), np.array(groups), np.array(lms, np.float32), np.array(boxes, np.float32))
    first = {}
    for k, g in enumerate(groups):
        first.setdefault(g, k)
    swaps = tuple((r["path"], first["extra:" + r["group"]]) for r in rows
                  if r["label"] == "1" and "extra:" + r["group"] in first)
    return ExtraFaces(reals, swaps, tuple(unfound))


def concat_indexes(a: FaceIndex, b: FaceIndex) -> FaceIndex:
    """One index of the faces of ``a`` then ``b`` (paths made absolute, so the roots may differ)."""
    if a.pre_cropped != b.pre_cropped:
        raise DataError("cannot join a pre-cropped face index with one of whole images")
    paths = np.array([str(x.image_path(i)) for x in (a, b) for i in range(len(x))])
    return FaceIndex(Path("/"), paths, np.r_[a.groups, b.groups], np.r_[a.landmarks, b.landmarks],
                     np.r_[a.boxes, b.boxes], a.pre_cropped)


def _extra_pairs(reals: FaceIndex, cfg: DataConfig, recipe: CropRecipe, quality: QualityAugment | None,
                 seed: int) -> Dataset:
    """The training pairs of the extra real faces alone: SBI, with ``cfg.bi_share`` of them BI pairs whose
    donors are other extra faces (where they hold two identities or more)."""
    sbi = SBIPairDataset(reals, recipe, seed=seed, split="train", mean=cfg.mean, std=cfg.std, quality=quality,
                         real_views=cfg.real_views)
    if not cfg.bi_share or len(np.unique(reals.groups)) < 2:
        return sbi
    bi = BIPairDataset(reals, recipe, seed=seed, split="train", mean=cfg.mean, std=cfg.std, quality=quality,
                       real_views=cfg.real_views)
    return mixed_pairs(sbi, bi, cfg.bi_share, seed=seed)


def build_datasets(cfg: DataConfig, seed: int, run_dir: str | Path | None = None) -> tuple[Dataset, Dataset]:
    """(train, val) pair datasets (SBI or BI). Validation pairs are a pure function of (seed, index)
    (the validation set always uses epoch 0), so its fakes are the same at every validation. With
    ``cfg.extra_csv`` its real faces join the training faces (found once per run: kept in
    ``run_dir/extra-faces/`` when ``run_dir`` is given); with ``cfg.extra_share`` that share of the training
    pairs is made from those faces alone, and with ``cfg.swap_share`` its real swaps replace that share of the
    training pairs."""
    for key in ("extra_share", "swap_share"):
        if getattr(cfg, key) and not cfg.extra_csv:
            what = "real swaps" if key == "swap_share" else "the extra real faces"
            raise DataError(f"data.{key}: {what} come from data.extra_csv, which is not set; give it on the "
                            "command line, e.g. data.extra_csv=../shared/data/deepfakes/index.csv")
    train_idx, val_idx = face_splits(cfg, seed)
    faces_dir = Path(run_dir) / EXTRA_FACES_FOLDER if run_dir is not None else None
    extra = extra_faces(cfg, faces_dir=faces_dir) if cfg.extra_csv else None
    if extra is not None:
        train_idx = concat_indexes(train_idx, extra.reals)
    recipe = crop_recipe(cfg)
    bi_splits = {"training": train_idx, "validation": val_idx} if cfg.synthesis == "bi" else (
        {"training": train_idx} if cfg.bi_share else {})
    for name, idx in bi_splits.items():
        if len(np.unique(idx.groups)) < 2:
            raise DataError(f"BI needs donors from other identities: the {name} split has only one identity")
    if cfg.synthesis == "sbi":
        quality = quality_recipe(cfg.quality)
        train: Dataset = SBIPairDataset(train_idx, recipe, seed=seed, split="train", mean=cfg.mean, std=cfg.std,
                                        quality=quality, real_views=cfg.real_views)
        if cfg.bi_share:
            bi = BIPairDataset(train_idx, recipe, seed=seed, split="train", mean=cfg.mean, std=cfg.std, quality=quality,
                               real_views=cfg.real_views)
            train = mixed_pairs(train, bi, cfg.bi_share, seed=seed)
        if cfg.extra_share:
            assert extra is not None  # checked above: extra_share needs extra_csv
            train = ShareMixDataset(train, _extra_pairs(extra.reals, cfg, recipe, quality, seed), cfg.extra_share,
                                    seed=seed, stream=EXTRA_MIX_STREAM, share_name="data.extra_share")
        if cfg.swap_share:
            if extra is None or not extra.swaps:
                raise DataError(f"data.swap_share: data.extra_csv holds no swap of split {cfg.extra_split!r} "
                                "whose group has a real frame with a face")
            swaps = SwapPairDataset(extra.reals, extra.swaps, recipe, seed=seed, split="train", mean=cfg.mean,
                                    std=cfg.std, quality=quality, real_views=cfg.real_views)
            train = ShareMixDataset(train, swaps, cfg.swap_share, seed=seed)
        return train, _validation_pairs(cfg, val_idx, recipe, seed)
    train = BIPairDataset(train_idx, recipe, seed=seed, split="train", mean=cfg.mean, std=cfg.std)
    return train, _validation_pairs(cfg, val_idx, recipe, seed)


def _validation_pairs(cfg: DataConfig, val_idx: FaceIndex, recipe: CropRecipe, seed: int) -> Dataset:
    pairs = SBIPairDataset if cfg.synthesis == "sbi" else BIPairDataset
    return pairs(val_idx, recipe, seed=cfg.validation_seed(seed), split="val", mean=cfg.mean, std=cfg.std)


def validation_dataset(cfg: DataConfig, seed: int) -> Dataset:
    """The validation pairs :func:`build_datasets` gives, built alone: they come from the LFW validation
    identities only, so neither the training faces nor ``data.extra_csv`` is read (a card's recipe, which names
    no data folder but LFW's, rebuilds them)."""
    _, val_idx = face_splits(cfg, seed)
    return _validation_pairs(cfg, val_idx, crop_recipe(cfg), seed)


def epoch_batches(n: int, batch: int, seed: int, epoch: int, steps: int | None = None) -> np.ndarray:
    """Batch index order of one epoch, a pure function of (seed, epoch): (steps, batch) int64.

    Without ``steps`` the epoch is one pass over a permutation (last partial batch dropped); with ``steps``
    fresh permutations are concatenated until ``steps`` batches are filled.
    """
    if n < batch:
        raise DataError(f"{n} items cannot fill a batch of {batch}")
    rng = np.random.default_rng([seed, epoch, 7])
    if steps is None:
        steps = n // batch
    need = steps * batch
    parts, have = [], 0
    while have < need:
        perm = rng.permutation(n)
        parts.append(perm)
        have += n
    return np.concatenate(parts)[:need].reshape(steps, batch).astype(np.int64)


class EpochBatchSampler(torch.utils.data.Sampler[list[int]]):
    """Yields the batches of :func:`epoch_batches`, starting at ``start`` (to resume mid-epoch), taking
    this rank's slice of each global batch."""

    def __init__(self, order: np.ndarray, start: int = 0, rank: int = 0, world: int = 1) -> None:
        self.order, self.start, self.rank, self.world = order, int(start), int(rank), int(world)

    def __len__(self) -> int:
        return max(0, len(self.order) - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        for row in self.order[self.start :]:
            yield [int(i) for i in row[self.rank :: self.world]]


@dataclass(frozen=True)
class LabelledImages:
    """Image files with labels (0 real, 1 fake) from a folder holding ``real/`` and ``fake/``."""

    paths: tuple[Path, ...]
    labels: tuple[int, ...]

    @classmethod
    def from_folder(cls, folder: str | Path) -> LabelledImages:
        folder = Path(folder)
        paths: list[Path] = []
        labels: list[int] = []
        for label, sub in ((0, "real"), (1, "fake")):
            d = folder / sub
            if not d.is_dir():
                raise DataError(f"{folder}: expected sub-folders real/ and fake/ (missing {sub}/)")
            files = sorted(p for p in d.rglob("*") if is_image(p))
            paths += files
            labels += [label] * len(files)
        if not paths or len(set(labels)) < 2:
            raise DataError(f"{folder}: need at least one real and one fake image")
        return cls(tuple(paths), tuple(labels))
