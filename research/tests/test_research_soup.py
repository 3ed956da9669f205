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
from laanet_research.cli import build_parser, main
from laanet_research.selection import SELECTION_RULE, SELECTION_RULE_WITH_SWAPS
from laanet_research.soup import SOUP_FILE, SoupError, average_weights, write_soup_run
from laanet_train.config import TrainConfig, config_from_dict, config_to_dict
from laanet_train.export import load_run_model


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
    out = write_soup_run(tmp_path / "soups", run, [[str(f) for f in files], [f"first={files[0]}"]])
    record = json.loads((out / SOUP_FILE).read_text())
    assert [x["sha256"] for x in record["epoch_0.pt"]] == [file_sha256(f) for f in files]
    assert [x["label"] for x in record["epoch_0.pt"]] == [f"{tmp_path.name}/ft{i}.pt" for i in range(3)]
    assert record["epoch_1.pt"] == [{"label": "first", "sha256": file_sha256(files[0])}]
    _, soup = load_run_model(out, "epoch_0.pt")
    key = "_conv_stem.weight"
    assert torch.allclose(soup.state_dict()[key], base[key] + 0.5, atol=1e-6)
    _, single = load_run_model(out, "epoch_1.pt")
    assert torch.equal(single.state_dict()[key], base[key])


def test_the_command_line_names_a_missing_ingredient(tmp_path: Path, capsys) -> None:
    run = _run(tmp_path)
    with pytest.raises(SystemExit):
        main(["soup", "make", str(tmp_path / "soups"), "--config-from", str(run), "--soup", f"{tmp_path / 'nope.pt'}"])
    assert "nope.pt" in capsys.readouterr().err


def test_export_writes_the_soup_with_a_card_built_on_the_base_card(lfw_dir: Path, tmp_path: Path) -> None:
    from laanet_model.checkpoints import read_card
    from laanet_model.detector import Detector
    from laanet_model.weights import preprocessing_to_dict
    from laanet_research.soup_export import export_soup
    from laanet_train.config import load_config
    from laanet_train.validation import run_preprocessing

    configs = Path(__file__).resolve().parents[2] / "packages" / "laanet-train" / "configs"
    cfg = load_config(configs / "lite0_sbi_lfw_v2.yaml", [
        f"data.root={lfw_dir}", "data.input_size=64", "data.max_train_faces=10", "data.max_val_faces=4",
        "data.num_workers=0", "model.pretrained=false"])
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg)))
    base = create_model(cfg.model.variant, pretrained=False, input_size=64).state_dict()
    files = [tmp_path / "a.pt", tmp_path / "b.pt"]
    torch.save(base, files[0])
    torch.save({k: v * 0.5 if v.is_floating_point() else v for k, v in base.items()}, files[1])
    soups = write_soup_run(tmp_path / "soups", run, [[f"a={files[0]}", f"stage7-epoch0={files[1]}"]])
    recipe = preprocessing_to_dict(run_preprocessing(cfg))
    # the base card's crop is not the one the soups were scored with: the scored one wins
    official = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, crop_recipe="official-sbi"))
    old_recipe = preprocessing_to_dict(run_preprocessing(official))
    assert old_recipe != recipe
    base_card = {"name": "x", "description": "old", "sha256": "stale", "preprocessing": old_recipe,
                 "training": {"recipe": {"base": 1},
                              "not_kept": [{"stage": 7, "why": "lost", "history": [{}], "steps_run": 3},
                                           {"stage": 10, "why": "lost too"}]}}
    scores = {"epoch_0.pt": {"synthetic_val_auc": 0.5, "photos_vs_fakes_auc": 0.5}}
    with pytest.raises(SoupError, match="lacks"):
        export_soup(soups, tmp_path / "w.safetensors", checkpoint="epoch_0.pt", base_card=base_card,
                    selection="rule", fine_tune_stages=[8])
    trace = [{"ingredients": ["a"], "score": 0.4, "kept": True, "checkpoint": "epoch_9.pt"},
             {"ingredients": ["a", "stage7-epoch0"], "score": 0.5, "kept": True, "checkpoint": "epoch_0.pt"}]
    card = export_soup(soups, tmp_path / "w.safetensors", checkpoint="epoch_0.pt", base_card=base_card,
                       selection="the rule", selection_scores=scores, fine_tune_stages=[7], description="new",
                       greedy_trace=trace, rule="the rule")
    assert card == read_card(tmp_path / "w.safetensors")
    assert card["training"]["soup"]["rule"] == "the rule"
    assert card["sha256"] == file_sha256(tmp_path / "w.safetensors") and card["description"] == "new"
    assert card["preprocessing"] == json.loads(json.dumps(recipe))  # the recipe the soups were scored with
    # the recipe the soups were scored with becomes the card's training recipe, without the run's own paths
    scored_with = card["training"]["recipe"]
    assert scored_with["data"]["crop_recipe"] == cfg.data.crop_recipe and scored_with["data"]["root"] is None
    assert scored_with["model"]["init_from"] is None and scored_with["train"]["output_dir"] is None
    assert preprocessing_to_dict(run_preprocessing(config_from_dict(scored_with))) == recipe
    from laanet_train.export import selection_recipe

    assert selection_recipe(card) == scored_with  # so the card names the recipe its preprocessing follows
    assert card["training"]["soup"]["base_recipe"] == {"base": 1}  # the base weights' own recipe stays recorded
    tr = card["training"]
    assert tr["selection"] == "the rule" and [e["stage"] for e in tr["not_kept"]] == [10]
    assert tr["soup"]["fine_tunes"] == [{"stage": 7, "history": [{}], "steps_run": 3}]
    # the ingredient's fine-tune joins the chain's totals; the stage left out does not
    assert (tr["steps_run"], tr["epochs_run"]) == (3, 1)
    assert [x["label"] for x in tr["soup"]["ingredients"]] == ["a", "stage7-epoch0"]
    assert tr["soup"]["candidates"]["epoch_0.pt"]["synthetic_val_auc"] == 0.5
    assert tr["soup"]["greedy"] == trace
    assert card["metrics"]["synthetic_val"]["n_pairs"] == 4 and card["thresholds"]["real_below"] >= 0
    # the written file is the float16 rounding of the average
    det = Detector.from_weights(tmp_path / "w.safetensors", device="cpu")
    key = "_conv_stem.weight"
    expected = (0.75 * base[key]).half().float()
    assert torch.equal(det.model.state_dict()[key], expected)


