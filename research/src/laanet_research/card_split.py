"""A full card, as export and ``report --write-card`` write it, split into the card that ships with the weights
(what a user of them needs) and the training record kept in the research workspace (how they were found)."""

from __future__ import annotations

import copy
from typing import Any

#: the keys of a shipped card besides ``training`` (which holds only ``recipe`` and ``record``)
SHIPPED_KEYS = ("format", "name", "variant", "description", "config", "preprocessing", "thresholds",
                "thresholds_rule", "metrics", "sha256", "licence", "storage_dtype")
#: where the built-in weights' training record lives, as the shipped card names it
BUILTIN_RECORD = ("research/builtin-lite0/ in the LAA-Net Studio source repository: how each training stage was run "
                  "(recipes and commands), the selection rule, what was tried and not kept, and the full record "
                  "(record.json); recipe is the one these weights were selected and calibrated with")


def selected_recipe(training: dict[str, Any]) -> dict[str, Any]:
    """The recipe weights were selected and calibrated with: a soup's (``soup.scored_with`` in records written
    before soups recorded it as ``recipe``), else ``recipe``."""
    return (training.get("soup") or {}).get("scored_with") or training["recipe"]


def split_card(card: dict[str, Any], record_pointer: str = BUILTIN_RECORD) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(shipped card, training record)`` of a full ``card``: the card keeps :data:`SHIPPED_KEYS` and
    ``training`` = the selected recipe and ``record_pointer``; the record keeps the weights' name and sha256 and
    everything else."""
    missing = [k for k in ("name", "variant", "sha256", "training") if k not in card]
    if missing:
        raise ValueError(f"the card lacks {', '.join(missing)}")
    full = copy.deepcopy(card)
    shipped = {k: full[k] for k in SHIPPED_KEYS if k in full}
    shipped["training"] = {"recipe": selected_recipe(full["training"]), "record": record_pointer}
    record = {"name": full["name"], "sha256": full["sha256"],
              **{k: v for k, v in full.items() if k not in SHIPPED_KEYS}}
    return shipped, record


def join_card(shipped: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The full card :func:`split_card` split into ``shipped`` and ``record`` (checked: it must split back into
    the same two, so a card and a record of different weights are refused)."""
    if (shipped.get("name"), shipped.get("sha256")) != (record.get("name"), record.get("sha256")):
        raise ValueError(f"the card is of {shipped.get('name')} {str(shipped.get('sha256'))[:8]}..., the record of "
                         f"{record.get('name')} {str(record.get('sha256'))[:8]}...")
    full = {k: copy.deepcopy(v) for k, v in shipped.items() if k != "training"}
    full.update(copy.deepcopy(record))
    if split_card(full, shipped.get("training", {}).get("record", BUILTIN_RECORD)) != (shipped, record):
        raise ValueError("the card and the record do not join into one full card (edited by hand?)")
    return full
