"""Weight soups: the uniform average of fine-tunes, written as a run folder that selection can score."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
import yaml
from laanet_model.checkpoints import file_sha256
from laanet_model.variants import create_model
from laanet_train.config import TrainConfig, config_to_dict
from laanet_train.export import load_run_model
from laanet_train.soup import SOUP_FILE, SoupError, average_weights, main, write_soup_run


def test_average_weights_is_the_uniform_mean_and_keeps_dtypes() -> None:
    a = {"w": torch.tensor([1.0, 2.0]), "h": torch.tensor([1.0], dtype=torch.float16), "n": torch.tensor(7)}
    b = {"w": torch.tensor([3.0, 6.0]), "h": torch.tensor([3.0], dtype=torch.float16), "n": torch.tensor(9)}
    c = {"w": torch.tensor([2.0, 1.0]), "h": torch.tensor([2.0], dtype=torch.float16), "n": torch.tensor(1)}
    soup = average_weights([a, b, c])
    assert torch.equal(soup["w"], torch.tensor([2.0, 3.0]))
    assert soup["h"].dtype == torch.float16 and soup["h"].item() == 2.0
    assert soup["n"].item() == 7  # integer buffers come from the first ingredient
    assert torch.equal(average_weights([a])["w"], a["w"])
    assert a["w"].tolist() == [1.0, 2.0]  # ingredients are not changed


def test_average_weights_refuses_ingredients_that_do_not_match() -> None:
    a = {"w": torch.zeros(2)}
    with pytest.raises(SoupError, match="at least one"):
        average_weights([])
    with pytest.raises(SoupError, match="other tensors"):
        average_weights([a, {"v": torch.zeros(2)}])
    with pytest.raises(SoupError, match="shape"):
        average_weights([a, {"w": torch.zeros(3)}])


def _run(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    cfg = TrainConfig()
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pretrained=False))
    (run / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg)))
    return run


def test_a_soup_folder_loads_like_a_run_and_holds_the_average(tmp_path: Path) -> None:
    run = _run(tmp_path)
    base = create_model("laanet_efficientnet_lite0", pretrained=False, input_size=160).state_dict()
    files = []
    for i, shift in enumerate((0.0, 0.5, 1.0)):
        sd = {k: v + shift if v.is_floating_point() else v for k, v in base.items()}
        files.append(tmp_path / f"ft{i}.pt")
        torch.save(sd, files[-1])
    out = write_soup_run(tmp_path / "soups", run, [files, files[:1]])
    record = json.loads((out / SOUP_FILE).read_text())
    assert [x["sha256"] for x in record["epoch_0.pt"]] == [file_sha256(f) for f in files]
    assert len(record["epoch_1.pt"]) == 1
    _, soup = load_run_model(out, "epoch_0.pt")
    key = "_conv_stem.weight"
    assert torch.allclose(soup.state_dict()[key], base[key] + 0.5, atol=1e-6)
    _, single = load_run_model(out, "epoch_1.pt")
    assert torch.equal(single.state_dict()[key], base[key])


def test_the_command_line_names_a_missing_ingredient(tmp_path: Path, capsys) -> None:
    run = _run(tmp_path)
    with pytest.raises(SystemExit):
        main([str(tmp_path / "soups"), "--config-from", str(run), "--soup", f"{tmp_path / 'nope.pt'}"])
    assert "nope.pt" in capsys.readouterr().err
