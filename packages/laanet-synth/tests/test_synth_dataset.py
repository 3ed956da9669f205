from __future__ import annotations

import numpy as np
import pytest
import torch
from laanet_synth.crops import OFFICIAL_SBI, crop_face, recipe_for_size
from laanet_synth.dataset import (
    FaceIndex,
    FaceIndexError,
    SBIPairDataset,
    collate_pairs,
    read_lfw_people,
    to_tensor,
)
from laanet_synth.imageio import write_image_atomic
from laanet_synth.landmarks import template_landmarks
from torch.utils.data import DataLoader


@pytest.fixture
def tiny_index(tmp_path) -> FaceIndex:
    rng = np.random.default_rng(0)
    paths, groups, lms, boxes = [], [], [], []
    for k in range(4):
        img = rng.integers(60, 200, (200, 180, 3), dtype=np.uint8)
        name = f"p{k % 2}/img{k}.png"
        write_image_atomic(tmp_path / name, img)
        lm = template_landmarks(90 + k, 110, 0.9)
        paths.append(name)
        groups.append(f"p{k % 2}")
        lms.append(lm)
        boxes.append(np.concatenate([lm.min(0), lm.max(0)]))
    return FaceIndex(tmp_path, np.array(paths), np.array(groups), np.stack(lms), np.stack(boxes))


def test_index_roundtrip_and_splits(tiny_index, tmp_path):
    p = tmp_path / "idx" / "index.npz"
    tiny_index.save(p)
    back = FaceIndex.load(p)
    assert len(back) == 4 and back.root == tiny_index.root
    np.testing.assert_array_equal(back.landmarks, tiny_index.landmarks)
    assert not back.pre_cropped
    marked = FaceIndex(tiny_index.root, tiny_index.paths, tiny_index.groups, tiny_index.landmarks, tiny_index.boxes, pre_cropped=True)
    marked.save(p)
    assert FaceIndex.load(p).pre_cropped and marked.subset([0, 1]).pre_cropped
    tr, va = tiny_index.group_split(0.5, seed=1)
    assert len(tr) + len(va) == 4 and not set(tr.groups) & set(va.groups)
    assert len(tiny_index.select_groups(["p1"])) == 2
    with pytest.raises(FaceIndexError, match="disagree"):
        FaceIndex(tmp_path, np.array(["a"]), np.array(["g", "h"]), np.zeros((1, 68, 2)), np.zeros((1, 4)))
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(FaceIndexError, match="not a face index"):
        FaceIndex.load(tmp_path / "bad.npz")


def test_items_shapes_and_same_seed(tiny_index):
    ds = SBIPairDataset(tiny_index, 128, seed=5)
    a, b = ds[1], ds[1]
    assert a["real"].shape == (3, 128, 128) and a["fake"].dtype == torch.float32
    assert a["hm"].shape == a["cst"].shape == (1, 32, 32) and a["mask"].shape == (1, 128, 128)
    assert a["label"].tolist() == [0.0, 1.0]
    assert a["real"].min() >= -1 and a["real"].max() <= 1
    for k in a:
        assert torch.equal(a[k], b[k]), k
    ds.set_epoch(1)
    c = ds[1]
    assert not torch.equal(a["fake"], c["fake"])
    other = SBIPairDataset(tiny_index, 128, seed=6)[1]
    assert not torch.equal(a["fake"], other["fake"])


def test_workers_give_the_same_samples(tiny_index):
    ds = SBIPairDataset(tiny_index, 64, seed=3)
    ds.set_epoch(2)
    single = [ds[i] for i in range(4)]
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=collate_pairs)
    batches = list(loader)
    fakes = torch.cat([b["image"][2:] for b in batches])
    np.testing.assert_array_equal(fakes.numpy(), torch.stack([s["fake"] for s in single]).numpy())


def test_collate(tiny_index):
    ds = SBIPairDataset(tiny_index, 64, seed=0)
    batch = collate_pairs([ds[0], ds[1], ds[2]])
    assert batch["image"].shape == (6, 3, 64, 64)
    assert batch["label"].flatten().tolist() == [0, 0, 0, 1, 1, 1]
    assert not batch["hm"][:3].any() and batch["hm"][3:].amax() == 1.0
    shuffled = collate_pairs([ds[0], ds[1], ds[2]], shuffle_seed=1)
    assert sorted(shuffled["label"].flatten().tolist()) == [0, 0, 0, 1, 1, 1]


