"""Perturbations: what each does to a real face, level ordering, seeding, and the ffmpeg round trip."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from laanet_bench import perturbations as P
from laanet_bench.perturbations import PERTURBATIONS, Perturbation, PerturbationError, perturb_frames


@pytest.fixture(scope="module")
def face(shared_data):
    path = shared_data / "lfw" / "images_deepfunneled" / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg"
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def diff(a, b):
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_levels_follow_deeperforensics_and_jpeg_sweep():
    assert PERTURBATIONS["CS"].levels == (0.4, 0.3, 0.2, 0.1, 0.0)
    assert PERTURBATIONS["CC"].levels == (0.85, 0.725, 0.6, 0.475, 0.35)
    assert PERTURBATIONS["BW"].levels == (16, 32, 48, 64, 80)
    assert PERTURBATIONS["GNC"].levels == (0.001, 0.002, 0.005, 0.01, 0.05)
    assert PERTURBATIONS["GB"].levels == (7, 9, 13, 17, 21)
    assert PERTURBATIONS["PX"].levels == (2, 3, 4, 5, 6)
    assert PERTURBATIONS["VC"].levels == (30, 32, 35, 38, 40)
    assert PERTURBATIONS["JPEG"].levels == (90, 70, 50, 30, 10)


@pytest.mark.parametrize("name", ["CS", "CC", "BW", "GNC", "GB", "PX", "JPEG", "VC"])
def test_damage_grows_with_level(face, name):
    outs = [perturb_frames([face, face], Perturbation(name, lv), key="k") for lv in range(1, 6)]
    for out in outs:
        assert len(out) == 2 and out[0].shape == face.shape and out[0].dtype == np.uint8
    damage = [diff(o[0], face) for o in outs]
    assert damage[0] > 0
    assert all(b >= a - 1e-9 for a, b in zip(damage, damage[1:], strict=False)), damage
    assert damage[-1] > damage[0]


def test_saturation_zero_gives_grey(face):
    out = P.color_saturation(face, 0.0, np.random.default_rng(0))
    spread = out.astype(int).max(axis=2) - out.astype(int).min(axis=2)
    assert spread.max() <= 2


def test_contrast_scales_pixels(face):
    out = P.color_contrast(face, 0.5, np.random.default_rng(0))
    np.testing.assert_allclose(out, np.floor(face * 0.5), atol=1)


def test_blockwise_paints_grey_blocks(face):
    out = P.block_wise(face, 16, np.random.default_rng(0))
    changed = np.any(out != face, axis=2)
    assert np.all(out[changed] == 128)
    assert 0 < changed.sum() <= 16 * 64


def test_blur_and_pixelation_remove_detail(face):
    lap = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()  # noqa: E731
    assert lap(P.gaussian_blur(face, 13, None)) < lap(face) / 4
    assert lap(P.pixelation(face, 4, None)) < lap(face) / 2


def test_random_parts_are_seeded_per_item_and_frame(face):
    a = perturb_frames([face, face], Perturbation("GNC", 3, seed=1), key="x")
    b = perturb_frames([face, face], Perturbation("GNC", 3, seed=1), key="x")
    c = perturb_frames([face, face], Perturbation("GNC", 3, seed=1), key="y")
    d = perturb_frames([face, face], Perturbation("GNC", 3, seed=2), key="x")
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[0], d[0])


def test_video_compression_keeps_frame_count_and_odd_sizes(face):
    frames = [face[:249, :247], np.roll(face, 3, axis=1)[:249, :247], face[:249, :247]]
    out = P.video_compression(frames, 40)
    assert len(out) == 3 and out[0].shape == (249, 247, 3)
    assert 1.0 < diff(out[0], frames[0]) < 40.0


def test_bad_level_name_or_missing_ffmpeg(monkeypatch, face):
    with pytest.raises(PerturbationError, match="levels 1..5"):
        perturb_frames([face], Perturbation("GB", 6))
    with pytest.raises(PerturbationError, match="unknown perturbation"):
        perturb_frames([face], Perturbation("XX", 1))
    monkeypatch.setattr(P, "ffmpeg_executable", lambda: None)
    with pytest.raises(PerturbationError, match="imageio-ffmpeg"):
        Perturbation("VC", 1).check()
    with pytest.raises(PerturbationError, match="imageio-ffmpeg"):
        perturb_frames([face], Perturbation("VC", 1))


def test_video_compression_of_frames_with_different_sizes(face):
    frames = [face, cv2.resize(face, (200, 180)), face[:240]]
    out = P.video_compression(frames, 30)
    assert [o.shape for o in out] == [f.shape for f in frames]
    assert diff(out[1], frames[1]) < 20.0
