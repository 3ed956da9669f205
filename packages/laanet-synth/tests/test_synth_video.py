from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from laanet_synth.video import VideoReadError, read_frames, sample_frame_indices, video_info


@given(st.integers(0, 5000), st.integers(0, 200))
def test_sample_indices(n, k):
    idx = sample_frame_indices(n, k)
    assert len(idx) == min(n, k) or (k < n and len(idx) <= k)
    if len(idx):
        assert idx[0] == 0 and np.all(np.diff(idx) > 0) and idx[-1] <= n - 1
        if min(n, k) >= 2:
            assert idx[-1] == n - 1
    if 0 < k < n:
        assert len(idx) == k  # linspace over more frames than samples never repeats


def _write_video(path, n=30, size=(64, 48)):
    wr = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, size)
    assert wr.isOpened()
    for i in range(n):
        frame = np.full((size[1], size[0], 3), i * 8 % 256, np.uint8)
        frame[..., 0] = 0  # blue channel 0 in BGR
        wr.write(frame)
    wr.release()


def test_read_frames_generated(tmp_path):
    p = tmp_path / "v.avi"
    _write_video(p)
    info = video_info(p)
    assert (info.width, info.height, info.n_frames, info.fourcc) == (64, 48, 30, "mjpg")
    frames = read_frames(p, 4)
    assert [i for i, _ in frames] == [0, 9, 19, 29]
    for i, f in frames:
        assert f.shape == (48, 64, 3)
        assert f[..., 2].mean() < 10  # BGR blue -> RGB blue channel stays near 0
        assert abs(float(f[..., 0].mean()) - (i * 8 % 256)) < 12


def test_corrupt_and_missing(tmp_path):
    with pytest.raises(VideoReadError, match="no such file"):
        read_frames(tmp_path / "none.mp4", 3)
    (tmp_path / "e.mp4").write_bytes(b"")
    with pytest.raises(VideoReadError, match="empty"):
        read_frames(tmp_path / "e.mp4", 3)
    (tmp_path / "junk.mp4").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(VideoReadError):
        read_frames(tmp_path / "junk.mp4", 3)


def test_real_video(shared_data):
    p = shared_data / "videos" / "0017_fake.mp4"
    frames = read_frames(p, 5)
    assert len(frames) == 5
    assert frames[-1][0] == video_info(p).n_frames - 1


def test_pixel_budget_is_refused_before_decoding(tmp_path, monkeypatch):
    from laanet_synth.video import DEFAULT_MAX_VIDEO_PIXELS, VideoTooLargeError

    p = tmp_path / "v.avi"
    _write_video(p, n=30, size=(64, 48))
    assert len(read_frames(p, 4, max_pixels=4 * 64 * 48)) == 4  # exactly the budget
    retrieved = []
    real_retrieve = cv2.VideoCapture.retrieve
    monkeypatch.setattr(cv2.VideoCapture, "retrieve", lambda self, *a: retrieved.append(1) or real_retrieve(self, *a),
                        raising=False)
    with pytest.raises(VideoTooLargeError, match=r"5 frames of 64 x 48 pixels are 15,360 pixels, over the budget"):
        read_frames(p, 5, max_pixels=4 * 64 * 48)
    assert retrieved == []  # refused from the header: nothing decoded
    assert issubclass(VideoTooLargeError, VideoReadError)  # callers that skip unreadable videos skip it too
    assert DEFAULT_MAX_VIDEO_PIXELS >= 32 * 3840 * 2160  # 32 frames of 4K pass by default
    assert len(read_frames(p, 30, max_pixels=None)) == 30


def test_pixel_budget_holds_when_the_frames_are_larger_than_the_header_says(tmp_path, monkeypatch):
    from laanet_synth.video import VideoTooLargeError

    p = tmp_path / "v.avi"
    _write_video(p, n=10, size=(64, 48))
    real_get = cv2.VideoCapture.get

    def lying_get(self, prop):  # the container claims 8 x 8 frames
        if prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT):
            return 8.0
        return real_get(self, prop)

    monkeypatch.setattr(cv2.VideoCapture, "get", lying_get, raising=False)
    with pytest.raises(VideoTooLargeError, match="not the 8 x 8 the container states; 3 of them"):
        read_frames(p, 5, max_pixels=2 * 64 * 48 + 100)


def test_a_video_whose_name_is_not_utf8_is_read(tmp_path):
    import os
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("file names as bytes are a POSIX matter")
    p = tmp_path / "v.avi"
    _write_video(p, n=6)
    odd = tmp_path / os.fsdecode(b"clip\xe9.avi")
    p.rename(odd)
    assert video_info(odd).n_frames == 6
    assert [i for i, _ in read_frames(odd, 2)] == [0, 5]
