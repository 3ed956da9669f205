"""The real-image validation protocol: how a detector is chosen, calibrated and reported on real data.

Everything goes through one :class:`~laanet_model.detector.Detector` and its ``predict_image`` /
``predict_crops`` (face finder, the weights' crop recipe, flip test), the path the demo and the CLI use.
The data come from the shared folder (``data/`` of the project's shared files):

- **Calibration and selection** (never reported): the *selection halves* of ``faces/portraits`` and of
  ``faces/realworld``, each photo as it is and shrunk to a quarter of its side. The verdict bands come from
  these scores by :data:`BAND_RULE`; checkpoints are compared on them (with the synthetic validation pairs)
  and on the same photos saved at 240p, 480p, 720p and 1080p (:data:`SELECTION_RULE`).
- **Specificity** (reported): the fraction of real images called fake (probability above ``fake_above``) on
  the *reported halves* of ``faces/portraits`` and ``faces/realworld``, every face of ``faces/groups``, and LFW
  faces of the ``peopleDevTest.txt`` identities that the synthetic validation does not use, each rendered at
  three resolutions; per-photo resolution consistency (the change in logit and probability when a
  reported portrait is shrunk to a quarter of its side); and the resolution sweep (each reported portrait
  saved at 240p, 480p, 720p and 1080p: the spread of its probability).
- **Sensitivity** (reported): SBI and BI fakes of those held-out LFW faces against the same real faces
  (AUC, AP, and the fraction called fake), and ``dfdc-crops`` (frame AUC and AP).

The halves are fixed by the SHA-1 of each file name (:func:`hash_halves`), so they do not move when files are
added. The groups (three images) are not split: all their faces are reported. Faces found in an image are cached per face finder, so scoring several checkpoints
costs one face search per image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from laanet_bench.datasets.base import list_images
from laanet_bench.metrics import auc as roc_auc
from laanet_bench.metrics import average_precision
from laanet_model.scoring import sigmoid
from laanet_model.weights import FOLDER_PROTOCOL

#: how the verdict bands are set from the calibration scores (probabilities of real photos)
BAND_RULE = (
    "fake above the 99th percentile and real below the 80th percentile of the fake probabilities of real "
    "calibration photos (the selection halves of faces/portraits and faces/realworld, each photo as it is and "
    "shrunk to a quarter)"
)
#: how a run's checkpoints are compared (:func:`choose_checkpoint`)
SELECTION_RULE = (
    "highest mean of three measures through the Detector with the flip test: the synthetic validation AUC; the AUC "
    "of the selection photos (selection halves of faces/portraits and faces/realworld, as they are and at a "
    "quarter) against the synthetic validation fakes; and the share of the selection photos whose fake "
    "probability stays within 0.2 from 240p to 1080p"
)
#: how the lowest face-finder confidence that is judged (``min_face_score``) is chosen (:func:`face_score_floor`)
FACE_SCORE_RULE = (
    "the largest multiple of 0.05 at or below the least confident of the most confident detections wide enough "
    "to judge (min_face_size) in each rendering of the selection photos (the selection halves of faces/portraits "
    "and faces/realworld, as they are, at a quarter and at 240p, 480p, 720p and 1080p): every selection photo "
    "keeps its surest face"
)
FACE_SCORE_STEP = 0.05
#: the shared folders split into a selection-and-calibration half and a reported half
SPLIT_FOLDERS = ("portraits", "realworld")
FAKE_QUANTILE, REAL_QUANTILE = 0.99, 0.80
#: LFW renderings for the specificity check: scale of the 250 px image and the interpolation used
LFW_RENDERINGS = (("0.5x area", 0.5, cv2.INTER_AREA), ("1x", 1.0, None), ("4x cubic", 4.0, cv2.INTER_CUBIC))
#: image heights of the resolution sweep (240p to 1080p) and the largest probability spread called consistent
SWEEP_HEIGHTS, SWEEP_TOLERANCE = (240, 480, 720, 1080), 0.2
#: the clips of ``videos/`` that their source names fake (real deepfakes); the other clips carry no label
FAKE_CLIPS = ("0017_fake.mp4", "0048_fake.mp4")


#: what the shared data folder must hold: for selection (and greedy soups), and in addition for the report
PHOTO_NEEDS = ("faces/portraits", "faces/realworld")
SELECTION_NEEDS = (*PHOTO_NEEDS, "lfw/landmarks68_dlib.npz")
REPORT_NEEDS = (*SELECTION_NEEDS, "faces/groups", "dfdc-crops/real", "dfdc-crops/fake",
                *(f"videos/{name}" for name in FAKE_CLIPS))


class SharedDataError(FileNotFoundError):
    """The shared data folder lacks what the protocol reads."""


def check_shared(shared: str | Path, needs: Sequence[str] = REPORT_NEEDS) -> Path:
    """``shared`` when it holds every path of ``needs``, else :class:`SharedDataError` naming what is missing."""
    root = Path(shared)
    missing = [n for n in needs if not (root / n).exists()]
    if missing:
        raise SharedDataError(f"{root} lacks {', '.join(missing)}: --shared is the shared data folder holding "
                              "faces/ (portraits, realworld, groups), lfw/ with landmarks68_dlib.npz, dfdc-crops/ and "
                              "videos/")
    return root


def hash_halves(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """(selection, reported): ``paths`` ordered by SHA-1 of their file name, the first half (rounded up) for
    selection and calibration."""
    ordered = sorted(paths, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    k = (len(ordered) + 1) // 2
    return sorted(ordered[:k]), sorted(ordered[k:])


def at_height(image: np.ndarray, height: int) -> np.ndarray:
    """The image resized to ``height`` rows (aspect kept): area averaging when it shrinks, bicubic when it
    enlarges, as a photo would be saved at 240p ... 1080p."""
    h, w = image.shape[:2]
    if h == height:
        return image
    interp = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
    return cv2.resize(image, (max(1, round(w * height / h)), height), interpolation=interp)


def sweep_summary(spreads: Sequence[float], images: int) -> dict[str, Any]:
    """Per-photo probability spreads (max - min over :data:`SWEEP_HEIGHTS`) summarised."""
    d = np.asarray(spreads, dtype=np.float64)
    if not d.size:
        return {"n": 0, "images": images}
    return {"n": int(d.size), "images": images,
            "within_tolerance": round(float((d <= SWEEP_TOLERANCE).mean()), 4),
            "median_prob_spread": round(float(np.median(d)), 4),
            "max_prob_spread": round(float(d.max()), 4)}


def quarter(image: np.ndarray) -> np.ndarray:
    """The image shrunk to a quarter of its side with area averaging."""
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w / 4)), max(1, round(h / 4))), interpolation=cv2.INTER_AREA)


@dataclass
class FaceCache:
    """Faces found per (image key), stored as JSON under ``folder`` for one face-finder name."""

    folder: Path | None
    finder_name: str

    def __post_init__(self) -> None:
        self._mem: dict[str, list[dict[str, Any]]] = {}
        if self.path is not None and self.path.is_file():
            # entries written without their box convention are dropped: the convention decides the crop
            self._mem = {key: entry for key, entry in json.loads(self.path.read_text()).items()
                         if all("box_convention" in d for d in entry)}

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else Path(self.folder) / f"faces-{self.finder_name}.json"

    def faces(self, key: str, image: np.ndarray, detector: Any) -> list[Any]:
        from laanet_synth.faces import Face

        entry = self._mem.get(key)
        if entry is None:
            entry = self._mem[key] = [
                {"box": f.box.tolist(), "score": float(f.score), "landmarks": f.landmarks.tolist(),
                 "box_convention": f.box_convention}
                for f in detector.find_faces(image)
            ]
        # the box convention decides the crop (a RetinaFace box is used as it is), so it travels with the face
        return [Face(box=np.array(d["box"]), score=d["score"], landmarks=np.array(d["landmarks"]),
                     box_convention=d["box_convention"]) for d in entry]

    def save(self) -> None:
        if self.path is None:
            return
        from laanet_synth.atomic import write_text

        write_text(self.path, json.dumps(self._mem))


class Scorer:
    """Per-image predictions through one detector (its stages, flip test and frame rule), faces cached."""

    def __init__(self, detector: Any, cache: FaceCache) -> None:
        self.detector, self.cache = detector, cache

    def predict(self, key: str, image: np.ndarray) -> Any:
        return self.detector.predict_image(image, faces=self.cache.faces(key, image, self.detector))

    def face_logits(self, key: str, image: np.ndarray) -> list[float]:
        return [f.logit for f in self.predict(key, image).faces]

    def frame_logit(self, key: str, image: np.ndarray) -> float | None:
        """The frame logit by the recipe's ``frame_policy``; ``None`` without a judged face."""
        return self.predict(key, image).frame_logit()


