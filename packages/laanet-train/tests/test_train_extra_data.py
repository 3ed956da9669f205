"""Training faces from a labelled image list: its real faces join the training index, its swaps become pairs
at ``data.swap_share``, its real faces alone make ``data.extra_share`` of the pairs, and bad lists or settings are refused with the key named."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from laanet_synth.dataset import FaceIndex, ShareMixDataset
from laanet_synth.faces import Face
from laanet_synth.imageio import read_image, write_image_atomic
from laanet_synth.swaps import SwapPairDataset
from laanet_train.config import ConfigError, load_config
from laanet_train.data import DataError, build_datasets, concat_indexes, extra_faces, read_labelled_csv

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def _write_list(tmp_path: Path, lfw_dir: Path) -> Path:
    """Two real photos (two groups) and two swaps of the first, as a labelled list beside them."""
    idx = FaceIndex.from_lfw(lfw_dir, split="test").subset([0, 5])
    rows = []
    for k in range(2):
        img = read_image(idx.image_path(k))
        write_image_atomic(tmp_path / f"real{k}.png", img)
        rows.append({"path": f"real{k}.png", "label": "0", "group": f"g{k}", "split": "train"})
    img = read_image(idx.image_path(0)).astype(int)
    for j, delta in enumerate((40, -40)):
        fake = img.copy()
        fake[90:160, 90:160] += delta
        write_image_atomic(tmp_path / f"fake{j}.png", np.clip(fake, 0, 255).astype(np.uint8))
        rows.append({"path": f"fake{j}.png", "label": "1", "group": "g0", "split": "train"})
    rows.append({"path": "real1.png", "label": "0", "group": "g9", "split": "report"})
    path = tmp_path / "list.csv"
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def _cfg(lfw_dir: Path, csv_path: Path, *extra: str):
    return load_config(CONFIGS / "lite0_sbi_lfw_v2.yaml", [
        f"data.root={lfw_dir}", "data.input_size=64", "data.batch_pairs=2", "data.max_train_faces=6",
        "data.max_val_faces=2", f"data.extra_csv={csv_path}", *extra])


def test_extra_faces_reads_the_split_and_pairs_swaps_with_their_group(tmp_path, lfw_dir):
    csv_path = _write_list(tmp_path, lfw_dir)
    assert len(read_labelled_csv(csv_path, "train")) == 4
    extra = extra_faces(_cfg(lfw_dir, csv_path).data)
    assert len(extra.reals) == 2 and set(extra.reals.groups) == {"extra:g0", "extra:g1"}
    assert [Path(p).name for p, _ in extra.swaps] == ["fake0.png", "fake1.png"]
    assert {row for _, row in extra.swaps} == {list(extra.reals.groups).index("extra:g0")}
    assert extra.reals.landmarks.shape == (2, 68, 2)


class _CountingFinder:
    """A face finder that records each search and draws a face whose box follows the image's mean."""

    def __init__(self) -> None:
        self.searched: list[float] = []

    def find(self, image: np.ndarray) -> list[Face]:
        mean = float(image.mean())
        self.searched.append(mean)
        lms = np.stack(np.meshgrid(np.linspace(60, 160, 17), np.linspace(70, 170, 4)), -1).reshape(-1, 2)[:68]
        return [Face(np.array([40, 40, 200, 40 + mean]), 0.99, lms, "retinaface")]


