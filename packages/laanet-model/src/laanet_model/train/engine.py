"""The resumable LAA-Net training engine.

One run lives in ``train.output_dir``:

- ``state.pt``: everything a bit-exact resume needs (model, optimiser, schedule, epoch, step, RNG states,
  running sums, metric history, best so far), written atomically every ``save_every_steps`` steps and at
  the end of every epoch;
- ``best.pt``: the model weights with the best validation AUC so far (ties: lower validation loss), and
  ``best.json`` describing them; ``last.pt``: the weights after the last finished epoch;
- ``metrics.csv`` (rewritten atomically each epoch) and TensorBoard events under ``tb/``;
- ``config.yaml``: the resolved recipe.

Data order and synthesis are pure functions of (seed, epoch, position), so a run that is killed and
resumed ends with the same weights as one that never stopped.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from laanet_synth.dataset import collate_pairs, to_tensor
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from ..losses import LossWeights, laanet_loss
from ..optim import SAM, linear_decay_factor
from ..variants import create_model
from .config import TrainConfig, config_to_dict
from .data import EpochBatchSampler, LabelledImages, build_datasets, crop_recipe, epoch_batches
from .metrics import accuracy, average_precision, roc_auc
from .state import ResumeError, atomic_torch_save, atomic_write_text, capture_rng, load_state, restore_rng

STATE_FILE = "state.pt"
BEST_FILE = "best.pt"
LAST_FILE = "last.pt"
METRIC_FIELDS = (
    "epoch", "global_step", "lr", "train_loss", "train_hm", "train_cls", "train_cstency", "val_loss",
    "val_hm", "val_cls", "val_cstency", "val_auc", "val_ap", "val_acc", "folder_auc", "folder_ap",
    "epoch_seconds", "is_best",
)
#: config fields that may change between a save and its resume without changing the results
RESUME_FREE = {("train", "stop_after_steps"), ("train", "progress"), ("data", "num_workers"),
               ("train", "output_dir"), ("train", "num_threads"), ("train", "keep_epoch_weights")}


@dataclass(frozen=True)
class FitResult:
    """What a finished (or deliberately stopped) run reports."""

    output_dir: Path
    epochs_done: int
    global_step: int
    best_epoch: int | None
    best_auc: float | None
    stopped_early: bool
    history: tuple[dict[str, Any], ...]


# --- schedule ---------------------------------------------------------------------------------------------
def lr_factor(cfg: TrainConfig, epoch: int, step_in_epoch: int, steps_per_epoch: int) -> float:
    """Learning-rate multiplier at (epoch, step): a pure function, so the schedule resumes exactly."""
    s = cfg.schedule
    n_epochs = cfg.train.epochs
    if s.name == "constant":
        f = 1.0
    elif s.name == "linear_decay":
        start = n_epochs // 4 if s.start_decay is None else s.start_decay
        f = linear_decay_factor(epoch, n_epochs, start, s.booster)
    else:  # warmup_cosine, per step
        total = n_epochs * steps_per_epoch
        step = epoch * steps_per_epoch + step_in_epoch
        if s.warmup_steps and step < s.warmup_steps:
            f = (step + 1) / s.warmup_steps
        else:
            span = max(1, total - s.warmup_steps)
            t = min(1.0, (step - s.warmup_steps) / span)
            f = s.min_factor + (1 - s.min_factor) * 0.5 * (1 + math.cos(math.pi * t))
    return f


# --- environment ------------------------------------------------------------------------------------------
def pick_device(name: str) -> torch.device:
    """``auto`` -> the local CUDA device when there is one, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device={name!r} but CUDA is not available")
    return dev


def _dist_info() -> tuple[int, int]:
    """(rank, world size) when launched by torchrun (``WORLD_SIZE`` and ``RANK`` set), else (0, 1).

    Under torchrun the process group is joined (NCCL on CUDA, Gloo on CPU), even with one process."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def make_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Adam / AdamW / SAM(Adam) over all parameters (frozen ones simply get no gradient)."""
    o = cfg.optim
    params = list(model.parameters())
    if o.name == "sam":
        return SAM(params, torch.optim.Adam, rho=o.rho, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)
    return torch.optim.Adam(params, lr=o.lr, weight_decay=o.weight_decay)


