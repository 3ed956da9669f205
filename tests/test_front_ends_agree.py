"""Seven callers, one way from a file to a score: the demo, the `laanet predict` CLI, the benchmark harness,
training validation, folder evaluation, threshold calibration and export give the same scores for the same
inputs.

Every caller goes through the `Detector` stages (find faces, crop, normalise, network with the flip test,
aggregate); these tests make sure none has drifted into its own preprocessing, face selection, normalisation,
aggregation or no-face rule. The inputs have several faces per frame (more than the demo shows) and no face at
all; an image with no judged face gets what the recipe's ``no_face`` rule says (for the built-in weights
``"whole_image"``: the whole image warped to the input size and scored as one face) in every caller that
scores it, and the official recipes' rule (``"chance"``: 0.5) in the harness.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

N_FRAMES = 4
TOL = 2e-6  # the CLI rounds probabilities to 6 decimals


def _faceless(h: int = 240, w: int = 320) -> np.ndarray:
    """A smooth textured gradient: no face anywhere."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([120 + 80 * np.sin(xx / 40), 90 + 60 * np.cos(yy / 30), 160 - 0.2 * yy], axis=-1)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def images(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two faces, many faces, and none (as files, since every front end starts from a file)."""
    from PIL import Image

    d = tmp_path_factory.mktemp("inputs")
    out = {
        "couple": shared_data / "faces" / "groups" / "couple.jpg",
        "group": shared_data / "faces" / "groups" / "selfie-many-people.jpg",
        "faceless": d / "scenery.png",
    }
    Image.fromarray(_faceless()).save(out["faceless"])
    return out


@pytest.fixture(scope="module")
def direct(images: dict[str, Path], builtin_detector) -> dict[str, object]:
    """The detector's own answer per image: its ImagePrediction."""
    from laanet_synth.imageio import read_image

    preds = {name: builtin_detector.predict_image(read_image(p)) for name, p in images.items()}
    assert len(preds["couple"].faces) == 2, "the couple photo has two faces"
    assert len(preds["group"].faces) >= 4, "the group photo has many faces"
    assert preds["faceless"].faces == []
    return preds


def _cli_records(paths: list[Path], tmp_path: Path, frames: int = N_FRAMES) -> dict[str, dict]:
    from laanet_demo.cli import main as laanet_main

    out = tmp_path / "predict.jsonl"
    status = laanet_main(["predict", *map(str, paths), "--frames", str(frames), "--out", str(out), "--quiet"])
    assert status == 0
    records = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert all(r["error"] is None for r in records)
    return {Path(r["path"]).name: r for r in records}


def _bench_scores(rows: list[tuple[Path, int]], tmp_path: Path, level: str, frames: int = N_FRAMES
                  ) -> dict[str, float]:
    """The harness's scores (key = file name) for ``rows`` of (path, label)."""
    from laanet_bench.cli import main as bench_main

    table = tmp_path / f"items-{level}.csv"
    table.write_text("path,label\n" + "".join(f"{p},{label}\n" for p, label in rows))
    out = tmp_path / f"bench-{level}"
    status = bench_main([
        "evaluate", "--csv", str(table), "--weights", "laanet-lite0-sbi-lfw", "--out", str(out),
        "--frames", str(frames), "--level", level, "--bootstrap", "0", "--quiet", "--device", "cpu",
    ])
    assert status == 0
    (scores_file,) = sorted((out / "scores").glob(f"*_{level}.csv"))
    with scores_file.open() as fh:
        return {Path(row["key"]).name: float(row["score"]) for row in csv.DictReader(fh)}