def test_extra_faces_are_kept_in_the_run_and_read_back_until_a_file_changes(tmp_path, lfw_dir, monkeypatch):
    import laanet_synth.faces

    csv_path = _write_list(tmp_path, lfw_dir)
    finder = _CountingFinder()
    made: list[str] = []
    monkeypatch.setattr(laanet_synth.faces, "make_face_finder", lambda name: made.append(name) or finder)
    cfg, faces_dir = _cfg(lfw_dir, csv_path).data, tmp_path / "run" / "extra-faces"
    first = extra_faces(cfg, faces_dir=faces_dir)
    assert len(finder.searched) == 2 and made == ["retinaface"]
    assert (faces_dir / "faces-retinaface.json").is_file()

    again = extra_faces(cfg, faces_dir=faces_dir)  # a resumed run: every face read back, no finder opened
    assert len(finder.searched) == 2 and made == ["retinaface"]
    np.testing.assert_array_equal(again.reals.boxes, first.reals.boxes)
    np.testing.assert_array_equal(again.reals.landmarks, first.reals.landmarks)
    assert again.swaps == first.swaps

    changed = read_image(tmp_path / "real1.png") // 2  # the same name, other bytes
    write_image_atomic(tmp_path / "real1.png", changed)
    third = extra_faces(cfg, faces_dir=faces_dir)
    assert finder.searched[2:] == [float(changed.mean())]  # only the changed file is searched again
    row = [Path(p).name for p in third.reals.paths].index("real1.png")
    assert third.reals.boxes[row, 3] == np.float32(40 + changed.mean()) != first.reals.boxes[row, 3]


def test_a_training_run_keeps_its_extra_faces_in_its_folder(tmp_path, lfw_dir, monkeypatch):
    import laanet_synth.faces

    csv_path = _write_list(tmp_path, lfw_dir)
    finder = _CountingFinder()
    monkeypatch.setattr(laanet_synth.faces, "make_face_finder", lambda name: finder)
    cfg = _cfg(lfw_dir, csv_path).data
    build_datasets(cfg, seed=1, run_dir=tmp_path / "run")
    build_datasets(cfg, seed=1, run_dir=tmp_path / "run")
    assert len(finder.searched) == 2 and (tmp_path / "run" / "extra-faces" / "faces-retinaface.json").is_file()


def test_build_datasets_adds_the_reals_and_mixes_in_swaps(tmp_path, lfw_dir):
    csv_path = _write_list(tmp_path, lfw_dir)
    plain, _ = build_datasets(_cfg(lfw_dir, csv_path).data, seed=1)
    assert len(plain) == 6 + 2
    mixed, _ = build_datasets(_cfg(lfw_dir, csv_path, "data.swap_share=0.5").data, seed=1)
    assert isinstance(mixed, ShareMixDataset) and isinstance(mixed.extra, SwapPairDataset)
    picked = [i for i in range(len(mixed)) if mixed.extra_item(i) is not None]
    assert picked, "a share of 0.5 over 8 items picked no swap"
    item = mixed[picked[0]]
    assert item["real"].shape == (3, 64, 64) and float(item["hm"].max()) > 0


def test_extra_share_draws_that_share_of_pairs_from_the_extra_faces_alone(tmp_path, lfw_dir):
    csv_path = _write_list(tmp_path, lfw_dir)
    mixed, _ = build_datasets(_cfg(lfw_dir, csv_path, "data.extra_share=0.5", "data.bi_share=0.5").data, seed=1)
    assert isinstance(mixed, ShareMixDataset) and len(mixed) == 6 + 2
    extra_names = {"real0.png", "real1.png"}
    assert {Path(p).name for p in mixed.extra.index.paths} == extra_names  # BI donors among them too
    drawn = [[mixed.extra_item(i) for i in range(len(mixed))] for _ in range(2)]
    assert drawn[0] == drawn[1]  # a pure function of (seed, epoch, item)
    picked = [j for j in drawn[0] if j is not None]
    assert 0 < len(picked) < len(mixed)
    mixed.set_epoch(1)
    assert [mixed.extra_item(i) for i in range(len(mixed))] != drawn[0]
    i = next(i for i in range(len(mixed)) if mixed.extra_item(i) is not None)
    item = mixed[i]
    assert item["real"].shape == (3, 64, 64) and float(item["hm"].max()) > 0


def test_concat_keeps_every_face_and_its_image(lfw_dir):
    a = FaceIndex.from_lfw(lfw_dir, split="test").subset([0, 1])
    b = FaceIndex.from_lfw(lfw_dir, split="train").subset([2])
    both = concat_indexes(a, b)
    assert len(both) == 3
    assert [both.image_path(i) for i in range(3)] == [a.image_path(0), a.image_path(1), b.image_path(0)]


