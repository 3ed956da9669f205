"""The resumable LAA-Net training loop.

The engine is split into parts a reader can hold: this loop (environment, optimiser, steps, epochs,
model selection), :mod:`.validation` (scores through the ``Detector`` with the recipe's flip test),
:mod:`.state` (``state.pt``, ``best.pt``, ``last.pt``, resume) and :mod:`.logbook` (TensorBoard, metrics.csv).

One run lives in ``train.output_dir`` (default ``runs/<name>``):

- ``state.pt``: everything a bit-exact resume needs (model, optimiser, epoch, step, RNG states, running
  sums, metric history, best so far; the learning rate is a pure function of epoch and step), written atomically every ``save_every_steps`` steps and at
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
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from laanet_model.variants import create_model
from laanet_synth.atomic import write_text
from laanet_synth.dataset import collate_pairs
from laanet_synth.shards import torchrun_env
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .config import TrainConfig, config_to_dict
from .data import EpochBatchSampler, build_datasets, epoch_batches, fork_safe_opencv
from .logbook import RunLog
from .losses import LossWeights, laanet_loss
from .optim import SAM, linear_decay_factor
from .state import BEST_FILE, LAST_FILE, RunProgress, resume_run, save_model_weights, save_run_state
from .validation import FolderValidation, run_detector, synthetic_validation


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
    start = cfg.train.start_epoch * steps_per_epoch
    since = epoch * steps_per_epoch + step_in_epoch - start
    if start and s.warmup_steps and since < s.warmup_steps:  # a continued run's fresh optimiser warms up again
        f *= (since + 1) / s.warmup_steps
    return f


# --- environment ------------------------------------------------------------------------------------------
def freeze_batchnorm(module: nn.Module) -> int:
    """Put every BatchNorm layer of ``module`` in eval mode (it normalises with, and no longer updates, its
    running statistics; its affine parameters still train); the number of layers frozen."""
    layers = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in layers:
        m.eval()
    return len(layers)


def pick_device(name: str) -> torch.device:
    """``auto`` -> the local CUDA device when there is one, else CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            ctx = torchrun_env()
            return torch.device("cuda", ctx.local_rank if ctx is not None else 0)
        return torch.device("cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"train.device={name!r} but CUDA is not available")
    return dev


def _dist_info() -> tuple[int, int]:
    """(rank, world size) when launched by torchrun (``WORLD_SIZE`` and ``RANK`` set), else (0, 1).

    Under torchrun the process group is joined (NCCL on CUDA, Gloo on CPU), even with one process."""
    if torchrun_env() is None:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def seed_everything(seed: int) -> None:
    """Seed the global numpy and torch generators (the training loop's dropout stream); only
    :class:`Trainer` calls it, at the start of a run."""
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


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
        from laanet_model.checkpoints import load_checkpoint, load_state_dict_checked

        path = Path(m.init_from)
        if path.suffix in (".pt", ".pth") and path.is_file():
            sd = torch.load(path, map_location="cpu", weights_only=True)
            sd = sd.get("model", sd) if isinstance(sd, dict) else sd
            load_state_dict_checked(model, sd, what=str(path))
        else:
            source = load_checkpoint(m.init_from)
            load_state_dict_checked(model, source.state_dict(), what=str(m.init_from))
    return model


def _targets(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"hm": batch["hm"], "cstency": batch["cst"], "label": batch["label"]}


class Trainer:
    """Train one recipe. ``Trainer(cfg).fit()`` starts or resumes the run in ``cfg.output_dir``."""

    def __init__(
        self,
        cfg: TrainConfig,
        *,
        datasets: tuple[Dataset, Dataset] | None = None,
        model_factory: Callable[[TrainConfig], nn.Module] | None = None,
    ) -> None:
        self.cfg = cfg
        self.out = cfg.output_dir
        self.rank, self.world = _dist_info()
        self.device = pick_device(cfg.train.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        seed_everything(cfg.seed)
        self.train_set, self.val_set = datasets or build_datasets(cfg.data, cfg.seed, self.out)
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
        self.loss_weights = LossWeights(hm=cfg.loss.hm, cls=cfg.loss.cls, cstency=cfg.loss.cstency,
                                        rescons=cfg.loss.rescons)
        self.use_bf16 = cfg.train.bf16 and self.device.type == "cuda"
        self.steps_per_epoch = cfg.train.steps_per_epoch or len(self.train_set) // (
            cfg.data.batch_pairs * self.world
        )
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"{len(self.train_set)} training faces cannot fill one batch of {cfg.data.batch_pairs} pairs"
            )
        self.folder_validation = FolderValidation(cfg.data.val_fakes_dir) if cfg.data.val_fakes_dir else None
        self._detector: Any = None

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
            for k in ("image", "view"):
                if k in out:
                    out[k] = out[k].contiguous(memory_format=torch.channels_last)
        return out

    def _forward_loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The weighted loss of one batch; with views (``data.real_views``) they go through the same forward
        pass as the pairs, and only their class logits are used (by the ``rescons`` term)."""
        images, views = batch["image"], batch.get("view")
        with self._autocast():
            outputs = self.net(images if views is None else torch.cat([images, views]))
        outputs = {k: v.float() for k, v in outputs.items()}
        if views is not None:
            n = images.shape[0]
            view_cls = outputs["cls"][n:]
            outputs = {k: v[:n] for k, v in outputs.items()}
            outputs["view_cls"] = view_cls
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

    def _set_mode(self) -> None:
        """Training mode, with the BatchNorm layers on their running statistics when ``train.freeze_bn``."""
        self.net.train()
        if self.cfg.train.freeze_bn:
            freeze_batchnorm(self.net)

    def _clip(self) -> None:
        if self.cfg.optim.grad_clip:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step (two forward/backward passes under SAM)."""
        self._set_mode()
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
            fork_safe_opencv()
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
    @property
    def detector(self) -> Any:
        """The ``Detector`` over the model being trained, with the recipe the export writes in the card."""
        if self._detector is None:
            self._detector = run_detector(self.model, self.cfg, self.device)
        return self._detector

    def validate(self) -> dict[str, float]:
        """Loss and AUC/AP/accuracy of the detector's flip-tested scores on the identity-disjoint synthetic
        validation pairs, and on the ``data.val_fakes_dir`` folder when there is one."""
        det = self.detector
        scores = synthetic_validation(det, self.val_set, self.cfg, bf16=self.use_bf16,
                                      progress=self.cfg.train.progress and self.is_main)
        res = dict(scores.metrics)
        if self.folder_validation is not None:
            res.update(self.folder_validation(det))
        return res

    # --- the loop --------------------------------------------------------------------------------------------
    def fit(self) -> FitResult:
        """Run (or resume) until ``train.epochs`` are done or ``train.stop_after_steps`` is reached."""
        cfg = self.cfg
        self.out.mkdir(parents=True, exist_ok=True)
        epoch, start_step, run = resume_run(self.out, cfg, self.model, self.optimizer, self.steps_per_epoch)
        if self.is_main:
            write_text(self.out / "config.yaml", yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
        log = RunLog(self.out, enabled=self.is_main, global_step=run.global_step)
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
                sums = run.sums if start_step else {}
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
                    run.global_step += 1
                    run.sums = sums
                    bar.update(1)
                    bar.set_postfix(loss=f"{parts['loss']:.3f}", cls=f"{parts['cls']:.3f}", lr=f"{lr:.2e}")
                    log.step(parts, run.global_step)
                    if cfg.train.stop_after_steps and run.global_step >= cfg.train.stop_after_steps:
                        stopped = True
                        break
                    if run.global_step % cfg.train.save_every_steps == 0 and step < self.steps_per_epoch:
                        self.save_state(epoch, step, run)
                bar.close()
                if stopped:
                    break
                row = self._end_epoch(epoch, run, sums, lr, time.time() - t_epoch)
                run.history.append(row)
                log.epoch(row, run.history)
                epoch += 1
                start_step = 0
                run.sums = {}
                self.save_state(epoch, 0, run)
        finally:
            log.close()
        best = run.best
        return FitResult(
            output_dir=self.out,
            epochs_done=epoch,
            global_step=run.global_step,
            best_epoch=best.get("epoch"),
            best_auc=best.get("val_auc"),
            stopped_early=stopped,
            history=tuple(run.history),
        )

    def save_state(self, epoch: int, step: int, run: RunProgress) -> None:
        """``state.pt`` for a resume at (``epoch``, ``step``) (main process only)."""
        if self.is_main:
            save_run_state(self.out, self.cfg, self.model, self.optimizer, epoch, step, run)

    def _end_epoch(self, epoch: int, run: RunProgress, sums: dict[str, float], lr: float, seconds: float
                   ) -> dict[str, Any]:
        n = max(1, int(sums.get("n", 1)))
        row: dict[str, Any] = {
            "epoch": epoch, "global_step": run.global_step, "lr": lr,
            "train_loss": sums.get("loss", 0.0) / n, "train_hm": sums.get("hm", 0.0) / n,
            "train_cls": sums.get("cls", 0.0) / n, "train_cstency": sums.get("cstency", 0.0) / n,
        }
        if "rescons" in sums:
            row["train_rescons"] = sums["rescons"] / n
        do_val = (epoch + 1) % self.cfg.train.val_every_epochs == 0 or epoch + 1 == self.cfg.train.epochs
        if do_val and self.is_main:
            row.update(self.validate())
            best = run.best
            auc, loss = row["val_auc"], row["val_loss"]
            better = not best or auc > best["val_auc"] or (auc == best["val_auc"] and loss < best["val_loss"])
            row["is_best"] = int(bool(better))
            if better:
                run.best = {"epoch": epoch, "global_step": run.global_step, "val_auc": auc,
                            "val_loss": loss, "val_ap": row["val_ap"]}
                save_model_weights(self.out, BEST_FILE, self.model, run.best)
        row["epoch_seconds"] = seconds
        if self.is_main:
            save_model_weights(self.out, LAST_FILE, self.model, {"epoch": epoch, "global_step": run.global_step})
            if self.cfg.train.keep_epoch_weights:
                save_model_weights(self.out, f"epoch_{epoch}.pt", self.model,
                                   {"epoch": epoch, "global_step": run.global_step})
        return row
