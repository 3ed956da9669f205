"""Input checks that run before any decoding or model work."""

from __future__ import annotations

from pathlib import Path

import pytest
from laanet_demo.limits import DemoLimits, InputRejected, check_file, check_image_header


def test_limits_validate_their_numbers() -> None:
    with pytest.raises(ValueError, match="min_video_frames"):
        DemoLimits(min_video_frames=10, max_video_frames=5)
    with pytest.raises(ValueError, match="concurrency_limit"):
        DemoLimits(concurrency_limit=0)


def test_check_file(tmp_path: Path) -> None:
    with pytest.raises(InputRejected, match="could not be found"):
        check_file(tmp_path / "missing.jpg", 100, "image")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputRejected, match="empty"):
        check_file(tmp_path / "empty.jpg", 100, "image")
    (tmp_path / "big.mp4").write_bytes(b"x" * 2048)
    with pytest.raises(InputRejected, match="videos up to 0.0 MB are accepted"):
        check_file(tmp_path / "big.mp4", 1024, "video")
    assert check_file(tmp_path / "big.mp4", 4096, "video") == tmp_path / "big.mp4"


def test_image_header_checks(bad_inputs: dict[str, Path], portrait: Path) -> None:
    lim = DemoLimits()
    with pytest.raises(InputRejected, match="not an image"):
        check_image_header(bad_inputs["text_as_jpg"], lim)
    with pytest.raises(InputRejected, match="empty"):
        check_image_header(bad_inputs["empty"], lim)
    with pytest.raises(InputRejected, match="too large|pixels"):
        check_image_header(bad_inputs["huge"], lim)
    with pytest.raises(InputRejected, match="pixels"):
        check_image_header(portrait, DemoLimits(max_image_pixels=1000))
    w, h = check_image_header(portrait, lim)
    assert (w, h) == (560, 415)
    # a truncated JPEG still has a valid header: it is caught when decoding, not here
    assert check_image_header(bad_inputs["truncated_jpeg"], lim) == (560, 415)


def test_the_video_frame_count_defaults_to_the_recipe_within_the_limits(tmp_path):
    from types import SimpleNamespace

    from laanet_demo.handlers import DemoHandlers
    from laanet_demo.outputs import OutputFiles
    from laanet_demo.pool import DetectorPool

    limits = DemoLimits(min_video_frames=2, max_video_frames=40)
    handlers = DemoHandlers(DetectorPool(None, None), limits, OutputFiles(tmp_path))
    for recipe, expected in ((8, 8), (32, 32), (100, 40), (1, 2)):
        det = SimpleNamespace(preprocessing=SimpleNamespace(frames_per_video=recipe))
        assert handlers._frame_count(None, det) == expected
        assert handlers._frame_count("", det) == expected
    assert handlers._frame_count(12, det) == 12
