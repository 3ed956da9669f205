"""The card a soup's export builds on (``soup export --base-card``): the full card of the weights the soup's
fine-tunes started from (their shipped card and training record joined), its training moved into the first
stage of the chain, and each fine-tune run of the search, ingredient or not, recorded as a stage not kept (its
recipe, steps, history and selection scores); ``soup export --fine-tune-stage`` then moves the ingredients'
stages into the soup's record."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .card_split import join_card


@dataclass(frozen=True)
class FineTune:
    """One fine-tune run of a soup search: its ``stage`` number, its run folder, what it started from (words for
    the record), the ``select --out`` / soup-folder score files holding its epochs' rows, and why it is not kept
    (for the stages that stay out of the soup)."""

    stage: int
    run: Path
    initialised_from: str
    scores: tuple[Path, ...]
    why: str


def fine_tune_stage(ft: FineTune) -> dict[str, Any]:
    """``ft`` as a ``training.not_kept`` entry: the run's portable recipe, steps, wall time and history from its
    folder, and the rows of its epochs from its score files."""
    from laanet_train.export import load_run_config, portable_recipe, run_progress

    rows: dict[str, Any] = {}
    for f in ft.scores:
        rows.update(json.loads(Path(f).read_text())["checkpoints"])
    name = f"runs/{ft.run.name}"
    return {"stage": ft.stage, "run": name, "initialised_from": ft.initialised_from,
            "recipe": portable_recipe(load_run_config(ft.run)), **run_progress(ft.run),
            "selection_scores": {"candidates": rows,
                                 "command": f"laanet-research select {name} --shared ../shared/data --cache runs/faces"},
            "why": ft.why}


def base_card(shipped: Mapping[str, Any], record: Mapping[str, Any], *, chain_stage: int, data: str,
              fine_tunes: Sequence[FineTune]) -> dict[str, Any]:
    """The base card (see the module): ``shipped`` and ``record`` joined, their training the chain's first stage
    (numbered ``chain_stage``), ``data`` the training data statement of the new weights, and ``fine_tunes`` as
    stages not kept. Its steps, epochs and wall time are the chain's: the export adds those of the fine-tunes that
    are ingredients (:func:`~laanet_research.soup_export.export_soup`)."""
    from laanet_train.export import chain_entry

    full = join_card(dict(shipped), dict(record))
    stages = [fine_tune_stage(ft) for ft in fine_tunes]
    if len({s["stage"] for s in stages}) != len(stages):
        raise ValueError("fine-tune stage numbers must differ")
    origin = {"stage": chain_stage, **chain_entry(full)}
    prior = full["training"]
    base = copy.deepcopy(full)
    base["training"] = {
        "data": data,
        "validation": prior["validation"],
        "synthesis": prior["synthesis"],
        "earlier_stages": [origin],
        "not_kept": stages,
        "steps_run": origin["steps_run"],
        "epochs_run": origin["epochs_run"],
        "wall_time_seconds": origin["wall_time_seconds"],
    }
    return base


def read_spec(path: str | Path) -> dict[str, Any]:
    """A base-card spec (JSON): ``card`` and ``record`` (paths), ``chain_stage``, ``data``, and ``fine_tunes``:
    ``[{stage, run, initialised_from, scores: [paths], why}]``; relative paths are read against the spec's
    folder."""
    path = Path(path)
    spec = json.loads(path.read_text())
    missing = [k for k in ("card", "record", "chain_stage", "data", "fine_tunes") if k not in spec]
    if missing:
        raise ValueError(f"{path}: the spec lacks {', '.join(missing)}")
    here = path.parent

    def at(p: str) -> Path:
        return Path(p) if Path(p).is_absolute() else here / p

    return {"shipped": json.loads(at(spec["card"]).read_text()), "record": json.loads(at(spec["record"]).read_text()),
            "chain_stage": int(spec["chain_stage"]), "data": str(spec["data"]),
            "fine_tunes": [FineTune(int(f["stage"]), at(f["run"]), str(f["initialised_from"]),
                                    tuple(at(s) for s in f["scores"]), str(f.get("why", "")))
                           for f in spec["fine_tunes"]]}
