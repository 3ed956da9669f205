"""The real-image report: the bands calibrated on the selection photos and the select split of the real-swap list,
then every figure a card reports on data used for none of training, selection or calibration.

- **Calibration** (never reported): the selection halves of ``faces/portraits`` and ``faces/realworld``, each
  photo as it is and at a quarter of its side, and the real faces of the ``select`` split of
  ``deepfakes/index.csv``, as the reals; the face swaps of that split as the known fakes
  (:mod:`~laanet_research.photo_bands`).
- **Specificity** (reported): the share of real images called fake (probability above ``fake_above``) on the
  reported halves of ``faces/portraits`` and ``faces/realworld``, every face of ``faces/groups``, and held-out
  LFW faces at three resolutions; per-photo resolution consistency (a reported portrait against itself at a
  quarter of its side) and the resolution sweep (each reported portrait at 240p to 1080p).
- **Sensitivity** (reported): SBI and BI fakes of the held-out LFW faces (with where their heatmaps peak against
  the blend masks), the real face swaps of ``deepfakes/index.csv``'s ``report`` split (frame level, per method),
  ``dfdc-crops`` (frame level, as folder evaluation scores it) and the two clips of ``videos/`` named fake by
  their source (video level).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from laanet_bench.datasets.base import list_images
from laanet_bench.localisation import REGION_ABOVE
from laanet_model.scoring import sigmoid
from laanet_model.weights import FOLDER_PROTOCOL

from .face_cache import FaceCache, PhotoScorer
from .fake_clips import fake_clip_probs
from .halves import split_folders
from .heldout import lfw_heldout, synthetic_sensitivity
from .photo_bands import calibration_scores, photo_and_swap_bands
from .real_swaps import SWAP_LIST, SWAP_SPLIT, list_rows, real_swap_report, row_probs
from .renderings import LFW_RENDERINGS, SWEEP_HEIGHTS, calibration_renderings, quarter, sweep_views
from .shared_data import FAKE_CLIPS
from .sweep import SWEEP_TOLERANCE, sweep_spreads, sweep_summary


def called_fake(probs: Sequence[float], fake_above: float) -> dict[str, Any]:
    """How many of ``probs`` (real faces) are above ``fake_above``: the count, the rate and the median."""
    p = np.asarray(probs, dtype=np.float64)
    return {"n": int(p.size), "called_fake": int((p > fake_above).sum()),
            "false_positive_rate": round(float((p > fake_above).mean()), 4) if p.size else None,
            "median_prob": round(float(np.median(p)), 4) if p.size else None}



def run_protocol(
    detector: Any,
    shared: str | Path,
    *,
    cache_dir: str | Path | None = None,
    exclude_identities: set[str] | None = None,
    n_lfw: int = 60,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Calibrate ``detector``'s bands on the selection photos and the select split of the real-swap list, then
    measure everything reported.

    Returns ``{"thresholds": ..., "selection": ..., "metrics": {...}}``; the detector's thresholds are left
    unchanged (the caller decides whether to adopt the calibrated bands).
    """
    from laanet_synth.imageio import read_image
    from laanet_train.evaluate import score_folder

    say = progress or (lambda msg: None)
    shared = Path(shared)
    faces_dir = shared / "faces"
    finder_name = str(detector.preprocessing.face_detector)
    scorer = PhotoScorer(detector, FaceCache(Path(cache_dir) if cache_dir else None, finder_name))
    halves = split_folders(faces_dir)
    selection = [p for sel, _ in halves.values() for p in sel]
    reported = halves["portraits"][1]

    say("calibration: selection halves of the portraits and the realworld photos")
    cal = calibration_scores(scorer, calibration_renderings(selection))
    say("calibration: the real faces and the swaps of the real-swap list's select split")
    select_rows = list_rows(shared, "select")
    select_probs = row_probs(scorer, select_rows)
    select_scored = [(int(r["label"]), p) for r, p in zip(select_rows, select_probs, strict=True)
                     if p is not None]
    bands = photo_and_swap_bands(cal, [p for y, p in select_scored if y == 0], [p for y, p in select_scored if y == 1])
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
    portraits = {**called_fake(rep_probs, fa), "no_face_found": no_face, "images": len(reported)}
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
        lfw_rates[tag] = {**called_fake(probs, fa), "no_face_found": none}
    scorer.cache.save()

    say("sensitivity: SBI and BI fakes of the held-out LFW faces, and where their heatmaps peak")
    synthetic = synthetic_sensitivity(detector, lfw, fa)
    localisation = synthetic.pop("localisation")
    say("sensitivity: real face swaps of the labelled list's report split")
    swaps = real_swap_report(detector, shared, "report", fa, bands["real_below"], scorer.cache)
    say("sensitivity: dfdc-crops")
    dfdc = score_folder(detector, shared / "dfdc-crops")
    m = dfdc.metrics()
    dfdc_probs = dfdc.probs
    say("sensitivity: the clips of videos/ named fake by their source")
    clips = fake_clip_probs(detector, shared / "videos")
    pooled = rep_probs + group_faces + realworld
    metrics = {
        "real_photos": {
            **called_fake(pooled, fa),
            "protocol": "fraction of real photos called fake (probability above fake_above): the reported "
                        "halves of faces/portraits and faces/realworld (every image) and every face of "
                        "faces/groups, pooled; never used for calibration or selection",
        },
        "portraits_reported": portraits,
        "groups_faces": called_fake(group_faces, fa),
        "realworld": {**called_fake(realworld, fa), "no_face_found": rw_none, "images": len(halves["realworld"][1])},
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
        "heatmap_localisation": {
            **localisation,
            "protocol": "the SBI and BI fakes of synthetic_test: the share of fakes whose heatmap maximum lies in "
                        f"the blended region (the blend mask area-resized to the heatmap, above {REGION_ABOVE}), "
                        "chance (the region's mean share of the map), the mean per-fake pixel AUC of the heatmap "
                        "against the region, the median heatmap peak of the fakes and of their real faces",
        },
        "real_swaps": {
            **swaps,
            "protocol": f"frame level: the {SWAP_SPLIT!r} split of {SWAP_LIST} (real face swaps from public tools "
                        "and real faces, fixed by group; never used for training, selection or calibration), each "
                        "image through Detector.predict_image with the recipe's no-face rule; AUC and AP overall "
                        "and per method (that method's fakes against every real); fakes_called_fake and "
                        "reals_called_fake above fake_above, fakes_called_real below real_below",
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
        "select_split_scored": {"real": sum(y == 0 for y, _ in select_scored),
                                "fake": sum(y == 1 for y, _ in select_scored),
                                "not_scored": len(select_rows) - len(select_scored)},
        "calibration_median_prob": round(float(np.median(cal)), 4),
    }
    return {"thresholds": bands, "selection": selection_info, "metrics": metrics}
