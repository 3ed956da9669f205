"""Weight averages ("model soups") of fine-tunes that start from the same weights.

Fine-tunes of one starting point usually stay in one basin of the loss, so the uniform average of their
weights is itself a working network. It often generalises better than any of its ingredients. A soup folder is
laid out like a training run: the base run's ``config.yaml``, one ``epoch_<k>.pt`` per soup, and
``soup.json`` naming each soup's ingredients and their sha256. ``laanet-research select`` then scores its
soups by the same rule as any run's epochs.

``greedy`` builds the *greedy soup* of Wortsman et al. (2022, "Model soups"): the candidates are ranked by their
own selection score, and, starting from the best one alone, each next candidate joins the soup when the soup with
it scores at least as well as the soup without it. Every soup tried is kept in the folder with its score, and an
interrupted search resumes where it stopped.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from laanet_model.checkpoints import file_sha256
from laanet_synth.atomic import write_json, write_torch
from laanet_train.export import load_run_config

from .selection import SELECTION_RULE

SOUP_FILE = "soup.json"
#: the greedy search's scores, in the layout of ``laanet-research select --out`` (plus the search's trace)
SCORES_FILE = "select.json"


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


def parse_ingredient(text: str) -> tuple[str, Path]:
    """``LABEL=PATH`` or ``PATH`` (labelled ``<folder>/<file>``) -> (label, path)."""
    label, sep, path = text.partition("=")
    if not sep:
        path = label
        label = f"{Path(path).parent.name}/{Path(path).name}"
    if not label or not path:
        raise SoupError(f"expected LABEL=PATH or PATH, got {text!r}")
    return label, Path(path)


def write_soup_run(out_dir: str | Path, config_run: str | Path, soups: Sequence[Sequence[str]]) -> Path:
    """Write each soup of ``soups`` (lists of ``LABEL=PATH`` or ``PATH`` of ``.pt`` state dicts) as
    ``out_dir/epoch_<k>.pt``, with ``config_run``'s ``config.yaml`` and ``soup.json`` (each ingredient's label
    and sha256), through a :class:`SoupFolder`; returns ``out_dir``."""
    if not soups:
        raise SoupError("give at least one soup")
    parsed = [[parse_ingredient(str(x)) for x in soup] for soup in soups]
    candidates: dict[str, Path] = {}
    for label, path in (x for soup in parsed for x in soup):
        if candidates.setdefault(label, path) != path:
            raise SoupError(f"the label {label!r} names two files: {candidates[label]} and {path}")
    folder = SoupFolder(out_dir, config_run, candidates)
    for soup in parsed:
        folder.write([label for label, _ in soup])
    return folder.out


def greedy_soup(singles: Mapping[str, float], evaluate: Callable[[tuple[str, ...]], float]) -> list[dict[str, Any]]:
    """The greedy soup search over candidates scored alone (``singles``: label -> score, higher is better).

    The candidates are taken in descending order of their own score (ties in the given order). The soup starts
    as the best candidate alone; each next candidate joins it when ``evaluate(soup + (candidate,))`` is at least
    the soup's score. Returns the trace, one entry per candidate: the ``ingredients`` tried, their ``score`` and
    whether they were ``kept``; the last kept entry is the soup.
    """
    if not singles:
        raise SoupError("a greedy soup needs at least one candidate")
    order = sorted(singles, key=lambda label: -singles[label])
    soup, best = (order[0],), float(singles[order[0]])
    trace: list[dict[str, Any]] = [{"ingredients": list(soup), "score": best, "kept": True}]
    for label in order[1:]:
        trial = (*soup, label)
        score = float(evaluate(trial))
        kept = score >= best
        trace.append({"ingredients": list(trial), "score": score, "kept": kept})
        if kept:
            soup, best = trial, score
    return trace


RowScorer = Callable[[Path, str], dict[str, float]]


class SoupFolder:
    """A soup folder filled one soup at a time, each scored as it is written (``soup.json`` and
    :data:`SCORES_FILE` are rewritten atomically after each one). Soups already written and scored, in this
    or an interrupted earlier search, are found by their ingredients' sha256 and not scored again. ``rule`` is the
    selection rule the rows are scored by (written beside them); a folder scored by another rule, or with another
    recipe, is refused, since its scores would not be comparable."""

    def __init__(self, out_dir: str | Path, config_run: str | Path, candidates: Mapping[str, Path],
                 rule: str = SELECTION_RULE) -> None:
        load_run_config(config_run)  # a clear error now, not at scoring time
        missing = sorted(str(p) for p in candidates.values() if not Path(p).is_file())
        if missing:
            raise SoupError(f"ingredient files not found: {', '.join(missing)}")
        self.out = Path(out_dir)
        recipe = (Path(config_run) / "config.yaml").read_bytes()
        here = self.out / "config.yaml"
        if (self.out / SCORES_FILE).is_file() and here.is_file() and here.read_bytes() != recipe:
            raise SoupError(f"{self.out} holds soups scored with another recipe than {config_run}'s config.yaml; "
                            "give another folder")
        scores = self._read(SCORES_FILE, {})
        scored_by = scores.get("rule", rule)
        if scored_by != rule:
            raise SoupError(f"{self.out} holds soups scored by another selection rule ({scored_by!r}); give another "
                            "folder or the same --swap-split")
        self.rule = rule
        self.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(config_run) / "config.yaml", here)
        self.paths = {label: Path(p) for label, p in candidates.items()}
        self.hashes = {label: file_sha256(p) for label, p in self.paths.items()}
        self.record: dict[str, list[dict[str, str]]] = self._read(SOUP_FILE, {})
        self.rows: dict[str, dict[str, float]] = scores.get("checkpoints", {})
        self._loaded: dict[str, Mapping[str, torch.Tensor]] = {}

    def _read(self, name: str, default: dict[str, Any]) -> dict[str, Any]:
        path = self.out / name
        return json.loads(path.read_text()) if path.is_file() else default

    def name_of(self, labels: Sequence[str]) -> str | None:
        key = sorted(self.hashes[x] for x in labels)
        for name, ingredients in self.record.items():
            if sorted(x["sha256"] for x in ingredients) == key:
                return name
        return None

    def write(self, labels: Sequence[str]) -> str:
        """The file name of the soup of ``labels``, written (with its ``soup.json`` entry) unless it already was;
        each ingredient file is read once however many soups share it."""
        name = self.name_of(labels)
        if name is None:
            name = f"epoch_{len(self.record)}.pt"
            for x in labels:
                if x not in self._loaded:
                    self._loaded[x] = torch.load(self.paths[x], map_location="cpu", weights_only=True)
            write_torch(self.out / name, average_weights([self._loaded[x] for x in labels]))
            self.record[name] = [{"label": x, "sha256": self.hashes[x]} for x in labels]
            write_json(self.out / SOUP_FILE, self.record, indent=2)
        return name

    def score(self, labels: Sequence[str], scorer: RowScorer) -> tuple[str, dict[str, float]]:
        """(file name, selection row) of the soup of ``labels``, written and scored unless it already was."""
        name = self.write(labels)
        if name not in self.rows:
            self.rows[name] = scorer(self.out, name)
            self.write_scores()
        return name, self.rows[name]

    def write_scores(self, extra: Mapping[str, Any] | None = None) -> None:
        write_json(self.out / SCORES_FILE, {"checkpoints": self.rows, "rule": self.rule, **(extra or {})},
                   indent=2)


def run_greedy(folder: SoupFolder, scorer: RowScorer, value: Callable[[dict[str, float]], float],
               log: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Score every candidate of ``folder`` alone, then run :func:`greedy_soup` on ``value`` of the rows; the
    result (also written to the folder's :data:`SCORES_FILE`) names the ``chosen`` soup file and the trace."""
    singles = {}
    for label in folder.paths:
        name, row = folder.score([label], scorer)
        singles[label] = value(row)
        log(f"{label} alone ({name}): {singles[label]:.4f}")

    def evaluate(labels: tuple[str, ...]) -> float:
        name, row = folder.score(labels, scorer)
        log(f"{' + '.join(labels)} ({name}): {value(row):.4f}")
        return value(row)

    trace = greedy_soup(singles, evaluate)
    for step in trace:
        step["checkpoint"] = folder.name_of(step["ingredients"])
    chosen = [s for s in trace if s["kept"]][-1]
    result = {"chosen": chosen["checkpoint"], "greedy": trace}
    folder.write_scores(result)
    return result
