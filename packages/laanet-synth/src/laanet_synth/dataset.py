"""The face index (real faces with landmarks) and the torch datasets yielding (real, fake) pairs.

Samples are reproducible and worker-safe: each one draws from ``np.random.default_rng([seed, epoch, i])``,
so the same (seed, epoch, index) gives the same sample in any process, in any order.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from .atomic import write_npz
from .bi import DEFAULT_BI, BIConfig, make_bi_pair, nearest_donors, normalise_landmarks
from .colour import ColourAugment
from .crops import OFFICIAL_SBI, CropRecipe, crop_face, pre_cropped, recipe_for_size
from .faces import Face
from .imageio import read_image
from .normalise import normalise_images
from .quality import (
    QualityAugment,
    degrade_images,
    degrade_pair,
    reframe_source,
    resample_view,
    rescale_source,
)
from .sbi import DEFAULT_SBI, SBIConfig, make_sbi_pair
from .targets import encode_targets

DEFAULT_COLOUR = ColourAugment()
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)


class FaceIndexError(ValueError):
    """Raised for malformed or inconsistent face index files."""


@dataclass(frozen=True, eq=False)
class FaceIndex:
    """Real faces: image ``paths`` relative to ``root``, ``groups`` (identity or video id), 68
    ``landmarks`` (N, 68, 2) float32 and detector ``boxes`` (N, 4) float32, all in image pixels.

    ``pre_cropped`` marks images that already are a recipe's margin crops (``laanet-synth preprocess``
    writes those): the datasets then apply only the rest of the recipe (:func:`crops.pre_cropped`), so
    training crops stay identical to inference crops."""

    root: Path
    paths: np.ndarray
    groups: np.ndarray
    landmarks: np.ndarray
    boxes: np.ndarray
    pre_cropped: bool = False

    def __post_init__(self) -> None:
        n = len(self.paths)
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "paths", np.asarray(self.paths, dtype=str))
        object.__setattr__(self, "groups", np.asarray(self.groups, dtype=str))
        object.__setattr__(self, "landmarks", np.asarray(self.landmarks, dtype=np.float32).reshape(-1, 68, 2))
        object.__setattr__(self, "boxes", np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4))
        if not (len(self.groups) == len(self.landmarks) == len(self.boxes) == n):
            raise FaceIndexError(
                f"index arrays disagree in length: paths {n}, groups {len(self.groups)}, "
                f"landmarks {len(self.landmarks)}, boxes {len(self.boxes)}"
            )

    def __len__(self) -> int:
        return len(self.paths)

    def face(self, i: int) -> Face:
        return Face(box=self.boxes[i], score=1.0, landmarks=self.landmarks[i])

    def image_path(self, i: int) -> Path:
        return self.root / str(self.paths[i])

    def subset(self, mask_or_indices: np.ndarray | Sequence[int]) -> FaceIndex:
        sel = np.asarray(mask_or_indices)
        return FaceIndex(self.root, self.paths[sel], self.groups[sel], self.landmarks[sel], self.boxes[sel], self.pre_cropped)

    def select_groups(self, groups: Sequence[str]) -> FaceIndex:
        """The faces whose group is in ``groups``."""
        return self.subset(np.isin(self.groups, np.asarray(list(groups), dtype=str)))

    def group_split(self, val_fraction: float, seed: int = 0) -> tuple[FaceIndex, FaceIndex]:
        """Split by group (no identity/video in both parts): (train, val)."""
        uniq = np.unique(self.groups)
        rng = np.random.default_rng(seed)
        val_groups = rng.permutation(uniq)[: int(round(len(uniq) * val_fraction))]
        is_val = np.isin(self.groups, val_groups)
        return self.subset(~is_val), self.subset(is_val)

    @classmethod
    def from_lfw(cls, lfw_dir: str | os.PathLike[str], split: str | None = None) -> FaceIndex:
        """LFW deep-funneled images with ``landmarks68_dlib.npz``; rows without a face (-1) are skipped.

        ``split``: None (all), ``"train"`` or ``"test"`` (the ``peopleDevTrain.txt`` / ``peopleDevTest.txt``
        identity lists). Groups are the person names.
        """
        d = Path(lfw_dir)
        npz = d / "landmarks68_dlib.npz"
        if not npz.is_file():
            raise FaceIndexError(f"{npz} not found; expected the LFW folder holding landmarks68_dlib.npz")
        data = np.load(npz)
        names = data["names"].astype(str)
        lms = data["landmarks"]
        ok = (lms.reshape(len(lms), -1) >= 0).all(axis=1)
        groups = np.array([n.split("/")[0] for n in names])
        index = cls(d / "images_deepfunneled", names[ok], groups[ok], lms[ok].astype(np.float32), data["boxes"][ok].astype(np.float32))
        if split is None:
            return index
        lists = {"train": "peopleDevTrain.txt", "test": "peopleDevTest.txt"}
        if split not in lists:
            raise FaceIndexError(f"unknown LFW split {split!r}; expected 'train', 'test' or None")
        return index.select_groups(read_lfw_people(d / lists[split]))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index as ``.npz`` atomically (paths stay relative to ``root``)."""
        write_npz(
            path,
            root=np.array(str(self.root)),
            paths=self.paths,
            groups=self.groups,
            landmarks=self.landmarks,
            boxes=self.boxes,
            pre_cropped=np.array(bool(self.pre_cropped)),
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> FaceIndex:
        """Read an index written by :meth:`save`; ``root`` overrides the stored root (default: stored
        root, or the index file's folder when the stored root is relative)."""
        p = Path(path)
        try:
            d = np.load(p, allow_pickle=False)
            stored = Path(str(d["root"]))
            arrays = (d["paths"], d["groups"], d["landmarks"], d["boxes"])
            pre = bool(d["pre_cropped"]) if "pre_cropped" in d.files else False
        except (OSError, KeyError, ValueError) as exc:
            raise FaceIndexError(f"{p}: not a face index ({exc}); expected an .npz written by FaceIndex.save") from exc
        if root is not None:
            base = Path(root)
        elif stored.is_absolute():
            base = stored
        else:
            base = p.parent / stored
        return cls(base, *arrays, pre_cropped=pre)


def read_lfw_people(path: str | os.PathLike[str]) -> list[str]:
    """Names from an LFW people list (first line: count; then ``name<TAB>n_images``)."""
    lines = Path(path).read_text().splitlines()
    return [ln.split("\t")[0].strip() for ln in lines[1:] if ln.strip() and "\t" in ln]


def dataset_recipe(index: FaceIndex, recipe: CropRecipe | int) -> CropRecipe:
    """The recipe a dataset applies to ``index``'s images: ``recipe`` (or the official SBI recipe at that
    input size), reduced to its trim-and-warp part when the index holds margin crops."""
    r = recipe_for_size(recipe) if isinstance(recipe, int) else recipe
    if r.input_size % 4:
        raise ValueError(f"input size must be divisible by 4, got {r.input_size}")
    return pre_cropped(r) if index.pre_cropped else r


def to_tensor(image: np.ndarray, mean: Sequence[float] = MEAN, std: Sequence[float] = STD) -> torch.Tensor:
    """(H, W, 3) uint8 -> (3, H, W) float32 ``(x/255 - mean) / std`` (:func:`laanet_synth.normalise.normalise_images`,
    the detector's normalise)."""
    return normalise_images(np.asarray(image), mean, std)


class _PairDataset(Dataset):
    """What the SBI and BI pair datasets share: the face index, the per-(seed, epoch, index) random stream
    and the conversion of a subclass's ``raw_item`` into normalised tensors."""

    index: FaceIndex
    seed: int
    epoch: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    quality: QualityAugment | None = None
    real_views: bool = False

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of an epoch (call before each epoch; workers copy it)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.index)

    def rng_for(self, i: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(i)])

    def source(self, i: int) -> tuple[np.ndarray, Face, np.random.Generator | None]:
        """Face ``i``'s image and face, rendered at a random effective resolution when ``quality`` is set, and
        the quality draws' own stream (``None`` without quality), so the synthesis draws do not depend on it."""
        image, face = read_image(self.index.image_path(i)), self.index.face(i)
        if self.quality is None:
            return image, face, None
        qrng = np.random.default_rng([self.seed, self.epoch, int(i), 1])
        image, face = rescale_source(image, face, qrng, self.quality)
        # a stream of its own: the other draws are those of the recipe without the step (which draws nothing when off)
        frng = np.random.default_rng([self.seed, self.epoch, int(i), FRAME_STREAM])
        image, face = reframe_source(image, face, frng, self.quality)
        return image, face, qrng

    def degrade(self, real: np.ndarray, fake: np.ndarray, qrng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """The pair degraded identically by the quality recipe (unchanged without one)."""
        if self.quality is None or qrng is None:
            return real, fake
        return degrade_pair(real, fake, qrng, self.quality)

    def _set_views(self, real_views: bool, split: str) -> None:
        """Training pairs get a second view of their real face when ``real_views`` (it needs a quality recipe)."""
        if real_views and split == "train" and self.quality is None:
            raise ValueError("real_views renders the real face at a lower effective resolution with the pair's quality "
                             "draws, so it needs a quality recipe")
        self.real_views = bool(real_views) and split == "train"

    def view(self, i: int, real: np.ndarray, degrade_rng: np.random.Generator) -> np.ndarray:
        """The pair's real face (before its quality degradation) at a lower effective resolution
        (:func:`~laanet_synth.quality.resample_view`, a stream of its own), then degraded by ``degrade_rng``: a
        copy of the pair's quality stream taken just before its degradation, so the view gets the same draws and
        differs from the pair's real face in resolution alone."""
        if self.quality is None:
            raise ValueError("views need a quality recipe")
        vrng = np.random.default_rng([self.seed, self.epoch, int(i), 3])
        return degrade_images([resample_view(real, vrng, self.quality)], degrade_rng, self.quality)[0]

    def finish(self, i: int, real: np.ndarray, fake: np.ndarray, mask: np.ndarray, boundary_small: np.ndarray,
               qrng: np.random.Generator | None) -> dict[str, np.ndarray]:
        """A synthesised pair made an item: degraded identically by the quality draws of ``qrng`` (when there are
        any), its heatmap and self-consistency targets from ``boundary_small``, and with ``real_views`` the view of
        the undegraded real face rendered with a copy of the same quality draws."""
        vq = copy.deepcopy(qrng) if self.real_views else None
        undegraded = real
        real, fake = self.degrade(real, fake, qrng)
        hm, cst = encode_targets(boundary_small)
        out = {"real": real, "fake": fake, "mask": mask, "hm": hm, "cst": cst}
        if vq is not None:
            out["view"] = self.view(i, undegraded, vq)
        return out

    def raw_item(self, i: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} faces")
        raw = self.raw_item(i)
        views = {"view": to_tensor(raw["view"], self.mean, self.std)} if "view" in raw else {}
        return {
            **views,
            "real": to_tensor(raw["real"], self.mean, self.std),
            "fake": to_tensor(raw["fake"], self.mean, self.std),
            "hm": torch.from_numpy(raw["hm"]),
            "cst": torch.from_numpy(raw["cst"]),
            "mask": torch.from_numpy(raw["mask"])[None],
            "label": torch.tensor([0.0, 1.0]),
            "index": torch.tensor(i),
        }


class SBIPairDataset(_PairDataset):
    """(real, fake) SBI pairs with their targets from a :class:`FaceIndex`.

    Each face is cut with ``recipe`` (the very crop inference uses: landmark-calibrated box + margin,
    trim and warp), then the pair is synthesised on that crop with the landmarks mapped into it. Items
    are dicts: ``real``/``fake`` (3, S, S) float32 normalised, ``hm``/``cst`` (1, S/4, S/4) of the fake
    (the real's are zeros), ``mask`` (1, S, S) blend mask of the fake, ``label`` (2,) = (0 real, 1 fake),
    ``index``.

    ``quality`` (training only) renders each face at a random effective resolution before the crop and
    degrades the real face and its fake identically after synthesis (:mod:`laanet_synth.quality`); its
    draws come from a stream of their own, so the synthesis draws are the same with or without it. With
    ``real_views`` (training only) each item also holds ``view``: its real face at a lower effective resolution
    with the same photometric draws (:meth:`view`), for the resolution-consistency loss.
    """

    def __init__(
        self,
        index: FaceIndex,
        recipe: CropRecipe | int = OFFICIAL_SBI,
        seed: int = 0,
        split: str = "train",
        config: SBIConfig = DEFAULT_SBI,
        mean: Sequence[float] = MEAN,
        std: Sequence[float] = STD,
        quality: QualityAugment | None = None,
        real_views: bool = False,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.index = index
        self.recipe = dataset_recipe(index, recipe)
        self.seed = int(seed)
        self.split = split
        self.config = config
        self.mean, self.std = tuple(mean), tuple(std)
        self.epoch = 0
        self.quality = quality if split == "train" else None
        self._set_views(real_views, split)

    def raw_item(self, i: int) -> dict[str, np.ndarray]:
        """The uint8 / float numpy pair before normalisation: real, fake, mask, hm, cst."""
        rng = self.rng_for(i)
        image, face, qrng = self.source(i)
        crop = crop_face(image, face, self.recipe)
        pair = make_sbi_pair(crop.image, crop.landmarks, rng, self.config, train=self.split == "train")
        return self.finish(i, pair.real, pair.fake, pair.mask, pair.boundary_small, qrng)



class BIPairDataset(_PairDataset):
    """(real, fake) BI pairs: each real face gets a donor from its ``k`` nearest faces by landmarks (never
    its own group), blended into it. Crops use ``recipe`` exactly as inference does. Items have the same
    keys as :class:`SBIPairDataset`, so :func:`collate_pairs` serves both.

    ``donors`` (N, k) may be given (e.g. computed once and saved); otherwise it is computed at
    construction with :func:`laanet_synth.bi.nearest_donors` on box-normalised landmarks.

    ``quality`` (training only) works as in :class:`SBIPairDataset`: the real face (not the donor) is
    rendered at a random effective resolution before its crop, and the pair is degraded identically after
    blending, from a random stream of its own. ``real_views`` works as in :class:`SBIPairDataset`.
    """

    def __init__(
        self,
        index: FaceIndex,
        recipe: CropRecipe | int = OFFICIAL_SBI,
        seed: int = 0,
        split: str = "train",
        config: BIConfig = DEFAULT_BI,
        donors: np.ndarray | None = None,
        k: int = 30,
        colour: ColourAugment | None = DEFAULT_COLOUR,
        mean: Sequence[float] = MEAN,
        std: Sequence[float] = STD,
        quality: QualityAugment | None = None,
        real_views: bool = False,
    ) -> None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
        self.index = index
        self.recipe = dataset_recipe(index, recipe)
        self.seed, self.split, self.config, self.colour = int(seed), split, config, colour
        self.mean, self.std = tuple(mean), tuple(std)
        self.quality = quality if split == "train" else None
        self._set_views(real_views, split)
        self.epoch = 0
        if donors is None:
            donors = nearest_donors(normalise_landmarks(index.landmarks), index.groups, k=k, rng=np.random.default_rng(seed))
        donors = np.asarray(donors, np.int64)
        if donors.ndim != 2 or len(donors) != len(index):
            raise ValueError(f"donors must be (N, k) with N = {len(index)}, got {donors.shape}")
        self.donors = donors

    def raw_item(self, i: int) -> dict[str, np.ndarray]:
        rng = self.rng_for(i)
        image, face, qrng = self.source(i)
        crop = crop_face(image, face, self.recipe)
        valid = self.donors[i][self.donors[i] >= 0]
        if valid.size == 0:
            raise ValueError(f"face {i} ({self.index.paths[i]}) has no donor from another group")
        j = int(valid[int(rng.integers(valid.size))])
        donor = crop_face(read_image(self.index.image_path(j)), self.index.face(j), self.recipe)
        pair = make_bi_pair(crop.image, crop.landmarks, donor.image, rng, self.config, train=self.split == "train")
        real, fake = pair.real, pair.fake
        if self.colour is not None and self.split != "test":
            real, fake = self.colour([real, fake], rng)
        return {**self.finish(i, real, fake, pair.mask, pair.boundary_small, qrng), "donor": np.array(j)}


#: the random stream (the last entry of its seed) of each mix's per-item draw
BI_MIX_STREAM = 2
SWAP_MIX_STREAM = 5
EXTRA_MIX_STREAM = 6
#: the random stream of the source's reframing (:func:`~laanet_synth.quality.reframe_source`)
FRAME_STREAM = 7


class ShareMixDataset(_PairDataset):
    """``base``'s items, each replaced with probability ``share`` by an item of ``extra``: a draw per (epoch,
    item) from a stream of its own (``stream``) decides, then picks which ``extra`` item from the same stream,
    or, with ``same_faces`` (both datasets hold the same faces), takes ``extra``'s item of the same face. The
    length is ``base``'s; items carry the keys they share (BI items keep their ``donor``)."""

    def __init__(self, base: _PairDataset, extra: _PairDataset, share: float, seed: int = 0, *,
                 same_faces: bool = False, stream: int = SWAP_MIX_STREAM, share_name: str = "share") -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{share_name} must lie in [0, 1], got {share}")
        if same_faces and len(base) != len(extra):
            raise ValueError(f"{share_name}: the datasets mixed face by face must hold the same faces")
        self.base, self.extra, self.share = base, extra, float(share)
        self.same_faces, self.stream = bool(same_faces), int(stream)
        self.index, self.seed, self.epoch = base.index, int(seed), 0
        self.mean, self.std = base.mean, base.std

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        self.base.set_epoch(epoch)
        self.extra.set_epoch(epoch)

    def extra_item(self, i: int) -> int | None:
        """The ``extra`` item that replaces item ``i`` this epoch, or ``None``."""
        rng = np.random.default_rng([self.seed, self.epoch, int(i), self.stream])
        if not rng.random() < self.share:
            return None
        return int(i) if self.same_faces else int(rng.integers(len(self.extra)))

    def raw_item(self, i: int) -> dict[str, np.ndarray]:
        j = self.extra_item(i)
        return self.base.raw_item(i) if j is None else self.extra.raw_item(j)


def mixed_pairs(sbi: SBIPairDataset, bi: BIPairDataset, bi_share: float, seed: int = 0) -> ShareMixDataset:
    """SBI and BI pairs over one face index: each (epoch, face) becomes its BI pair with probability
    ``bi_share``, else its SBI pair (:class:`ShareMixDataset` face by face)."""
    return ShareMixDataset(sbi, bi, bi_share, seed, same_faces=True, stream=BI_MIX_STREAM, share_name="bi_share")


def collate_pairs(items: list[dict[str, torch.Tensor]], shuffle_seed: int | None = None) -> dict[str, torch.Tensor]:
    """Concatenate reals then fakes: ``image`` (2B, 3, S, S), ``hm``/``cst`` (2B, 1, S/4, S/4) (zeros for
    reals), ``mask`` (2B, 1, S, S), ``label`` (2B, 1) float (0 real, 1 fake), ``index`` (2B,).
    With ``shuffle_seed`` the 2B rows are permuted reproducibly. Items with a ``view`` (datasets with
    ``real_views``) add ``view`` (B, 3, S, S): row i is another rendering of real row i, so views need the
    unshuffled order."""
    if not items:
        raise ValueError("cannot collate an empty batch")
    real = torch.stack([it["real"] for it in items])
    fake = torch.stack([it["fake"] for it in items])
    hm = torch.stack([it["hm"] for it in items])
    cst = torch.stack([it["cst"] for it in items])
    mask = torch.stack([it["mask"] for it in items])
    idx = torch.stack([it["index"] for it in items])
    b = len(items)
    out = {
        "image": torch.cat([real, fake]),
        "hm": torch.cat([torch.zeros_like(hm), hm]),
        "cst": torch.cat([torch.zeros_like(cst), cst]),
        "mask": torch.cat([torch.zeros_like(mask), mask]),
        "label": torch.cat([torch.zeros(b, 1), torch.ones(b, 1)]),
        "index": torch.cat([idx, idx]),
    }
    if "view" in items[0]:
        if shuffle_seed is not None:
            raise ValueError("views pair with the real rows in item order: they cannot be shuffled")
        out["view"] = torch.stack([it["view"] for it in items])
    if shuffle_seed is not None:
        perm = torch.randperm(2 * b, generator=torch.Generator().manual_seed(int(shuffle_seed)))
        out = {k: v[perm] for k, v in out.items()}
    return out