def test_image_scores_agree_across_callers(images, direct, builtin_detector, shipped_card: dict,
                                           tmp_path: Path) -> None:
    from laanet_demo.analysis import analyse_image
    from laanet_demo.limits import DemoLimits
    from laanet_model.scoring import sigmoid
    from laanet_synth.crops import warp_to_size
    from laanet_synth.imageio import read_image
    from laanet_train.config import config_from_dict
    from laanet_train.evaluate import score_folder
    from laanet_train.export import selection_recipe
    from laanet_train.validation import FolderValidation, run_detector

    det = builtin_detector
    assert det.preprocessing.no_face == "whole_image"
    expected = {name: pred.score() for name, pred in direct.items()}
    # the faceless image: no judged face, so the recipe's rule scores the whole image as one face
    assert direct["faceless"].prob() is None
    whole = warp_to_size(read_image(images["faceless"]), det.input_size)
    assert expected["faceless"] == pytest.approx(det.predict_crops([whole])[0].prob, abs=1e-12)
    # the frame score covers every face: the most fake one under the built-in recipe
    assert expected["group"] == pytest.approx(sigmoid(max(f.logit for f in direct["group"].faces)), abs=1e-12)

    # 1. the demo (showing fewer faces than it scores)
    for name, path in images.items():
        demo = analyse_image(det, path, DemoLimits(max_faces=2))
        assert demo.n_faces_found == len(direct[name].faces)
        assert len(demo.faces) == min(2, len(direct[name].faces))
        assert demo.score == pytest.approx(expected[name], abs=1e-9), name
        assert (demo.prob is None) == (name == "faceless"), name

    # 2. the CLI
    cli = _cli_records(list(images.values()), tmp_path)
    for name, path in images.items():
        rec = cli[path.name]
        assert rec["n_faces"] == len(direct[name].faces)
        assert rec["prob"] == pytest.approx(expected[name], abs=TOL), name
    assert cli[images["faceless"].name]["reason"] == "no face found: the whole image scored as one face"

    # 3. the harness, following the recipe (every image has a row at both levels, with the same scores), and
    #    its records say which settings came from the recipe
    labels = {"couple": 0, "group": 1, "faceless": 0}
    rows = [(images[n], labels[n]) for n in images]
    frame = _bench_scores(rows, tmp_path, "frame")
    video = _bench_scores(rows, tmp_path, "video")
    for name in images:
        assert frame[images[name].name] == pytest.approx(expected[name], abs=1e-6), name
        assert video[images[name].name] == pytest.approx(expected[name], abs=1e-6), name
    record = json.loads((tmp_path / "bench-frame" / "records.jsonl").read_text().splitlines()[-1])
    assert record["no_face"] == "whole_image" and record["n_no_face"] == 1
    assert record["tta"] == "flip" and record["face_policy"] == "max"
    assert record["n_frames"] == N_FRAMES and set(record["from_recipe"]) == {"face_policy", "tta", "no_face"}

    # 4. folder evaluation
    folder = tmp_path / "labelled"
    for name, path in images.items():
        (folder / ("fake" if labels[name] else "real")).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / ("fake" if labels[name] else "real") / path.name)
    scores = score_folder(det, folder)
    by_name = {p.name: (logit, found) for p, logit, found in zip(scores.paths, scores.logits, scores.face_found,
                                                                  strict=True)}
    for name in images:
        logit, found = by_name[images[name].name]
        assert found == (name != "faceless") and sigmoid(logit) == pytest.approx(expected[name], abs=1e-9), name

    # 5. training validation: the recipe the built-in weights were selected with builds the same preprocessing
    #    around the same network, and its folder validation scores the same folder from the same per-image scores
    cfg = config_from_dict(selection_recipe(shipped_card))
    val_det = run_detector(det.model, cfg, "cpu", face_finder=det.face_finder)
    assert val_det.preprocessing == det.preprocessing
    for name, path in images.items():
        assert val_det.predict_image(read_image(path)).score() == pytest.approx(expected[name], abs=1e-9), name
    got = FolderValidation(folder)(val_det)
    assert got == pytest.approx({"folder_auc": scores.metrics()["auc"], "folder_ap": scores.metrics()["ap"]})


def test_harness_follows_the_recipe_unless_told_otherwise(images, builtin_detector, tmp_path: Path) -> None:
    """The no-face rule, the frame count and the flip test come from the weights' recipe unless given: under the
    official recipes' rule ("chance") a faceless image scores 0.5 at both levels; given settings win, and the
    records say which were given."""
    import dataclasses

    from laanet_bench.datasets.base import MediaItem
    from laanet_bench.evaluation import RunInfo, run_evaluation
    from laanet_bench.metrics import BootstrapConfig
    from laanet_bench.pipeline import EvalSettings
    from laanet_bench.scorer import DetectorScorer
    from laanet_model.detector import Detector
    from laanet_model.weights import get_weights
    from laanet_synth.imageio import read_image

    det = builtin_detector
    official_rule = get_weights("laanet-official-sbi").preprocessing.no_face
    assert official_rule == "chance"
    pre = dataclasses.replace(det.preprocessing, no_face=official_rule, frames_per_video=1)
    chance = Detector(det.model, pre, face_finder=det.face_finder, device="cpu", thresholds=det.thresholds)
    scorer = DetectorScorer(chance, "builtin-chance", "2" * 64)
    labels = {"couple": 0, "group": 1, "faceless": 1}
    items = [MediaItem(key=p.name, paths=(p,), label=labels[n], kind="frames") for n, p in images.items()]
    boot = BootstrapConfig(n_boot=0)
    recs, _ = run_evaluation(items, scorer, EvalSettings(), RunInfo("agree"), tmp_path / "chance", bootstrap=boot,
                             progress=False)
    couple = det.predict_image(read_image(images["couple"])).score()
    for rec in recs:
        assert rec.no_face == "chance" and rec.n_frames == 1 and rec.tta == "flip", rec.level
        assert set(rec.from_recipe) == {"n_frames", "face_policy", "tta", "no_face"}
        with (tmp_path / "chance" / rec.scores_file).open() as fh:
            got = {row["key"]: float(row["score"]) for row in csv.DictReader(fh)}
        assert got[images["faceless"].name] == 0.5, rec.level
        assert got[images["couple"].name] == pytest.approx(couple, abs=1e-6), rec.level

    recs, _ = run_evaluation(items, scorer, EvalSettings(no_face="no_score", tta="none"), RunInfo("agree"),
                             tmp_path / "given", bootstrap=boot, progress=False)
    for rec in recs:
        assert rec.no_face == "no_score" and rec.tta == "none" and rec.n_no_face == 1, rec.level
        assert set(rec.from_recipe) == {"n_frames", "face_policy"}
        assert rec.n_real + rec.n_fake == 2  # the faceless image has no score: left out, and counted


