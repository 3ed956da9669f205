"""Sharded evaluation: ``--shard i/n`` runs, ``torchrun`` ranks and one plain process give the same records;
a killed shard resumes without recomputing what it finished."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from laanet_bench.cli import main
from laanet_bench.datasets import LoadOptions, load_csv
from laanet_bench.records import read_records
from laanet_synth.shards import Shard, ShardError, TorchrunEnv, parse_shard, torchrun_env

BUILTIN = "laanet-lite0-sbi-lfw"
TINY = 96
FRAMES = 2
# every process scores with one thread, so the scores of different processes are bit-identical
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
METRICS = ("auc", "ap", "acc", "eer", "ar", "mf1", "n_real", "n_fake", "n_no_face", "ci95", "level", "dataset")


def tiny_csv_set(folder: Path, clips, frames: int = FRAMES) -> Path:
    """A CSV of small face images: the first ``frames`` frames of each test clip, cropped to the face and shrunk
    to 96 px, grouped per clip (each clip is one item)."""
    rows = []
    for clip in clips:
        for k, frame in enumerate(clip.frames[:frames]):
            img = cv2.imread(str(frame))
            h, w = img.shape[:2]
            face = img[h // 5: h - h // 5, w // 5: w - w // 5]
            out = folder / clip.name / f"{k}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), cv2.resize(face, (TINY, TINY), interpolation=cv2.INTER_AREA))
            rows.append([str(out.relative_to(folder)), clip.label, clip.name])
    path = folder / "tiny.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["path", "label", "group"], *rows])
    return path


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory, clips) -> Path:
    return tiny_csv_set(tmp_path_factory.mktemp("tiny"), clips)


@pytest.fixture
def one_thread():
    """This process scores with one thread too, like the subprocesses."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def evaluate_args(csv_path: Path, out: Path, *extra: str) -> list[str]:
    return ["evaluate", "--csv", str(csv_path), "--pre-cropped", "--weights", BUILTIN, "--out", str(out),
            "--device", "cpu", "--bootstrap", "50", "--quiet", *extra]


def outcome(out: Path) -> list[dict]:
    """The records' metrics and the scores file of each, without run ids, times and cache counts."""
    rows = []
    for r in read_records(out):
        d = {k: getattr(r, k) for k in METRICS}
        d["scores"] = (out / r.scores_file).read_text()
        rows.append(d)
    return rows


def score_files(out: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (out / "cache" / "scores").rglob("*.json")}


# --- the partition ------------------------------------------------------------------------------------------
def test_shards_partition_items_by_key(tiny_set) -> None:
    items = load_csv(tiny_set, LoadOptions())
    for n in (1, 2, 3, 5):
        parts = [Shard(i, n).select(items) for i in range(n)]
        keys = [it.key for part in parts for it in part]
        assert sorted(keys) == sorted(it.key for it in items)  # every item in exactly one shard
        # the partition depends on the keys only, not on the order they are listed in
        assert [Shard(i, n).select(items[::-1])[::-1] for i in range(n)] == parts
    assert max(len(Shard(i, 2).select(items)) for i in range(2)) < len(items)


def test_parse_shard_and_torchrun_env() -> None:
    assert parse_shard("1/4") == Shard(1, 4) and str(parse_shard(" 0 / 2 ")) == "0/2"
    for bad in ("4/4", "1", "a/b", "-1/2", "1/0"):
        with pytest.raises(ShardError):
            parse_shard(bad)
    assert torchrun_env({}) is None
    ctx = torchrun_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert ctx == TorchrunEnv(3, 4, 1) and ctx.shard == Shard(3, 4) and not ctx.is_writer
    with pytest.raises(ShardError):
        torchrun_env({"RANK": "4", "WORLD_SIZE": "4"})


def test_shard_errors_exit_2(tmp_path, tiny_set, capsys, monkeypatch) -> None:
    assert main(evaluate_args(tiny_set, tmp_path / "a", "--shard", "2/2")) == 2
    assert "expected 0 <= i < n" in capsys.readouterr().err
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(evaluate_args(tiny_set, tmp_path / "b", "--shard", "0/2")) == 2
    assert "leave --shard out" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