def test_greedy_soup_adds_candidates_best_first_while_the_soup_does_not_get_worse() -> None:
    from laanet_research.soup import greedy_soup

    singles = {"a": 0.90, "b": 0.80, "c": 0.85, "d": 0.70, "e": 0.80}
    soups = {("a", "c"): 0.91, ("a", "c", "b"): 0.89, ("a", "c", "e"): 0.91, ("a", "c", "e", "d"): 0.95}
    tried = []

    def evaluate(labels: tuple[str, ...]) -> float:
        tried.append(labels)
        return soups[labels]

    trace = greedy_soup(singles, evaluate)
    # best first; b before e on their tie (given order); b is left out, e joins on an equal score
    assert tried == [("a", "c"), ("a", "c", "b"), ("a", "c", "e"), ("a", "c", "e", "d")]
    assert [(s["ingredients"], s["kept"]) for s in trace] == [
        (["a"], True), (["a", "c"], True), (["a", "c", "b"], False), (["a", "c", "e"], True),
        (["a", "c", "e", "d"], True)]
    assert trace[0]["score"] == 0.90 and trace[-1]["score"] == 0.95
    assert greedy_soup({"x": 0.5}, evaluate) == [{"ingredients": ["x"], "score": 0.5, "kept": True}]
    with pytest.raises(SoupError, match="at least one"):
        greedy_soup({}, evaluate)


class _Interrupt(RuntimeError):
    pass


