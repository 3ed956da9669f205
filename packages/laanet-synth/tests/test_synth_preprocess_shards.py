"""Sharded preprocessing: ``--shard i/n`` runs and ``torchrun`` ranks give one index per shard, and the merged
index is identical to that of a single-process run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from laanet_synth.cli import collect_sources, main, shard_index_name
from laanet_synth.dataset import FaceIndex
from laanet_synth.shards import Shard

N_PEOPLE = 6


@pytest.fixture(scope="module")
def lfw_inputs(tmp_path_factory, lfw_dir):
    """Six LFW images (one per person, in a folder per person) and one unreadable file."""
    src = tmp_path_factory.mktemp("in")
    people = sorted(p for p in (lfw_dir / "images_deepfunneled").iterdir() if p.is_dir())[:N_PEOPLE]
    for person in people:
        first = sorted(person.glob("*.jpg"))[0]
        (src / person.name).mkdir()
        shutil.copy(first, src / person.name / first.name)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return src


def same_index(a: FaceIndex, b: FaceIndex) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.paths, b.paths)
    np.testing.assert_array_equal(a.groups, b.groups)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    assert a.pre_cropped == b.pre_cropped


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.slow
def test_sharded_preprocess_merges_to_the_single_process_index(lfw_inputs, tmp_path, capsys):
    # the unreadable file makes every run that covers it exit 1 (the others are still indexed)
    broken_shard = next(i for i in range(2) if any(
        s.rel.name == "broken.jpg" for s in Shard(i, 2).select(collect_sources([lfw_inputs]), key=lambda s: str(s.rel))))
    single = tmp_path / "single"
    assert main(["preprocess", str(lfw_inputs), "--out", str(single), "--quiet"]) == 1
    reference = FaceIndex.load(single / "index.npz")
    assert len(reference) == N_PEOPLE

    sharded = tmp_path / "sharded"
    shard_faces = []
    for i in range(2):
        code = main(["preprocess", str(lfw_inputs), "--out", str(sharded), "--quiet", "--shard", f"{i}/2"])
        assert code == (1 if i == broken_shard else 0)
        summary = last_json(capsys.readouterr().out)
        assert summary["shard"] == f"{i}/2" and "index" not in summary
        shard_index = FaceIndex.load(sharded / shard_index_name(Shard(i, 2)))
        shard_faces.append(set(shard_index.paths.tolist()))
        assert summary["shard_faces"] == len(shard_index)
    assert not (sharded / "index.npz").exists()
    # one index per shard: together they hold every face once
    assert shard_faces[0].isdisjoint(shard_faces[1])
    assert shard_faces[0] | shard_faces[1] == set(reference.paths.tolist())
    # the merge: the same command without --shard resumes every file and writes the whole index
    assert main(["preprocess", str(lfw_inputs), "--out", str(sharded), "--quiet"]) == 1
    summary = last_json(capsys.readouterr().out)
    assert summary["processed"] == 0 and summary["resumed"] == N_PEOPLE + 1
    same_index(FaceIndex.load(sharded / "index.npz"), reference)

    # under torchrun with two ranks: each rank writes its shard's index, rank 0 the whole one
    ranked = tmp_path / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "laanet_synth.cli", "preprocess", str(lfw_inputs), "--out", str(ranked), "--quiet"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]  # the rank holding the unreadable file exits 1
    for i in range(2):
        np.testing.assert_array_equal(np.sort(FaceIndex.load(ranked / shard_index_name(Shard(i, 2))).paths),
                                      np.sort(np.array(sorted(shard_faces[i]))))
    same_index(FaceIndex.load(ranked / "index.npz"), reference)


def test_preprocess_shard_partition_and_errors(lfw_inputs, tmp_path, capsys, monkeypatch):
    sources = collect_sources([lfw_inputs])
    parts = [Shard(i, 3).select(sources, key=lambda s: str(s.rel)) for i in range(3)]
    assert sorted(s.rel for p in parts for s in p) == sorted(s.rel for s in sources)
    assert main(["preprocess", str(lfw_inputs), "--out", str(tmp_path / "o"), "--shard", "3/3"]) == 2
    assert "expected 0 <= i < n" in capsys.readouterr().err
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["preprocess", str(lfw_inputs), "--out", str(tmp_path / "o"), "--shard", "1/2"]) == 2
    assert "leave --shard out" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
