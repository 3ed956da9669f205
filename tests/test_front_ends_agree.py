"""Five callers, one way from a file to a score: the demo, the `laanet predict` CLI, the benchmark harness,
training validation and folder evaluation give the same scores for the same inputs.

Every caller goes through the `Detector` stages (find faces, crop, normalise, network with the flip test,
aggregate); these tests make sure none has drifted into its own preprocessing, face selection or
aggregation. The inputs have several faces per frame (more than the demo shows) and no face at all; a
frame without a face has no score in the demo, the CLI and the harness's frame level, 0.5 at the
harness's video level, and the whole-image score in folder evaluation (the protocol cards record).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

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


def test_image_scores_agree_across_five_callers(images, direct, builtin_detector, shipped_card: dict,
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
    expected = {name: pred.prob() for name, pred in direct.items()}
    assert expected["faceless"] is None
    # the frame score covers every face: the most fake one under the built-in recipe
    assert expected["group"] == pytest.approx(sigmoid(max(f.logit for f in direct["group"].faces)), abs=1e-12)

    # 1. the demo (showing fewer faces than it scores)
    for name, path in images.items():
        demo = analyse_image(det, path, DemoLimits(max_faces=2))
        assert demo.n_faces_found == len(direct[name].faces)
        assert len(demo.faces) == min(2, len(direct[name].faces))
        assert demo.prob == (None if expected[name] is None else pytest.approx(expected[name], abs=1e-9)), name

    # 2. the CLI
    cli = _cli_records(list(images.values()), tmp_path)
    for name, path in images.items():
        rec = cli[path.name]
        assert rec["n_faces"] == len(direct[name].faces)
        assert rec["prob"] == (None if expected[name] is None else pytest.approx(expected[name], abs=TOL)), name

    # 3. the harness (frame level: a faceless frame has no row; video level: 0.5)
    labels = {"couple": 0, "group": 1, "faceless": 0}
    rows = [(images[n], labels[n]) for n in images]
    frame = _bench_scores(rows, tmp_path, "frame")
    assert set(frame) == {images["couple"].name, images["group"].name}
    for name in ("couple", "group"):
        assert frame[images[name].name] == pytest.approx(expected[name], abs=1e-6), name
    video = _bench_scores(rows, tmp_path, "video")
    assert video[images["faceless"].name] == 0.5

    # 4. folder evaluation (a faceless image is scored whole)
    folder = tmp_path / "labelled"
    for name, path in images.items():
        (folder / ("fake" if labels[name] else "real")).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, folder / ("fake" if labels[name] else "real") / path.name)
    scores = score_folder(det, folder)
    by_name = {p.name: (logit, found) for p, logit, found in zip(scores.paths, scores.logits, scores.face_found,
                                                                  strict=True)}
    for name in ("couple", "group"):
        logit, found = by_name[images[name].name]
        assert found and sigmoid(logit) == pytest.approx(expected[name], abs=1e-9), name
    whole = warp_to_size(read_image(images["faceless"]), det.input_size)
    logit, found = by_name[images["faceless"].name]
    assert not found and logit == pytest.approx(det.predict_crops([whole])[0].logit, abs=1e-9)

    # 5. training validation: the recipe the built-in weights were selected with builds the same preprocessing
    #    around the same network, and its folder validation scores the same folder from the same per-image scores
    cfg = config_from_dict(selection_recipe(shipped_card))
    val_det = run_detector(det.model, cfg, "cpu", face_finder=det.face_finder)
    assert val_det.preprocessing == det.preprocessing
    for name, path in images.items():
        got_prob = val_det.predict_image(read_image(path)).prob()
        assert got_prob == (None if expected[name] is None else pytest.approx(expected[name], abs=1e-9)), name
    got = FolderValidation(folder)(val_det)
    assert got == pytest.approx({"folder_auc": scores.metrics()["auc"], "folder_ap": scores.metrics()["ap"]})


def test_training_validation_scores_dataset_tensors_like_the_detector(images, direct, builtin_detector) -> None:
    """Synthetic validation feeds the dataset's normalised tensors to the network stage; for the same crops
    that gives the scores the detector gives from the crops themselves."""
    import torch
    from laanet_synth.dataset import to_tensor

    det = builtin_detector
    crops = [f.crop for f in direct["group"].faces]
    x = torch.stack([to_tensor(c, det.preprocessing.mean, det.preprocessing.std) for c in crops])
    cls, _ = det.predict_logits(x)
    assert cls.double().numpy() == pytest.approx([f.logit for f in direct["group"].faces], abs=1e-4)


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
