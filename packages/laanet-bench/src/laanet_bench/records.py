"""Run records: one JSON object per dataset, level and setting, appended to ``records.jsonl``.

Tables are built from these records only. Each record points at a CSV of its per-video (or per-frame) scores
so that ROC curves can be drawn later without re-running anything.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    no_face: str = "0.5"
    n_no_face: int = 0
    perturbation: str = "none"
    perturbation_level: int = 0
    perturbation_param: float | None = None
    scores_file: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def record_to_json(record: RunRecord) -> str:
    """One line of JSON for ``record``."""
    return json.dumps(dataclasses.asdict(record), sort_keys=True, allow_nan=False)


def append_record(path: Path, record: RunRecord) -> None:
    """Append ``record`` as one line with a single write, flushed and fsynced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (record_to_json(record) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_records(path: Path) -> list[RunRecord]:
    """All valid records of a JSONL file (a directory means its ``records.jsonl``); bad lines are skipped
    with a warning (for instance a line cut short when a run was killed)."""
    path = Path(path)
    if path.is_dir():
        path = path / RECORDS_FILE
    if not path.is_file():
        raise RecordError(f"expected a records file at {path} (run 'laanet-bench evaluate' first)")
    names = {f.name for f in dataclasses.fields(RunRecord)}
    records = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            records.append(RunRecord(**{k: v for k, v in obj.items() if k in names}))
        except (ValueError, TypeError) as exc:
            warnings.warn(f"{path}:{n}: skipped a malformed record ({exc})", stacklevel=2)
    return records