def test_training_crop_is_the_inference_crop(tiny_index):
    """With every random step switched off, the real image is exactly the recipe's crop."""
    from laanet_synth.imageio import read_image
    from laanet_synth.sbi import SBIConfig

    cfg = SBIConfig(p_hflip=0.0, extra_margin=(0, 0), p_geometric=0.0, colour=None)
    recipe = recipe_for_size(128, OFFICIAL_SBI)
    ds = SBIPairDataset(tiny_index, recipe, seed=0, split="val", config=cfg)
    raw = ds.raw_item(0)
    crop = crop_face(read_image(tiny_index.image_path(0)), tiny_index.face(0), recipe)
    # the real is the crop, except when SBI applied its colour transform to the target (p=0.5)
    rng_free = [np.array_equal(ds.raw_item(i)["real"], crop_face(read_image(tiny_index.image_path(i)), tiny_index.face(i), recipe).image) for i in range(4)]
    assert any(rng_free)
    assert raw["real"].shape == crop.image.shape


def test_to_tensor_normalisation():
    x = to_tensor(np.array([[[0, 255, 51]]], np.uint8))
    np.testing.assert_allclose(x.flatten().numpy(), [-1.0, 1.0, 51 / 127.5 - 1], atol=1e-6)


def test_lfw_index(lfw_dir):
    full = FaceIndex.from_lfw(lfw_dir)
    assert 13_000 < len(full) < 13_233
    assert (full.landmarks >= 0).all()
    train = FaceIndex.from_lfw(lfw_dir, "train")
    test = FaceIndex.from_lfw(lfw_dir, "test")
    assert not set(train.groups) & set(test.groups)
    assert set(train.groups) <= set(read_lfw_people(lfw_dir / "peopleDevTrain.txt"))
    ds = SBIPairDataset(train, 256, seed=0)
    item = ds[0]
    assert item["hm"].amax() == 1.0 and item["mask"].amax() > 0.9
    with pytest.raises(FaceIndexError, match="unknown LFW split"):
        FaceIndex.from_lfw(lfw_dir, "dev")


def test_mixed_pairs_draw_bi_at_the_given_share_and_reproducibly(tiny_index):
    from laanet_synth.dataset import BIPairDataset, mixed_pairs
    from laanet_synth.quality import QualityAugment

    quality = QualityAugment(p_rescale=1.0, p_grey=1.0)
    sbi = SBIPairDataset(tiny_index, 64, seed=2, quality=quality)
    bi = BIPairDataset(tiny_index, 64, seed=2, k=2, quality=quality)
    mixed = mixed_pairs(sbi, bi, 0.5, seed=2)

    def is_bi(i: int) -> bool:
        return mixed.extra_item(i) is not None

    draws = []
    for epoch in range(40):
        mixed.set_epoch(epoch)
        assert sbi.epoch == bi.epoch == epoch
        draws += [is_bi(i) for i in range(len(mixed))]
    assert 0.35 < np.mean(draws) < 0.65  # 160 draws at share 0.5
    mixed.set_epoch(3)
    for i in range(len(mixed)):
        item, again = mixed.raw_item(i), mixed.raw_item(i)
        source = bi if is_bi(i) else sbi
        np.testing.assert_array_equal(item["fake"], source.raw_item(i)["fake"])
        np.testing.assert_array_equal(item["fake"], again["fake"])
        assert ("donor" in item) == is_bi(i)
        # p_grey = 1: the quality recipe reached both kinds of pair, identically for the real and the fake
        for key in ("real", "fake"):
            assert np.array_equal(item[key][..., 0], item[key][..., 1])
    assert not any(mixed_pairs(sbi, bi, 0.0).extra_item(i) is not None for i in range(4))
    assert all(mixed_pairs(sbi, bi, 1.0).extra_item(i) == i for i in range(4))
    with pytest.raises(ValueError, match=r"bi_share must lie in \[0, 1\], got 1.5"):
        mixed_pairs(sbi, bi, 1.5)


