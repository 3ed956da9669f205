"""The training engine at tiny sizes: a step lowers the loss it is given, validation scores through the
Detector with the flip test, runs resume bit-exactly after an interruption (simulated and kill -9), run
under torch.distributed, export what the Detector reloads, and the pure helpers behave."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from laanet_train.config import TrainConfig, load_config
from laanet_train.data import EpochBatchSampler, epoch_batches
from laanet_train.engine import Trainer, lr_factor
from laanet_train.state import capture_rng, load_state, restore_rng

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def tiny(lfw_dir: Path, out: Path, *extra: str) -> list[str]:
    """Overrides that shrink the built-in recipe to seconds: 64 px, 2 + 2 images, 2 epochs x 3 steps."""
    return [
        f"data.root={lfw_dir}", "data.input_size=64", "data.batch_pairs=2", "data.max_train_faces=10",
        "data.max_val_faces=3", "data.num_workers=0", "model.pretrained=false", "train.epochs=2",
        "train.steps_per_epoch=3", "train.save_every_steps=2", "train.progress=false", "train.num_threads=null",
        "schedule.warmup_steps=2", f"train.output_dir={out}", *extra,
    ]


def tiny_config(lfw_dir: Path, out: Path, *extra: str) -> TrainConfig:
    return load_config(CONFIGS / "lite0_sbi_lfw.yaml", tiny(lfw_dir, out, *extra))


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), f"{k} differs"


def metric_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r.pop("epoch_seconds")
    return rows


@pytest.fixture(scope="module")
def reference_run(lfw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted tiny run (2 epochs x 3 steps)."""
    out = tmp_path_factory.mktemp("reference")
    result = Trainer(tiny_config(lfw_dir, out)).fit()
    assert result.epochs_done == 2 and result.global_step == 6 and not result.stopped_early
    return out