def test_a_greedy_search_scores_each_soup_once_and_resumes_after_an_interruption(tmp_path: Path) -> None:
    from laanet_research.soup import SCORES_FILE, SoupFolder, run_greedy

    run = _run(tmp_path)
    candidates = {}
    for label, value in (("p", 1.0), ("q", 3.0), ("r", 9.0)):
        candidates[label] = tmp_path / f"{label}.pt"
        torch.save({"w": torch.full((2,), value), "n": torch.tensor(1)}, candidates[label])
    calls: list[str] = []

    def scorer(folder: Path, name: str, fail_at: int | None = None) -> dict[str, float]:
        if fail_at is not None and len(calls) == fail_at:
            raise _Interrupt
        calls.append(name)
        w = torch.load(folder / name, weights_only=True)["w"][0].item()
        return {"synthetic_val_auc": 1 - abs(w - 2.0) / 10, "photos_vs_fakes_auc": 1.0}  # best near w = 2

    def value(row: dict[str, float]) -> float:
        return row["synthetic_val_auc"]

    out = tmp_path / "greedy"
    with pytest.raises(_Interrupt):  # stopped after the three singles and before the first soup is scored
        run_greedy(SoupFolder(out, run, candidates), lambda f, n: scorer(f, n, fail_at=3), value)
    assert calls == ["epoch_0.pt", "epoch_1.pt", "epoch_2.pt"]
    assert sorted(json.loads((out / SCORES_FILE).read_text())["checkpoints"]) == calls
    result = run_greedy(SoupFolder(out, run, candidates), scorer, value)
    # singles p (0.9) and q (0.9) tie, r 0.3: p + q = 2.0 is best (kept), p + q + r = 4.33 is worse (left out)
    assert calls[3:] == ["epoch_3.pt", "epoch_4.pt"]  # epoch_3 was written before the stop, scored now
    assert [(s["ingredients"], s["kept"], s["checkpoint"]) for s in result["greedy"]] == [
        (["p"], True, "epoch_0.pt"), (["p", "q"], True, "epoch_3.pt"), (["p", "q", "r"], False, "epoch_4.pt")]
    assert result["chosen"] == "epoch_3.pt"
    record = json.loads((out / SOUP_FILE).read_text())
    assert [x["label"] for x in record["epoch_3.pt"]] == ["p", "q"]
    assert torch.load(out / "epoch_3.pt", weights_only=True)["w"].tolist() == [2.0, 2.0]
    scores = json.loads((out / SCORES_FILE).read_text())
    assert scores["chosen"] == "epoch_3.pt" and len(scores["checkpoints"]) == 5
    again = run_greedy(SoupFolder(out, run, candidates), scorer, value)
    assert again == result and len(calls) == 5  # nothing is scored twice
    other = tmp_path / "other"
    other.mkdir()
    recipe = yaml.safe_load((run / "config.yaml").read_text())
    (other / "config.yaml").write_text(yaml.safe_dump(dict(recipe, seed=recipe["seed"] + 1)))
    with pytest.raises(SoupError, match="another recipe"):  # its scores would not be comparable
        SoupFolder(out, other, candidates)
    assert scores["rule"] == SELECTION_RULE  # the folder's rule is written beside its rows ...
    with pytest.raises(SoupError, match="another selection rule"):  # ... and a search by another rule is refused
        SoupFolder(out, run, candidates, rule=SELECTION_RULE_WITH_SWAPS)


def test_greedy_scores_by_the_rule_of_select_with_the_real_swaps_unless_told_otherwise() -> None:
    parser = build_parser()
    for command in (["select", "run"], ["soup", "greedy", "out", "--config-from", "run", "--candidate", "a=x.pt"]):
        assert parser.parse_args([*command, "--shared", "s"]).swap_split == "select"
        assert parser.parse_args([*command, "--shared", "s", "--swap-split", "none"]).swap_split == "none"
        assert parser.parse_args([*command, "--shared", "s"]).tail is True
        assert parser.parse_args([*command, "--shared", "s", "--no-tail"]).tail is False


def test_the_rule_a_search_states_follows_its_options() -> None:
    from laanet_research.commands import _rule_of
    from laanet_research.selection import SELECTION_RULE_WITH_TAIL

    parser = build_parser()
    base = ["select", "run", "--shared", "s"]
    assert _rule_of(parser.parse_args(base)) == ("select", SELECTION_RULE_WITH_TAIL)
    assert _rule_of(parser.parse_args([*base, "--no-tail"])) == ("select", SELECTION_RULE_WITH_SWAPS)
    assert _rule_of(parser.parse_args([*base, "--swap-split", "none"])) == (None, SELECTION_RULE)


