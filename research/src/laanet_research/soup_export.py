"""One soup of a soup folder written as shippable weights: float16 safetensors and a card built on the card of
the weights its fine-tunes started from."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .soup import SOUP_FILE, SoupError


def export_soup(
    soup_dir: str | Path, out_path: str | Path, *, checkpoint: str, base_card: Mapping[str, Any], selection: str,
    selection_scores: Mapping[str, Any] | None = None, fine_tune_stages: Sequence[int] = (),
    description: str | None = None, greedy_trace: Sequence[Mapping[str, Any]] | None = None,
    rule: str | None = None,
) -> dict[str, Any]:
    """Write soup ``checkpoint`` of ``soup_dir`` as float16 safetensors with a card built on ``base_card`` (the
    card of the weights the fine-tunes started from: its training chain stays).

    The card's preprocessing is the recipe the soups were scored with (``soup_dir``'s ``config.yaml``, through
    :func:`~laanet_train.validation.run_preprocessing`), and that recipe becomes the card's ``training.recipe``
    (without the run's own paths: data root, initial weights, output folder; the base card's recipe moves to
    ``training.soup.base_recipe``): it may differ from the training recipe (e.g. another crop recipe), and the
    shipped weights must judge faces the way their selection did.

    The card gets ``training.soup`` (the ingredients with their sha256, the candidates' ``selection_scores``
    and the records of the fine-tunes ``fine_tune_stages``, moved out of ``training.not_kept``, their steps, epochs
    and wall time added to the training's; with
    ``greedy_trace``, the trace of the greedy search that found it, and with ``rule`` the stated rule its rows were
    ranked by), the rule
    ``selection`` that chose it, and the synthetic validation re-measured through the Detector with the
    float16 weights. The verdict bands are those of :func:`~laanet_train.export.export_run` (the band rule on the
    synthetic validation's real faces) until ``laanet-research report ... --write-card`` calibrates them on real
    photos and adds the reported figures. Returns the card.
    """
    import copy

    from laanet_model.checkpoints import card_path_for, save_weights
    from laanet_model.weights import preprocessing_to_dict
    from laanet_train.export import exported_validation, load_run_model, portable_recipe
    from laanet_train.validation import run_preprocessing

    record = json.loads((Path(soup_dir) / SOUP_FILE).read_text())
    if checkpoint not in record:
        raise SoupError(f"{checkpoint} is not a soup of {soup_dir} (it holds {', '.join(sorted(record))})")
    cfg, model = load_run_model(soup_dir, checkpoint)
    rounded, synthetic_val, bands = exported_validation(model, cfg)

    card = {k: copy.deepcopy(v) for k, v in base_card.items() if k not in ("config", "sha256", "format")}
    card["preprocessing"] = preprocessing_to_dict(run_preprocessing(cfg))
    training = card.setdefault("training", {})
    kept = [e for e in training.get("not_kept", []) if e.get("stage") not in fine_tune_stages]
    fine_tunes = [{k: v for k, v in e.items() if k != "why"}
                  for e in training.get("not_kept", []) if e.get("stage") in fine_tune_stages]
    if len(fine_tunes) != len(set(fine_tune_stages)):
        raise SoupError(f"the base card's training.not_kept lacks some of the stages {sorted(fine_tune_stages)}")
    training["not_kept"] = kept
    # the ingredients' fine-tunes join the chain that made the shipped weights: their steps, epochs and time count
    training["steps_run"] = int(training.get("steps_run", 0)) + sum(int(f.get("steps_run", 0)) for f in fine_tunes)
    training["epochs_run"] = int(training.get("epochs_run", 0)) + sum(len(f.get("history", [])) for f in fine_tunes)
    training["wall_time_seconds"] = round(float(training.get("wall_time_seconds", 0.0))
                                          + sum(float(f.get("wall_time_seconds", 0.0)) for f in fine_tunes), 1)
    training["soup"] = {"checkpoint": checkpoint, "ingredients": record[checkpoint],
                        "candidates": {k: {"ingredients": [x["label"] for x in v],
                                           **dict((selection_scores or {}).get(k, {}))}
                                       for k, v in record.items()},
                        "fine_tunes": fine_tunes}
    if "recipe" in training:
        training["soup"]["base_recipe"] = training["recipe"]
    training["recipe"] = portable_recipe(cfg)
    if greedy_trace is not None:
        training["soup"]["greedy"] = [dict(step) for step in greedy_trace]
    if rule is not None:  # the stated rule the rows were ranked by (laanet_research.selection.RULE_MEASURES)
        training["soup"]["rule"] = rule
    training["selection"] = selection
    card["metrics"] = {"synthetic_val": synthetic_val}
    card["thresholds"] = {k: bands[k] for k in ("real_below", "fake_above")}
    card["thresholds_rule"] = bands["rule"]
    if description is not None:
        card["description"] = description
    path = save_weights(rounded.half(), out_path, card)
    return json.loads(card_path_for(path).read_text())
