"""The ``laanet-bench`` command line: evaluate, table, robustness, errors, and resuming after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from laanet_bench.cli import main
from laanet_bench.records import read_records
from laanet_model.checkpoints import file_sha256

FAST = ["--frames", "2", "--bootstrap", "20", "--no-progress"]


def test_evaluate_then_table(tmp_path, build, clips, untrained_weights, capsys):
    root = build.celebdf(tmp_path / "cdf", clips)
    out = tmp_path / "out"
    rc = main(["evaluate", "--dataset", "celebdf", "--root", str(root), "--weights", str(untrained_weights),
               "--out", str(out), *FAST])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "AUC" in printed and "celebdf" in printed and "4 computed, 0 from cache" in printed
    lines = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert [x["level"] for x in lines] == ["frame", "video"]
    for x in lines:
        assert {"dataset", "level", "auc", "ap", "n_real", "n_fake", "weights_sha256"} <= set(x)
        assert x["weights_sha256"] == file_sha256(untrained_weights)
        assert x["tta"] == "flip" and x["n_frames"] == 2 and x["face_policy"] == "max"
    assert (lines[1]["n_real"], lines[1]["n_fake"]) == (2, 2)

    assert main(["table", "--records", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "LAA-Net w/ SBI (paper)" in printed and "untrained-lite0.safetensors" in printed
    for name in ("table_video.md", "table_video.csv", "table_video.tex", "table_frame.md", "roc_video.png"):
        assert (out / name).is_file(), name


def test_errors_are_clear_and_exit_2(tmp_path, untrained_weights, capsys):
    assert main(["evaluate", "--dataset", "ffpp", "--weights", str(untrained_weights), "--out", str(tmp_path)]) == 2
    assert "--root is needed" in capsys.readouterr().err
    assert main(["evaluate", "--csv", str(tmp_path / "none.csv"), "--weights", str(untrained_weights),
                 "--out", str(tmp_path)]) == 2
    assert "expected a CSV file" in capsys.readouterr().err
    (tmp_path / "a.csv").write_text("x.mp4,1\n")
    (tmp_path / "x.mp4").write_bytes(b"")
    assert main(["evaluate", "--csv", str(tmp_path / "a.csv"), "--weights", str(tmp_path / "nope.safetensors"),
                 "--out", str(tmp_path)]) == 2
    assert "cannot load weights" in capsys.readouterr().err
    assert main(["table", "--records", str(tmp_path / "empty")]) == 2
    assert "expected a records file" in capsys.readouterr().err
    assert main(["robustness", "--csv", str(tmp_path / "a.csv"), "--weights", str(untrained_weights),
                 "--out", str(tmp_path), "--perturbations", "XX"]) == 2
    assert "unknown perturbation" in capsys.readouterr().err


def test_robustness_command(tmp_path, build, clips, untrained_weights, capsys):
    root = build.dfdc(tmp_path / "dfdc", clips)
    out = tmp_path / "out"
    rc = main(["robustness", "--dataset", "dfdc", "--root", str(root), "--weights", str(untrained_weights),
               "--out", str(out), "--perturbations", "JPEG,VC", "--levels", "1", "--tta", "none", "--no-crop-cache", *FAST])
    assert rc == 0
    assert not (out / "cache" / "crops").exists() and len(list((out / "cache" / "scores").rglob("*.json"))) == 12
    records = read_records(out)
    assert [(r.perturbation, r.perturbation_level) for r in records] == [("none", 0), ("JPEG", 1), ("VC", 1)]
    summary = (out / "robustness_video_summary.md").read_text()
    assert "Clean" in summary and "JPEG" in summary and "VC" in summary and "Avg" in summary
    assert "L1 (90)" in (out / "robustness_video_JPEG.md").read_text()
    assert (out / "robustness_video_VC.tex").read_text().startswith("\\begin{tabular}")


def test_per_subset_records_reuse_the_cache(tmp_path, build, clips, untrained_weights, capsys):
    root = build.ffpp(tmp_path / "ffpp", clips, methods=("Deepfakes", "FaceSwap"))
    out = tmp_path / "out"
    rc = main(["evaluate", "--dataset", "ffpp", "--root", str(root), "--methods", "Deepfakes,FaceSwap",
               "--weights", str(untrained_weights), "--out", str(out), "--level", "video", "--per-subset", *FAST])
    assert rc == 0
    records = read_records(out)
    assert [(r.subset, r.n_real, r.n_fake) for r in records] == [("all", 4, 8), ("Deepfakes", 4, 4),
                                                                  ("FaceSwap", 4, 4)]
    assert all(r.extra["n_computed"] == 0 for r in records[1:])
    assert records[0].compression == "c23"
    assert "12 computed, 0 from cache" in capsys.readouterr().out


def score_files(out):
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "cache" / "scores").rglob("*.json")}


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path, build, clips, untrained_weights):
    root = build.ffpp(tmp_path / "ffpp", clips, methods=("Deepfakes",))
    out = tmp_path / "out"
    args = ["evaluate", "--dataset", "ffpp", "--root", str(root), "--methods", "Deepfakes",
            "--weights", str(untrained_weights), "--out", str(out), "--frames", "3", "--bootstrap", "20",
            "--no-progress"]
    proc = subprocess.Popen([sys.executable, "-m", "laanet_bench.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(score_files(out)) < 2:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no video finished in time"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = score_files(out)
    assert 2 <= len(done) < 8
    assert not (out / "records.jsonl").exists()

    assert main(args) == 0
    after = score_files(out)
    assert len(after) == 8
    for path, stamp in done.items():
        assert after[path] == stamp, f"{path.name} was recomputed"
    records = read_records(out)
    assert [r.level for r in records] == ["frame", "video"]
    assert records[1].extra["n_cached"] == len(done)
    assert records[1].extra["n_computed"] == 8 - len(done)
    assert (records[1].n_real, records[1].n_fake) == (4, 4)