def bands_from_calibration(real_probs: np.ndarray) -> dict[str, Any]:
    """Verdict bands from the fake probabilities of real calibration photos (:data:`BAND_RULE`)."""
    p = np.asarray(real_probs, dtype=np.float64)
    if p.size < 10:
        raise ValueError(f"calibration needs at least 10 real scores, got {p.size}")
    fake_above = float(np.quantile(p, FAKE_QUANTILE))
    real_below = min(float(np.quantile(p, REAL_QUANTILE)), fake_above)
    return {"real_below": round(real_below, 4), "fake_above": round(fake_above, 4), "rule": BAND_RULE,
            "n_calibration": int(p.size)}


def _rate(probs: Sequence[float], fake_above: float) -> dict[str, Any]:
    p = np.asarray(probs, dtype=np.float64)
    return {"n": int(p.size), "called_fake": int((p > fake_above).sum()),
            "false_positive_rate": round(float((p > fake_above).mean()), 4) if p.size else None,
            "median_prob": round(float(np.median(p)), 4) if p.size else None}


def split_folders(faces_dir: Path) -> dict[str, tuple[list[Path], list[Path]]]:
    """``{folder: (selection, reported)}`` for each of :data:`SPLIT_FOLDERS` under ``faces_dir``."""
    return {name: hash_halves(list(list_images(faces_dir / name))) for name in SPLIT_FOLDERS}


