"""The demo, the `laanet predict` CLI and the benchmark harness give the same score for the same file.

All three go through one `Detector` and one set of aggregation rules; these tests make sure no front end
has drifted into its own preprocessing, sampling or aggregation.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

N_FRAMES = 4
TOL = 2e-6  # the CLI rounds probabilities to 6 decimals


def _cli_record(path: Path, tmp_path: Path, frames: int = N_FRAMES) -> dict:
    from laanet_demo.cli import main as laanet_main

    out = tmp_path / "predict.jsonl"
    status = laanet_main(["predict", str(path), "--frames", str(frames), "--out", str(out), "--quiet"])
    assert status == 0
    (record,) = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    assert record["error"] is None
    return record


def _bench_score(path: Path, other: Path, tmp_path: Path, level: str, frames: int = N_FRAMES) -> float:
    """The harness's score for ``path`` (metrics need both classes, so ``other`` is listed as the fake)."""
    from laanet_bench.cli import main as bench_main

    table = tmp_path / "items.csv"
    table.write_text(f"path,label\n{path},0\n{other},1\n")
    out = tmp_path / "bench"
    status = bench_main([
        "evaluate", "--csv", str(table), "--weights", "laanet-lite0-sbi-lfw", "--out", str(out),
        "--frames", str(frames), "--level", level, "--bootstrap", "0", "--quiet", "--device", "cpu",
    ])
    assert status == 0
    (scores_file,) = sorted((out / "scores").glob(f"*_{level}.csv"))
    with scores_file.open() as fh:
        scores = {row["key"]: float(row["score"]) for row in csv.DictReader(fh)}
    assert len(scores) == 2, scores
    (score,) = [v for k, v in scores.items() if Path(k).name == path.name or k == str(path)]
    return score


def test_image_scores_agree(shared_data: Path, builtin_detector, tmp_path: Path) -> None:
    from laanet_demo.analysis import analyse_image
    from laanet_demo.limits import DemoLimits
    from laanet_model.scoring import frame_score, sigmoid
    from laanet_synth.imageio import read_image

    image = shared_data / "faces" / "groups" / "couple.jpg"
    pred = builtin_detector.predict_image(read_image(image))
    assert len(pred.faces) >= 2, "the couple photo has two faces"
    policy = builtin_detector.preprocessing.frame_policy
    direct = sigmoid(frame_score([f.logit for f in pred.faces], policy, [f.area for f in pred.faces]))

    demo = analyse_image(builtin_detector, image, DemoLimits())
    assert demo.n_faces_found == len(pred.faces)
    assert demo.prob == pytest.approx(direct, abs=1e-9)

    cli = _cli_record(image, tmp_path)
    assert cli["n_faces"] == len(pred.faces)
    assert cli["prob"] == pytest.approx(direct, abs=TOL)

    bench = _bench_score(image, shared_data / "faces" / "portraits" / "img1.jpg", tmp_path, "frame")
    assert bench == pytest.approx(direct, abs=1e-6)


def test_video_scores_agree(shared_data: Path, builtin_detector, tmp_path: Path) -> None:
    from laanet_demo.analysis import analyse_video
    from laanet_demo.limits import DemoLimits
    from laanet_model.scoring import frame_score, video_score
    from laanet_synth.video import read_frames

    video = shared_data / "videos" / "knqhpwoigk.mp4"
    policy = builtin_detector.preprocessing.frame_policy
    frame_logits = []
    for _, frame in read_frames(video, N_FRAMES):
        faces = builtin_detector.predict_image(frame).faces
        frame_logits.append(frame_score([f.logit for f in faces], policy, [f.area for f in faces]))
    assert sum(v is not None for v in frame_logits) >= 2, "the sample video shows a face in most frames"
    direct = video_score(frame_logits)

    demo = analyse_video(builtin_detector, video, N_FRAMES, DemoLimits())
    assert [f.logit for f in demo.frames] == pytest.approx(frame_logits, abs=1e-9)
    assert demo.prob == pytest.approx(direct, abs=1e-9)

    cli = _cli_record(video, tmp_path)
    assert cli["n_frames"] == N_FRAMES
    assert cli["prob"] == pytest.approx(direct, abs=TOL)

    bench = _bench_score(video, shared_data / "videos" / "aajsqyyjni.mp4", tmp_path, "video")
    assert bench == pytest.approx(direct, abs=1e-6)
