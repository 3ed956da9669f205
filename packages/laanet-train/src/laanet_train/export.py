"""Turn a finished run into shippable weights: fp16 safetensors + a JSON card with recipe and metrics."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from laanet_model.checkpoints import card_path_for, save_weights
from laanet_model.variants import create_model
from laanet_model.weights import FOLDER_PROTOCOL, preprocessing_to_dict
from laanet_synth.atomic import write_json

from .calibration import calibrate_bands
from .config import TrainConfig, config_from_dict, config_to_dict
from .data import EXTRA_FACES_FOLDER, extra_faces, face_splits, validation_dataset
from .state import BEST_FILE, STATE_FILE, load_state
from .validation import run_detector, run_preprocessing, synthetic_validation


def selection_recipe(card: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe (a config mapping) a card's weights were selected and calibrated with, ``training.recipe``, and
    so the one their preprocessing follows (:func:`~laanet_train.validation.run_preprocessing` of it)."""
    return card["training"]["recipe"]


def load_run_config(run_dir: str | Path) -> TrainConfig:
    """The resolved recipe a run wrote to ``config.yaml``."""
    return config_from_dict(yaml.safe_load((Path(run_dir) / "config.yaml").read_text()))


def load_run_model(run_dir: str | Path, weights_file: str = BEST_FILE) -> tuple[TrainConfig, Any]:
    """A run's recipe and its network with the weights of ``weights_file`` (``best.pt``, ``epoch_<k>.pt``)."""
    cfg = load_run_config(run_dir)
    model = create_model(cfg.model.variant, pretrained=False, input_size=cfg.data.input_size, **cfg.model.kwargs)
    model.load_state_dict(torch.load(Path(run_dir) / weights_file, map_location="cpu", weights_only=True))
    return cfg, model


#: the real calibration faces of an export: those of the run's synthetic validation
EXPORT_CALIBRATION = "the real faces of the run's synthetic validation pairs, as cut for the network"


