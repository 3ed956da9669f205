"""The selection data of one recipe, read once, and the Detector over one weights file of a run: what
``laanet-research select`` and the greedy soup search score every candidate with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .face_cache import FaceCache
from .halves import selection_photos
from .real_swaps import list_rows
from .renderings import selection_renderings
from .selection import selection_score
from .shared_data import check_shared, selection_needs


def checkpoint_detector(run_dir: str | Path, weights_file: str) -> Any:
    """A :class:`~laanet_model.detector.Detector` over one weights file of a training run (``best.pt``,
    ``epoch_<k>.pt``), with the run's recipe (:func:`laanet_train.validation.run_preprocessing`)."""
    from laanet_train.export import load_run_model
    from laanet_train.validation import run_detector

    cfg, model = load_run_model(run_dir, weights_file)
    return run_detector(model, cfg, "cpu")


def validation_pairs(run_dir: str | Path, lfw_dir: str | Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The uint8 (real, fake) crops of a run's synthetic validation, with the LFW folder at ``lfw_dir``."""
    import dataclasses

    from laanet_train.data import validation_dataset
    from laanet_train.export import load_run_config

    cfg = load_run_config(run_dir)
    val = validation_dataset(dataclasses.replace(cfg.data, root=str(lfw_dir)), cfg.seed)
    raws = [val.raw_item(i) for i in range(len(val))]
    return [r["real"] for r in raws], [r["fake"] for r in raws]


class SelectionBench:
    """The selection data of one run's recipe, read once: the selection photos' renderings, the run's synthetic
    validation pairs and the face cache; :meth:`score` gives a weights file's :func:`selection_score` row."""

    def __init__(self, config_run: str | Path, shared: str | Path, cache_dir: str | Path | None = None,
                 swap_split: str | None = None) -> None:
        from laanet_train.export import load_run_config
        from laanet_train.validation import run_preprocessing

        check_shared(shared, selection_needs(swap_split))
        #: the labelled real-swap list's rows the rule adds (``None``: the three-measure rule)
        self.swap_rows = list_rows(shared, swap_split) if swap_split else None
        self.pairs = validation_pairs(config_run, Path(shared) / "lfw")
        self.renderings, self.sweep = selection_renderings(selection_photos(Path(shared) / "faces"))
        finder = str(run_preprocessing(load_run_config(config_run)).face_detector)
        self.cache = FaceCache(Path(cache_dir) if cache_dir else None, finder)  # one face search per photo

    def score(self, run_dir: str | Path, weights_file: str) -> dict[str, float]:
        return self.score_detector(checkpoint_detector(run_dir, weights_file))

    def score_detector(self, detector: Any) -> dict[str, float]:
        return selection_score(detector, self.renderings, self.pairs, self.cache, self.sweep, self.swap_rows)

    def save(self) -> None:
        self.cache.save()
