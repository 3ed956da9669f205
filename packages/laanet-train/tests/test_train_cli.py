"""``laanet-train`` runs every shipped recipe for a few steps at tiny sizes (64 px, LFW faces)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from laanet_train.cli import main

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("name", ["lite0_sbi_lfw.yaml", "efn4_sbi.yaml", "efn4_bi.yaml"])
def test_each_shipped_config_trains_a_few_steps(
    name: str, lfw_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    args = [
        "--config", str(CONFIGS / name),
        "data.source=lfw", f"data.root={lfw_dir}", "data.input_size=64", "data.batch_pairs=2",
        "data.max_train_faces=8", "data.max_val_faces=3", "data.num_workers=0", "train.epochs=1",
        "train.steps_per_epoch=2", "train.freeze_backbone_epochs=0", "train.progress=false",
        "train.num_threads=null", f"train.output_dir={out}",
    ]
    if name.startswith("efn4"):
        args.append("schedule.start_decay=0")
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["global_step"] == 2 and summary["epochs_done"] == 1
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and 0.0 <= float(rows[0]["val_auc"]) <= 1.0
    assert (out / "best.pt").is_file() and (out / "state.pt").is_file()


def test_missing_data_is_reported_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(CONFIGS / "efn4_sbi.yaml"), f"data.root={tmp_path / 'nowhere'}",
                 f"train.output_dir={tmp_path / 'run'}"])
    assert code == 2
    assert "no face index" in capsys.readouterr().err


def test_quiet_turns_progress_off_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    config = Path(__file__).parents[1] / "configs" / "lite0_sbi_lfw.yaml"
    assert main(["-c", str(config), "--print-config", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["progress"] is False
    assert main(["-c", str(config), "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["train"]["progress"] is True
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("laanet-train 0.")