def test_bad_lists_and_settings_are_refused(tmp_path, lfw_dir):
    csv_path = _write_list(tmp_path, lfw_dir)
    with pytest.raises(DataError, match="not found"):
        read_labelled_csv(tmp_path / "nope.csv", "train")
    with pytest.raises(DataError, match="no rows in split"):
        read_labelled_csv(csv_path, "select")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="columns"):
        read_labelled_csv(bad, "train")
    no_list = load_config(CONFIGS / "lite0_sbi_lfw_v2.yaml", [f"data.root={lfw_dir}", "data.swap_share=0.2"])
    with pytest.raises(DataError, match="data.swap_share: real swaps come from data.extra_csv"):
        build_datasets(no_list.data, seed=1)
    with pytest.raises(ConfigError, match="data.swap_share"):
        _cfg(lfw_dir, csv_path, "data.swap_share=1.5")
    with pytest.raises(ConfigError, match="data.extra_share"):
        _cfg(lfw_dir, csv_path, "data.extra_share=-0.1")
    no_faces = load_config(CONFIGS / "lite0_sbi_lfw_v2.yaml", [f"data.root={lfw_dir}", "data.extra_share=0.2"])
    with pytest.raises(DataError, match="data.extra_share: the extra real faces come from data.extra_csv"):
        build_datasets(no_faces.data, seed=1)


def test_list_paths_resolve_against_extra_root(tmp_path, lfw_dir):
    csv_path = _write_list(tmp_path, lfw_dir)
    sub = tmp_path / "lists"
    sub.mkdir()
    moved = sub / "list.csv"
    moved.write_text(csv_path.read_text().replace("real", "../real").replace("fake", "../fake"))
    rows = read_labelled_csv(moved, "train")
    assert all(Path(r["path"]).is_file() for r in rows)
    plain = sub / "plain.csv"
    plain.write_text(csv_path.read_text())
    assert all(Path(r["path"]).is_file() for r in read_labelled_csv(plain, "train", root=tmp_path))
    assert not any(Path(r["path"]).is_file() for r in read_labelled_csv(plain, "train"))


def test_the_card_states_what_the_list_added_to_training(tmp_path, lfw_dir):
    from laanet_train.export import extra_data_statement

    csv_path = _write_list(tmp_path, lfw_dir)
    text = extra_data_statement(_cfg(lfw_dir, csv_path, "data.extra_share=0.25"), tmp_path / "run")
    assert text.startswith("; plus 2 real faces of the 'train' split of list.csv")
    assert "25% of the training pairs were made" in text and text.endswith("no real face swap was trained on")
    swaps = extra_data_statement(_cfg(lfw_dir, csv_path, "data.swap_share=0.1"), tmp_path / "run")
    assert "10% of the training pairs were real face swaps of that split (2 images)" in swaps
    assert "made" not in swaps
    plain = load_config(CONFIGS / "lite0_sbi_lfw_v2.yaml", [f"data.root={lfw_dir}"])
    assert extra_data_statement(plain, tmp_path / "run") == ""


def test_validation_pairs_are_built_alone_without_the_list(tmp_path, lfw_dir):
    from laanet_train.data import validation_dataset

    csv_path = _write_list(tmp_path, lfw_dir)
    _, val = build_datasets(_cfg(lfw_dir, csv_path, "data.extra_share=0.5").data, seed=1)
    # a card's recipe names no list: its validation pairs are rebuilt all the same
    alone = validation_dataset(load_config(CONFIGS / "lite0_sbi_lfw_v2.yaml", [
        f"data.root={lfw_dir}", "data.input_size=64", "data.batch_pairs=2", "data.max_train_faces=6",
        "data.max_val_faces=2", "data.extra_share=0.5"]).data, seed=1)
    assert len(alone) == len(val) == 2
    for i in range(len(val)):
        a, b = alone.raw_item(i), val.raw_item(i)
        np.testing.assert_array_equal(a["real"], b["real"])
        np.testing.assert_array_equal(a["fake"], b["fake"])
