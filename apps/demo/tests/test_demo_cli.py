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
from laanet_demo import cli, predict
from laanet_demo.inference import sigmoid


def test_expand_inputs_walks_folders_and_checks_files(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ("a/x.jpg", "a/b/y.PNG", "a/b/clip.mp4", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    got = predict.expand_inputs([tmp_path / "a", tmp_path / "a" / "x.jpg"]).files
    assert [(p.relative_to(tmp_path).as_posix(), k) for p, k in got] == [
        ("a/b/clip.mp4", "video"), ("a/b/y.PNG", "image"), ("a/x.jpg", "image"),
    ]
    with pytest.raises(predict.CliError, match="unknown file type '.txt'"):
        predict.expand_inputs([tmp_path / "a" / "notes.txt"])
    with pytest.raises(predict.CliError, match="no such file or folder"):
        predict.expand_inputs([tmp_path / "missing.jpg"])


def test_csv_and_jsonl_forms() -> None:
    recs = [
        {"path": "a.jpg", "kind": "image", "n_faces": 2, "prob": 0.25, "verdict": "real", "n_frames": None,
         "error": None, "faces": [{"face": 1}]},
        {"path": "b.mp4", "kind": "video", "n_faces": 0, "prob": None, "verdict": None, "n_frames": 8,
         "error": None, "frames": []},
    ]
    rows = list(csv.DictReader(io.StringIO(predict.csv_text(recs))))
    assert list(rows[0]) == predict.CSV_COLUMNS
    assert rows[0]["prob"] == "0.25" and rows[1]["prob"] == "" and rows[1]["n_frames"] == "8"
    lines = predict.jsonl_text(recs).splitlines()
    assert [json.loads(x) for x in lines] == recs


def test_partial_records_survive_a_torn_line(tmp_path: Path) -> None:
    part = tmp_path / ".r.csv.partial.jsonl"
    part.write_text(json.dumps({"path": "a.jpg", "prob": 0.1}) + "\n" + '{"path": "b.jp')
    assert list(predict.load_partial(part)) == ["a.jpg"]
    assert predict.load_partial(tmp_path / "none") == {}


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
        rec = predict.score_file(object(), bad_inputs[name], "image", 4, predict.CLI_LIMITS)
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
    status = predict.run_predict(_args(inputs, out), detector=detector)
    assert status == 1  # one file could not be read
    recs = {Path(r["path"]).name: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(recs) == 5 and not predict.partial_path(out).exists()
    for img in (portrait, group_photo):
        rec = recs[img.name]
        prediction = detector.predict_image(read_image(img))
        direct = prediction.faces
        assert rec["kind"] == "image" and rec["n_faces"] == len(direct) >= 1
        # faces most fake first, as the demo shows them
        direct = sorted(direct, key=lambda f: -f.logit)
        assert np.allclose([f["prob"] for f in rec["faces"]], [float(f.prob) for f in direct], atol=1e-5)
        # the file's score is the detector's frame score over every face found (the recipe's frame rule)
        assert math.isclose(rec["prob"], prediction.prob(), abs_tol=1e-5)
    video = recs[dfdc_video.name]
    assert video["kind"] == "video" and video["n_frames"] == 3 and len(video["frames"]) == 3
    assert detector.preprocessing.frame_policy == "max"  # the built-in recipe: the most fake face per frame
    logits = [max(x["logit"] for x in fr["faces"]) for fr in video["frames"] if fr["faces"]]
    assert logits and math.isclose(video["prob"], sigmoid(float(np.mean(logits))), abs_tol=1e-4)
    # each person: the video rule over their own faces, a timeline and a thumbnail
    assert video["people"] and "person score" in video["person_rule"]
    faces_by_frame = {fr["frame"]: [x["logit"] for x in fr["faces"]] for fr in video["frames"]}
    for person in video["people"]:
        assert {t["frame"] for t in person["timeline"]} <= set(faces_by_frame)
        p_logits = [math.log(t["prob"] / (1 - t["prob"])) for t in person["timeline"]]
        assert math.isclose(person["prob"], sigmoid(float(np.mean(p_logits))), abs_tol=1e-4)
        assert person["thumbnail"]["jpeg"].startswith("data:image/jpeg;base64,")
    assert sum(p["n_frames"] for p in video["people"]) == video["n_faces"]
    # no face: the built-in recipe's no-face rule scores the whole image as one face
    landscape_score = detector.predict_image(read_image(bad_inputs["no_face"])).score()
    assert recs["landscape.png"]["n_faces"] == 0 and landscape_score is not None
    assert math.isclose(recs["landscape.png"]["prob"], landscape_score, abs_tol=2e-6)
    assert recs["landscape.png"]["error"] is None
    assert "not an image" in recs["notes.jpg"]["error"]
    # the CSV form of the same run: resumed from nothing, one row per file
    out_csv = tmp_path / "results.csv"
    assert predict.run_predict(_args(inputs[3:], out_csv), detector=detector) == 1
    rows = list(csv.DictReader(out_csv.open()))
    assert [r["kind"] for r in rows] == ["image", "image"] and rows[0]["n_faces"] == "0"
    assert math.isclose(float(rows[0]["prob"]), landscape_score, abs_tol=2e-6) and rows[1]["prob"] == ""


@pytest.mark.slow
def test_predict_resumes_from_partial_records(tmp_path: Path, detector: Any, portrait: Path) -> None:
    out = tmp_path / "r.csv"
    marker = {"path": str(portrait), "kind": "image", "n_faces": 7, "prob": 0.5, "verdict": "fake",
              "n_frames": None, "error": None,
              "key": predict.run_identity(detector, "laanet-lite0-sbi-lfw", 3).record_key(portrait, "image")}
    predict.partial_path(out).write_text(json.dumps(marker) + "\n")
    assert predict.run_predict(_args([portrait], out), detector=detector) == 0
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["n_faces"] == "7"  # taken from the interrupted run, not recomputed
    args = _args([portrait], out)
    args.resume = False
    predict.partial_path(out).write_text(json.dumps(marker) + "\n")
    assert predict.run_predict(args, detector=detector) == 0
    assert list(csv.DictReader(out.open()))[0]["n_faces"] != "7"


def test_unreadable_folders_and_broken_links_get_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    (tmp_path / "a" / "locked").mkdir(parents=True)
    (tmp_path / "a" / "locked" / "hidden.jpg").write_bytes(b"x")
    (tmp_path / "a" / "x.jpg").write_bytes(b"x")
    (tmp_path / "a" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:  # the folder a user has no permission to list
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    found = predict.expand_inputs([tmp_path / "a"])
    assert [p.name for p, _ in found.files] == ["x.jpg"]
    problems = {p.path.name: p for p in found.problems}
    assert problems["locked"].reason == "folder not readable" and "Permission denied" in problems["locked"].error
    assert problems["gone.jpg"].reason == "broken link" and "nowhere.jpg" in problems["gone.jpg"].error
    with pytest.raises(predict.CliError, match="broken link"):
        predict.expand_inputs([tmp_path / "a" / "gone.jpg"])


def test_permission_denied_is_not_called_not_an_image(portrait: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins
    import io as io_module

    real_open = builtins.open

    def guarded(file: Any, *a: Any, **kw: Any) -> Any:
        if str(file) == str(portrait):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    monkeypatch.setattr(builtins, "open", guarded)
    monkeypatch.setattr(io_module, "open", guarded)
    rec = predict.score_file(object(), portrait, "image", 4, predict.CLI_LIMITS)
    assert rec["reason"] == "permission denied" and "permission denied" in rec["error"]
    assert "not an image" not in rec["error"]


def test_error_messages_do_not_speak_of_the_demo(bad_inputs: dict[str, Path]) -> None:
    for name in ("text_as_jpg", "huge"):
        rec = predict.score_file(object(), bad_inputs[name], "image", 4, predict.CLI_LIMITS)
        assert rec["error"] and "demo" not in rec["error"] and rec["reason"] == "unreadable", name


def test_device_option_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli.build_parser().parse_args(["predict", "a.jpg", "--device", "cpu"])
    assert args.device == "cpu"
    assert cli.build_parser().parse_args(["predict", "a.jpg"]).device is None
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("laanet 0.")


@pytest.mark.slow
def test_bad_device_is_one_line(tmp_path: Path, bad_inputs: dict[str, Path],
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["predict", str(bad_inputs["no_face"]), "--device", "no-such-device", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "on device 'no-such-device'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_rows_without_a_score_say_why_and_outputs_name_the_weights(
    tmp_path: Path, detector: Any, bad_inputs: dict[str, Path]
) -> None:
    from laanet_model.checkpoints import file_sha256
    from laanet_model.weights import get_weights

    inputs = [bad_inputs["no_face"], bad_inputs["text_as_jpg"]]
    out_csv = tmp_path / "r.csv"
    assert predict.run_predict(_args(inputs, out_csv), detector=detector) == 1
    rows = {Path(r["path"]).name: r for r in csv.DictReader(out_csv.open())}
    # no face: the built-in recipe's no-face rule scores the whole image as one face, and the row says so
    from laanet_synth.imageio import read_image

    assert detector.preprocessing.no_face == "whole_image"
    landscape = rows["landscape.png"]
    assert landscape["reason"] == "no face found: the whole image scored as one face" and landscape["n_faces"] == "0"
    whole = detector.predict_image(read_image(bad_inputs["no_face"])).score()
    assert math.isclose(float(landscape["prob"]), whole, abs_tol=2e-6) and landscape["verdict"]
    assert rows["notes.jpg"]["reason"] == "unreadable"
    meta = json.loads(predict.sidecar_path(out_csv).read_text())
    sha = file_sha256(get_weights("laanet-lite0-sbi-lfw").path())
    assert meta["weights"] == "laanet-lite0-sbi-lfw" and meta["weights_sha256"] == sha
    assert meta["recipe"]["thresholds"] and meta["frames"] == 3
    out_jsonl = tmp_path / "r.jsonl"
    predict.run_predict(_args(inputs, out_jsonl), detector=detector)
    recs = [json.loads(x) for x in out_jsonl.read_text().splitlines()]
    assert {r["weights_sha256"] for r in recs} == {sha} and all("key" not in r for r in recs)


@pytest.mark.slow
def test_resume_reuses_only_records_of_the_same_weights_settings_and_file(
    tmp_path: Path, detector: Any, bad_inputs: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import dataclasses
    import os
    import shutil

    image = tmp_path / "scene.png"
    shutil.copy(bad_inputs["no_face"], image)
    out = tmp_path / "r.csv"
    identity = predict.run_identity(detector, "laanet-lite0-sbi-lfw", 3)
    marker = {"path": str(image), "kind": "image", "n_faces": 7, "prob": 0.5, "verdict": "fake",
              "n_frames": None, "reason": None, "error": None}

    def run_with_saved(key: str) -> str:
        predict.partial_path(out).write_text(json.dumps({**marker, "key": key}) + "\n")
        assert predict.run_predict(_args([image], out), detector=detector) == 0
        return next(csv.DictReader(out.open()))["n_faces"]

    assert run_with_saved(identity.record_key(image, "image")) == "7"  # same run: reused
    other_weights = dataclasses.replace(identity, weights_sha256="0" * 64)
    assert run_with_saved(other_weights.record_key(image, "image")) == "0"  # other weights: recomputed
    assert "recomputed because the weights" in capsys.readouterr().err
    video_key = dataclasses.replace(identity, frames=16).record_key(image, "video")
    assert video_key != identity.record_key(image, "video")  # --frames is part of a video's key
    old_key = identity.record_key(image, "image")
    st = image.stat()
    os.utime(image, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file was replaced
    assert run_with_saved(old_key) == "0"


def test_a_file_whose_faces_are_all_too_small_reads_not_judged_with_the_reason(detector) -> None:
    import dataclasses

    from laanet_demo.analysis import ImageAnalysis
    from laanet_demo.inference import UnjudgedView

    reason = "face too small to judge: 20 px wide, the model needs at least 32 px"
    small = ImageAnalysis(image=np.zeros((50, 50, 3), np.uint8), faces=[], n_faces_found=0, prob=None,
                          timings_ms={}, unjudged=[UnjudgedView((1.0, 2.0, 21.0, 24.0), reason)])
    rec = predict.image_record(Path("tiny.jpg"), small, detector)
    assert rec["verdict"] == "not judged" and rec["reason"] == reason and rec["prob"] is None
    assert rec["not_judged"] == [{"verdict": "not judged", "reason": reason, "box": [1.0, 2.0, 21.0, 24.0]}]
    assert "not judged" in predict.csv_text([rec])
    plain = ImageAnalysis(image=small.image, faces=[], n_faces_found=0, prob=None, timings_ms={})
    none = predict.image_record(Path("none.jpg"), plain, detector)
    assert none["reason"] == "no face found" and "not_judged" not in none and none["verdict"] is None
    # a no-face rule that gives a score: the row carries it, its verdict and the rule; the faces stay listed
    scored = dataclasses.replace(small, no_face_prob=0.2)
    rec = predict.image_record(Path("tiny.jpg"), scored, detector)
    assert rec["prob"] == 0.2 and rec["verdict"] == detector.thresholds.verdict(0.2)
    assert rec["reason"] == "no face judged: the whole image scored as one face" and len(rec["not_judged"]) == 1


# --- hostile names, shared outputs, interruptions and full disks (no network: the scoring is replaced) ---

def _fake_record(path: Path, kind: str) -> dict[str, Any]:
    return {"path": str(path), "kind": kind, "n_faces": 1, "prob": 0.5, "verdict": "uncertain", "n_frames": None,
            "reason": None, "error": None}


@pytest.fixture
def fake_scoring(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Scoring replaced by a fixed record per file (the detector is not loaded); returns the files scored."""
    scored: list[Path] = []

    def score(detector, path, kind, *args, **kwargs):
        scored.append(path)
        return _fake_record(path, kind)

    monkeypatch.setattr(predict, "score_file", score)
    from types import SimpleNamespace

    recipe_only = SimpleNamespace(preprocessing=SimpleNamespace(frames_per_video=32))
    monkeypatch.setattr(predict, "load_detector", lambda *a, **k: recipe_only)
    monkeypatch.setattr(predict, "run_identity", lambda det, w, f: predict.RunIdentity(w, "0" * 64, {}, f))
    monkeypatch.setattr(predict, "provenance", lambda ident, args, det: {"weights": ident.weights,
                                                                          "encoding": predict.TEXT_ENCODING})
    return scored


def _hostile_names(folder: Path) -> list[Path]:
    import os

    folder.mkdir(parents=True, exist_ok=True)
    names = [os.fsdecode(b"caf\xe9.jpg"), "line\rbreak.jpg", "new\nline.jpg", 'a,"quoted".jpg']
    for name in names:
        (folder / name).write_bytes(b"x")
    return sorted(folder / n for n in names)


def test_names_with_control_characters_and_non_utf8_bytes_survive_csv_and_jsonl(
    tmp_path: Path, fake_scoring: list[Path], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    import os

    files = _hostile_names(tmp_path / "in")
    out_csv, out_jsonl = tmp_path / "r.csv", tmp_path / "r.jsonl"
    assert cli.main(["predict", str(tmp_path / "in"), "--out", str(out_csv), "--quiet"]) == 0
    text = out_csv.read_bytes().decode("utf-8", "surrogateescape")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 4  # a carriage return or a newline in a name does not split its row
    assert sorted(os.fsencode(r["path"]) for r in rows) == sorted(os.fsencode(str(f)) for f in files)
    assert json.loads(predict.sidecar_path(out_csv).read_text())["encoding"].startswith("UTF-8")
    assert cli.main(["predict", str(tmp_path / "in"), "--out", str(out_jsonl), "--quiet"]) == 0
    recs = [json.loads(line) for line in out_jsonl.read_text(encoding="ascii").splitlines()]
    assert sorted(os.fsencode(r["path"]) for r in recs) == sorted(os.fsencode(str(f)) for f in files)
    capsysbinary.readouterr()
    assert cli.main(["predict", str(tmp_path / "in"), "--quiet"]) == 0  # CSV on standard output
    stdout = capsysbinary.readouterr().out
    assert os.fsencode(str(files[0])) in stdout or any(os.fsencode(str(f)) in stdout for f in files)
    assert b"caf\xe9.jpg" in stdout


def test_out_that_is_a_folder_or_unwritable_is_refused_before_any_work(
    tmp_path: Path, fake_scoring: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import os

    img = tmp_path / "a.jpg"
    img.write_bytes(b"x")
    folder = tmp_path / "taken.csv"
    folder.mkdir()
    assert cli.main(["predict", str(img), "--out", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert cli.main(["predict", str(img), "--out", str(blocker / "r.csv")]) == 2
    assert "cannot create the folder" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "ro"
        locked.mkdir()
        locked.chmod(0o500)
        assert cli.main(["predict", str(img), "--out", str(locked / "r.csv")]) == 2
        assert "is not writable" in capsys.readouterr().err
    assert fake_scoring == []  # nothing was scored


def test_two_runs_on_one_out_do_not_overwrite_each_other(
    tmp_path: Path, fake_scoring: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    img = tmp_path / "a.jpg"
    img.write_bytes(b"x")
    out = tmp_path / "r.csv"
    with predict.out_lock(out):  # another run holds --out
        assert cli.main(["predict", str(img), "--out", str(out), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert "another laanet predict run is writing there" in err and err.count("\n") == 1
        assert not out.exists() and fake_scoring == []
    assert not predict.lock_path(out).exists()  # released and removed
    assert cli.main(["predict", str(img), "--out", str(out), "--quiet"]) == 0
    assert out.is_file() and not predict.lock_path(out).exists()


def test_ctrl_c_is_one_line_exit_130_and_the_run_resumes(
    tmp_path: Path, fake_scoring: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        (tmp_path / name).write_bytes(b"x")
    out = tmp_path / "out" / "r.csv"
    scored: list[Path] = []

    def interrupted(detector, path, kind, *args, **kwargs):
        if len(scored) == 1:
            raise KeyboardInterrupt
        scored.append(path)
        return _fake_record(path, kind)

    monkeypatch.setattr(predict, "score_file", interrupted)
    assert cli.main(["predict", str(tmp_path), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err and "rerun the same command to resume" in err
    assert not out.exists() and not predict.sidecar_path(out).exists() and not predict.lock_path(out).exists()
    assert list(predict.load_partial(predict.partial_path(out))) == [str(scored[0])]
    monkeypatch.setattr(predict, "score_file", lambda d, p, k, *a, **kw: scored.append(p) or _fake_record(p, k))
    assert cli.main(["predict", str(tmp_path), "--out", str(out), "--quiet"]) == 0
    assert len(scored) == 3 and len(list(csv.DictReader(out.open()))) == 3  # a.jpg was not scored again


def test_a_full_disk_leaves_no_empty_partial_and_no_orphan_sidecar(
    tmp_path: Path, fake_scoring: list[Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno

    img = tmp_path / "a.jpg"
    img.write_bytes(b"x")
    out = tmp_path / "r.csv"

    def full_at_start(path, record, **kwargs):
        Path(path).touch()  # the file is created, then nothing fits
        raise OSError(errno.ENOSPC, "No space left on device")

    real_append = predict.append_jsonl
    monkeypatch.setattr(predict, "append_jsonl", full_at_start)
    assert cli.main(["predict", str(img), "--out", str(out), "--quiet"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not predict.partial_path(out).exists()

    def full_at_the_end(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(predict, "append_jsonl", real_append)
    monkeypatch.setattr(predict, "write_bytes", full_at_the_end)
    assert cli.main(["predict", str(img), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write the results" in err and "rerun the same command" in err
    assert not out.exists() and not predict.sidecar_path(out).exists()  # no sidecar without its CSV
    assert predict.partial_path(out).is_file()  # the scores are kept for the rerun


def test_results_follow_the_umask(tmp_path: Path, fake_scoring: list[Path]) -> None:
    import os

    img = tmp_path / "a.jpg"
    img.write_bytes(b"x")
    out = tmp_path / "r.csv"
    old = os.umask(0o022)
    try:
        assert cli.main(["predict", str(img), "--out", str(out), "--quiet"]) == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644
    assert predict.sidecar_path(out).stat().st_mode & 0o777 == 0o644


def test_a_video_over_the_pixel_budget_is_refused_before_decoding(
    bad_inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cv2
    from laanet_synth import video

    video_file = bad_inputs["no_face_video"]  # 12 frames of 320 x 240
    decoded: list[int] = []
    real_retrieve = cv2.VideoCapture.retrieve
    monkeypatch.setattr(cv2.VideoCapture, "retrieve", lambda self, *a: decoded.append(1) or real_retrieve(self, *a))
    rec = predict.score_file(object(), video_file, "video", 8, predict.CLI_LIMITS, max_video_pixels=320 * 240 * 7)
    assert rec["reason"] == "over the pixel budget" and rec["prob"] is None
    assert "8 frames of 320 x 240 pixels are 614,400 pixels in all" in rec["error"]
    assert "at most 537,600 pixels per video: sample at most 7 frames" in rec["error"]
    assert decoded == []
    assert cli.DEFAULT_MAX_VIDEO_PIXELS == video.DEFAULT_MAX_VIDEO_PIXELS
    with pytest.raises(SystemExit) as info:
        cli.main(["predict", str(video_file), "--max-video-pixels", "banana"])
    assert info.value.code == 2 and "expected a whole number of pixels" in capsys.readouterr().err


@pytest.mark.parametrize(("edit", "message"), [
    ({"face_detector": "../../evil"}, "unknown face detector '../../evil'"),
    ({"crop": {"input_size": 20000}}, "crop input_size 20000 is outside"),
])
def test_a_card_with_a_bad_detector_or_crop_fails_at_load_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: dict, message: str
) -> None:
    import shutil

    from laanet_model import get_weights
    from laanet_model.weights import resolve_weights_file

    src = resolve_weights_file(get_weights("laanet-lite0-sbi-lfw"))
    dst = tmp_path / "edited.safetensors"
    shutil.copy(src, dst)
    card = json.loads(src.with_suffix(".json").read_text())
    for key, value in edit.items():
        if isinstance(value, dict):
            card["preprocessing"][key].update(value)
        else:
            card["preprocessing"][key] = value
    dst.with_suffix(".json").write_text(json.dumps(card))
    img = tmp_path / "a.jpg"
    img.write_bytes(b"x")
    assert cli.main(["predict", str(img), "--weights", str(dst), "--out", str(tmp_path / "r.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    text = tmp_path / "text.pth"
    text.write_text("these are not weights\n")
    assert cli.main(["predict", str(img), "--weights", str(text)]) == 2
    assert "is a text file, not a torch checkpoint" in capsys.readouterr().err
