"""Dataset adapters on miniature datasets in each published layout, and the generic CSV adapter."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest
from laanet_bench.datasets import DATASETS, DatasetLayoutError, LoadOptions, load_csv, load_dataset


def labels(items):
    return Counter(it.label for it in items)


def test_ffpp_split_compression_and_methods(tmp_path, build, layout_clips):
    root = build.ffpp(tmp_path / "ffpp", layout_clips)
    items = load_dataset("ffpp", root, LoadOptions(split="test", compression="c23"))
    assert labels(items) == {0: 4, 1: 16}
    assert {it.subset for it in items} == {"original", "Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"}
    # the same fake name under two methods stays two videos
    assert len({it.key for it in items}) == len(items)
    assert "Deepfakes/000_001" in {it.key for it in items} and "Face2Face/000_001" in {it.key for it in items}
    only = load_dataset("ffpp", root, LoadOptions(methods=("Deepfakes",)))
    assert labels(only) == {0: 4, 1: 4}
    with pytest.raises(DatasetLayoutError, match="c40"):
        load_dataset("ffpp", root, LoadOptions(compression="c40"))
    with pytest.raises(DatasetLayoutError, match="missing"):
        load_dataset("ffpp", root, LoadOptions(split="train"))
    with pytest.raises(DatasetLayoutError, match=r"val\.json"):
        load_dataset("ffpp", root, LoadOptions(split="val"))


def test_ffpp_missing_video_is_reported_or_skipped(tmp_path, build, layout_clips):
    root = build.ffpp(tmp_path / "ffpp", layout_clips, methods=("Deepfakes",))
    (root / "manipulated_sequences/Deepfakes/c23/videos/002_003.mp4").unlink()
    with pytest.raises(DatasetLayoutError, match=r"1 of 8 listed files are missing"):
        load_dataset("ffpp", root, LoadOptions(methods=("Deepfakes",)))
    items = load_dataset("ffpp", root, LoadOptions(methods=("Deepfakes",), skip_missing=True))
    assert labels(items) == {0: 4, 1: 3}
    with pytest.raises(DatasetLayoutError, match="Face2Face"):
        load_dataset("ffpp", root)


def test_celebdf_list_one_means_real(tmp_path, build, layout_clips):
    root = build.celebdf(tmp_path / "cdf", layout_clips)
    items = load_dataset("celebdf", root)
    assert labels(items) == {0: 2, 1: 2}
    by_key = {it.key: it for it in items}
    assert by_key["YouTube-real/id1_0000"].label == 0
    assert by_key["Celeb-synthesis/id0_id9_0000"].label == 1
    assert "Celeb-real/not_in_test" not in by_key
    (root / "List_of_testing_videos.txt").write_text("2 Celeb-real/x.mp4\n")
    with pytest.raises(DatasetLayoutError, match="expected '<1 real|0 fake>"):
        load_dataset("celebdf", root)
    (root / "List_of_testing_videos.txt").unlink()
    with pytest.raises(DatasetLayoutError, match="List_of_testing_videos.txt"):
        load_dataset("celebdf", root)


def test_wilddeepfake_sequences_are_pre_cropped(tmp_path, build, layout_clips):
    root = build.wilddeepfake(tmp_path / "dfw", layout_clips)
    items = load_dataset("wilddeepfake", root)
    assert labels(items) == {0: 2, 1: 2}
    assert all(it.pre_cropped and it.kind == "frames" and len(it.paths) == 3 for it in items)
    (tmp_path / "dfw2" / "real_test").mkdir(parents=True)
    (tmp_path / "dfw2" / "real_test" / "a.tar.gz").write_bytes(b"x")
    (tmp_path / "dfw2" / "fake_test").mkdir()
    with pytest.raises(DatasetLayoutError, match="extract them"):
        load_dataset("wilddeepfake", tmp_path / "dfw2")


def test_dfd_dfdcp_dfdc(tmp_path, build, layout_clips):
    dfd = build.dfd(tmp_path / "dfd", layout_clips)
    assert labels(load_dataset("dfd", dfd)) == {0: 2, 1: 2}
    with pytest.raises(DatasetLayoutError, match="actors"):
        load_dataset("dfd", dfd, LoadOptions(compression="raw"))
    dfdcp = build.dfdcp(tmp_path / "dfdcp", layout_clips)
    items = load_dataset("dfdcp", dfdcp)
    assert labels(items) == {0: 2, 1: 2}
    assert {it.subset for it in items} == {"original_videos", "method_A", "method_B"}
    with pytest.raises(DatasetLayoutError, match="missing"):
        load_dataset("dfdcp", dfdcp, LoadOptions(split="train"))
    dfdc = build.dfdc(tmp_path / "dfdc", layout_clips)
    assert labels(load_dataset("dfdc", dfdc)) == {0: 2, 1: 2}
    assert labels(load_dataset("dfdc", dfdc / "test")) == {0: 2, 1: 2}
    (dfdc / "test" / "labels.csv").write_text("name,label\nx.mp4,1\n")
    with pytest.raises(DatasetLayoutError, match="filename,label"):
        load_dataset("dfdc", dfdc)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_missing_root_or_list_says_what_was_expected(tmp_path, name):
    with pytest.raises(DatasetLayoutError, match="expected"):
        load_dataset(name, tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"expected .* at .*empty"):
        load_dataset(name, tmp_path / "empty")


@pytest.mark.parametrize("name, types", [("ffpp", ("original", "Deepfakes")),
                                         ("celebdf", ("YouTube-real", "Celeb-synthesis")),
                                         ("dfdcp", ("original_videos", "method_A")),
                                         ("dfdc", ("real", "fake"))])
def test_official_frames_layout(tmp_path, build, layout_clips, name, types):
    root = build.official_frames(tmp_path / name, layout_clips, types)
    items = load_dataset(name, root, LoadOptions(layout="official-frames"))
    assert labels(items) == {0: 2, 1: 2}
    assert all(it.kind == "frames" and it.pre_cropped for it in items)
    assert all(it.subset in types for it in items)


def test_csv_adapter_on_dfdc_crops_groups_images_by_video(tmp_path, shared_data):
    crops = shared_data / "dfdc-crops"
    rows = ["path,label,group"]
    for label, folder in ((0, "real"), (1, "fake")):
        for p in sorted((crops / folder).glob("*.jpg")):
            rows.append(f"{p},{label},{p.stem.split('_')[0]}")
    csv_path = tmp_path / "dfdc_crops.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    items = load_csv(csv_path, LoadOptions())
    # 34 real crops of 32 videos, 33 fake crops of 28 videos (shared/data/README.md)
    assert labels(items) == {0: 32, 1: 28}
    assert sum(len(it.paths) for it in items) == 67


def test_csv_adapter_on_videos_and_bad_rows(tmp_path, shared_data):
    videos = shared_data / "videos"
    csv_path = tmp_path / "v.csv"
    csv_path.write_text(f"{videos}/0017_fake.mp4,fake\n{videos}/aajsqyyjni.mp4,0\n")
    items = load_csv(csv_path, LoadOptions())
    assert [(it.kind, it.label) for it in items] == [("video", 1), ("video", 0)]
    csv_path.write_text(f"{videos}/0017_fake.mp4,maybe\n")
    with pytest.raises(DatasetLayoutError, match="maybe"):
        load_csv(csv_path, LoadOptions())
    csv_path.write_text("a.jpg,1,g\nb.jpg,0,g\n")
    with pytest.raises(DatasetLayoutError, match="mixes real and fake"):
        load_csv(csv_path, LoadOptions())
    csv_path.write_text("nothere.mp4,1\n")
    with pytest.raises(DatasetLayoutError, match="missing"):
        load_csv(csv_path, LoadOptions())
    with pytest.raises(DatasetLayoutError, match="expected a CSV"):
        load_csv(tmp_path / "absent.csv", LoadOptions())


def _images(tmp_path, n):
    from PIL import Image

    paths = []
    for i in range(n):
        paths.append(tmp_path / f"img{i}.png")
        Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(paths[-1])
    return paths


def test_csv_with_a_byte_order_mark_and_columns_by_name(tmp_path):
    from laanet_bench.datasets.generic import read_rows

    imgs = _images(tmp_path, 4)
    csv_path = tmp_path / "sheet.csv"
    body = "note,label,path,video\n" + "".join(
        f"n{i % 2},{i % 2},{p.name},v{i}\n" for i, p in enumerate(imgs))
    csv_path.write_bytes(b"\xef\xbb\xbf" + body.encode())  # "CSV UTF-8" as spreadsheet programs write it
    table = read_rows(csv_path)
    assert table.header == ("note", "label", "path", "video") and table.ignored_columns == ("note",)
    items = load_csv(csv_path, LoadOptions())
    assert len(items) == 4 and sorted(it.key for it in items) == ["group/v0", "group/v1", "group/v2", "group/v3"]
    # a third column that is not group/video is ignored, not taken as a group
    csv_path.write_text("path,label,note\n" + "".join(f"{p.name},{i % 2},n{i % 2}\n" for i, p in enumerate(imgs)))
    items = load_csv(csv_path, LoadOptions())
    assert len(items) == 4 and all(len(it.paths) == 1 for it in items)
    assert read_rows(csv_path).ignored_columns == ("note",)
    csv_path.write_text("file,label\na.jpg,1\n")
    with pytest.raises(DatasetLayoutError, match="'path' column"):
        load_csv(csv_path, LoadOptions())


def test_csv_without_a_header_keeps_its_first_row(tmp_path):
    from laanet_bench.datasets.generic import read_rows

    imgs = _images(tmp_path, 3)
    csv_path = tmp_path / "plain.csv"
    rows = [f"{imgs[0].name},0", "missing.png,1", f"{imgs[2].name},1"]
    csv_path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(rows) + "\n").encode())
    table = read_rows(csv_path)
    assert table.header is None and [r[0] for r in table.rows] == [imgs[0].name, "missing.png", imgs[2].name]
    items = load_csv(csv_path, LoadOptions(skip_missing=True))
    assert sorted(it.key for it in items) == [imgs[0].name, imgs[2].name]
    csv_path.write_text(f"{imgs[0].name},0,g,extra\n")
    with pytest.raises(DatasetLayoutError, match="without a header.*2 or 3 columns"):
        load_csv(csv_path, LoadOptions())


def test_items_are_immutable_and_checked(tmp_path, build, layout_clips):
    root = build.dfdcp(tmp_path / "d", layout_clips)
    item = load_dataset("dfdcp", root)[0]
    with pytest.raises(ValueError, match="label"):
        replace(item, label=2)
    assert json.loads((root / "dataset.json").read_text())


def test_dataset_registry_is_consistent():
    from laanet_model.paper import PAPER_COLUMNS

    columns = [spec.paper_column for spec in DATASETS.values() if spec.paper_column]
    assert sorted(columns) == sorted(PAPER_COLUMNS)
    for name, spec in DATASETS.items():
        assert spec.name == name and callable(spec.loader) and "test" in spec.splits
        assert set(spec.frame_types.values()) == {0, 1}


def test_balanced_limit_alternates_classes(tmp_path, build, layout_clips):
    from laanet_bench.commands import balanced_limit

    items = load_dataset("ffpp", build.ffpp(tmp_path / "f", layout_clips))
    picked = balanced_limit(items, 5)
    assert [it.label for it in picked] == [0, 1, 0, 1, 0]
    assert balanced_limit(items, 0) == items
