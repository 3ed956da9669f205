from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from laanet_synth.cli import PreprocessSettings, collect_sources, main
from laanet_synth.crops import OFFICIAL_SBI, crop_face, pre_cropped, whole_image_face
from laanet_synth.dataset import FaceIndex, SBIPairDataset
from laanet_synth.imageio import read_image


@pytest.fixture
def inputs(tmp_path, shared_data):
    src = tmp_path / "in"
    (src / "people").mkdir(parents=True)
    shutil.copy(shared_data / "faces" / "landmarks68" / "takeo.ppm", src / "people" / "takeo.ppm")
    shutil.copy(shared_data / "dfdc-crops" / "real" / sorted(p.name for p in (shared_data / "dfdc-crops" / "real").iterdir())[0], src / "people" / "a.jpg")
    (src / "people" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (src / "clip.mp4").write_bytes(b"")
    (src / "notes.txt").write_text("ignored")
    return src


def test_collect_sources(inputs):
    kinds = {s.rel.as_posix(): s.kind for s in collect_sources([inputs])}
    assert kinds == {"clip.mp4": "video", "people/a.jpg": "image", "people/broken.jpg": "image", "people/takeo.ppm": "image"}


def test_preprocess_resumes_and_reports(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["preprocess", str(inputs), "--out", str(out), "--quiet"]) == 1  # two inputs failed
    cap = capsys.readouterr()
    summary = json.loads(cap.out.strip().splitlines()[-1])
    assert summary["failed"] == 2 and summary["processed"] == 2 and summary["faces"] >= 1
    assert "broken.jpg" in cap.err and "clip.mp4" in cap.err
    index = FaceIndex.load(out / "index.npz")
    assert len(index) == summary["faces"]
    crop = read_image(index.image_path(0))
    assert crop.shape == (256, 256, 3)
    assert not list(out.rglob("*.tmp"))
    # the stored margin crop + pre_cropped recipe gives the same network input as cropping the original
    takeo = [i for i in range(len(index)) if "takeo" in str(index.paths[i])]
    assert len(takeo) == 1, "the takeo portrait has one face, and preprocess must have stored it"
    from laanet_synth.faces import make_face_finder

    orig = read_image(inputs / "people" / "takeo.ppm")
    face = make_face_finder().find(orig)[0]  # the finder preprocess uses by default
    direct = crop_face(orig, face, OFFICIAL_SBI)
    stored = read_image(index.image_path(takeo[0]))
    two = crop_face(stored, whole_image_face(256, 256, index.landmarks[takeo[0]]), pre_cropped(OFFICIAL_SBI))
    assert np.abs(direct.image.astype(int) - two.image.astype(int)).mean() < 1.0
    # second run: everything is resumed, nothing reprocessed (the two failed inputs still count as failed)
    assert main(["preprocess", str(inputs), "--out", str(out), "--quiet"]) == 1
    summary2 = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary2["resumed"] == 4 and summary2["processed"] == 0 and summary2["faces"] == summary["faces"]
    assert index.pre_cropped
    ds = SBIPairDataset(index, OFFICIAL_SBI, seed=0)  # the dataset applies only the trim and warp
    assert ds.recipe == pre_cropped(OFFICIAL_SBI)
    assert ds[0]["fake"].shape == (3, 384, 384)


def test_preprocess_video(shared_data, tmp_path, capsys):
    src = tmp_path / "v"
    src.mkdir()
    shutil.copy(shared_data / "videos" / "0017_fake.mp4", src / "x.mp4")
    out = tmp_path / "o"
    assert main(["preprocess", str(src), "--out", str(out), "--frames", "3", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    index = FaceIndex.load(out / "index.npz")
    assert summary["faces"] == len(index) >= 2
    assert set(index.groups) == {"x"}


def test_contact_sheet_from_index(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    main(["preprocess", str(inputs / "people"), "--out", str(out), "--quiet"])
    capsys.readouterr()
    sheet = tmp_path / "s.png"
    assert main(["contact-sheet", "--index", str(out / "index.npz"), "--out", str(sheet), "--n", "1", "--size", "64", "--kind", "sbi"]) == 0
    assert read_image(sheet).shape == (24 + 68, 44 + 4 * 68, 3)


def test_contact_sheet(lfw_dir, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    assert main(["contact-sheet", "--lfw", str(lfw_dir), "--out", str(out), "--n", "2", "--size", "128", "--kind", "sbi"]) == 0
    img = read_image(out)
    assert img.shape[0] == 24 + 2 * 132 and img.shape[1] == 44 + 4 * 132


def test_missing_input(tmp_path, capsys):
    assert main(["preprocess", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_inputs_with_the_same_name_in_two_folders_are_two_entries(tmp_path, capsys):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "clip.jpg").write_bytes(b"not a jpeg " + sub.encode())
    sources = collect_sources([tmp_path / "a" / "clip.jpg", tmp_path / "b" / "clip.jpg"])
    assert sorted(s.rel.as_posix() for s in sources) == ["a/clip.jpg", "b/clip.jpg"]
    out = tmp_path / "out"
    assert main(["preprocess", str(tmp_path / "a" / "clip.jpg"), str(tmp_path / "b" / "clip.jpg"),
                 "--out", str(out), "--quiet"]) == 1
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["sources"], summary["failed"], summary["resumed"]) == (2, 2, 0)


def test_changed_settings_are_not_resumed(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    clip = inputs / "clip.mp4"
    assert main(["preprocess", str(clip), "--out", str(out), "--frames", "4", "--quiet"]) == 1
    capsys.readouterr()
    assert main(["preprocess", str(clip), "--out", str(out), "--frames", "4", "--quiet"]) == 1
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (again["resumed"], again["processed"] + again["failed"]) == (1, 0)
    assert main(["preprocess", str(clip), "--out", str(out), "--frames", "8", "--quiet"]) == 1
    changed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert changed["resumed"] == 0 and changed["failed"] == 1 and changed["settings_changed"] == 1


def test_each_record_file_is_read_at_most_once(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (src / name).write_bytes(b"not a jpeg " + name.encode())
    out = tmp_path / "out"
    assert main(["preprocess", str(src), "--out", str(out), "--quiet"]) == 1
    capsys.readouterr()
    # a record of a source no longer among the inputs (same settings): it stays in the whole index
    settings = asdict(PreprocessSettings(32, "official-sbi", "retinaface", False))
    entry = {"path": "crops/gone/00000_0.png", "group": "gone", "frame": 0, "landmarks": [[1.0, 2.0]] * 68,
             "box": [0.0, 0.0, 256.0, 256.0], "score": 0.9}
    (out / "records" / "0000gone.json").write_text(json.dumps(
        {"source": "gone.jpg", "status": "ok", "frames": 1, "entries": [entry], "settings": settings}))
    reads: Counter[str] = Counter()
    read_text = Path.read_text

    def counting_read_text(self, *args, **kwargs):
        if self.parent == out / "records":
            reads[self.name] += 1
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counting_read_text)
    # resumed, retried, and one shard of one (its own index only: the old record is not read)
    for extra, n_read in (([], 3), (["--retry-errors"], 3), (["--shard", "0/1"], 2)):
        reads.clear()
        assert main(["preprocess", str(src), "--out", str(out), "--quiet", *extra]) == 1
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["failed_total"] == 2 and summary.get("faces", 1) == 1, extra
        assert len(reads) == n_read and max(reads.values()) == 1, (extra, reads)
    assert FaceIndex.load(out / "index.npz").paths.tolist() == [entry["path"]]
    assert len(FaceIndex.load(out / "index.shard-0-of-1.npz")) == 0


@pytest.mark.parametrize("args, words", [
    (["--frames", "0"], "--frames"),
    (["--frames", "-3"], "--frames"),
    (["--recipe", "bogus"], "unknown crop recipe 'bogus'"),
    (["--finder", "bogus"], "unknown face finder 'bogus'"),
])
def test_bad_options_are_one_line_and_exit_2(args, words, inputs, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(["preprocess", str(inputs / "people"), "--out", str(out), "--quiet", *args]))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert [line for line in err.splitlines() if "error" in line] and len(err.strip().splitlines()) <= 2
    assert not out.exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("laanet-synth 0.")


@pytest.fixture
def one_face(shared_data):
    real = shared_data / "dfdc-crops" / "real"
    return read_image(real / sorted(p.name for p in real.iterdir())[0])


def test_preprocess_keeps_sources_that_differ_only_by_extension_apart(one_face, tmp_path, capsys):
    from laanet_synth.imageio import write_image_atomic

    src = tmp_path / "in" / "p"
    src.mkdir(parents=True)
    for name in ("face.jpg", "face.png", "face.JPG"):
        write_image_atomic(src / name, one_face)
    out = tmp_path / "out"
    assert main(["preprocess", str(tmp_path / "in"), "--out", str(out), "--quiet"]) == 0
    index = FaceIndex.load(out / "index.npz")
    assert len(index) == 3
    folders = {Path(str(p)).parent.as_posix() for p in index.paths}
    assert folders == {"crops/p/face.jpg", "crops/p/face.png", "crops/p/face.JPG"}
    assert all(index.image_path(i).is_file() for i in range(3))


def test_preprocess_takes_a_file_name_that_is_not_utf8(one_face, tmp_path, capsys):
    import os

    from laanet_synth.imageio import write_image_atomic

    src = tmp_path / "in"
    src.mkdir()
    name = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes, not UTF-8
    write_image_atomic(src / name, one_face)
    out = tmp_path / "out"
    assert main(["preprocess", str(src), "--out", str(out), "--quiet"]) == 0
    index = FaceIndex.load(out / "index.npz")
    assert len(index) == 1 and index.image_path(0).is_file()
    assert os.fsencode(str(index.paths[0])) == b"crops/caf\xe9.jpg/00000_0.png"


def test_preprocess_refuses_an_out_that_is_a_file(inputs, tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("x")
    assert main(["preprocess", str(inputs), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a file" in err
    assert main(["preprocess", str(inputs), "--out", str(out / "sub"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"--out {out / 'sub'}: cannot create this folder (" in err


def test_preprocess_interrupted_is_one_line_exit_130_and_resumes(one_face, tmp_path, capsys, monkeypatch):
    from laanet_synth import cli
    from laanet_synth.imageio import write_image_atomic

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        write_image_atomic(src / name, one_face)
    real = cli.process_source
    calls = []

    def interrupted_on_second(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(cli, "process_source", interrupted_on_second)
    out = tmp_path / "out"
    assert main(["preprocess", str(src), "--out", str(out), "--quiet"]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted" in err and "Traceback" not in err
    assert len(list((out / "records").glob("*.json"))) == 1 and not list(out.rglob("*.tmp"))
    monkeypatch.setattr(cli, "process_source", real)
    assert main(["preprocess", str(src), "--out", str(out), "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["resumed"] == 1 and summary["processed"] == 1 and summary["faces"] == 2


@pytest.mark.parametrize("content", [None, b"not a zip", b"PK\x03\x04 torn"])
def test_contact_sheet_on_a_bad_lfw_folder_is_a_usage_error(tmp_path, capsys, content):
    lfw = tmp_path / "lfw"
    lfw.mkdir()
    if content is not None:
        (lfw / "landmarks68_dlib.npz").write_bytes(content)
    assert main(["contact-sheet", "--lfw", str(lfw), "--out", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("laanet-synth contact-sheet: error: --lfw")
    assert not (tmp_path / "s.png").exists()


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_contact_sheet_checks_its_out_before_the_work(tmp_path, capsys, where):
    out = tmp_path / "s.png" if where == "folder" else tmp_path / "no" / "s.png"
    if where == "folder":
        out.mkdir()
    assert main(["contact-sheet", "--lfw", str(tmp_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and ("is a folder" in err or "does not exist" in err)