def test_run_writes_metrics_checkpoints_and_tensorboard(reference_run: Path) -> None:
    rows = metric_rows(reference_run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    for r in rows:
        assert np.isfinite(float(r["train_loss"])) and np.isfinite(float(r["val_loss"]))
    # the best epoch is the one with the highest validation AUC, and best.json says which
    best = max(rows, key=lambda r: (float(r["val_auc"]), -float(r["val_loss"])))
    import json

    assert json.loads((reference_run / "best.json").read_text())["epoch"] == int(best["epoch"])
    assert (reference_run / "best.pt").is_file() and (reference_run / "best.json").is_file()
    assert list((reference_run / "tb").glob("events.out.tfevents.*"))
    state = load_state(reference_run / "state.pt")
    assert (state["epoch"], state["step"], state["global_step"]) == (2, 0, 6)
    # the weights moved away from the (seeded) initialisation
    from laanet_model.variants import create_model

    torch.manual_seed(317)
    init = create_model("laanet_efficientnet_lite0", pretrained=False, input_size=64).state_dict()
    last = weights(reference_run / "last.pt")
    assert not torch.equal(init["cls.5.weight"], last["cls.5.weight"])
    assert not torch.equal(init["_conv_stem.weight"], last["_conv_stem.weight"])


def test_training_steps_lower_the_loss_on_their_batch(lfw_dir: Path, tmp_path: Path) -> None:
    from laanet_synth.dataset import collate_pairs

    trainer = Trainer(tiny_config(lfw_dir, tmp_path, "data.max_train_faces=4"))
    batch = trainer._to_device(collate_pairs([trainer.train_set[i] for i in range(2)]))
    losses = [trainer.train_step(batch) for _ in range(12)]
    assert losses[-1]["loss"] < 0.8 * losses[0]["loss"], [round(x["loss"], 4) for x in losses]
    assert losses[-1]["cls"] < losses[0]["cls"]


def test_rescons_steps_see_the_views_and_their_term_moves_the_weights(lfw_dir: Path, tmp_path: Path) -> None:
    from laanet_synth.dataset import collate_pairs

    def trainer(weight: str, out: str) -> Trainer:
        cfg = load_config(CONFIGS / "lite0_sbi_lfw_rescons.yaml",
                          [*tiny(lfw_dir, tmp_path / out), "data.max_train_faces=4", "train.bf16=false",
                           "train.channels_last=false", f"loss.rescons={weight}",
                           "model.init_from=laanet-lite0-sbi-lfw"])
        return Trainer(cfg)

    strong, weak = trainer("50.0", "a"), trainer("1e-9", "b")
    batch = strong._to_device(collate_pairs([strong.train_set[i] for i in range(2)]))
    assert batch["view"].shape == (2, *batch["image"].shape[1:])
    # the views are other renderings of the real rows: a trained model scores a real face and its view apart
    with torch.no_grad():
        strong.model.eval()
        out = strong.model(torch.cat([batch["image"][:2], batch["view"]]))["cls"].reshape(-1)
    assert not torch.allclose(out[:2], out[2:])
    parts = strong.train_step(batch)
    total = parts["hm"] + parts["cls"] + parts["cstency"] + 50.0 * parts["rescons"]
    assert parts["loss"] == pytest.approx(total, rel=1e-5) and parts["rescons"] > 0
    weak.train_step(batch)
    moved = [k for k, v in strong.model.state_dict().items()
             if v.is_floating_point() and not torch.equal(v, weak.model.state_dict()[k])]
    assert moved, "the rescons term did not change the update"


def test_validation_scores_through_the_detector_with_the_flip_test(lfw_dir: Path, tmp_path: Path) -> None:
    from laanet_bench.metrics import auc
    from laanet_model.scoring import sigmoid
    from laanet_synth.dataset import collate_pairs

    trainer = Trainer(tiny_config(lfw_dir, tmp_path, "data.max_val_faces=4"))
    passes = []
    hook = trainer.model.register_forward_hook(lambda *_: passes.append(1))
    res = trainer.validate()
    hook.remove()
    # per batch, one pass for the loss and the plain scores, one for the mirror
    assert len(passes) == 2 * -(-len(trainer.val_set) // trainer.cfg.data.batch_pairs)
    det = trainer.detector
    assert det.model is trainer.model and det.preprocessing.flip_test
    assert det.input_size == trainer.cfg.data.input_size
    trainer.val_set.set_epoch(0)
    batch = collate_pairs([trainer.val_set[i] for i in range(len(trainer.val_set))])
    x, y = batch["image"], batch["label"].reshape(-1).numpy().astype(int)
    with torch.no_grad():
        plain = trainer.model(x, heads=("cls",))["cls"].reshape(-1)
        mirror = trainer.model(torch.flip(x, dims=[3]), heads=("cls",))["cls"].reshape(-1)
    flipped = sigmoid(((plain + mirror) / 2).double().numpy())
    assert res["val_auc"] == pytest.approx(auc(y, flipped), abs=1e-9)
    assert not np.array_equal(sigmoid(plain.double().numpy()), flipped)  # the flip test changes the scores


def test_resume_after_a_simulated_crash_is_bit_exact(lfw_dir: Path, reference_run: Path, tmp_path: Path) -> None:
    # stop after 5 steps without saving (the last save was at step 4, mid-epoch 1), then resume
    first = Trainer(tiny_config(lfw_dir, tmp_path, "train.stop_after_steps=5")).fit()
    assert first.stopped_early and first.global_step == 5
    saved = load_state(tmp_path / "state.pt")
    assert (saved["epoch"], saved["step"], saved["global_step"]) == (1, 1, 4)
    # resume with a loader worker: data come from (seed, epoch, index), not from the process that made them
    second = Trainer(tiny_config(lfw_dir, tmp_path, "data.num_workers=1")).fit()
    assert second.global_step == 6 and second.epochs_done == 2
    assert_same_weights(reference_run / "last.pt", tmp_path / "last.pt")
    assert_same_weights(reference_run / "best.pt", tmp_path / "best.pt")
    assert metric_rows(reference_run / "metrics.csv") == metric_rows(tmp_path / "metrics.csv")


def test_resume_after_kill_9_is_bit_exact(lfw_dir: Path, reference_run: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "laanet_train.cli", "--config", str(CONFIGS / "lite0_sbi_lfw.yaml"),
           *tiny(lfw_dir, tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and not (tmp_path / "state.pt").exists():
            time.sleep(0.05)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    Trainer(tiny_config(lfw_dir, tmp_path)).fit()
    assert_same_weights(reference_run / "last.pt", tmp_path / "last.pt")
    assert metric_rows(reference_run / "metrics.csv") == metric_rows(tmp_path / "metrics.csv")


def test_a_different_recipe_is_not_resumed(lfw_dir: Path, reference_run: Path, tmp_path: Path) -> None:
    from laanet_train.state import ResumeError

    (tmp_path / "state.pt").write_bytes((reference_run / "state.pt").read_bytes())
    with pytest.raises(ResumeError, match="differs in optim.lr"):
        Trainer(tiny_config(lfw_dir, tmp_path, "optim.lr=0.5")).fit()
    (tmp_path / "state.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ResumeError, match="cannot read the saved training state"):
        Trainer(tiny_config(lfw_dir, tmp_path)).fit()


def test_single_process_torchrun_path(lfw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.distributed as dist

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for k, v in {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                 "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(k, v)
    try:
        trainer = Trainer(tiny_config(lfw_dir, tmp_path, "train.epochs=1", "train.steps_per_epoch=2",
                                      "train.freeze_backbone_epochs=1"))
        assert isinstance(trainer.net, torch.nn.parallel.DistributedDataParallel)
        result = trainer.fit()
        assert result.global_step == 2 and (tmp_path / "best.pt").is_file()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _weights_before_and_after_two_steps(lfw_dir: Path, tmp_path: Path, *overrides: str):
    """The model's state dict before and after a 2-step run of the tiny recipe with ``overrides``."""
    trainer = Trainer(tiny_config(lfw_dir, tmp_path, "train.epochs=1", "train.steps_per_epoch=2", *overrides))
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    return before, trainer.model.state_dict()


def test_frozen_backbone_epochs_leave_the_backbone_untouched(lfw_dir: Path, tmp_path: Path) -> None:
    before, after = _weights_before_and_after_two_steps(lfw_dir, tmp_path, "train.freeze_backbone_epochs=1")
    stem = "_conv_stem.weight"
    assert torch.equal(before[stem], after[stem])  # frozen
    assert not torch.equal(before["cls.5.weight"], after["cls.5.weight"])  # heads trained
    # BN running statistics still update while frozen (as in the official code)
    assert not torch.equal(before["_bn0.running_mean"], after["_bn0.running_mean"])


def test_frozen_batchnorm_keeps_running_statistics_while_the_rest_trains(lfw_dir: Path, tmp_path: Path) -> None:
    before, after = _weights_before_and_after_two_steps(lfw_dir, tmp_path, "train.freeze_bn=true")
    stats = [k for k in before if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(before[k], after[k]) for k in stats)
    assert not torch.equal(before["_bn0.weight"], after["_bn0.weight"])  # BN scale still learns
    assert not torch.equal(before["_conv_stem.weight"], after["_conv_stem.weight"])


def test_freeze_batchnorm_sets_only_batchnorm_layers_to_eval() -> None:
    from laanet_train.engine import freeze_batchnorm

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Dropout(0.5),
                              torch.nn.BatchNorm1d(4)).train()
    assert freeze_batchnorm(net) == 2
    assert not net[1].training and not net[3].training
    assert net.training and net[0].training and net[2].training


# --- pure helpers ----------------------------------------------------------------------------------------
def test_epoch_order_is_a_pure_function_of_seed_and_epoch() -> None:
    a, b = epoch_batches(50, 4, seed=3, epoch=1), epoch_batches(50, 4, seed=3, epoch=1)
    assert np.array_equal(a, b) and a.shape == (12, 4)
    assert len(np.unique(a)) == 48  # one pass without repeats
    assert not np.array_equal(a, epoch_batches(50, 4, seed=3, epoch=2))
    long = epoch_batches(10, 4, seed=0, epoch=0, steps=7)
    assert long.shape == (7, 4) and set(long.ravel()) == set(range(10))
    sampler = EpochBatchSampler(a, start=10, rank=1, world=2)
    assert list(sampler) == [[int(a[10, 1]), int(a[10, 3])], [int(a[11, 1]), int(a[11, 3])]]


def test_lr_schedules(tmp_path: Path) -> None:
    official = load_config(CONFIGS / "efn4_sbi.yaml")
    f = [lr_factor(official, e, 0, 10) for e in range(100)]
    assert f[0] == 1.0 and f[25] == pytest.approx(4.0) and f[99] == pytest.approx(4.0 * (1 - 74 / 75))
    assert max(f) == pytest.approx(4.0) and np.all(np.diff(f[25:]) < 0)
    lite = load_config(CONFIGS / "lite0_sbi_lfw.yaml", ["train.epochs=2", "train.steps_per_epoch=50",
                                                          "schedule.warmup_steps=10"])
    g = [lr_factor(lite, s // 50, s % 50, 50) for s in range(100)]
    assert g[0] == pytest.approx(0.1) and g[9] == pytest.approx(1.0)
    assert np.all(np.diff(g[10:]) < 0) and g[-1] == pytest.approx(lite.schedule.min_factor, abs=1e-3)


def test_rng_capture_restore_round_trip(tmp_path: Path) -> None:
    import random

    state = capture_rng()
    a = (random.random(), np.random.rand(), torch.rand(3))
    torch.save(state, tmp_path / "rng.pt")
    restore_rng(torch.load(tmp_path / "rng.pt", weights_only=True))
    b = (random.random(), np.random.rand(), torch.rand(3))
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])



def test_init_from_a_run_starts_from_its_weights(lfw_dir: Path, reference_run: Path, tmp_path: Path) -> None:
    from laanet_train.engine import build_model

    cfg = tiny_config(lfw_dir, tmp_path, f"model.init_from={reference_run / 'best.pt'}")
    model = build_model(cfg)
    best = weights(reference_run / "best.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(v, best[k]), k
    bad = tiny_config(lfw_dir, tmp_path, f"model.init_from={tmp_path / 'missing.safetensors'}")
    from laanet_model.checkpoints import CheckpointError

    with pytest.raises(CheckpointError):
        build_model(bad)


def test_validation_pairs_do_not_depend_on_the_run_seed(lfw_dir: Path, tmp_path: Path) -> None:
    from laanet_train.data import build_datasets

    a = tiny_config(lfw_dir, tmp_path, "seed=1", "data.val_seed=9")
    b = tiny_config(lfw_dir, tmp_path, "seed=2", "data.val_seed=9")
    (ta, va), (tb, vb) = build_datasets(a.data, a.seed), build_datasets(b.data, b.seed)
    assert list(va.index.paths) == list(vb.index.paths)
    assert torch.equal(va[0]["fake"], vb[0]["fake"])
    assert not torch.equal(ta[0]["fake"], tb[0]["fake"]) or list(ta.index.paths) != list(tb.index.paths)


def test_export_writes_float16_weights_and_a_card_the_detector_loads(
    reference_run: Path, shared_data: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    from laanet_model.checkpoints import file_sha256
    from laanet_model.detector import Detector
    from laanet_train.export import export_run
    from safetensors.torch import load_file

    crops = shared_data / "dfdc-crops"
    folder = tmp_path / "labelled"
    for label in ("real", "fake"):
        (folder / label).mkdir(parents=True)
        for p in sorted((crops / label).glob("*.jpg"))[:3]:
            shutil.copy(p, folder / label / p.name)

    def no_reseeding(*args, **kwargs):
        raise AssertionError("export must not re-seed the global random generators")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "manual_seed", no_reseeding)
        mp.setattr(np.random, "seed", no_reseeding)
        card = export_run(reference_run, tmp_path / "out" / "tiny", name="tiny", eval_folder=folder,
                          earlier_runs=(reference_run,))
    path = tmp_path / "out" / "tiny.safetensors"
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert on_disk["sha256"] == file_sha256(path)
    assert {t.dtype for t in load_file(path).values() if t.is_floating_point()} == {torch.float16}
    m = on_disk["metrics"]
    assert (m["dfdc_crops"]["n_real"], m["dfdc_crops"]["n_fake"]) == (3, 3) and m["synthetic_val"]["n_pairs"] == 3
    assert on_disk["metrics"]["synthetic_val"] == card["metrics"]["synthetic_val"]
    tr = on_disk["training"]
    assert tr["steps_run"] == 12 and tr["epochs_run"] == 4  # this run plus the one earlier stage
    # the card's recipe holds no machine path: data folders and the run folder are given on the command line
    assert tr["recipe"]["data"]["root"] is None and tr["recipe"]["train"]["output_dir"] is None
    assert on_disk["thresholds"]["real_below"] <= on_disk["thresholds"]["fake_above"]
    det = Detector.from_weights(path, device="cpu")
    assert det.input_size == 64 and det.thresholds.fake_above == pytest.approx(on_disk["thresholds"]["fake_above"])
    # the card's folder metrics are what the exported file gives through the Detector
    from laanet_train.evaluate import score_folder

    again = score_folder(det, folder).metrics()
    assert m["dfdc_crops"]["auc"] == round(again["auc"], 4) and m["dfdc_crops"]["ap"] == round(again["ap"], 4)
    # and its synthetic-validation metrics are those of the exported weights through the Detector
    import yaml
    from laanet_train.config import config_from_dict
    from laanet_train.data import validation_dataset
    from laanet_train.validation import synthetic_validation

    cfg = config_from_dict(yaml.safe_load((reference_run / "config.yaml").read_text()))
    val_set = validation_dataset(cfg.data, cfg.seed)
    scores = synthetic_validation(det, val_set, cfg)
    val = scores.metrics
    assert m["synthetic_val"]["auc"] == round(val["val_auc"], 4) and m["synthetic_val"]["ap"] == round(val["val_ap"], 4)
    # its bands are the one band rule on the validation's real faces, and the card says so
    from laanet_train.calibration import calibrate_bands
    from laanet_train.export import EXPORT_CALIBRATION

    bands = calibrate_bands(scores.probs[scores.labels == 0], EXPORT_CALIBRATION)
    assert on_disk["thresholds_rule"] == bands["rule"] and EXPORT_CALIBRATION in bands["rule"]
    assert on_disk["thresholds"] == pytest.approx({k: bands[k] for k in ("real_below", "fake_above")}, abs=2e-3)


def test_a_run_continues_from_an_epochs_weights_when_its_folder_is_gone(lfw_dir: Path, tmp_path: Path) -> None:
    first = Trainer(tiny_config(lfw_dir, tmp_path / "first", "train.keep_epoch_weights=true")).fit()
    assert first.global_step == 6 and (tmp_path / "first" / "epoch_0.pt").is_file()
    cont = tiny_config(lfw_dir, tmp_path / "cont", f"model.init_from={tmp_path / 'first' / 'epoch_0.pt'}",
                       "train.start_epoch=1")
    trainer = Trainer(cont)
    for k, v in trainer.model.state_dict().items():
        assert torch.equal(v, weights(tmp_path / "first" / "epoch_0.pt")[k]), k
    result = trainer.fit()
    assert result.epochs_done == 2 and result.global_step == 6
    rows = metric_rows(tmp_path / "cont" / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [1]
    # the fresh optimiser warms up again from the continued epoch; the uninterrupted schedule does not
    plain = tiny_config(lfw_dir, tmp_path)
    assert lr_factor(cont, 1, 0, 3) == pytest.approx(lr_factor(plain, 1, 0, 3) / 2)
    assert lr_factor(cont, 1, 2, 3) == pytest.approx(lr_factor(plain, 1, 2, 3))
    from laanet_train.config import ConfigError

    with pytest.raises(ConfigError, match="needs the weights it continues from"):
        tiny_config(lfw_dir, tmp_path, "train.start_epoch=1")
    with pytest.raises(ConfigError, match="train.start_epoch: expected 0..train.epochs-1"):
        tiny_config(lfw_dir, tmp_path, f"model.init_from={tmp_path / 'first' / 'epoch_0.pt'}", "train.start_epoch=2")