def test_calibration_and_export_score_through_the_detector(lfw_dir: Path, builtin_detector, shipped_card: dict
                                                          ) -> None:
    """Threshold calibration and export (``laanet_train.export``) score the synthetic validation pairs through
    the detector's network stage on the dataset's tensors; the same crops through ``Detector.predict_crops``
    give the same probabilities, so the bands and the card's figures are the detector's."""
    from laanet_bench.metrics import auc
    from laanet_synth.dataset import to_tensor
    from laanet_train.calibration import calibrate_bands
    from laanet_train.config import config_from_dict
    from laanet_train.data import validation_dataset
    from laanet_train.export import EXPORT_CALIBRATION, exported_validation, selection_recipe

    det = builtin_detector
    recipe = selection_recipe(shipped_card)
    data = {**recipe["data"], "root": str(lfw_dir), "max_val_faces": 4,
            "max_train_faces": recipe["data"]["batch_pairs"], "num_workers": 0}
    cfg = config_from_dict({**recipe, "data": data})
    _, figures, bands = exported_validation(det.model, cfg)

    # the same pairs, cut by the dataset, scored from their uint8 crops by the detector
    val_set = validation_dataset(cfg.data, cfg.seed)
    val_set.set_epoch(0)
    raws = [val_set.raw_item(i) for i in range(len(val_set))]
    reals, fakes = [r["real"] for r in raws], [r["fake"] for r in raws]
    probs = np.asarray([p.prob for p in det.predict_crops(reals + fakes)])
    labels = np.asarray([0] * len(reals) + [1] * len(fakes))
    assert figures["n_pairs"] == len(raws) == 4
    assert figures["auc"] == pytest.approx(round(auc(labels, probs), 4), abs=1e-4)
    rule = calibrate_bands(probs[labels == 0], EXPORT_CALIBRATION)  # the one band rule, on the real faces
    assert bands["real_below"] == pytest.approx(rule["real_below"], abs=1e-4)
    assert bands["fake_above"] == pytest.approx(rule["fake_above"], abs=1e-4)
    # one normalise: the dataset's tensors are the detector's input, bit for bit
    x = torch.stack([to_tensor(c, det.preprocessing.mean, det.preprocessing.std) for c in reals])
    assert torch.equal(x, det.normalise(np.stack(reals)))


def test_training_validation_scores_dataset_tensors_like_the_detector(images, direct, builtin_detector) -> None:
    """Synthetic validation feeds the dataset's normalised tensors to the network stage; for the same crops
    that gives the scores the detector gives from the crops themselves."""
    from laanet_synth.dataset import to_tensor

    det = builtin_detector
    crops = [f.crop for f in direct["group"].faces]
    x = torch.stack([to_tensor(c, det.preprocessing.mean, det.preprocessing.std) for c in crops])
    assert torch.equal(x, det.normalise(np.stack(crops)))  # one normalise, the same arithmetic
    cls, _ = det.predict_logits(x)
    # the same float32 network on the same tensors; the convolution kernels' summation order may still differ in
    # the last bits between calls (about 1e-6 of a logit near 1.4), nothing more
    assert cls.double().numpy() == pytest.approx([f.logit for f in direct["group"].faces], abs=1e-5)


def test_video_scores_agree(shared_data: Path, builtin_detector, tmp_path: Path) -> None:
    from laanet_demo.analysis import analyse_video
    from laanet_demo.limits import DemoLimits
    from laanet_synth.video import read_frames

    video = shared_data / "videos" / "knqhpwoigk.mp4"
    det = builtin_detector
    frame_logits = [det.predict_image(frame).frame_logit() for _, frame in read_frames(video, N_FRAMES)]
    assert sum(v is not None for v in frame_logits) >= 2, "the sample video shows a face in most frames"
    direct = det.aggregate_video(frame_logits)

    # the demo scores the faces of several frames in one batch: float32 sums over another batch composition
    # may differ in the last bits, nothing more
    demo = analyse_video(det, video, N_FRAMES, DemoLimits())
    assert [f.logit for f in demo.frames] == pytest.approx(frame_logits, abs=1e-5)
    assert demo.prob == pytest.approx(direct, abs=1e-6)

    cli = _cli_records([video], tmp_path)[video.name]
    assert cli["n_frames"] == N_FRAMES
    assert cli["prob"] == pytest.approx(direct, abs=TOL)

    bench = _bench_scores([(video, 0), (shared_data / "videos" / "aajsqyyjni.mp4", 1)], tmp_path, "video")
    assert bench[video.name] == pytest.approx(direct, abs=1e-6)
