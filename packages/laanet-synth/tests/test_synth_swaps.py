"""Pairs from real face swaps: the difference mask, the pair's targets, the dataset and the share mix."""

import cv2
import numpy as np
import pytest
from laanet_synth.dataset import FaceIndex, SBIPairDataset, ShareMixDataset
from laanet_synth.imageio import write_image_atomic as write_image
from laanet_synth.swaps import SwapPairDataset, difference_mask, make_swap_pair


def _scene(size: int = 128, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured real image and a fake whose central disc was replaced by other content."""
    rng = np.random.default_rng(seed)
    real = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (0, 0), 2)
    fake = real.copy()
    yy, xx = np.mgrid[:size, :size]
    disc = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 <= (size / 4) ** 2
    fake[disc] = np.clip(fake[disc].astype(int) + 60, 0, 255).astype(np.uint8)
    return real, fake, disc


def test_difference_mask_covers_the_replaced_region_and_not_the_rest():
    real, fake, disc = _scene()
    m = difference_mask(real, fake)
    assert m.dtype == np.float32 and m.shape == disc.shape
    assert m.min() >= 0.0 and m.max() <= 1.0
    assert m[disc].mean() > 0.9
    far = ~cv2.dilate(disc.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
    assert m[far].mean() < 0.02


def test_identical_images_give_an_empty_mask_and_mismatched_ones_are_refused():
    real, _, _ = _scene()
    assert difference_mask(real, real).max() == 0.0
    with pytest.raises(ValueError):
        difference_mask(real, real[:64])


def test_swap_pair_boundary_sits_on_the_mask_edge():
    real, fake, disc = _scene()
    pair = make_swap_pair(real, fake, np.random.default_rng(0), train=False)
    assert pair.boundary_small.shape == (32, 32) and pair.boundary_small.dtype == np.uint8
    b = pair.boundary_small.astype(float)
    small_disc = cv2.resize(disc.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    edge = (small_disc > 0.05) & (small_disc < 0.95)
    assert b[edge].mean() > 3 * b[~edge].mean()
    with pytest.raises(ValueError):
        make_swap_pair(real[:, :100], fake[:, :100], np.random.default_rng(0))


def test_training_flip_moves_real_and_fake_together():
    real, fake, _ = _scene()
    for seed in range(6):
        pair = make_swap_pair(real, fake, np.random.default_rng(seed), train=True)
        flipped = np.array_equal(pair.real, cv2.flip(real, 1))
        assert np.array_equal(pair.fake, cv2.flip(fake, 1) if flipped else fake)


@pytest.fixture
def swap_files(tmp_path, lfw_dir):
    """One LFW face as a 'real frame' and two swaps of it (its central region brightened, then darkened)."""
    lfw = FaceIndex.from_lfw(lfw_dir, split="test").subset([0, 1, 2])
    from laanet_synth.imageio import read_image

    img = read_image(lfw.image_path(0))
    paths = []
    for k, delta in enumerate((50, -50)):
        fake = img.astype(int)
        fake[80:170, 80:170] += delta
        p = tmp_path / f"swap{k}.png"
        write_image(p, np.clip(fake, 0, 255).astype(np.uint8))
        paths.append((str(p), 0))
    return lfw, paths


def test_swap_dataset_items_match_the_pair_datasets(swap_files):
    index, fakes = swap_files
    ds = SwapPairDataset(index, fakes, 64, seed=1, split="val")
    assert len(ds) == 2
    item = ds[0]
    sbi = SBIPairDataset(index, 64, seed=1, split="val")[0]
    for key in ("real", "fake", "hm", "cst", "mask", "label"):
        assert item[key].shape == sbi[key].shape, key
    assert float(item["hm"].max()) > 0.5  # the swapped square has a boundary
    raw = ds.raw_item(1)
    assert np.abs(raw["fake"].astype(int) - raw["real"].astype(int)).max() > 20
    with pytest.raises(ValueError):
        SwapPairDataset(index, [("x.png", 7)], 64)


def test_share_mix_replaces_about_the_share_and_is_reproducible(swap_files):
    index, fakes = swap_files
    base = SBIPairDataset(index, 64, seed=1, split="val")
    swaps = SwapPairDataset(index, fakes, 64, seed=1, split="val")
    big = ShareMixDataset(base, swaps, 0.3, seed=3)
    picks = [big.extra_item(i) for i in range(len(base))]
    again = [ShareMixDataset(base, swaps, 0.3, seed=3).extra_item(i) for i in range(len(base))]
    assert picks == again
    assert len(big) == len(base)
    assert ShareMixDataset(base, swaps, 0.0).extra_item(0) is None
    assert all(ShareMixDataset(base, swaps, 1.0).extra_item(i) in (0, 1) for i in range(3))
    with pytest.raises(ValueError):
        ShareMixDataset(base, swaps, 1.5)
