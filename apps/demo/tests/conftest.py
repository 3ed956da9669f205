"""Fixtures of the demo tests (shared data and the built-in detector come from the root conftest): bad inputs made
on the fly, the detector on few threads and a running app."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def portrait(shared_data: Path) -> Path:
    return shared_data / "faces" / "portraits" / "img12.jpg"


@pytest.fixture(scope="session")
def group_photo(shared_data: Path) -> Path:
    return shared_data / "faces" / "groups" / "selfie-many-people.jpg"


@pytest.fixture(scope="session")
def dfdc_video(shared_data: Path) -> Path:
    return shared_data / "videos" / "0017_fake.mp4"


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write mp4v videos")
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _no_face_image(h: int = 360, w: int = 480) -> np.ndarray:
    """A smooth colour landscape-like gradient with some texture: no face anywhere."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([120 + 80 * np.sin(xx / 40), 90 + 60 * np.cos(yy / 30), 160 - 0.2 * yy], axis=-1)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory: pytest.TempPathFactory, portrait: Path, dfdc_video: Path) -> dict[str, Path]:
    """Every kind of bad input the demo must answer with a clear message."""
    d = tmp_path_factory.mktemp("bad-inputs")
    out: dict[str, Path] = {}
    out["text_as_jpg"] = d / "notes.jpg"
    out["text_as_jpg"].write_text("This is a text file, not a photo.\n" * 20)
    data = portrait.read_bytes()
    out["truncated_jpeg"] = d / "truncated.jpg"
    out["truncated_jpeg"].write_bytes(data[: len(data) // 3])
    out["empty"] = d / "empty.jpg"
    out["empty"].write_bytes(b"")
    out["no_face"] = d / "landscape.png"
    Image.fromarray(_no_face_image()).save(out["no_face"])
    out["huge"] = d / "huge-20000x20000.png"
    Image.new("1", (20000, 20000)).save(out["huge"])
    cap = cv2.VideoCapture(str(dfdc_video))
    ok, frame = cap.read()
    cap.release()
    assert ok, "could not read a frame of the sample video"
    out["one_frame_video"] = _write_video(d / "one-frame.mp4", [cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)])
    scenery = _no_face_image(240, 320)
    out["no_face_video"] = _write_video(
        d / "no-face.mp4", [np.roll(scenery, 4 * i, axis=1) for i in range(12)]
    )
    return out


@pytest.fixture(scope="session")
def detector(builtin_detector):
    """The built-in detector of the root conftest (the shipped weights must load), run on at most two threads."""
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
    return builtin_detector


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def app_url(detector, tmp_path_factory: pytest.TempPathFactory):
    """The demo running on loopback for the whole session; yields its URL."""
    from laanet_demo.layout import build_demo, launch_kwargs
    from laanet_demo.limits import DemoLimits

    gradio_tmp = tmp_path_factory.mktemp("gradio")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(gradio_tmp / "tmp"))
        mp.setenv("GRADIO_EXAMPLES_CACHE", str(gradio_tmp / "examples"))
        mp.setenv("GRADIO_ANALYTICS_ENABLED", "False")
        from laanet_demo.outputs import OutputFiles

        limits = DemoLimits()
        outputs = OutputFiles(max_files=limits.max_outputs)
        demo = build_demo(detector, limits=limits, outputs=outputs)
        kwargs = launch_kwargs("127.0.0.1", _free_port(), False, limits, outputs)
        _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, **kwargs)
        try:
            yield url
        finally:
            demo.close(verbose=False)
            outputs.close()


@pytest.fixture(scope="session")
def client(app_url: str):
    from gradio_client import Client

    return Client(app_url, verbose=False)