def test_greedy_with_the_real_swaps_names_the_missing_list(tmp_path: Path, capsys) -> None:
    run = _run(tmp_path)
    shared = tmp_path / "shared"
    for sub in ("faces/portraits", "faces/realworld", "lfw"):
        (shared / sub).mkdir(parents=True)
    (shared / "lfw" / "landmarks68_dlib.npz").write_bytes(b"")
    torch.save({"w": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(SystemExit):
        main(["soup", "greedy", str(tmp_path / "g"), "--config-from", str(run), "--shared", str(shared),
              "--candidate", f"a={tmp_path / 'x.pt'}"])
    assert "index.csv" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()  # refused before the folder is made


def test_greedy_refuses_missing_candidates_and_repeated_labels(tmp_path: Path, capsys) -> None:
    run = _run(tmp_path)
    shared = tmp_path / "shared"  # the layout the check looks for (no photos: the search stops before scoring)
    for sub in ("faces/portraits", "faces/realworld", "lfw"):
        (shared / sub).mkdir(parents=True)
    (shared / "lfw" / "landmarks68_dlib.npz").write_bytes(b"")
    (shared / "deepfakes").mkdir()
    (shared / "deepfakes" / "index.csv").write_text("path,label,method,group,split\n")
    with pytest.raises(SystemExit):
        main(["soup", "greedy", str(tmp_path / "g"), "--config-from", str(run), "--shared", str(shared),
              "--candidate", f"a={tmp_path / 'gone.pt'}"])
    assert "gone.pt" in capsys.readouterr().err
    torch.save({"w": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(SystemExit):
        main(["soup", "greedy", str(tmp_path / "g"), "--config-from", str(run), "--shared", str(tmp_path),
              "--candidate", f"a={tmp_path / 'x.pt'}", "--candidate", f"a={tmp_path / 'x.pt'}"])
    assert "labels must differ" in capsys.readouterr().err


def test_greedy_names_what_the_shared_folder_lacks(tmp_path: Path, capsys) -> None:
    run = _run(tmp_path)
    torch.save({"w": torch.zeros(1)}, tmp_path / "x.pt")
    with pytest.raises(SystemExit) as exc:
        main(["soup", "greedy", str(tmp_path / "g"), "--config-from", str(run), "--shared", str(tmp_path / "nowhere"),
              "--candidate", f"a={tmp_path / 'x.pt'}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "faces/portraits" in err and "landmarks68_dlib.npz" in err and "Traceback" not in err
    assert not (tmp_path / "g").exists()  # nothing written before the check


def test_the_base_card_puts_the_shipped_weights_first_in_the_chain_and_the_fine_tunes_beside(tmp_path: Path) -> None:
    from laanet_research.card_split import join_card, split_card
    from laanet_research.soup_base import FineTune, base_card, read_spec
    from laanet_train.state import STATE_FILE

    run = _run(tmp_path)
    torch.save({"global_step": 900, "elapsed": 812.34, "history": json.dumps([{"epoch": 0}] * 3)}, run / STATE_FILE)
    (tmp_path / "sel.json").write_text(json.dumps({"checkpoints": {"epoch_2.pt": {"swap_auc": 0.85}}}))
    full = {"name": "w", "variant": "v", "sha256": "abc", "metrics": {"m": 1}, "real_image_validation": {"r": 2},
            "training": {"data": "old", "validation": "val", "synthesis": "sbi", "steps_run": 9310, "epochs_run": 39,
                         "wall_time_seconds": 100.0, "recipe": {"data": {}}}}
    shipped, record = split_card(full)
    assert join_card(shipped, record) == full
    with pytest.raises(ValueError, match="the record of"):
        join_card(shipped, dict(record, sha256="other"))
    ft = FineTune(43, run, "the shipped weights", (tmp_path / "sel.json",), "seed 509")
    card = base_card(shipped, record, chain_stage=42, data="LFW and more", fine_tunes=[ft])
    tr = card["training"]
    assert tr["data"] == "LFW and more" and tr["validation"] == "val"
    first = tr["earlier_stages"][0]
    assert first["stage"] == 42 and first["sha256"] == "abc" and first["training"] == full["training"]
    assert (tr["steps_run"], tr["epochs_run"], tr["wall_time_seconds"]) == (9310, 39, 100.0)
    (kept_out,) = tr["not_kept"]
    assert kept_out["stage"] == 43 and kept_out["run"] == "runs/run" and kept_out["steps_run"] == 900
    assert kept_out["wall_time_seconds"] == 812.3 and len(kept_out["history"]) == 3
    assert kept_out["selection_scores"]["candidates"] == {"epoch_2.pt": {"swap_auc": 0.85}}
    assert card["metrics"] == {"m": 1} and card["real_image_validation"] == {"r": 2}
    with pytest.raises(ValueError, match="must differ"):
        base_card(shipped, record, chain_stage=42, data="d", fine_tunes=[ft, ft])
    # the same from a spec file, with paths relative to it, through the command line
    (tmp_path / "card.json").write_text(json.dumps(shipped))
    (tmp_path / "record.json").write_text(json.dumps(record))
    spec = {"card": "card.json", "record": "record.json", "chain_stage": 42, "data": "LFW and more",
            "fine_tunes": [{"stage": 43, "run": "run", "initialised_from": "the shipped weights",
                            "scores": ["sel.json"], "why": "seed 509"}]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    assert base_card(**read_spec(tmp_path / "spec.json")) == card
    assert main(["soup", "base-card", str(tmp_path / "spec.json"), str(tmp_path / "base.json")]) == 0
    assert json.loads((tmp_path / "base.json").read_text()) == card
    (tmp_path / "bad.json").write_text(json.dumps({"card": "card.json"}))
    with pytest.raises(SystemExit):
        main(["soup", "base-card", str(tmp_path / "bad.json"), str(tmp_path / "b2.json")])