def exported_validation(model: Any, cfg: TrainConfig) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``model`` at the exported precision (float16 weights cast back to float32), its synthetic-validation
    figures for a card and its verdict bands (:func:`~laanet_train.calibration.calibrate_bands` on the
    validation's real faces): the validation is re-scored through the Detector with the run's recipe."""
    rounded = copy.deepcopy(model).half().float()
    val_set = validation_dataset(cfg.data, cfg.seed)
    scores = synthetic_validation(run_detector(rounded, cfg, "cpu"), val_set, cfg)
    val = scores.metrics
    figures = {"auc": round(float(val["val_auc"]), 4), "ap": round(float(val["val_ap"]), 4),
               "acc_at_0.5": round(float(val["val_acc"]), 4), "loss": round(float(val["val_loss"]), 4),
               "n_pairs": len(val_set)}
    return rounded, figures, calibrate_bands(scores.probs[scores.labels == 0], EXPORT_CALIBRATION)


def portable_recipe(cfg: TrainConfig) -> dict[str, Any]:
    """A run's recipe as a card states it: without machine paths (the data folders and lists, the run folder and
    the start weights are given on the command line; the card's training section names what they held)."""
    data = dataclasses.replace(cfg.data, root=None, val_fakes_dir=None, extra_csv=None, extra_root=None)
    return config_to_dict(dataclasses.replace(cfg, data=data, model=dataclasses.replace(cfg.model, init_from=None),
                                              train=dataclasses.replace(cfg.train, output_dir=None)))


def extra_data_statement(cfg: TrainConfig, run_dir: Path) -> str:
    """What a run's labelled image list (``data.extra_csv``) added to its training data, for the card ("" when
    it used none): how many real faces of which split, the share of pairs made from them, and any real swaps."""
    d = cfg.data
    if not d.extra_csv:
        return ""
    extra = extra_faces(d, faces_dir=run_dir / EXTRA_FACES_FOLDER)
    text = (f"; plus {len(extra.reals)} real faces of the {d.extra_split!r} split of {Path(d.extra_csv).name} "
            f"(RetinaFace boxes and landmarks)")
    if d.extra_share:
        text += f", from which alone {d.extra_share:.0%} of the training pairs were made"
    if d.swap_share:
        text += (f"; {d.swap_share:.0%} of the training pairs were real face swaps of that split "
                 f"({len(extra.swaps)} images) paired with their real frames")
    else:
        text += "; no real face swap was trained on"
    return text


def run_progress(run_dir: str | Path) -> dict[str, Any]:
    """A run's steps, wall time and per-epoch history, from its saved state: what a card records of each stage."""
    state = load_state(Path(run_dir) / STATE_FILE)
    return {"steps_run": int(state["global_step"]), "wall_time_seconds": round(float(state["elapsed"]), 1),
            "history": json.loads(state["history"])}


def chain_entry(card: dict[str, Any]) -> dict[str, Any]:
    """Exported weights' full ``card`` as the first stage of the training chain of weights trained on from them:
    their name and sha256, their steps, epochs and wall time, and their whole training section."""
    tr = card.get("training") or {}
    return {"exported_weights": card.get("name"), "sha256": card.get("sha256"),
            "steps_run": int(tr.get("steps_run", 0)), "epochs_run": int(tr.get("epochs_run", 0)),
            "wall_time_seconds": float(tr.get("wall_time_seconds", 0.0)), "history": [], "training": tr}


def export_run(
    run_dir: str | Path,
    out_path: str | Path,
    *,
    name: str,
    description: str = "",
    eval_folder: str | Path | None = None,
    eval_name: str = "dfdc_crops",
    extra: dict[str, Any] | None = None,
    earlier_runs: tuple[str | Path, ...] = (),
    checkpoint: str = BEST_FILE,
    selection: str | None = None,
    initialised_from: str | Path | None = None,
) -> dict[str, Any]:
    """Write the run's best weights (by validation AUC) as float16 safetensors and its card.

    ``checkpoint`` picks another weights file of the run (``epoch_<k>.pt``, kept with
    ``train.keep_epoch_weights``), chosen by the rule ``selection`` states (it goes on the card).
    ``initialised_from`` is the card of exported weights the oldest run started from: its training section
    is kept on the card, so the whole chain of training stays described.

    The synthetic validation is re-run on the best weights (for the verdict thresholds); with
    ``eval_folder`` the exported file is then loaded through :class:`~laanet_model.detector.Detector` and
    scored on that folder (see :mod:`laanet_train.evaluate`), and the metrics go into the card.
    ``earlier_runs`` are the runs this one was initialised from (``model.init_from``), oldest first: their
    recipes, histories, steps and wall time are added to the card's training section. Returns the card.
    """
    from laanet_model.detector import Detector

    from .evaluate import score_folder

    run_dir = Path(run_dir)
    cfg, model = load_run_model(run_dir, checkpoint)
    best = json.loads((run_dir / (Path(checkpoint).stem + ".json")).read_text())
    state = load_state(run_dir / STATE_FILE)
    history = json.loads(state["history"])

    rounded, synthetic_val, thresholds = exported_validation(model, cfg)
    train_idx, val_idx = face_splits(cfg.data, cfg.seed)

    stages = []
    for earlier in earlier_runs:
        stages.append({
            "recipe": config_to_dict(load_run_config(earlier)),
            **run_progress(earlier),
            "best": json.loads((Path(earlier) / "best.json").read_text()),
        })
    if initialised_from is not None:
        stages.insert(0, chain_entry(json.loads(Path(initialised_from).read_text())))
    pre = run_preprocessing(cfg)
    card: dict[str, Any] = {
        "name": name,
        "description": description,
        "variant": cfg.model.variant,
        "storage_dtype": "float16 (the loader copies the tensors into a float32 network)",
        "preprocessing": preprocessing_to_dict(pre),
        "training": {
            "data": f"LFW deep-funneled, identities of {cfg.data.train_list}: "
                    f"{len(np.unique(train_idx.groups))} people, {len(train_idx)} faces with dlib landmarks"
                    + extra_data_statement(cfg, run_dir),
            "validation": f"identity-disjoint: {cfg.data.val_list}, {len(val_idx)} faces "
                          f"({len(np.unique(val_idx.groups))} people), one fixed SBI fake each",
            "synthesis": cfg.data.synthesis,
            "recipe": portable_recipe(cfg),
            "earlier_stages": stages,
            "epochs_run": len(history) + sum(st.get("epochs_run", len(st["history"])) for st in stages),
            "steps_run": int(state["global_step"]) + sum(st["steps_run"] for st in stages),
            "best_epoch": best["epoch"],
            "best_step": best["global_step"],
            "seed": cfg.seed,
            "wall_time_seconds": round(float(state["elapsed"]) + sum(st["wall_time_seconds"] for st in stages), 1),
            "selection": selection or "best synthetic-validation AUC (ties: lower validation loss); no test data used",
            "history": history,
        },
        "metrics": {
            "synthetic_val": synthetic_val,
        },
        "thresholds": {k: thresholds[k] for k in ("real_below", "fake_above")},
        "thresholds_rule": thresholds["rule"],
        "licence": "MIT (weights); trained on LFW images, which are for research use",
        **(extra or {}),
    }
    path = save_weights(rounded.half(), out_path, card)
    if eval_folder is not None:
        det = Detector.from_weights(path, device="cpu")
        scores = score_folder(det, eval_folder, progress=True)
        m = scores.metrics()
        card = json.loads(card_path_for(path).read_text())
        card["metrics"][eval_name] = {
            "auc": round(m["auc"], 4), "ap": round(m["ap"], 4), "acc_at_0.5": round(m["acc_at_0.5"], 4),
            "n_real": m["n_real"], "n_fake": m["n_fake"], "no_face_found": m["no_face_found"],
            "protocol": FOLDER_PROTOCOL,
        }
        write_json(card_path_for(path), card, indent=2)
    return card


def main(argv: list[str] | None = None) -> int:
    """``python -m laanet_train.export RUN_DIR OUT.safetensors --name NAME [--eval-folder DIR]``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m laanet_train.export",
                                description="Write a run's best weights as float16 safetensors + JSON card.")
    p.add_argument("run_dir")
    p.add_argument("out")
    p.add_argument("--name", required=True)
    p.add_argument("--description", default="")
    p.add_argument("--eval-folder", default=None, help="folder with real/ and fake/ images to score")
    p.add_argument("--eval-name", default="dfdc_crops")
    p.add_argument("--earlier-run", action="append", default=[],
                   help="a run this one was initialised from (repeat, oldest first)")
    p.add_argument("--checkpoint", default=BEST_FILE, help="the run's weights file to export (default: %(default)s)")
    p.add_argument("--selection", default=None, help="the rule that chose --checkpoint, for the card")
    p.add_argument("--initialised-from", default=None,
                   help="the JSON card of the exported weights the oldest run started from")
    args = p.parse_args(argv)
    card = export_run(args.run_dir, args.out, name=args.name, description=args.description,
                      eval_folder=args.eval_folder, eval_name=args.eval_name,
                      earlier_runs=tuple(args.earlier_run), checkpoint=args.checkpoint,
                      selection=args.selection, initialised_from=args.initialised_from)
    print(json.dumps(card["metrics"], indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
