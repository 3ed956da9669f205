"""`laanet predict`: inputs, output formats, resuming, bad files, and agreement with the Detector."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from laanet_demo import cli
from laanet_demo.inference import sigmoid


def test_expand_inputs_walks_folders_and_checks_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.jpg", "a/b/y.PNG", "a/b/clip.mp4", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    got = cli.expand_inputs([tmp_path / "a", tmp_path / "a" / "x.jpg"])
    assert [(p.relative_to(tmp_path).as_posix(), k) for p, k in got] == [
        ("a/b/clip.mp4", "video"), ("a/b/y.PNG", "image"), ("a/x.jpg", "image"),
    ]
    with pytest.raises(cli.CliError, match="unknown file type '.txt'"):
        cli.expand_inputs([tmp_path / "a" / "notes.txt"])
    with pytest.raises(cli.CliError, match="no such file or folder"):
        cli.expand_inputs([tmp_path / "missing.jpg"])


def test_csv_and_jsonl_forms() -> None:
    recs = [
        {"path": "a.jpg", "kind": "image", "n_faces": 2, "prob": 0.25, "verdict": "real", "n_frames": None,
         "error": None, "faces": [{"face": 1}]},
        {"path": "b.mp4", "kind": "video", "n_faces": 0, "prob": None, "verdict": None, "n_frames": 8,
         "error": None, "frames": []},
    ]
    rows = list(csv.DictReader(io.StringIO(cli.csv_text(recs))))
    assert list(rows[0]) == cli.CSV_COLUMNS
    assert rows[0]["prob"] == "0.25" and rows[1]["prob"] == "" and rows[1]["n_frames"] == "8"
    lines = cli.jsonl_text(recs).splitlines()
    assert [json.loads(x) for x in lines] == recs


def test_partial_records_survive_a_torn_line(tmp_path: Path) -> None:
    part = tmp_path / ".r.csv.partial.jsonl"
    part.write_text(json.dumps({"path": "a.jpg", "prob": 0.1}) + "\n" + '{"path": "b.jp')
    assert list(cli.load_partial(part)) == ["a.jpg"]
    assert cli.load_partial(tmp_path / "none") == {}


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.csv"
    cli.write_atomic(out, "one\n")
    cli.write_atomic(out, "two\n")
    assert out.read_text() == "two\n" and sorted(p.name for p in out.parent.iterdir()) == ["r.csv"]


def test_usage_errors_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    img = tmp_path / "a.jpg"
    img.write_bytes(b"x")
    assert cli.main(["predict", str(img), "--out", str(tmp_path / "r.txt")]) == 2
    assert "expected a file name ending in .csv or .jsonl" in capsys.readouterr().err
    assert cli.main(["predict", str(tmp_path / "nope.jpg")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert cli.main(["predict", str(img), "--frames", "0"]) == 2
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    assert cli.main(["predict", str(empty)]) == 2
    assert "no image or video files" in capsys.readouterr().err


def test_bad_files_become_error_records(bad_inputs: dict[str, Path]) -> None:
    for name in ("text_as_jpg", "truncated_jpeg", "empty", "huge"):
        rec = cli.score_file(object(), bad_inputs[name], "image", 4, cli.CLI_LIMITS)
        assert rec["error"] and rec["prob"] is None and rec["path"] == str(bad_inputs[name]), name


def _args(paths: list[Path], out: Path | None, frames: int = 3) -> Any:
    return cli.build_parser().parse_args(
        ["predict", *map(str, paths), "--frames", str(frames), "--quiet"] + (["--out", str(out)] if out else [])
    )


@pytest.mark.slow
def test_predict_images_videos_and_bad_files_through_the_detector(
    tmp_path: Path, detector: Any, portrait: Path, group_photo: Path, dfdc_video: Path,
    bad_inputs: dict[str, Path],
) -> None:
    from laanet_synth.imageio import read_image

    out = tmp_path / "new-folder" / "results.jsonl"
    inputs = [portrait, group_photo, dfdc_video, bad_inputs["no_face"], bad_inputs["text_as_jpg"]]
    status = cli.run_predict(_args(inputs, out), detector=detector)
    assert status == 1  # one file could not be read
    recs = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(recs) == 5 and not cli.partial_path(out).exists()
    for img in (portrait, group_photo):
        rec = recs[img.name]
        direct = detector.predict_image(read_image(img)).faces
        assert rec["kind"] == "image" and rec["n_faces"] == len(direct) >= 1
        assert np.allclose([f["prob"] for f in rec["faces"]], [float(f.prob) for f in direct], atol=1e-5)
        # the file's score is the detector's frame score over every face found (the recipe's frame rule)
        assert math.isclose(rec["prob"], detector.predict_image(read_image(img)).prob(), abs_tol=1e-5)
    video = recs[dfdc_video.name]
    assert video["kind"] == "video" and video["n_frames"] == 3 and len(video["frames"]) == 3
    assert detector.preprocessing.frame_policy == "max"  # the built-in recipe: the most fake face per frame
    logits = [max(x["logit"] for x in fr["faces"]) for fr in video["frames"] if fr["faces"]]
    assert logits and math.isclose(video["prob"], sigmoid(float(np.mean(logits))), abs_tol=1e-4)
    assert recs["landscape.png"]["n_faces"] == 0 and recs["landscape.png"]["prob"] is None
    assert recs["landscape.png"]["error"] is None
    assert "not an image" in recs["notes.jpg"]["error"]
    # the CSV form of the same run: resumed from nothing, one row per file, empty prob without a face
    out_csv = tmp_path / "results.csv"
    assert cli.run_predict(_args(inputs[3:], out_csv), detector=detector) == 1
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["kind"] for r in rows] == ["image", "image"] and rows[0]["prob"] == "" and rows[0]["n_faces"] == "0"


@pytest.mark.slow
def test_predict_resumes_from_partial_records(tmp_path: Path, detector: Any, portrait: Path) -> None:
    out = tmp_path / "r.csv"
    marker = {"path": str(portrait), "kind": "image", "n_faces": 7, "prob": 0.5, "verdict": "fake",
              "n_frames": None, "error": None}
    cli.partial_path(out).write_text(json.dumps(marker) + "\n")
    assert cli.run_predict(_args([portrait], out), detector=detector) == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["n_faces"] == "7"  # taken from the interrupted run, not recomputed
    args = _args([portrait], out)
    args.resume = False
    cli.partial_path(out).write_text(json.dumps(marker) + "\n")
    assert cli.run_predict(args, detector=detector) == 0
    assert list(csv.DictReader(out.open()))[0]["n_faces"] != "7"