# --- one process, shards, torchrun ----------------------------------------------------------------------------
@pytest.mark.slow
def test_shards_and_torchrun_give_the_records_of_one_process(tmp_path, tiny_set, one_thread, capsys) -> None:
    plain = tmp_path / "plain"
    assert main(evaluate_args(tiny_set, plain)) == 0
    reference = outcome(plain)
    assert [r["level"] for r in reference] == ["frame", "video"]
    assert reference[1]["n_real"] == 4 and reference[1]["n_fake"] == 4

    # two --shard runs fill the cache and write no records; the plain run then scores nothing and writes them
    sharded = tmp_path / "sharded"
    for i in range(2):
        assert main(evaluate_args(tiny_set, sharded, "--shard", f"{i}/2")) == 0
        assert not (sharded / "records.jsonl").exists()
    printed = capsys.readouterr().out
    assert "shard 0/2:" in printed and "shard 1/2:" in printed and "without --shard" in printed
    assert main(evaluate_args(tiny_set, sharded)) == 0
    assert outcome(sharded) == reference
    assert all(r.extra["n_computed"] == 0 and r.extra["n_cached"] == 8 for r in read_records(sharded))

    # torchrun with two ranks on the CPU (gloo): each rank scores its shard, rank 0 writes the records
    ranked = tmp_path / "torchrun"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "laanet_bench.cli", *evaluate_args(tiny_set, ranked)]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rank 0: shard 0/2" in proc.stderr and "rank 1: shard 1/2" in proc.stderr
    assert outcome(ranked) == reference
    assert len(read_records(ranked)) == 2  # one writer
    assert json.loads((ranked / "records.jsonl").read_text().splitlines()[0])["extra"]["n_cached"] == 8


@pytest.mark.slow
def test_killed_shard_resumes_without_recomputing(tmp_path, tiny_set, clips, one_thread, kill_when) -> None:
    items = load_csv(tiny_set, LoadOptions())
    index = max(range(2), key=lambda i: len(Shard(i, 2).select(items)))
    n_shard = len(Shard(index, 2).select(items))
    # six frames per item, so that the kill lands between items
    big = tiny_csv_set(tmp_path / "big", clips, frames=6)
    out = tmp_path / "out"
    args = evaluate_args(big, out, "--shard", f"{index}/2")
    proc = kill_when([sys.executable, "-m", "laanet_bench.cli", *args], lambda: bool(score_files(out)), env=ENV)
    assert proc.returncode == -signal.SIGKILL
    done = score_files(out)
    assert 1 <= len(done) < n_shard

    assert main(args) == 0
    after = score_files(out)
    assert len(after) == n_shard
    for path, stamp in done.items():
        assert after[path] == stamp, f"{path.name} was recomputed"
    assert not (out / "records.jsonl").exists()
    # the other shard, then the plain run: every item is scored once, and the records are written
    assert main(evaluate_args(big, out, "--shard", f"{1 - index}/2")) == 0
    assert len(score_files(out)) == len(items)
    assert main(evaluate_args(big, out)) == 0
    assert [r.extra["n_computed"] for r in read_records(out)] == [0, 0]


def test_robustness_shards_then_plain_run(tmp_path, tiny_set, one_thread, capsys) -> None:
    """A robustness sweep sharded: each shard scores its items under every perturbation; the plain run after
    them computes nothing and writes a record per perturbation."""
    out = tmp_path / "rob"
    args = ["robustness", "--csv", str(tiny_set), "--pre-cropped", "--weights", BUILTIN, "--out", str(out),
            "--device", "cpu", "--bootstrap", "20", "--quiet", "--perturbations", "GB", "--levels", "2",
            "--frames", "1"]
    for i in range(2):
        assert main([*args, "--shard", f"{i}/2"]) == 0
    assert "shard 1/2: " in capsys.readouterr().out
    assert not (out / "records.jsonl").exists()
    assert main(args) == 0
    records = read_records(out)
    assert [(r.perturbation, r.perturbation_level) for r in records] == [("none", 0), ("GB", 2)]
    assert all(r.extra["n_computed"] == 0 and r.extra["n_cached"] == 8 for r in records)
    # the blur reached the scores: the perturbed run is not the clean one again
    assert (out / records[0].scores_file).read_text() != (out / records[1].scores_file).read_text()
