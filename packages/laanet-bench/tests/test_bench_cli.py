"""The ``laanet-bench`` command line: evaluate, table, robustness, errors, and resuming after kill -9."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from laanet_bench.cli import build_parser, main
from laanet_bench.records import read_records
from laanet_model.checkpoints import file_sha256

FAST = ["--frames", "2", "--bootstrap", "20", "--quiet"]


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
    assert "/4 videos)" not in printed and "partial" not in printed  # a whole dataset is not marked
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
    assert [(r.n_expected, r.n_scored, r.missing, r.partial) for r in records] == [
        (12, 12, {}, False), (8, 8, {}, False), (8, 8, {}, False)]
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
            "--quiet"]
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


def test_partial_runs_say_so_in_records_and_tables(tmp_path, build, clips, untrained_weights, capsys):
    root = build.celebdf(tmp_path / "cdf", clips)
    (root / "Celeb-synthesis" / "id1_id9_0000.mp4").unlink()
    out = tmp_path / "out"
    assert main(["evaluate", "--dataset", "celebdf", "--root", str(root), "--weights", str(untrained_weights),
                 "--out", str(out), "--skip-missing", "--limit", "2", "--level", "video", *FAST]) == 0
    (rec,) = read_records(out)
    assert (rec.n_expected, rec.n_scored, rec.n_real + rec.n_fake) == (4, 2, 2)
    # without --skip-missing the run stops before scoring, naming the dataset as its loader does
    assert main(["evaluate", "--dataset", "celebdf", "--root", str(root), "--weights", str(untrained_weights),
                 "--out", str(tmp_path / "stopped"), "--level", "video", *FAST]) == 2
    err = capsys.readouterr().err
    assert "Celeb-DF v2: 1 of 4 listed files are missing" in err and "--skip-missing" in err
    assert rec.missing == {"files missing": 1, "left out by --limit 2": 1}
    capsys.readouterr()
    assert main(["table", "--records", str(out), "--level", "video"]) == 0
    md = (out / "table_video.md").read_text()
    assert f"{100 * rec.auc:.2f} (2/4 videos)" in md
    assert "2 of 4 videos scored" in md and "files missing: 1" in md and "left out by --limit 2: 1" in md
    assert "(2/4 videos)" in (out / "table_video.csv").read_text()
    assert "(2/4 videos)" in (out / "table_video.tex").read_text()


def test_csv_columns_are_recorded(tmp_path, clips, untrained_weights, capsys):
    csv_path = tmp_path / "list.csv"
    rows = [f"{c.video},{c.label},note {k}" for k, c in enumerate(clips[:2] + clips[-2:])]
    csv_path.write_bytes(b"\xef\xbb\xbfpath,label,note\n" + ("\n".join(rows) + "\n").encode())
    out = tmp_path / "out"
    assert main(["evaluate", "--csv", str(csv_path), "--weights", str(untrained_weights), "--out", str(out),
                 "--level", "video", *FAST]) == 0
    (rec,) = read_records(out)
    assert rec.extra["csv_columns"] == "columns read by header name (path, label, note); ignored columns: note"
    assert (rec.n_real, rec.n_fake, rec.n_expected, rec.n_scored) == (2, 2, 4, 4)


def _subcommands():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub.choices


def test_every_option_has_help_and_its_default_and_no_markup():
    parser, commands = _subcommands()
    assert "``" not in parser.format_help()
    for name, sub in commands.items():
        text = sub.format_help()
        assert "``" not in text and ":class:" not in text and ":func:" not in text, name
        for action in sub._actions:
            if not action.option_strings or action.dest in ("help", "version"):
                continue
            assert action.help and len(action.help) > 8, (name, action.dest)
            if action.default not in (None, False, "", argparse.SUPPRESS) and not action.required:
                assert "%(default)s" in action.help, (name, action.dest)
    # settings left out are the weights' recipe's, and the help says so
    text = " ".join(commands["evaluate"].format_help().split())
    assert "(default: the weights' recipe, frames_per_video)" in text
    assert text.count("(default: recipe)") == 3  # --face-policy, --tta, --no-face


def test_one_quiet_flag_and_a_version(capsys):
    _, commands = _subcommands()
    for name in ("evaluate", "robustness"):
        flags = {f for a in commands[name]._actions for f in a.option_strings}
        assert "--quiet" in flags and "--no-progress" not in flags
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("laanet-bench 0.")


def test_help_lists_every_perturbation_type():
    from laanet_bench.cli import PERTURBATION_TYPES
    from laanet_bench.perturbations import PERTURBATIONS

    assert PERTURBATION_TYPES.split(",") == list(PERTURBATIONS)
