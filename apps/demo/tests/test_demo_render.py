"""Heatmaps painted back onto images, overlays, tiles and the timeline figure."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_demo import render
from laanet_demo.inference import FaceView, UnjudgedView, VerdictBands


def face_at(x0: float, y0: float, s: float, crop_size: int = 64, prob: float = 0.9) -> FaceView:
    """A face whose crop is the square [x0, x0 + crop_size / s) x [y0, ...) of the image, scaled by s."""
    m = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]])
    heat = np.zeros((crop_size, crop_size), np.float32)
    heat[crop_size // 4: crop_size // 2, crop_size // 2: 3 * crop_size // 4] = 1.0
    crop = np.full((crop_size, crop_size, 3), 120, np.uint8)
    box = (x0, y0, x0 + crop_size / s, y0 + crop_size / s)
    return FaceView(1, prob, 2.0, VerdictBands().verdict(prob), box, heat, crop, m)


@settings(max_examples=25, deadline=None)
@given(x0=st.integers(0, 100), y0=st.integers(0, 100), s=st.sampled_from([0.5, 1.0, 2.0]))
def test_heatmap_lands_where_the_crop_came_from(x0: int, y0: int, s: float) -> None:
    f = face_at(x0, y0, s)
    out = render.heatmap_to_image(f.heatmap_crop, f.crop_matrix, 300, 300)
    assert out.shape == (300, 300) and out.dtype == np.float32
    ys, xs = np.nonzero(out > 0.5)
    # the hot block is crop rows 16..32, cols 32..48 -> image y0 + [16, 32) / s, x0 + [32, 48) / s
    assert abs(ys.min() - (y0 + 16 / s)) <= 1.5 and abs(ys.max() - (y0 + 32 / s - 1)) <= 1.5
    assert abs(xs.min() - (x0 + 32 / s)) <= 1.5 and abs(xs.max() - (x0 + 48 / s - 1)) <= 1.5
    assert out.max() <= 1.0 and out.min() >= 0.0


def test_heatmap_outside_the_crop_is_zero() -> None:
    f = face_at(50, 50, 1.0)
    out = render.heatmap_to_image(np.ones((64, 64), np.float32), f.crop_matrix, 200, 200)
    assert out[:40].max() == 0.0 and out[:, :40].max() == 0.0 and out[60:100, 60:100].min() > 0.99


def test_heatmap_rejects_non_2d() -> None:
    with pytest.raises(ValueError, match="2-D"):
        render.heatmap_to_image(np.zeros((1, 1, 4, 4)), np.eye(2, 3), 10, 10)


def test_display_scale_and_scaled_matrix_agree() -> None:
    assert render.display_scale(4000, 3000, 1600) == pytest.approx(0.4)
    assert render.display_scale(100, 50, 1600) == 1.0
    f = face_at(1000, 800, 1.0)
    big = render.heatmap_to_image(f.heatmap_crop, f.crop_matrix, 2000, 2000)
    small = render.heatmap_to_image(f.heatmap_crop, render.scaled_matrix(f.crop_matrix, 0.5), 1000, 1000)
    ys_b, xs_b = np.nonzero(big > 0.5)
    ys_s, xs_s = np.nonzero(small > 0.5)
    assert abs(ys_s.mean() * 2 - ys_b.mean()) < 2 and abs(xs_s.mean() * 2 - xs_b.mean()) < 2
    with pytest.raises(ValueError):
        render.display_scale(0, 10, 100)


def test_blend_leaves_cold_pixels_alone_and_colours_hot_ones() -> None:
    img = np.full((20, 20, 3), 100, np.uint8)
    heat = np.zeros((20, 20), np.float32)
    heat[5:10, 5:10] = 1.0
    out = render.blend_heatmap(img, heat)
    assert np.array_equal(out[15:, 15:], img[15:, 15:])
    assert not np.array_equal(out[5:10, 5:10], img[5:10, 5:10])
    assert out[7, 7, 0] > out[7, 7, 2]  # JET at 1.0 is red


def test_the_colour_scale_labels_never_overlap_on_a_narrow_picture() -> None:
    wide, narrow = render.colour_scale_bar(1000), render.colour_scale_bar(256)
    assert wide.shape[0] == 44 and narrow.shape[0] > 44  # the middle label takes a line of its own
    text_rows = np.nonzero((narrow[44:] < 128).any(axis=(1, 2)))[0]
    assert text_rows.size, "the middle label is drawn on the second line"
    second = np.nonzero((narrow[44:] < 128).any(axis=(0, 2)))[0]
    assert second.min() >= 2 and second.max() <= 256 - 2  # shrunk to fit, not cut off
    # on the first text line only the two end labels: ink at both ends, none in the middle third
    first = narrow[22:44] < 128
    cols = np.nonzero(first.any(axis=(0, 2)))[0]
    assert cols.min() < 60 and cols.max() > 256 - 60
    assert not first[:, 100:156].any()


def test_overlay_downscales_large_images_and_keeps_geometry() -> None:
    img = np.zeros((3200, 2000, 3), np.uint8)
    faces = [face_at(500, 600, 0.25)]
    over = render.overlay_image(img, faces, max_side=1600)
    bar = render.colour_scale_bar(1000)
    assert over.shape == (1600 + bar.shape[0], 1000, 3)
    # the colour scale below the picture: blue (cold) on the left, red (hot) on the right
    assert np.array_equal(over[1600:], bar)
    row = bar[10]
    assert row[15, 2] > row[15, 0] and row[-15, 0] > row[-15, 2]
    # box (500, 600)-(756, 856) at scale 0.5 -> (250, 300)-(378, 428), drawn in the verdict colour
    assert tuple(over[360, 250]) == render.VERDICT_COLOURS_RGB["fake"]
    assert tuple(over[360, 378]) == render.VERDICT_COLOURS_RGB["fake"]
    # the crop (image +0..256 px at crop scale 0.25, halved) is coloured, cold parts blue, the hot block
    # (crop rows 16..32, cols 32..48 -> +32..64 / +64..96 px at display scale) red; outside stays untouched
    boxes_only = render.draw_boxes(render.resize_for_display(img, 0.5), faces, 0.5)
    ys, xs = np.nonzero(np.any(over[:1600] != boxes_only, axis=-1))
    assert ys.min() >= 300 - 2 and ys.max() <= 300 + 128 + 2
    assert xs.min() >= 250 - 2 and xs.max() <= 250 + 128 + 2
    hot, cold = over[300 + 40:300 + 56, 250 + 72:250 + 88], over[300 + 100:300 + 120, 250 + 10:250 + 30]
    assert hot[..., 0].mean() > 2 * hot[..., 2].mean() and cold[..., 2].mean() > 2 * cold[..., 0].mean() + 10


def test_weak_heatmaps_are_visible_over_the_crop() -> None:
    img = np.full((200, 200, 3), 128, np.uint8)
    f = face_at(50, 50, 1.0)
    weak = FaceView(1, 0.2, -1.4, "real", f.box, np.full((64, 64), 0.05, np.float32), f.crop, f.crop_matrix)
    over = render.overlay_scaled(img, [weak], 1.0)  # localisation not measured: shown dimmed, still visible
    inside, outside = over[70:100, 70:100].astype(int), over[150:, 150:].astype(int)
    assert np.abs(inside - 128).max() > 15 and np.array_equal(outside, img[150:, 150:])
    full = render.overlay_scaled(img, [weak], 1.0, strength=1.0)[70:100, 70:100].astype(int)
    assert np.abs(full - 128).max() > 30 and np.abs(full - 128).max() > np.abs(inside - 128).max()


def test_faces_not_judged_get_a_grey_box() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    out = render.draw_boxes(img, [], 1.0, [UnjudgedView((10.0, 40.0, 30.0, 60.0), "too small")])
    assert tuple(out[50, 10]) == render.VERDICT_COLOURS_RGB["not judged"]


def test_face_tile_and_caption() -> None:
    f = face_at(0, 0, 1.0, prob=0.123)
    tile = render.face_tile(f, size=100)
    band = render.text_band(["a", "b"], 200)
    assert tile.shape == (100 + band.shape[0], 200, 3)  # crop | heatmap, the caption written below
    assert np.array_equal(tile[10:90, 10:90], np.full((80, 80, 3), 120, np.uint8))  # the crop, untouched
    fake = render.face_tile(face_at(0, 0, 1.0, prob=0.95), size=100)
    hot, cold = fake[25:50, 150:175], fake[70:90, 110:130]  # heat block at rows 25..50, cols 50..75 of the crop
    assert hot[..., 0].mean() > hot[..., 2].mean() and cold[..., 2].mean() > cold[..., 0].mean()
    assert "0.123" in render.face_caption(f) and "real" in render.face_caption(f)
    assert render.face_caption(f, VerdictBands(0.2, 0.5)) == "face 1 · real · 0.123 (real below 0.2)"
    no_crop = FaceView(1, 0.5, 0.0, "fake", None, f.heatmap_crop, None, None)
    with pytest.raises(ValueError, match="no crop"):
        render.face_tile(no_crop)


def test_timeline_figure_has_points_bands_and_rule() -> None:
    fig = render.timeline_figure([0, 10, 20], [[0.2, 0.9], [], [0.4]], [0.9, None, 0.4],
                                 VerdictBands(0.3, 0.7), 0.7, "rule text")
    ax = fig.axes[0]
    assert ax.get_title() == "rule text"
    line = [ln for ln in ax.get_lines() if ln.get_label() == "frame score"][0]
    assert list(line.get_xdata()) == [0, 20] and list(line.get_ydata()) == [0.9, 0.4]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "no face" in labels and "video 0.700" in labels
    with pytest.raises(ValueError, match="same length"):
        render.timeline_figure([0], [[0.1], [0.2]], [0.1], VerdictBands(), None, "r")


def test_a_weak_map_beside_a_fake_verdict_is_stretched_not_called_no_artifact() -> None:
    """A face scored fake whose map peaks at 0.22: the map is shown stretched to its own range (its peak red),
    and the caption states the raw peak."""
    f = face_at(0, 0, 1.0, prob=0.969)
    weak = FaceView(1, 0.969, 3.4, "fake", f.box, f.heatmap_crop * 0.22, f.crop, f.crop_matrix)
    stretched = render.stretch(weak.heatmap_crop)
    assert stretched.max() == pytest.approx(1.0) and stretched.min() == pytest.approx(0.0)
    assert not render.stretch(np.full((8, 8), 0.3, np.float32)).any()  # a flat map shows no peak
    tile = render.face_tile(weak, size=100)
    hot = tile[25:50, 150:175]
    assert hot[..., 0].mean() > 1.5 * hot[..., 2].mean()  # its peak is shown hot, as strongly as a full map's
    full_strength = render.face_tile(weak, size=100, strength=1.0)[25:50, 150:175]
    assert full_strength[..., 0].mean() >= hot[..., 0].mean()  # unmeasured localisation: shown dimmer
    assert "no artifact" not in render.HEATMAP_EXPLAINED and "raw peak" in render.HEATMAP_EXPLAINED


@pytest.mark.parametrize("prob", [0.05, 0.15, 0.29])
def test_a_face_read_real_is_never_painted_red(prob: float) -> None:
    """However strong its raw map, a face read real has its hottest point drawn at its own score: blue to cyan,
    never the red of the scale's fake end, in the overlay and in its tile."""
    f = face_at(50, 50, 1.0, prob=prob)
    assert f.verdict == "real" and f.heat_peak == 1.0
    assert render.shown_heat(f).max() == pytest.approx(prob)
    img = np.full((200, 200, 3), 128, np.uint8)
    over = render.overlay_scaled(img, [f], 1.0, strength=1.0).astype(int)
    peak = over[66:82, 82:98]  # the hot block: crop rows 16..32, cols 32..48, at +50 px
    assert peak[..., 2].mean() > peak[..., 0].mean() + 20  # blue over red
    tile = render.face_tile(f, size=100, strength=1.0).astype(int)[25:50, 150:175]
    assert tile[..., 2].mean() > tile[..., 0].mean() + 20


def test_the_peak_colour_follows_the_score() -> None:
    """The same map beside a higher score is drawn hotter: red channel up, blue down at its peak."""
    img = np.full((200, 200, 3), 128, np.uint8)
    peaks = []
    for prob in (0.1, 0.5, 0.9):
        over = render.overlay_scaled(img, [face_at(50, 50, 1.0, prob=prob)], 1.0, strength=1.0).astype(int)
        peaks.append(over[66:82, 82:98].reshape(-1, 3).mean(axis=0))
    assert peaks[0][0] < peaks[1][0] < peaks[2][0] and peaks[0][2] > peaks[2][2]