def selection_photos(faces_dir: Path) -> list[Path]:
    """The selection halves of :data:`SPLIT_FOLDERS` under ``faces_dir``, one list."""
    return [p for sel, _ in split_folders(faces_dir).values() for p in sel]


def _read_photos(paths: Sequence[Path]) -> list[tuple[str, np.ndarray]]:
    """``(<folder>/<name>, image)`` of each photo, read once."""
    from laanet_synth.imageio import read_image

    return [(f"{path.parent.name}/{path.name}", read_image(path)) for path in paths]


def calibration_views(image: np.ndarray, key: str) -> list[tuple[str, np.ndarray]]:
    """``(key#full, image)`` and ``(key#quarter, image at a quarter of its side)``."""
    return [(f"{key}#full", image), (f"{key}#quarter", quarter(image))]


def calibration_renderings(selection: Sequence[Path]) -> list[tuple[str, np.ndarray]]:
    """``(key, image)`` for each selection photo as it is and at a quarter of its side, keyed
    ``<folder>/<name>#full`` and ``#quarter``: read once, scored by every checkpoint."""
    return [view for key, image in _read_photos(selection) for view in calibration_views(image, key)]


def selection_renderings(selection: Sequence[Path]) -> tuple[list[tuple[str, np.ndarray]], list[tuple[str, np.ndarray]]]:
    """:func:`calibration_renderings` and :func:`sweep_renderings` of the same photos, each photo read once."""
    photos = _read_photos(selection)
    return ([view for key, image in photos for view in calibration_views(image, key)],
            [view for key, image in photos for view in sweep_views(image, key)])


def sweep_views(image: np.ndarray, key: str) -> list[tuple[str, np.ndarray]]:
    """``(key#h<height>, image at that height)`` for every :data:`SWEEP_HEIGHTS` height: the one keying of the
    sweep, so faces found once serve the report and the selection tools."""
    return [(f"{key}#h{h}", at_height(image, h)) for h in SWEEP_HEIGHTS]


def sweep_renderings(paths: Sequence[Path]) -> list[tuple[str, np.ndarray]]:
    """:func:`sweep_views` of each photo, keyed ``<folder>/<name>#h<height>``."""
    return [view for key, image in _read_photos(paths) for view in sweep_views(image, key)]


def face_score_floor(top_scores: Sequence[float], step: float = FACE_SCORE_STEP) -> float:
    """:data:`FACE_SCORE_RULE`: the largest multiple of ``step`` at or below the smallest of ``top_scores`` (each
    rendering's most confident detection)."""
    scores = np.asarray(top_scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("no detections to choose a face-score floor from")
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step}")
    # a hair of slack so that a minimum sitting exactly on a multiple of step is not floored one step lower
    return round(float(np.floor(scores.min() / step + 1e-9) * step), 6)


def top_face_scores(detector: Any, renderings: Sequence[tuple[str, np.ndarray]], cache: FaceCache,
                    min_face_size: int = 0) -> np.ndarray:
    """Each rendering's most confident detection by ``detector``'s face finder among those at least
    ``min_face_size`` pixels wide (renderings without such a face add nothing)."""
    tops = []
    for key, image in renderings:
        scores = [f.score for f in cache.faces(key, image, detector) if f.box[2] - f.box[0] >= min_face_size]
        if scores:
            tops.append(max(scores))
    return np.asarray(tops, dtype=np.float64)


