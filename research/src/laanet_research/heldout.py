"""Held-out LFW faces for the report: faces of ``peopleDevTest.txt`` identities the synthetic validation does not
use, scored as real faces at three resolutions, and their SBI and BI fakes for sensitivity."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from laanet_bench.metrics import auc as roc_auc
from laanet_bench.metrics import average_precision
from laanet_model.scoring import sigmoid


def validation_identities(recipe: dict[str, Any] | None, lfw_dir: str | Path) -> set[str]:
    """The LFW identities the synthetic validation of a training ``recipe`` (a config mapping, e.g. a card's
    ``training.recipe``) used, with the LFW folder at ``lfw_dir`` (empty without a recipe)."""
    if not recipe:
        return set()
    from laanet_train.config import config_from_dict
    from laanet_train.data import face_splits

    data = {**recipe.get("data", {}), "root": str(lfw_dir)}
    cfg = config_from_dict({**recipe, "data": data})
    _, val = face_splits(cfg.data, cfg.seed)
    return {str(g) for g in val.groups}


def validation_identities_of_card(card: dict[str, Any], lfw_dir: str | Path) -> set[str]:
    """:func:`validation_identities` of a card's ``training.recipe``."""
    return validation_identities((card.get("training") or {}).get("recipe"), lfw_dir)


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
    """SBI and BI fakes of ``index``'s faces against the same real faces, cut with the detector's recipe: per kind
    the AUC, AP and share of fakes called fake, and under ``"localisation"`` where the fakes' heatmaps peak
    against their blend masks (:func:`laanet_bench.localisation.heatmap_localisation`)."""
    from laanet_bench.localisation import heatmap_localisation
    from laanet_synth.dataset import BIPairDataset, SBIPairDataset

    out: dict[str, Any] = {"localisation": {}}
    recipe = detector.preprocessing.crop
    for name, ds in (("sbi", SBIPairDataset(index, recipe, seed=seed, split="test")),
                     ("bi", BIPairDataset(index, recipe, seed=seed, split="test", k=10, colour=None))):
        reals, fakes, masks = [], [], []
        for i in range(len(ds)):
            raw = ds.raw_item(i)
            reals.append(raw["real"])
            fakes.append(raw["fake"])
            masks.append(raw["mask"])
        pred_r = detector.predict_crops(reals)
        pred_f = detector.predict_crops(fakes)
        lr = np.array([p.logit for p in pred_r])
        lf = np.array([p.logit for p in pred_f])
        y = np.r_[np.zeros(len(lr)), np.ones(len(lf))]
        s = np.r_[lr, lf]
        out[name] = {"auc": round(roc_auc(y, s), 4), "ap": round(average_precision(y, s), 4),
                     "n_pairs": len(lr),
                     "fakes_called_fake": round(float((sigmoid(lf) > fake_above).mean()), 4)}
        loc = heatmap_localisation([p.heatmap for p in pred_f], masks)
        loc["real_peak_median"] = round(float(np.median([p.heatmap.max() for p in pred_r])), 4)
        out["localisation"][name] = loc
    return out