def test_both_mixes_keep_their_per_item_draws(tiny_index):
    # the draws each mix made as its own class: BI on stream 2 for the same face, a swap on stream 5 for an
    # item drawn after the decision; the one mixer must give them for every (seed, epoch, item)
    from laanet_synth.dataset import BIPairDataset, ShareMixDataset, mixed_pairs

    sbi, bi = SBIPairDataset(tiny_index, 64, seed=2), BIPairDataset(tiny_index, 64, seed=2, k=2)
    donors = SBIPairDataset(tiny_index.subset([0, 1, 2]), 64, seed=2)
    for seed, share in ((2, 0.5), (7, 0.3)):
        mix, swaps = mixed_pairs(sbi, bi, share, seed=seed), ShareMixDataset(sbi, donors, share, seed=seed)
        for epoch in range(6):
            mix.set_epoch(epoch)
            swaps.set_epoch(epoch)
            for i in range(len(sbi)):
                old_bi = np.random.default_rng([seed, epoch, i, 2]).random() < share
                assert mix.extra_item(i) == (i if old_bi else None)
                rng = np.random.default_rng([seed, epoch, i, 5])
                old_swap = int(rng.integers(len(donors))) if rng.random() < share else None
                assert swaps.extra_item(i) == old_swap
    with pytest.raises(ValueError, match="must hold the same faces"):
        mixed_pairs(sbi, BIPairDataset(tiny_index.subset([0, 1]), 64, k=1), 0.5)


def test_bi_quality_is_for_training_only(tiny_index):
    from laanet_synth.dataset import BIPairDataset
    from laanet_synth.quality import QualityAugment

    assert BIPairDataset(tiny_index, 64, k=2, split="val", quality=QualityAugment()).quality is None
    plain = BIPairDataset(tiny_index, 64, seed=4, k=2)
    graded = BIPairDataset(tiny_index, 64, seed=4, k=2, quality=QualityAugment(p_rescale=0.0, p_noise=1.0))
    a, b = plain.raw_item(1), graded.raw_item(1)
    assert int(a["donor"]) == int(b["donor"])  # the quality draws do not move the synthesis draws
    np.testing.assert_array_equal(a["mask"], b["mask"])
    assert not np.array_equal(a["fake"], b["fake"])


@pytest.mark.parametrize("kind", ["sbi", "bi"])
def test_real_views_differ_from_the_real_face_in_resolution_alone(tiny_index, kind):
    from laanet_synth.dataset import BIPairDataset
    from laanet_synth.quality import QualityAugment

    def make(**kw):
        if kind == "bi":
            return BIPairDataset(tiny_index, 64, seed=5, k=2, **kw)
        return SBIPairDataset(tiny_index, 64, seed=5, **kw)

    # greyscale half of the time: the view is greyscale exactly when its pair is (the same photometric draw)
    quality = QualityAugment(p_rescale=0.5, p_grey=0.5, p_noise=0.0, p_jpeg=0.0, p_sharpen=0.0, p_blur=0.0)
    ds, plain = make(quality=quality, real_views=True), make(quality=quality)
    grey_seen = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        plain.set_epoch(epoch)
        for i in range(len(ds)):
            raw, ref = ds.raw_item(i), plain.raw_item(i)
            for key in ("real", "fake", "mask"):  # views change nothing else about the pair
                np.testing.assert_array_equal(raw[key], ref[key])
            view, real = raw["view"], raw["real"]
            assert view.shape == real.shape and view.dtype == np.uint8
            grey = bool(np.array_equal(real[..., 0], real[..., 1]))
            assert grey == bool(np.array_equal(view[..., 0], view[..., 1]))
            grey_seen.add(grey)
            assert not np.array_equal(view, real)
    assert grey_seen == {True, False}
    item = ds[0]
    assert item["view"].shape == item["real"].shape
    batch = collate_pairs([ds[0], ds[1]])
    assert batch["view"].shape == (2, *item["real"].shape)
    with pytest.raises(ValueError, match="cannot be shuffled"):
        collate_pairs([ds[0], ds[1]], shuffle_seed=1)
    # views are for training only, and need a quality recipe
    assert "view" not in make(split="val", quality=quality, real_views=True).raw_item(0)
    with pytest.raises(ValueError, match="quality recipe"):
        make(real_views=True)