def calibration_scores(scorer: Scorer, renderings: Sequence[tuple[str, np.ndarray]]) -> np.ndarray:
    """Fake probabilities of the :func:`calibration_renderings`; a rendering with no judged face adds no
    score."""
    logits = [scorer.frame_logit(key, image) for key, image in renderings]
    return sigmoid(np.asarray([v for v in logits if v is not None], dtype=np.float64))


def lfw_heldout(shared: Path, exclude: set[str], n: int = 60, seed: int = 0) -> Any:
    """``n`` LFW faces of ``peopleDevTest.txt`` identities not in ``exclude`` (identity names; one face per
    person, seeded)."""
    from laanet_synth.dataset import FaceIndex

    idx = FaceIndex.from_lfw(shared / "lfw", split="test")
    keep = ~np.isin(idx.groups, sorted(exclude))
    idx = idx.subset(np.flatnonzero(keep))
    rng = np.random.default_rng(seed)
    _, first = np.unique(idx.groups, return_index=True)
    chosen = np.sort(rng.permutation(first)[:n])
    return idx.subset(chosen)


def synthetic_sensitivity(detector: Any, index: Any, fake_above: float, seed: int = 7) -> dict[str, Any]:
    """SBI and BI fakes of ``index``'s faces against the same real faces, cut with the detector's recipe."""
    from laanet_synth.dataset import BIPairDataset, SBIPairDataset

    out: dict[str, Any] = {}
    recipe = detector.preprocessing.crop
    for name, ds in (("sbi", SBIPairDataset(index, recipe, seed=seed, split="test")),
                     ("bi", BIPairDataset(index, recipe, seed=seed, split="test", k=10, colour=None))):
        reals, fakes = [], []
        for i in range(len(ds)):
            raw = ds.raw_item(i)
            reals.append(raw["real"])
            fakes.append(raw["fake"])
        lr = np.array([p.logit for p in detector.predict_crops(reals)])
        lf = np.array([p.logit for p in detector.predict_crops(fakes)])
        y = np.r_[np.zeros(len(lr)), np.ones(len(lf))]
        s = np.r_[lr, lf]
        out[name] = {"auc": round(roc_auc(y, s), 4), "ap": round(average_precision(y, s), 4),
                     "n_pairs": len(lr),
                     "fakes_called_fake": round(float((sigmoid(lf) > fake_above).mean()), 4)}
    return out


