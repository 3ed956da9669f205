"""Weight averages ("model soups") of fine-tunes that start from the same weights.

Fine-tunes of one starting point usually stay in one basin of the loss, so the uniform average of their
weights is itself a working network. It often generalises better than any of its ingredients. A soup folder is
laid out like a training run: the base run's ``config.yaml``, one ``epoch_<k>.pt`` per soup, and
``soup.json`` naming each soup's ingredients and their sha256. ``python -m laanet_train.realval select`` then
scores its soups by the same rule as any run's epochs.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from laanet_model.checkpoints import file_sha256
from laanet_synth.atomic import write_json, write_torch

from .export import load_run_config

SOUP_FILE = "soup.json"


class SoupError(ValueError):
    """Ingredients that cannot be averaged (different tensors or shapes), or a soup without ingredients."""


def average_weights(state_dicts: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The uniform average of state dicts with the same tensors: floating-point tensors are averaged in float32
    and returned in their own dtype; integer tensors (BatchNorm's ``num_batches_tracked``) are taken from the
    first ingredient."""
    if not state_dicts:
        raise SoupError("a soup needs at least one ingredient")
    first = state_dicts[0]
    for i, sd in enumerate(state_dicts[1:], start=1):
        if set(sd) != set(first):
            diff = sorted(set(sd) ^ set(first))
            raise SoupError(f"ingredient {i} holds other tensors than ingredient 0 (e.g. {diff[:3]})")
        for k, v in sd.items():
            if v.shape != first[k].shape:
                raise SoupError(f"ingredient {i}: {k} has shape {tuple(v.shape)}, ingredient 0 {tuple(first[k].shape)}")
    out: dict[str, torch.Tensor] = {}
    for k, v in first.items():
        if v.is_floating_point():
            total = torch.zeros(v.shape, dtype=torch.float32)
            for sd in state_dicts:
                total += sd[k].detach().to("cpu", torch.float32)
            out[k] = (total / len(state_dicts)).to(v.dtype)
        else:
            out[k] = v.detach().to("cpu").clone()
    return out


def write_soup_run(out_dir: str | Path, config_run: str | Path, soups: Sequence[Sequence[str | Path]]) -> Path:
    """Write each soup of ``soups`` (lists of ``.pt`` state dicts) as ``out_dir/epoch_<k>.pt``, with
    ``config_run``'s ``config.yaml`` and ``soup.json``; returns ``out_dir``."""
    if not soups:
        raise SoupError("give at least one soup")
    load_run_config(config_run)  # a clear error now, not at scoring time
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(Path(config_run) / "config.yaml", out / "config.yaml")
    record: dict[str, list[dict[str, str]]] = {}
    for k, ingredients in enumerate(soups):
        paths = [Path(p) for p in ingredients]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SoupError(f"ingredient files not found: {', '.join(missing)}")
        weights = average_weights([torch.load(p, map_location="cpu", weights_only=True) for p in paths])
        write_torch(out / f"epoch_{k}.pt", weights)
        record[f"epoch_{k}.pt"] = [{"file": str(p), "sha256": file_sha256(p)} for p in paths]
    write_json(out / SOUP_FILE, record, indent=2)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m laanet_train.soup OUT_DIR --config-from RUN_DIR --soup A.pt,B.pt [--soup ...]``."""
    p = argparse.ArgumentParser(prog="python -m laanet_train.soup",
                                description="Average the weights of fine-tunes that share a start into a run-like "
                                            "folder of soups (score it with `python -m laanet_train.realval select`).")
    p.add_argument("out_dir")
    p.add_argument("--config-from", required=True, help="the run whose config.yaml (recipe) the soups are scored with")
    p.add_argument("--soup", action="append", required=True,
                   help="comma-separated .pt state dicts averaged into one soup (repeat for several soups)")
    args = p.parse_args(argv)
    try:
        out = write_soup_run(args.out_dir, args.config_from, [s.split(",") for s in args.soup])
    except SoupError as exc:
        p.error(str(exc))
    print(json.dumps(json.loads((out / SOUP_FILE).read_text()), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
