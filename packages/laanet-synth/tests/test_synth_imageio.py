from __future__ import annotations

import io

import numpy as np
import pytest
from laanet_synth.imageio import ImageReadError, decode_image, read_image, write_image_atomic
from PIL import Image


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


def test_roundtrip_rgb(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    write_image_atomic(tmp_path / "a.png", arr)
    out = read_image(tmp_path / "a.png")
    assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
    np.testing.assert_array_equal(out, arr)
    assert not list(tmp_path.glob(".*tmp"))


def test_grey_and_rgba_become_rgb():
    grey = np.full((5, 6), 77, np.uint8)
    out = decode_image(_png(grey))
    assert out.shape == (5, 6, 3) and (out == 77).all()
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0
    out = decode_image(_png(rgba))
    assert out.shape == (4, 4, 3)
    assert out[1, 1, 0] == 200 and out[0, 0].sum() == 0


def test_exif_orientation_applied():
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :10] = 255  # left half white
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif, quality=95)
    out = decode_image(buf.getvalue())
    assert out.shape == (20, 10, 3)
    assert out[:10].mean() > 200 and out[10:].mean() < 50  # white ends up on top


@pytest.mark.parametrize(
    ("data", "needle"),
    [(b"", "empty"), (b"hello, not an image at all", "not a recognised image")],
)
def test_bad_bytes(data, needle):
    with pytest.raises(ImageReadError, match=needle):
        decode_image(data)


def test_truncated_jpeg(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG")
    data = buf.getvalue()
    (tmp_path / "t.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="corrupt or truncated"):
        read_image(tmp_path / "t.jpg")


def test_too_many_pixels_and_missing(tmp_path):
    data = _png(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ImageReadError, match="at most 5000 pixels"):
        decode_image(data, max_pixels=5000)
    assert decode_image(data, max_pixels=10_000).shape == (100, 100, 3)
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ImageReadError, match="directory"):
        read_image(tmp_path)