def run_protocol(
    detector: Any,
    shared: str | Path,
    *,
    cache_dir: str | Path | None = None,
    exclude_identities: set[str] | None = None,
    n_lfw: int = 60,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Calibrate ``detector``'s bands on the selection photos, then measure everything reported.

    Returns ``{"thresholds": ..., "selection": ..., "metrics": {...}}``; the detector's thresholds are left
    unchanged (the caller decides whether to adopt the calibrated bands).
    """
    from laanet_synth.imageio import read_image

    from .evaluate import score_folder

    say = progress or (lambda msg: None)
    shared = Path(shared)
    faces_dir = shared / "faces"
    finder_name = str(detector.preprocessing.face_detector)
    scorer = Scorer(detector, FaceCache(Path(cache_dir) if cache_dir else None, finder_name))
    halves = split_folders(faces_dir)
    selection = [p for sel, _ in halves.values() for p in sel]
    reported = halves["portraits"][1]

    say("calibration: selection halves of the portraits and the realworld photos")
    cal = calibration_scores(scorer, calibration_renderings(selection))
    bands = bands_from_calibration(cal)
    fa = bands["fake_above"]

    say("specificity: reported half of the portraits, with the quarter-size change and the 240p-1080p sweep")
    rep_probs, deltas_logit, deltas_prob, spreads, no_face = [], [], [], [], 0
    for path in reported:
        image = read_image(path)
        spreads += sweep_spreads(scorer, sweep_views(image, f"portraits/{path.name}"))
        full = scorer.frame_logit(f"portraits/{path.name}#full", image)
        small = scorer.frame_logit(f"portraits/{path.name}#quarter", quarter(image))
        if full is None:
            no_face += 1
            continue
        rep_probs.append(sigmoid(full))
        if small is not None:
            deltas_logit.append(abs(small - full))
            deltas_prob.append(abs(sigmoid(small) - sigmoid(full)))
    portraits = {**_rate(rep_probs, fa), "no_face_found": no_face, "images": len(reported)}
    sweep = sweep_summary(spreads, len(reported))
    consistency = {
        "n": len(deltas_logit),
        "median_abs_logit_change": round(float(np.median(deltas_logit)), 4),
        "p90_abs_logit_change": round(float(np.quantile(deltas_logit, 0.9)), 4),
        "median_abs_prob_change": round(float(np.median(deltas_prob)), 4),
        "max_abs_prob_change": round(float(np.max(deltas_prob)), 4),
    }

    say("specificity: groups (every face) and the reported half of realworld (every image)")
    group_faces: list[float] = []
    for path in list_images(faces_dir / "groups"):
        group_faces += [sigmoid(v) for v in scorer.face_logits(f"groups/{path.name}", read_image(path))]
    realworld, rw_none = [], 0
    for path in halves["realworld"][1]:
        v = scorer.frame_logit(f"realworld/{path.name}#full", read_image(path))
        if v is None:
            rw_none += 1
        else:
            realworld.append(sigmoid(v))

    say("specificity: held-out LFW faces at three resolutions")
    lfw = lfw_heldout(shared, exclude_identities or set(), n=n_lfw)
    lfw_rates = {}
    for tag, scale, interp in LFW_RENDERINGS:
        probs, none = [], 0
        for i in range(len(lfw)):
            image = read_image(lfw.image_path(i))
            if interp is not None:
                h, w = image.shape[:2]
                image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=interp)
            v = scorer.frame_logit(f"lfw/{lfw.paths[i]}#{tag}", image)
            if v is None:
                none += 1
            else:
                probs.append(sigmoid(v))
        lfw_rates[tag] = {**_rate(probs, fa), "no_face_found": none}
    scorer.cache.save()

    say("sensitivity: SBI and BI fakes of the held-out LFW faces")
    synthetic = synthetic_sensitivity(detector, lfw, fa)
    say("sensitivity: dfdc-crops")
    dfdc = score_folder(detector, shared / "dfdc-crops")
    m = dfdc.metrics()
    dfdc_probs = dfdc.probs
    say("sensitivity: the clips of videos/ named fake by their source")
    clips = fake_clip_probs(detector, shared / "videos")
    pooled = rep_probs + group_faces + realworld
    metrics = {
        "real_photos": {
            **_rate(pooled, fa),
            "protocol": "fraction of real photos called fake (probability above fake_above): the reported "
                        "halves of faces/portraits and faces/realworld (every image) and every face of "
                        "faces/groups, pooled; never used for calibration or selection",
        },
        "portraits_reported": portraits,
        "groups_faces": _rate(group_faces, fa),
        "realworld": {**_rate(realworld, fa), "no_face_found": rw_none, "images": len(halves["realworld"][1])},
        "lfw_heldout_resolutions": lfw_rates,
        "resolution_consistency": {
            **consistency,
            "protocol": "reported portraits: |change| of the frame logit and probability when the photo is "
                        "shrunk to a quarter of its side (area averaging)",
        },
        "resolution_sweep": {
            **sweep,
            "protocol": f"reported portraits, each saved at {', '.join(f'{h}p' for h in SWEEP_HEIGHTS)} (area "
                        "averaging when shrinking, bicubic when enlarging): the spread (max - min) of its fake "
                        f"probability; within_tolerance is the share of photos with a spread of at most "
                        f"{SWEEP_TOLERANCE} (photos with no judged face at some height are left out)",
        },
        "synthetic_test": {
            **synthetic,
            "protocol": f"{len(lfw)} LFW faces of peopleDevTest.txt identities not used by the synthetic "
                        "validation, one per person; each with one SBI fake and one BI fake (donor from "
                        "another of these people), crops from the card's recipe, flip test",
        },
        "dfdc_crops": {
            "auc": round(m["auc"], 4), "ap": round(m["ap"], 4), "n_real": m["n_real"], "n_fake": m["n_fake"],
            "no_face_found": m["no_face_found"],
            "real_called_fake": round(float((dfdc_probs[dfdc.labels == 0] > fa).mean()), 4),
            "fake_called_fake": round(float((dfdc_probs[dfdc.labels == 1] > fa).mean()), 4),
            "protocol": FOLDER_PROTOCOL,
        },
        "fake_clips": {
            "probs": clips,
            "n": sum(v is not None for v in clips.values()),
            "called_fake": sum(v is not None and v > fa for v in clips.values()),
            "protocol": f"video level: the clips of videos/ that their source names fake ({', '.join(FAKE_CLIPS)}; "
                        "DFDC-style face swaps), each as laanet predict scores it (the recipe's frames_per_video "
                        "evenly spaced frames, the most fake face of each frame, the sigmoid of the mean frame "
                        "logit); called_fake counts those above fake_above. Two clips: no AUC. Never used for "
                        "training, selection or calibration.",
        },
    }
    selection_info = {
        "portraits": [p.name for p in halves["portraits"][0]],
        "realworld": [p.name for p in halves["realworld"][0]],
        "n_calibration_scores": int(cal.size),
        "calibration_median_prob": round(float(np.median(cal)), 4),
    }
    return {"thresholds": bands, "selection": selection_info, "metrics": metrics}


def fake_clip_probs(detector: Any, videos_dir: Path) -> dict[str, float | None]:
    """The video probability of each clip of :data:`FAKE_CLIPS`, as ``laanet predict`` gives it: the recipe's
    ``frames_per_video`` evenly spaced frames through :meth:`Detector.predict_video` (``None`` when no frame
    has a judged face)."""
    from laanet_synth.video import read_frames

    probs: dict[str, float | None] = {}
    for name in FAKE_CLIPS:
        frames = read_frames(videos_dir / name, detector.preprocessing.frames_per_video)
        prob = detector.predict_video(frames, people=False).prob
        probs[Path(name).stem] = None if prob is None else round(float(prob), 4)
    return probs


def sweep_spreads(scorer: Scorer, renderings: Sequence[tuple[str, np.ndarray]]) -> list[float]:
    """The fake-probability spread (max - min) of each photo over its :func:`sweep_views` in ``renderings``
    (keys ``<photo>#h<height>``); a photo without a judged face at some height has none."""
    by_photo: dict[str, list[float | None]] = {}
    for key, image in renderings:
        by_photo.setdefault(key.rsplit("#h", 1)[0], []).append(scorer.frame_logit(key, image))
    spreads = []
    for logits in by_photo.values():
        if all(v is not None for v in logits):
            p = sigmoid(np.asarray(logits, dtype=np.float64))
            spreads.append(float(p.max() - p.min()))
    return spreads


def selection_score(detector: Any, renderings: Sequence[tuple[str, np.ndarray]], val_pairs: Any,
                    cache: FaceCache, sweep: Sequence[tuple[str, np.ndarray]] | None = None) -> dict[str, float]:
    """What checkpoints are compared on: the AUC separating the selection photos (the selection halves of the
    portraits and the realworld photos, as they are and at a quarter size: ``renderings`` from
    :func:`calibration_renderings`) from the synthetic validation fakes, the synthetic validation AUC itself
    and, with ``sweep`` (:func:`sweep_renderings` of the selection photos), the share of the selection photos
    whose probability stays within :data:`SWEEP_TOLERANCE` over the sweep; with, for information, the band the
    calibration rule would set and the share of the synthetic validation fakes above it."""
    scorer = Scorer(detector, cache)
    cal = calibration_scores(scorer, renderings)
    reals, fakes = val_pairs
    lr = np.array([p.logit for p in detector.predict_crops(reals)])
    lf = np.array([p.logit for p in detector.predict_crops(fakes)])
    y = np.r_[np.zeros(len(lr)), np.ones(len(lf))]
    photo_y = np.r_[np.zeros(len(cal)), np.ones(len(lf))]
    photo_s = np.r_[cal, sigmoid(lf)]
    band = bands_from_calibration(cal)["fake_above"]
    return {"synthetic_val_auc": round(roc_auc(y, np.r_[lr, lf]), 4),
            "photos_vs_fakes_auc": round(roc_auc(photo_y, photo_s), 4),
            "calibration_median_prob": round(float(np.median(cal)), 4),
            "fake_above": band,
            "val_fakes_called_fake": round(float((sigmoid(lf) > band).mean()), 4),
            **({} if sweep is None else _sweep_row(sweep_spreads(scorer, sweep)))}


def _sweep_row(spreads: Sequence[float]) -> dict[str, float]:
    """The selection row's sweep measures, from the report's own :func:`sweep_summary`."""
    summary = sweep_summary(spreads, images=len(spreads))
    if not summary["n"]:
        raise ValueError("no selection photo has a judged face at every sweep height")
    return {"sweep_within": summary["within_tolerance"], "sweep_photos": summary["n"]}


def rule_value(row: dict[str, float]) -> float:
    """The value :data:`SELECTION_RULE` ranks a :func:`selection_score` row by: the mean of its two AUCs and its
    sweep share. A row scored without the sweep (the searches before the sweep joined the rule) gives the mean
    of its two AUCs; one search scores all its rows the same way, so the two never meet in a ranking."""
    return float(np.mean(_rule_measures(row)))


def _rule_measures(row: dict[str, float]) -> list[float]:
    """The measures :func:`rule_value` averages: the two AUCs, and the sweep share when the row has it."""
    return [row[k] for k in ("synthetic_val_auc", "photos_vs_fakes_auc", "sweep_within") if k in row]


def replacement_margin(row: dict[str, float]) -> float:
    """The lead by :func:`rule_value` a candidate needs over the shipped weights to replace them: what one
    selection photo crossing the sweep tolerance moves the rule (``1 / sweep_photos`` over the number of
    measures). A smaller lead is a tie at the resolution of the selection data, and a tie keeps the weights whose
    reported figures are already measured. Rows scored without the sweep have no such step and need no margin
    (0.0)."""
    return 1.0 / (len(_rule_measures(row)) * row["sweep_photos"]) if "sweep_photos" in row else 0.0


def choose_checkpoint(rows: dict[str, dict[str, float]]) -> str:
    """The checkpoint :data:`SELECTION_RULE` picks from :func:`selection_score` rows (first one on a tie)."""
    if not rows:
        raise ValueError("no checkpoints to choose from")
    return max(rows, key=lambda k: rule_value(rows[k]))


def checkpoint_detector(run_dir: str | Path, weights_file: str) -> Any:
    """A :class:`~laanet_model.detector.Detector` over one weights file of a training run (``best.pt``,
    ``epoch_<k>.pt``), with the run's recipe (:func:`laanet_train.validation.run_preprocessing`)."""
    from .export import load_run_model
    from .validation import run_detector

    cfg, model = load_run_model(run_dir, weights_file)
    return run_detector(model, cfg, "cpu")


def validation_pairs(run_dir: str | Path, lfw_dir: str | Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The uint8 (real, fake) crops of a run's synthetic validation, with the LFW folder at ``lfw_dir``."""
    import dataclasses

    from .data import build_datasets
    from .export import load_run_config

    cfg = load_run_config(run_dir)
    _, val = build_datasets(dataclasses.replace(cfg.data, root=str(lfw_dir)), cfg.seed)
    raws = [val.raw_item(i) for i in range(len(val))]
    return [r["real"] for r in raws], [r["fake"] for r in raws]


class SelectionBench:
    """The selection data of one run's recipe, read once: the selection photos' renderings, the run's synthetic
    validation pairs and the face cache; :meth:`score` gives a weights file's :func:`selection_score` row."""

    def __init__(self, config_run: str | Path, shared: str | Path, cache_dir: str | Path | None = None) -> None:
        from .export import load_run_config
        from .validation import run_preprocessing

        check_shared(shared, SELECTION_NEEDS)
        self.pairs = validation_pairs(config_run, Path(shared) / "lfw")
        self.renderings, self.sweep = selection_renderings(selection_photos(Path(shared) / "faces"))
        finder = str(run_preprocessing(load_run_config(config_run)).face_detector)
        self.cache = FaceCache(Path(cache_dir) if cache_dir else None, finder)  # one face search per photo

    def score(self, run_dir: str | Path, weights_file: str) -> dict[str, float]:
        return self.score_detector(checkpoint_detector(run_dir, weights_file))

    def score_detector(self, detector: Any) -> dict[str, float]:
        return selection_score(detector, self.renderings, self.pairs, self.cache, self.sweep)

    def save(self) -> None:
        self.cache.save()


def main(argv: list[str] | None = None) -> int:
    """``python -m laanet_train.realval report WEIGHTS --shared DIR [--write-card]``,
    ``... select RUN_DIR --shared DIR`` or ``... face-score --shared DIR``."""
    p = argparse.ArgumentParser(prog="python -m laanet_train.realval",
                                description="Real-image validation: compare a run's checkpoints on the selection "
                                            "data, or calibrate a detector's verdict bands on real photos and "
                                            "measure its specificity and sensitivity on the shared data.")
    sub = p.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="calibrate the bands and measure everything reported")
    rep.add_argument("weights", help="registered weights name or .safetensors file (with its card)")
    rep.add_argument("--write-card", action="store_true",
                     help="write the calibrated thresholds and the metrics into the weights' JSON card")
    sel = sub.add_parser("select", help="selection scores of every epoch_<k>.pt (and best.pt) of a run")
    sel.add_argument("run_dir")
    floor = sub.add_parser("face-score", help="the lowest face-finder confidence to judge, by the stated rule")
    floor.add_argument("--face-detector", default="retinaface", help="face finder name (default: retinaface)")
    floor.add_argument("--min-face-size", type=int, default=None,
                       help="judged face width in pixels (default: the one our training runs use)")
    for q in (rep, sel, floor):
        q.add_argument("--shared", required=True, help="the shared data folder (holding faces/, lfw/, dfdc-crops/)")
        q.add_argument("--out", default=None, help="write the result here as JSON")
        q.add_argument("--cache", default=None, help="folder for the face cache")
    args = p.parse_args(argv)
    try:
        report = {"select": _select, "report": _report, "face-score": _face_score}[args.command](args)
    except SharedDataError as exc:
        p.error(str(exc))
    text = json.dumps(report, indent=2)
    if args.out:
        from laanet_synth.atomic import write_text

        write_text(args.out, text + "\n")
    print(text)
    return 0


def _select(args: argparse.Namespace) -> dict[str, Any]:
    bench = SelectionBench(args.run_dir, args.shared, args.cache)
    rows = {}
    files = sorted(Path(args.run_dir).glob("epoch_*.pt"), key=lambda f: int(f.stem.split("_")[1]))
    for f in files:
        rows[f.name] = bench.score(args.run_dir, f.name)
        print(f.name, json.dumps(rows[f.name]), file=sys.stderr, flush=True)
    bench.save()
    return {"checkpoints": rows, "rule": SELECTION_RULE, "chosen": choose_checkpoint(rows)}


def _face_score(args: argparse.Namespace) -> dict[str, Any]:
    from laanet_synth.faces import make_face_finder

    from .validation import RUN_MIN_FACE_SIZE

    check_shared(args.shared, PHOTO_NEEDS)
    size = RUN_MIN_FACE_SIZE if args.min_face_size is None else args.min_face_size
    selection = selection_photos(Path(args.shared) / "faces")
    renderings = [view for views in selection_renderings(selection) for view in views]
    cache = FaceCache(Path(args.cache) if args.cache else None, args.face_detector)
    tops = top_face_scores(_FinderOnly(make_face_finder(args.face_detector)), renderings, cache, size)
    cache.save()
    if not tops.size:
        raise SharedDataError(f"no selection photo under {Path(args.shared) / 'faces'} holds a face of at least "
                              f"{size} px that {args.face_detector} finds")
    return {"min_face_score": face_score_floor(tops), "rule": FACE_SCORE_RULE, "min_face_size": size,
            "n_renderings": len(renderings), "n_with_judged_face": int(tops.size),
            "lowest_top_score": round(float(tops.min()), 4)}


@dataclass(frozen=True)
class _FinderOnly:
    """A face finder in the shape :class:`FaceCache` calls (``find_faces``), without a network."""

    finder: Any

    def find_faces(self, image: np.ndarray) -> list[Any]:
        from laanet_synth.faces import find_faces_batch

        return find_faces_batch(self.finder, [image])[0]


def _report(args: argparse.Namespace) -> dict[str, Any]:
    from laanet_model.builtin_card_source import write_builtin_card_module
    from laanet_model.checkpoints import card_path_for, read_card
    from laanet_model.detector import Detector
    from laanet_model.weights import BUILTIN_WEIGHTS, get_weights

    check_shared(args.shared, REPORT_NEEDS)
    det = Detector.from_weights(args.weights, device="cpu")
    assert det.weights is not None  # from_weights records the file behind the name
    weights_file = det.weights.path
    card = read_card(weights_file)
    exclude = validation_identities_of_card(card, Path(args.shared) / "lfw")
    report = run_protocol(det, args.shared, cache_dir=args.cache, exclude_identities=exclude,
                          progress=lambda m: print(m, file=sys.stderr, flush=True))
    if args.write_card:
        from laanet_synth.atomic import write_json

        bands = report["thresholds"]
        card["thresholds"] = {"real_below": bands["real_below"], "fake_above": bands["fake_above"]}
        card["thresholds_rule"] = bands["rule"]
        card.setdefault("metrics", {}).update(report["metrics"])
        card["real_image_validation"] = {"selection_portraits": report["selection"]["portraits"],
                                         "selection_realworld": report["selection"]["realworld"]}
        write_json(card_path_for(weights_file), card, indent=2)
        if weights_file.resolve() == get_weights(BUILTIN_WEIGHTS).path().resolve():
            # the built-in registry entry reads the hash, bands and figures from a module generated from its card
            print(f"wrote {write_builtin_card_module(card)}", file=sys.stderr)
    return report


def validation_identities_of_card(card: dict[str, Any], lfw_dir: str | Path) -> set[str]:
    """The LFW identities the synthetic validation of a card's training recipe used, with the LFW folder at
    ``lfw_dir`` (empty without a recipe)."""
    recipe = (card.get("training") or {}).get("recipe")
    if not recipe:
        return set()
    from .config import config_from_dict
    from .data import face_splits

    data = {**recipe.get("data", {}), "root": str(lfw_dir)}
    cfg = config_from_dict({**recipe, "data": data})
    _, val = face_splits(cfg.data, cfg.seed)
    return {str(g) for g in val.groups}


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
