"""Training recipes: shipped YAML files load, overrides apply, broken configs are refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from laanet_train.cli import main
from laanet_train.config import ConfigError, TrainConfig, config_from_dict, config_to_dict, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SHIPPED = ("efn4_sbi.yaml", "efn4_bi.yaml", "lite0_sbi_lfw.yaml", "lite0_sbi_lfw_v2.yaml", "lite0_sbi_lfw_v3.yaml")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_load_and_round_trip(name: str) -> None:
    cfg = load_config(CONFIGS / name)
    assert isinstance(cfg, TrainConfig)
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_official_recipes_match_the_spec() -> None:
    sbi, bi = load_config(CONFIGS / "efn4_sbi.yaml"), load_config(CONFIGS / "efn4_bi.yaml")
    for cfg in (sbi, bi):
        assert cfg.model.variant == "laanet_efficientnet_b4"
        assert cfg.data.input_size == 384 and cfg.data.heatmap_size == 96
        assert cfg.data.batch_pairs == 8
        assert (cfg.optim.name, cfg.optim.lr, cfg.optim.weight_decay, cfg.optim.rho) == ("sam", 5e-5, 1e-4, 0.05)
        assert (cfg.schedule.name, cfg.schedule.start_decay, cfg.schedule.booster) == ("linear_decay", 25, 4.0)
        assert cfg.train.epochs == 100 and cfg.train.freeze_backbone_epochs == 6
        assert cfg.seed == 317 and cfg.data.mean == (0.5, 0.5, 0.5) and cfg.data.std == (0.5, 0.5, 0.5)
        assert cfg.loss.cls == 1.0 and cfg.loss.cstency == 100.0
    assert (sbi.data.synthesis, sbi.loss.hm) == ("sbi", 100.0)
    assert (bi.data.synthesis, bi.loss.hm) == ("bi", 10.0)


def test_quality_recipes_are_named_in_the_config() -> None:
    from laanet_synth.quality import QUALITY_RECIPES, quality_recipe

    v2, v3 = load_config(CONFIGS / "lite0_sbi_lfw_v2.yaml"), load_config(CONFIGS / "lite0_sbi_lfw_v3.yaml")
    assert quality_recipe(v2.data.quality) is QUALITY_RECIPES["v2"]
    assert quality_recipe(v3.data.quality) is QUALITY_RECIPES["v3"]
    assert quality_recipe(load_config(CONFIGS / "lite0_sbi_lfw.yaml").data.quality) is None
    # v3 changes only the quality recipe (and its schedule) of v2
    assert (v3.data.crop_recipe, v3.data.input_size, v3.loss) == (v2.data.crop_recipe, v2.data.input_size, v2.loss)


def test_overrides_are_typed_and_nested() -> None:
    cfg = load_config(CONFIGS / "lite0_sbi_lfw.yaml",
                      ["train.epochs=2", "data.input_size=128", "optim.lr=1e-3", "data.max_val_faces=null",
                       "data.mean=[0.4, 0.5, 0.6]"])
    assert cfg.train.epochs == 2 and cfg.data.input_size == 128 and cfg.data.heatmap_size == 32
    assert cfg.optim.lr == pytest.approx(1e-3) and cfg.data.max_val_faces is None
    assert cfg.data.mean == (0.4, 0.5, 0.6)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.epoch=3", "unknown key(s) in 'train': epoch"),
        ("colour=1", "unknown key(s): colour"),
        ("train.epochs=two", "train.epochs: expected an integer"),
        ("train.epochs=1.5", "train.epochs: expected an integer"),
        ("train.bf16=maybe", "train.bf16: expected true/false"),
        ("optim.name=sgd", "optim.name: expected one of ['adam', 'adamw', 'sam']"),
        ("optim.lr=0", "optim.lr: expected > 0"),
        ("data.input_size=100", "data.input_size: expected a multiple of 32"),
        ("data.batch_pairs=0", "data.batch_pairs: expected >= 1"),
        ("data.mean=[0.5, 0.5]", "data.mean: expected a list of 3 numbers"),
        ("loss.cls=0", "loss.cls: expected > 0"),
        ("train.freeze_backbone_epochs=99", "train.freeze_backbone_epochs: expected 0..train.epochs"),
        ("data=3", "data: expected a mapping"),
        ("train.epochs", "expected KEY=VALUE"),
        ("data.quality=v9", "data.quality: expected true, false or one of ['v2', 'v2-framed', 'v3', 'v4']"),
        ("data.quality=3", "data.quality: expected"),
    ],
)
def test_broken_configs_are_refused_with_the_key_named(override: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "lite0_sbi_lfw.yaml", [override])
    assert message in str(info.value)


def test_bad_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(bad)


def test_cli_refuses_a_broken_config_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--config", str(CONFIGS / "lite0_sbi_lfw.yaml"), "train.epochs=-1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "invalid config" in err and "train.epochs: expected >= 1" in err


def test_cli_prints_the_resolved_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(CONFIGS / "efn4_sbi.yaml"), "--print-config", "train.epochs=30"]) == 0
    assert "\"epochs\": 30" in capsys.readouterr().out


def test_paths_in_a_config_file_are_relative_to_the_file(tmp_path: Path, monkeypatch) -> None:
    conf_dir = tmp_path / "recipes"
    conf_dir.mkdir()
    (conf_dir / "mine.yaml").write_text(
        "name: mine\ndata:\n  root: ../faces/lfw\n  val_fakes_dir: held-out\ntrain:\n  output_dir: ../runs/mine\n"
        "model:\n  init_from: ../weights/start.safetensors\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(conf_dir / "mine.yaml")
    assert Path(cfg.data.root) == (tmp_path / "faces" / "lfw").resolve()
    assert Path(cfg.data.val_fakes_dir) == (conf_dir / "held-out").resolve()
    assert cfg.output_dir == (tmp_path / "runs" / "mine").resolve()
    assert Path(cfg.model.init_from) == (tmp_path / "weights" / "start.safetensors").resolve()
    # command-line paths are relative to the working directory; registered weights names stay names
    cli = load_config(conf_dir / "mine.yaml", ["data.root=lfw", "model.init_from=laanet-lite0-sbi-lfw"])
    assert Path(cli.data.root) == (elsewhere / "lfw").resolve()
    assert cli.model.init_from == "laanet-lite0-sbi-lfw"


def test_defaults_hold_no_machine_paths_and_name_a_real_recipe() -> None:
    from laanet_synth.crops import get_recipe
    from laanet_train.data import DataError, face_splits

    cfg = TrainConfig()
    assert cfg.data.root is None and cfg.train.output_dir is None
    assert cfg.output_dir == Path("runs") / cfg.name
    assert get_recipe(cfg.data.crop_recipe).name == cfg.data.crop_recipe
    with pytest.raises(DataError, match="data.root: not set"):
        face_splits(cfg.data, cfg.seed)
    shipped_files = sorted(CONFIGS.glob("*.yaml"))
    assert len(shipped_files) >= 6
    for path in shipped_files:
        shipped = load_config(path)
        assert shipped.data.root is None and shipped.train.output_dir is None, path.name
        assert shipped.model.init_from is None, path.name
        assert get_recipe(shipped.data.crop_recipe).name == shipped.data.crop_recipe, path.name


def test_bi_share_config_mixes_training_pairs_only() -> None:
    v2, mix = load_config(CONFIGS / "lite0_sbi_lfw_v2.yaml"), load_config(CONFIGS / "lite0_sbi_lfw_v2bi.yaml")
    assert v2.data.bi_share == 0.0 and mix.data.bi_share == pytest.approx(0.3)
    # validated on the same synthetic pairs as v2: only the training mixture differs
    keys = ("synthesis", "crop_recipe", "input_size", "max_val_faces", "val_seed", "val_list", "quality")
    assert all(getattr(mix.data, k) == getattr(v2.data, k) for k in keys)
    assert mix.data.root is None and mix.train.output_dir is None
    # a bad mixture fails when the config loads, before any data is read
    for override, message in (("data.bi_share=1.5", r"bi_share: expected a number in \[0, 1\]"),
                              ("data.synthesis=bi", "needs data.synthesis 'sbi'")):
        with pytest.raises(ConfigError, match=message):
            load_config(CONFIGS / "lite0_sbi_lfw_v2bi.yaml", [override])


def test_rescons_config_needs_its_views_and_a_quality_recipe() -> None:
    rc, mix = load_config(CONFIGS / "lite0_sbi_lfw_rescons.yaml"), load_config(CONFIGS / "lite0_sbi_lfw_v2bi.yaml")
    assert rc.data.real_views and rc.loss.rescons == pytest.approx(1.0)
    assert not mix.data.real_views and mix.loss.rescons == 0.0
    # validated on the same synthetic pairs as v2bi: only the training differs
    keys = ("synthesis", "crop_recipe", "input_size", "max_val_faces", "val_seed", "val_list", "quality", "bi_share")
    assert all(getattr(rc.data, k) == getattr(mix.data, k) for k in keys)
    for overrides, message in ((["loss.rescons=0"], "go together"),
                               (["data.real_views=false"], "go together"),
                               (["data.quality=false"], "needs data.quality"),
                               (["loss.rescons=-1"], "go together|loss.rescons: expected a weight >= 0")):
        with pytest.raises(ConfigError, match=message):
            load_config(CONFIGS / "lite0_sbi_lfw_rescons.yaml", overrides)


@pytest.mark.parametrize(("text", "message"), [
    ("a: &a [*a, *a]\n", "recursive alias"),
    ("data: &d {x: *d}\n", "recursive alias"),
    ("".join(["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"]
             + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10)]),
     "expands to more than 100,000 values"),
    ("[" * 5000 + "]" * 5000 + "\n", "nested too deeply|expands to more than"),
    ("train: {epochs: [1,\n", "not valid YAML"),
])
def test_hostile_yaml_is_refused_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            text: str, message: str) -> None:
    import re

    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    assert main(["-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and re.search(message, err) and "Traceback" not in err


def test_a_huge_or_non_utf8_config_and_a_hostile_override_are_refused(tmp_path: Path) -> None:
    from laanet_train.config import MAX_CONFIG_BYTES

    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * MAX_CONFIG_BYTES + "\n")
    with pytest.raises(ConfigError, match="a recipe is at most"):
        load_config(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9"):
        load_config(latin)
    with pytest.raises(ConfigError, match="recursive alias"):
        load_config(CONFIGS / "efn4_sbi.yaml", ["train.epochs=&a [*a]"])


def test_ctrl_c_during_training_is_one_line_exit_130(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import laanet_train.engine as engine

    class Interrupted:
        def __init__(self, cfg) -> None:
            pass

        def fit(self):
            raise KeyboardInterrupt

    monkeypatch.setattr(engine, "Trainer", Interrupted)
    assert main(["-c", str(CONFIGS / "efn4_sbi.yaml"), f"data.root={tmp_path}", f"train.output_dir={tmp_path / 'run'}"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err and "rerun the same command to resume" in err