def build_model(cfg: TrainConfig) -> nn.Module:
    """The recipe's network: a fresh variant (with its built-in backbone weights when ``pretrained``), or
    one initialised from ``model.init_from``."""
    m = cfg.model
    model = create_model(m.variant, pretrained=m.pretrained and not m.init_from, input_size=cfg.data.input_size,
                         **m.kwargs)
    if m.init_from:
        from ..checkpoints import load_checkpoint, load_state_dict_checked

        path = Path(m.init_from)
        if path.suffix in (".pt", ".pth") and path.is_file():
            sd = torch.load(path, map_location="cpu", weights_only=True)
            sd = sd.get("model", sd) if isinstance(sd, dict) else sd
            load_state_dict_checked(model, sd, what=str(path))
        else:
            source = load_checkpoint(m.init_from)
            load_state_dict_checked(model, source.state_dict(), what=str(m.init_from))
    return model


def _fork_safe_opencv() -> None:
    """Stop OpenCV's thread pool before loader workers are forked: a child forked while the pool exists
    hangs in its first OpenCV call that touches the pool. Workers then run OpenCV single-threaded."""
    import cv2

    cv2.setNumThreads(0)


def _targets(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"hm": batch["hm"], "cstency": batch["cst"], "label": batch["label"]}


class Trainer:
    """Train one recipe. ``Trainer(cfg).fit()`` starts or resumes the run in ``cfg.train.output_dir``."""

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        datasets: tuple[Dataset, Dataset] | None = None,
        model_factory: Callable[[TrainConfig], nn.Module] | None = None,
    ) -> None:
        self.cfg = cfg
        self.out = Path(cfg.train.output_dir)
        self.rank, self.world = _dist_info()
        self.device = pick_device(cfg.train.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed % 2**32)
        self.train_set, self.val_set = datasets or build_datasets(cfg.data, cfg.seed)
        self.model = (model_factory or build_model)(cfg).to(self.device)
        self.channels_last = cfg.train.channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.net: nn.Module = self.model
        self.distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        if self.distributed:
            self.net = nn.parallel.DistributedDataParallel(
                self.model,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.train.freeze_backbone_epochs > 0,
            )
        self.optimizer = make_optimizer(cfg, self.model)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.loss_weights = LossWeights(hm=cfg.loss.hm, cls=cfg.loss.cls, cstency=cfg.loss.cstency)
        self.use_bf16 = cfg.train.bf16 and self.device.type == "cuda"
        self.steps_per_epoch = cfg.train.steps_per_epoch or len(self.train_set) // (
            cfg.data.batch_pairs * self.world
        )
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{len(self.train_set)} training faces cannot fill one batch of {cfg.data.batch_pairs} pairs"
            )
        self._folder: tuple[torch.Tensor, np.ndarray] | None = None
        self.last_val_scores: tuple[np.ndarray, np.ndarray] | None = None

    # --- helpers -----------------------------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.use_bf16:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        if self.channels_last:
            out["image"] = out["image"].contiguous(memory_format=torch.channels_last)
        return out

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with self._autocast():
            outputs = self.net(batch["image"])
        outputs = {k: v.float() for k, v in outputs.items()}
        return laanet_loss(outputs, _targets(batch), self.loss_weights)

    def _set_lr(self, epoch: int, step: int) -> float:
        f = lr_factor(self.cfg, epoch, step, self.steps_per_epoch)
        for g, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            g["lr"] = base * f
        return self.base_lrs[0] * f

    def _set_freeze(self, epoch: int) -> None:
        frozen = epoch < self.cfg.train.freeze_backbone_epochs
        freeze = getattr(self.model, "freeze_backbone", None)
        if freeze is not None:
            freeze(frozen)

    def _clip(self) -> None:
        if self.cfg.optim.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step (two forward/backward passes under SAM)."""
        self.net.train()
        self.optimizer.zero_grad(set_to_none=True)
        parts = self._forward_loss(batch)
        parts["loss"].backward()
        self._clip()
        if isinstance(self.optimizer, SAM):
            self.optimizer.first_step(zero_grad=True)
            self._forward_loss(batch)["loss"].backward()
            self._clip()
            self.optimizer.second_step(zero_grad=True)
        else:
            self.optimizer.step()
        return {k: float(v.detach()) for k, v in parts.items()}

    def _loader(self, dataset: Dataset, batch_sampler: Any, seed: int) -> DataLoader:
        """A loader whose worker seeding comes from its own generator, never from the global torch RNG
        (the global stream drives dropout and must resume exactly)."""
        workers = self.cfg.data.num_workers
        if workers:
            _fork_safe_opencv()
        return DataLoader(
            dataset,
            batch_sampler=batch_sampler,
            num_workers=workers,
            collate_fn=collate_pairs,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
            prefetch_factor=2 if workers else None,
            generator=torch.Generator().manual_seed(seed),
        )

    # --- validation --------------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss and AUC/AP/accuracy on the identity-disjoint synthetic validation pairs (and the folder)."""
        self.model.eval()
        if hasattr(self.val_set, "set_epoch"):
            self.val_set.set_epoch(0)
        n = len(self.val_set)
        bs = self.cfg.data.batch_pairs
        order = [list(range(i, min(n, i + bs))) for i in range(0, n, bs)]
        sums = {"loss": 0.0, "hm": 0.0, "cls": 0.0, "cstency": 0.0}
        logits, labels = [], []
        count = 0
        for batch in tqdm(self._loader(self.val_set, order, self.cfg.seed), desc="val", leave=False,
                          disable=not (self.cfg.train.progress and self.is_main)):
            batch = self._to_device(batch)
            with self._autocast():
                outputs = self.model(batch["image"])
            outputs = {k: v.float() for k, v in outputs.items()}
            parts = laanet_loss(outputs, _targets(batch), self.loss_weights)
            b = batch["image"].shape[0]
            for k in sums:
                sums[k] += float(parts[k]) * b
            count += b
            logits.append(outputs["cls"].reshape(-1).cpu().numpy())
            labels.append(batch["label"].reshape(-1).cpu().numpy())
        z = np.concatenate(logits).astype(np.float64)
        y = np.concatenate(labels).astype(np.int64)
        p = 1.0 / (1.0 + np.exp(-z))
        self.last_val_scores = (y, p)
        res = {f"val_{k}": v / count for k, v in sums.items()}
        res.update(val_auc=roc_auc(y, p), val_ap=average_precision(y, p), val_acc=accuracy(y, p))
        if self.cfg.data.val_fakes_dir:
            res.update(self._validate_folder())
        return res

    def _folder_inputs(self) -> tuple[torch.Tensor, np.ndarray]:
        """Crops of a ``real/`` + ``fake/`` folder, found and cut once like the Detector does."""
        if self._folder is None:
            from laanet_synth.crops import crop_face, warp_to_size
            from laanet_synth.faces import make_face_finder
            from laanet_synth.imageio import read_image

            items = LabelledImages.from_folder(self.cfg.data.val_fakes_dir or "")
            recipe = crop_recipe(self.cfg.data)
            finder = make_face_finder("dlib")
            tensors = []
            for path in items.paths:
                img = read_image(path)
                faces = finder.find(img)
                if faces:
                    face = max(faces, key=lambda f: float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
                    crop = crop_face(img, face, recipe).image
                else:
                    crop = warp_to_size(img, recipe.input_size)
                tensors.append(to_tensor(crop, self.cfg.data.mean, self.cfg.data.std))
            self._folder = (torch.stack(tensors), np.asarray(items.labels))
        return self._folder

    @torch.no_grad()
    def _validate_folder(self) -> dict[str, float]:
        x_all, y = self._folder_inputs()
        probs = []
        for i in range(0, len(x_all), 16):
            x = x_all[i : i + 16].to(self.device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                z = self.model(x, heads=("cls",))["cls"].float()
            probs.append(torch.sigmoid(z).reshape(-1).cpu().numpy())
        p = np.concatenate(probs)
        return {"folder_auc": roc_auc(y, p), "folder_ap": average_precision(y, p)}

    # --- state ---------------------------------------------------------------------------------------------
    def _state(self, epoch: int, step: int, run: dict[str, Any]) -> dict[str, Any]:
        return {
            "format": "laanet-train-state/1",
            "config": config_to_dict(self.cfg),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": {"epoch": epoch, "step": step, "base_lrs": list(self.base_lrs)},
            "epoch": epoch,
            "step": step,
            "global_step": run["global_step"],
            "rng": capture_rng(),
            "sums": dict(run["sums"]),
            "history": json.dumps(run["history"]),
            "best": json.dumps(run["best"]),
            "elapsed": run["elapsed"] + (time.time() - run["t0"]),
        }

    def save_state(self, epoch: int, step: int, run: dict[str, Any]) -> None:
        if self.is_main:
            atomic_torch_save(self._state(epoch, step, run), self.out / STATE_FILE)

    def _check_compatible(self, saved: dict[str, Any]) -> None:
        mine = config_to_dict(self.cfg)
        theirs = saved.get("config", {})
        diffs = []
        for section, fields in mine.items():
            if not isinstance(fields, dict):
                if theirs.get(section) != fields:
                    diffs.append(section)
                continue
            for k, v in fields.items():
                if (section, k) in RESUME_FREE:
                    continue
                if theirs.get(section, {}).get(k) != v:
                    diffs.append(f"{section}.{k}")
        if diffs:
            raise ResumeError(
                f"{self.out / STATE_FILE} was written by a different recipe (differs in {', '.join(diffs)}); "
                "use another train.output_dir or delete the old run"
            )

    def _resume(self) -> tuple[int, int, dict[str, Any]]:
        run: dict[str, Any] = {
            "global_step": 0, "sums": {}, "history": [], "best": {}, "elapsed": 0.0, "t0": time.time(),
        }
        path = self.out / STATE_FILE
        if not path.is_file():
            return 0, 0, run
        saved = load_state(path)
        if saved.get("format") != "laanet-train-state/1":
            raise ResumeError(f"{path}: not a training state written by this engine")
        self._check_compatible(saved)
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        restore_rng(saved["rng"])
        run.update(
            global_step=int(saved["global_step"]), sums=dict(saved["sums"]),
            history=json.loads(saved["history"]), best=json.loads(saved["best"]),
            elapsed=float(saved["elapsed"]),
        )
        return int(saved["epoch"]), int(saved["step"]), run

    def _write_metrics(self, history: list[dict[str, Any]]) -> None:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(METRIC_FIELDS), extrasaction="ignore")
        w.writeheader()
        for row in history:
            w.writerow(row)
        atomic_write_text(self.out / "metrics.csv", buf.getvalue())

    def _save_weights(self, name: str, info: dict[str, Any] | None = None) -> None:
        sd = {k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        atomic_torch_save(sd, self.out / name)
        if info is not None:
            atomic_write_text(self.out / (Path(name).stem + ".json"), json.dumps(info, indent=2))

    # --- the loop --------------------------------------------------------------------------------------------
    def fit(self) -> FitResult:
        """Run (or resume) until ``train.epochs`` are done or ``train.stop_after_steps`` is reached."""
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        epoch, start_step, run = self._resume()
        if self.is_main:
            atomic_write_text(self.out / "config.yaml", yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
        writer = None
        if self.is_main:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.out / "tb"), purge_step=run["global_step"] or None)
        stopped = False
        bs = cfg.data.batch_pairs * self.world
        try:
            while epoch < cfg.train.epochs and not stopped:
                t_epoch = time.time()
                self._set_freeze(epoch)
                if hasattr(self.train_set, "set_epoch"):
                    self.train_set.set_epoch(epoch)
                order = epoch_batches(len(self.train_set), bs, cfg.seed, epoch, self.steps_per_epoch)
                sampler = EpochBatchSampler(order, start_step, self.rank, self.world)
                sums = run["sums"] if start_step else {}
                bar = tqdm(total=self.steps_per_epoch, initial=start_step, desc=f"epoch {epoch}",
                           disable=not (cfg.train.progress and self.is_main), dynamic_ncols=True)
                step = start_step
                lr = self._set_lr(epoch, step)
                for batch in self._loader(self.train_set, sampler, self.cfg.seed * 1000 + epoch):
                    lr = self._set_lr(epoch, step)
                    parts = self.train_step(self._to_device(batch))
                    for k, v in parts.items():
                        sums[k] = sums.get(k, 0.0) + v
                    sums["n"] = sums.get("n", 0) + 1
                    step += 1
                    run["global_step"] += 1
                    run["sums"] = sums
                    bar.update(1)
                    bar.set_postfix(loss=f"{parts['loss']:.3f}", cls=f"{parts['cls']:.3f}", lr=f"{lr:.2e}")
                    if writer is not None:
                        for k, v in parts.items():
                            writer.add_scalar(f"train_step/{k}", v, run["global_step"])
                    if cfg.train.stop_after_steps and run["global_step"] >= cfg.train.stop_after_steps:
                        stopped = True
                        break
                    if run["global_step"] % cfg.train.save_every_steps == 0 and step < self.steps_per_epoch:
                        self.save_state(epoch, step, run)
                bar.close()
                if stopped:
                    break
                row = self._end_epoch(epoch, run, sums, lr, time.time() - t_epoch, writer)
                run["history"].append(row)
                epoch += 1
                start_step = 0
                run["sums"] = {}
                if self.is_main:
                    self._write_metrics(run["history"])
                self.save_state(epoch, 0, run)
        finally:
            if writer is not None:
                writer.close()
        best = run["best"]
        return FitResult(
            output_dir=self.out,
            epochs_done=epoch,
            global_step=run["global_step"],
            best_epoch=best.get("epoch"),
            best_auc=best.get("val_auc"),
            stopped_early=stopped,
            history=tuple(run["history"]),
        )

    def _end_epoch(self, epoch: int, run: dict[str, Any], sums: dict[str, float], lr: float, seconds: float,
                   writer: Any) -> dict[str, Any]:
        n = max(1, int(sums.get("n", 1)))
        row: dict[str, Any] = {
            "epoch": epoch, "global_step": run["global_step"], "lr": lr,
            "train_loss": sums.get("loss", 0.0) / n, "train_hm": sums.get("hm", 0.0) / n,
            "train_cls": sums.get("cls", 0.0) / n, "train_cstency": sums.get("cstency", 0.0) / n,
        }
        do_val = (epoch + 1) % self.cfg.train.val_every_epochs == 0 or epoch + 1 == self.cfg.train.epochs
        if do_val and self.is_main:
            row.update(self.validate())
            best = run["best"]
            auc, loss = row["val_auc"], row["val_loss"]
            better = not best or (not math.isnan(auc) and (
                auc > best["val_auc"] or (auc == best["val_auc"] and loss < best["val_loss"])))
            row["is_best"] = int(bool(better))
            if better:
                run["best"] = {"epoch": epoch, "global_step": run["global_step"], "val_auc": auc,
                               "val_loss": loss, "val_ap": row["val_ap"]}
                self._save_weights(BEST_FILE, run["best"])
        row["epoch_seconds"] = seconds
        if self.is_main:
            self._save_weights(LAST_FILE, {"epoch": epoch, "global_step": run["global_step"]})
            if self.cfg.train.keep_epoch_weights:
                self._save_weights(f"epoch_{epoch}.pt", {"epoch": epoch, "global_step": run["global_step"]})
            if writer is not None:
                for k, v in row.items():
                    if k not in ("epoch",) and isinstance(v, int | float) and not math.isnan(float(v)):
                        writer.add_scalar(f"epoch/{k}", v, epoch)
                writer.flush()
            tqdm.write(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in row.items()}))
        return row


def fit(cfg: TrainConfig, **kwargs: Any) -> FitResult:
    """Convenience: ``Trainer(cfg, **kwargs).fit()``."""
    return Trainer(cfg, **kwargs).fit()


def with_overrides(cfg: TrainConfig, **sections: dict[str, Any]) -> TrainConfig:
    """A copy of ``cfg`` with fields of its sections replaced, e.g. ``with_overrides(c, train={"epochs": 1})``."""
    return replace(cfg, **{name: replace(getattr(cfg, name), **vals) for name, vals in sections.items()})
