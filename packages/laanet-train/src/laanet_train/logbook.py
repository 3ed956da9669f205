"""What a run reports while it trains: TensorBoard events under ``tb/``, ``metrics.csv`` (rewritten
atomically each epoch) and one JSON line per epoch on the console."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from laanet_synth.atomic import write_text
from tqdm.auto import tqdm

METRIC_FIELDS = (
    "epoch", "global_step", "lr", "train_loss", "train_hm", "train_cls", "train_cstency", "train_rescons",
    "val_loss", "val_hm", "val_cls", "val_cstency", "val_auc", "val_ap", "val_acc", "folder_auc", "folder_ap",
    "epoch_seconds", "is_best",
)


def metrics_csv(history: list[dict[str, Any]]) -> str:
    """The per-epoch rows as CSV text with the :data:`METRIC_FIELDS` columns."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(METRIC_FIELDS), extrasaction="ignore")
    w.writeheader()
    for row in history:
        w.writerow(row)
    return buf.getvalue()


class RunLog:
    """The logging of one run (main process only; ``enabled=False`` makes every call a no-op)."""

    def __init__(self, out: Path, enabled: bool, global_step: int = 0) -> None:
        self.out = out
        self.enabled = enabled
        self.writer = None
        if enabled:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(out / "tb"), purge_step=global_step or None)

    def step(self, parts: dict[str, float], global_step: int) -> None:
        """The loss parts of one optimisation step."""
        if self.writer is not None:
            for k, v in parts.items():
                self.writer.add_scalar(f"train_step/{k}", v, global_step)

    def epoch(self, row: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """One finished epoch: its scalars, ``metrics.csv`` with every row so far, and a console line."""
        if not self.enabled:
            return
        if self.writer is not None:
            for k, v in row.items():
                if k != "epoch" and isinstance(v, int | float) and not math.isnan(float(v)):
                    self.writer.add_scalar(f"epoch/{k}", v, row["epoch"])
            self.writer.flush()
        write_text(self.out / "metrics.csv", metrics_csv(history))
        tqdm.write(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
