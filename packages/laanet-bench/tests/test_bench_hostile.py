"""Hostile and unlucky inputs to ``laanet-bench``: odd CSVs, broken records, unwritable outputs, a cache that
cannot be written, Ctrl-C and the pixel budget. Each gives one line and exit status 2 (130 for Ctrl-C)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from laanet_bench import commands
from laanet_bench.cli import main
from laanet_bench.datasets import DatasetLayoutError
from laanet_bench.datasets.base import MediaItem
from laanet_bench.datasets.generic import list_csv
from laanet_bench.frames import load_frames
from laanet_synth.imageio import write_image_atomic
from laanet_synth.video import VideoTooLargeError

FAST = ["--frames", "2", "--bootstrap", "20", "--quiet"]


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip() and "Warning" not in x and not x.startswith("  ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _image(path: Path, size: int = 32) -> Path:
    write_image_atomic(path, np.full((size, size, 3), 128, np.uint8))
    return path


def test_a_latin1_csv_names_the_files_by_their_bytes(tmp_path: Path) -> None:
    _image(tmp_path / os.fsdecode(b"caf\xe9.png"))
    _image(tmp_path / "real.png")
    csv_path = tmp_path / "l1.csv"
    csv_path.write_bytes(b"path,label\ncaf\xe9.png,fake\nreal.png,real\n")  # Latin-1, not UTF-8
    items = list_csv(csv_path)
    assert [os.fsencode(it.paths[0].name) for it in items] == [b"caf\xe9.png", b"real.png"]
    assert all(it.paths[0].is_file() for it in items)


def test_a_latin1_csv_naming_missing_files_is_one_line_exit_2(tmp_path, untrained_weights, capsys) -> None:
    csv_path = tmp_path / "l1.csv"
    csv_path.write_bytes("path,label\nréel.png,0\nfaux.png,1\n".encode("latin-1"))
    assert main(["evaluate", "--csv", str(csv_path), "--weights", str(untrained_weights),
                 "--out", str(tmp_path / "out"), *FAST]) == 2
    assert "listed files are missing" in _one_line(capsys.readouterr().err)


def test_a_binary_csv_is_one_line_exit_2(tmp_path, untrained_weights, capsys) -> None:
    csv_path = tmp_path / "bin.csv"
    csv_path.write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    assert main(["evaluate", "--csv", str(csv_path), "--weights", str(untrained_weights),
                 "--out", str(tmp_path / "out"), *FAST]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith("laanet-bench: error:") and str(csv_path) in line


def test_one_file_under_two_spellings_is_listed_twice(tmp_path: Path) -> None:
    _image(tmp_path / "imgs" / "r1.png")
    _image(tmp_path / "imgs" / "f1.png")
    csv_path = tmp_path / "dup.csv"
    csv_path.write_text("path,label\nimgs/r1.png,0\n./imgs/r1.png,0\nimgs/f1.png,1\n")
    with pytest.raises(DatasetLayoutError, match=r"'\./imgs/r1\.png' and 'imgs/r1\.png' are the same file"):
        list_csv(csv_path)
    csv_path.write_text("path,label\nimgs/../imgs/r1.png,0\nimgs/f1.png,1\n")
    assert [it.key for it in list_csv(csv_path)] == ["imgs/r1.png", "imgs/f1.png"]  # keys are normalised


def test_a_cache_that_cannot_be_written_stops_the_run_loudly(tmp_path, clips, untrained_weights, capsys,
                                                             monkeypatch) -> None:
    import laanet_bench.cache as cache

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache, "write_json", full)
    csv_path = tmp_path / "list.csv"
    csv_path.write_text("".join(f"{c.video},{c.label}\n" for c in clips[:2] + clips[-2:]))
    out = tmp_path / "out"
    assert main(["evaluate", "--csv", str(csv_path), "--weights", str(untrained_weights), "--out", str(out),
                 *FAST]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "cannot write the cache" in line and "No space left on device" in line
    assert not (out / "records.jsonl").exists()  # no metrics published on what was left


def _records(folder: Path, lines: list[str] | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "records.jsonl"
    if isinstance(lines, bytes):
        path.write_bytes(lines)
    else:
        path.write_text("".join(x + "\n" for x in lines))
    return path


GOOD = {"run_id": "r", "created": "now", "dataset": "celebdf", "split": "test", "level": "video", "n_frames": 2,
        "face_policy": "max", "tta": "none", "weights": "w", "weights_sha256": "0" * 64, "package_version": "0",
        "n_real": 2, "n_fake": 2, "auc": 0.5, "ap": 0.5, "acc": 0.5, "eer": 0.5, "ar": 0.5, "mf1": 0.5,
        "ci95": {"auc": [0.4, 0.6]}, "wall_time_s": 1.0}


@pytest.mark.parametrize("content", [
    [json.dumps({**GOOD, "auc": "abc"})],
    [json.dumps({**GOOD, "auc": float("nan")})],
    [json.dumps({**GOOD, "ap": 7.0})],
    [json.dumps({**GOOD, "n_real": "two"})],
    [],
    b"\x00\xff\xfe binary \x00\x01" * 20,
    ["[1, 2, 3]", '"text"'],
], ids=["auc-text", "auc-nan", "ap-above-1", "count-text", "empty", "binary", "not-objects"])
def test_table_on_bad_records_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, content) -> None:
    _records(tmp_path / "run", content)
    with pytest.warns(UserWarning) if content else _no_warning():
        assert main(["table", "--records", str(tmp_path / "run"), "--out", str(tmp_path / "tables")]) == 2
    captured = capsys.readouterr()
    assert "holds no valid record" in _one_line(captured.err) and "written:" not in captured.out
    assert not list((tmp_path / "tables").glob("*")) if (tmp_path / "tables").exists() else True


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_table_into_a_file_or_an_unwritable_folder_is_one_line_exit_2(tmp_path, capsys) -> None:
    _records(tmp_path / "run", [json.dumps(GOOD)])
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["table", "--records", str(tmp_path / "run"), "--out", str(blocker)]) == 2
    assert "is a file; expected a folder" in _one_line(capsys.readouterr().err)
    assert main(["table", "--records", str(tmp_path / "run"), "--out", str(blocker / "sub")]) == 2
    assert "cannot create this folder" in _one_line(capsys.readouterr().err)
    if os.geteuid() != 0:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        assert main(["table", "--records", str(tmp_path / "run"), "--out", str(ro)]) == 2
        assert "not writable" in _one_line(capsys.readouterr().err)
    assert main(["table", "--records", str(tmp_path / "run"), "--out", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "table_video.md").is_file()


def test_evaluate_refuses_an_out_that_is_a_file_before_loading_weights(tmp_path, capsys, monkeypatch) -> None:
    _image(tmp_path / "r.png")
    _image(tmp_path / "f.png")
    (tmp_path / "l.csv").write_text("r.png,0\nf.png,1\n")
    monkeypatch.setattr(commands, "load_scorer", lambda *a, **k: pytest.fail("weights were loaded"))
    (tmp_path / "out").write_text("x")
    assert main(["evaluate", "--csv", str(tmp_path / "l.csv"), "--weights", "w", "--out", str(tmp_path / "out"),
                 *FAST]) == 2
    assert "is a file; expected a folder" in _one_line(capsys.readouterr().err)


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys) -> None:
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(commands.COMMANDS, "datasets", interrupted)
    assert main(["datasets"]) == 130
    assert _one_line(capsys.readouterr().err) == "laanet-bench datasets: interrupted"


def test_the_pixel_budget_bounds_videos_and_frame_folders(tmp_path, clips) -> None:
    frames = [_image(tmp_path / f"{k}.png", 40) for k in range(4)]
    folder = MediaItem(key="f", label=0, kind="frames", paths=tuple(frames))
    assert len(load_frames(folder, 4, max_pixels=4 * 40 * 40).images) == 4
    with pytest.raises(VideoTooLargeError, match=r"f: 3 of its 4 frames hold 4,800 pixels, over the budget of 4,000"):
        load_frames(folder, 4, max_pixels=4000)
    video = MediaItem(key="v", label=0, kind="video", paths=(clips[0].video,))
    with pytest.raises(VideoTooLargeError, match="over the budget of 100 pixels per video"):
        load_frames(video, 2, max_pixels=100)


@pytest.mark.parametrize(("preprocessing", "message"), [
    ({"face_detector": "../../evil"}, "unknown face detector '../../evil'"),
    ({"face_detector": "face-alignment"}, "face detector 'face-alignment' is not installed"),
])
def test_a_card_naming_a_bad_face_detector_fails_before_any_item(tmp_path, untrained_weights, capsys,
                                                                 preprocessing, message) -> None:
    import importlib.util
    import shutil

    if preprocessing["face_detector"] == "face-alignment" and importlib.util.find_spec("face_alignment"):
        pytest.skip("face-alignment is installed here")
    weights = tmp_path / "w.safetensors"
    shutil.copy(untrained_weights, weights)
    card = json.loads(untrained_weights.with_suffix(".json").read_text())
    card["preprocessing"] = preprocessing
    weights.with_suffix(".json").write_text(json.dumps(card))
    _image(tmp_path / "r.png")
    _image(tmp_path / "f.png")
    (tmp_path / "l.csv").write_text("r.png,0\nf.png,1\n")
    assert main(["evaluate", "--csv", str(tmp_path / "l.csv"), "--weights", str(weights),
                 "--out", str(tmp_path / "out"), *FAST]) == 2
    assert message in _one_line(capsys.readouterr().err)
