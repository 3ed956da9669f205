"""Run records: one JSON object per dataset, level and setting, appended to ``records.jsonl``.

Tables are built from these records only. Each record points at a CSV of its per-video (or per-frame) scores
so that ROC curves can be drawn later without re-running anything.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from laanet_synth.jsonl import append_jsonl, read_jsonl

RECORDS_FILE = "records.jsonl"


class RecordError(ValueError):
    """A records file is missing or holds no valid record."""


@dataclass(frozen=True)
class RunRecord:
    """What was evaluated, how, with which weights, and the result."""

    run_id: str
    created: str
    dataset: str
    split: str
    level: str
    n_frames: int
    face_policy: str
    tta: str
    weights: str
    weights_sha256: str
    package_version: str
    n_real: int
    n_fake: int
    auc: float
    ap: float
    acc: float
    eer: float
    ar: float
    mf1: float
    ci95: dict[str, list[float]]
    wall_time_s: float
    subset: str = "all"
    layout: str = "published"
    compression: str = ""
    video_score: str = "mean of frame logits, then sigmoid"
    no_face: str = "chance"
    """What a frame or video with no judged face got: "no_score" (left out, counted in ``n_no_face``), "chance"
    (0.5) or "whole_image" (the whole frame scored as one face); records written before the rule had a name
    say "0.5" (chance) or "skip" (no score)."""
    n_no_face: int = 0
    """Frame level: sampled frames with no judged face; video level: items none of whose frames had one."""
    from_recipe: list[str] = field(default_factory=list)
    """The settings (``n_frames``, ``face_policy``, ``tta``, ``no_face``) taken from the weights' recipe rather
    than given."""
    perturbation: str = "none"
    perturbation_level: int = 0
    perturbation_param: float | None = None
    scores_file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    n_expected: int = 0
    """Items (videos, or CSV rows) the dataset or split lists; 0 when unknown."""
    n_scored: int = 0
    """Items that were read and scored; fewer than ``n_expected`` makes this a partial result."""
    missing: dict[str, int] = field(default_factory=dict)
    """Why items were not scored, with how many each (files missing, left out by --limit, unreadable)."""

    @property
    def partial(self) -> bool:
        """Whether fewer items were scored than the dataset lists."""
        return 0 < self.n_scored < self.n_expected


def record_to_json(record: RunRecord) -> str:
    """One line of JSON for ``record``."""
    return json.dumps(dataclasses.asdict(record), sort_keys=True, allow_nan=False)


#: fields that differ between two runs that produced the same result (when, how long, which scores file)
RUN_FIELDS = frozenset({"run_id", "created", "wall_time_s", "scores_file", "extra"})


def record_identity(record: RunRecord) -> str:
    """What a record says, without when and how fast it was produced: two records with the same identity are
    the same result (a resumed run that appends again what a killed run had already appended)."""
    body = {k: v for k, v in dataclasses.asdict(record).items() if k not in RUN_FIELDS}
    return json.dumps(body, sort_keys=True, allow_nan=False)


def append_record(path: Path, record: RunRecord) -> bool:
    """Append ``record`` as one line-atomic write, unless ``path`` holds the same result already.

    Returns whether it was appended.
    """
    path = Path(path)
    identity = record_identity(record)
    if any(record_identity(r) == identity for r in _parse(path, read_jsonl(path).records)):
        return False
    append_jsonl(path, dataclasses.asdict(record))
    return True


#: metrics of a record: each a finite number in [0, 1]
METRIC_FIELDS = ("auc", "ap", "acc", "eer", "ar", "mf1")
_COUNT_FIELDS = ("n_frames", "n_real", "n_fake", "n_no_face", "perturbation_level", "n_expected", "n_scored")
_TEXT_FIELDS = ("run_id", "dataset", "split", "level", "face_policy", "tta", "weights", "weights_sha256", "subset")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_record(record: RunRecord) -> RunRecord:
    """``record`` if its fields have the types and ranges a table needs; ``ValueError`` naming the first that
    does not (a metric that is text, NaN or outside [0, 1], a count that is not a whole number...)."""
    for name in METRIC_FIELDS:
        value = getattr(record, name)
        if not _is_number(value) or not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} is {value!r}; expected a number from 0 to 1")
    for name in _COUNT_FIELDS:
        value = getattr(record, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} is {value!r}; expected a whole number >= 0")
    for name in _TEXT_FIELDS:
        if not isinstance(getattr(record, name), str):
            raise ValueError(f"{name} is {getattr(record, name)!r}; expected text")
    if not isinstance(record.ci95, dict) or not all(
            isinstance(v, list) and len(v) == 2 and all(_is_number(x) for x in v) for v in record.ci95.values()):
        raise ValueError(f"ci95 is {record.ci95!r}; expected metric -> [low, high]")
    if not isinstance(record.scores_file, str) or not isinstance(record.missing, dict):
        raise ValueError("scores_file or missing has the wrong type")
    return record


def _parse(path: Path, objs: list[Any]) -> list[RunRecord]:
    names = {f.name for f in dataclasses.fields(RunRecord)}
    records = []
    for obj in objs:
        try:
            records.append(check_record(RunRecord(**{k: v for k, v in obj.items() if k in names})))
        except (AttributeError, TypeError, ValueError) as exc:
            warnings.warn(f"{path}: skipped a malformed record ({exc})", stacklevel=3)
    return records


def read_records(path: Path) -> list[RunRecord]:
    """All valid records of a JSONL file (a directory means its ``records.jsonl``), each result once (the
    latest copy). Torn lines (a run killed while writing) and malformed records are skipped with a warning."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORDS_FILE
    if not path.is_file():
        raise RecordError(f"expected a records file at {path} (run 'laanet-bench evaluate' first)")
    try:
        contents = read_jsonl(path)
    except OSError as exc:
        raise RecordError(f"{path}: cannot be read ({exc.strerror})") from exc
    if contents.skipped_lines:
        warnings.warn(contents.skipped_message(path), stacklevel=2)
    unique: dict[str, RunRecord] = {}
    with warnings.catch_warnings(record=True) as malformed:
        warnings.simplefilter("always")
        parsed = _parse(path, contents.records)
    for w in malformed:
        warnings.warn(w.message, stacklevel=2)
    for record in parsed:
        unique.pop(record_identity(record), None)
        unique[record_identity(record)] = record
    if not unique:
        why = f"; {malformed[0].message}" if malformed else (
            f"; {contents.skipped_message(path)}" if contents.skipped_lines else " (the file is empty)")
        raise RecordError(f"{path} holds no valid record{why}")
    return list(unique.values())
