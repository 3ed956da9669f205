"""How uploads reach the handlers and how errors reach the user (no Gradio server needed)."""

from __future__ import annotations

import base64
from pathlib import Path

import gradio as gr
import pytest
from laanet_demo.app import GENERIC_ERROR, OutputImages, payload_path, pick_checkpoint_files, user_errors
from laanet_demo.limits import InputRejected


def test_payload_forms(tmp_path: Path) -> None:
    assert payload_path("/a/b.jpg", "image") == Path("/a/b.jpg")
    assert payload_path({"path": "/a/c.png", "url": None}, "image") == Path("/a/c.png")
    assert payload_path({"video": {"path": "/v.mp4"}, "subtitles": None}, "video") == Path("/v.mp4")
    data = b"\x89PNG fake bytes"
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    p = payload_path({"path": None, "url": url}, "image", tmp_path)
    assert p.parent == tmp_path and p.read_bytes() == data
    with pytest.raises(InputRejected, match="No image was given"):
        payload_path(None, "image")
    with pytest.raises(InputRejected, match="did not arrive complete"):
        payload_path({"path": None, "url": None}, "video")


def test_user_errors_shows_messages_and_hides_internals() -> None:
    @user_errors
    def rejects() -> None:
        raise InputRejected("The image <b>is</b> empty")

    @user_errors
    def crashes() -> None:
        raise RuntimeError("secret detail at /srv/app/model.py line 3")

    with pytest.raises(gr.Error) as info:
        rejects()
    assert info.value.message == "The image &lt;b&gt;is&lt;/b&gt; empty"
    with pytest.raises(gr.Error) as info:
        crashes()
    assert info.value.message == GENERIC_ERROR and "secret" not in info.value.message


def test_checkpoint_file_choice(tmp_path: Path) -> None:
    pth, st, card = tmp_path / "a.pth", tmp_path / "m.safetensors", tmp_path / "m.json"
    assert pick_checkpoint_files([pth]) == (pth, [])
    assert pick_checkpoint_files([card, st]) == (st, [card])
    for bad in ([], [pth, st], [card], [tmp_path / "x.zip"]):
        with pytest.raises(InputRejected):
            pick_checkpoint_files(bad)


def test_output_images_get_unique_names(tmp_path: Path) -> None:
    import numpy as np

    out = OutputImages(tmp_path)
    img = np.zeros((8, 8, 3), np.uint8)
    a, b = out.write(img, "x"), out.write(img, "x")
    assert a != b and Path(a).is_file() and Path(b).is_file()
    assert sorted(p.name.startswith(".") for p in Path(a).parent.iterdir()) == [False, False]


@pytest.mark.slow
def test_video_reports_progress_and_people(detector, dfdc_video: Path, tmp_path: Path) -> None:
    from laanet_demo.app import DemoHandlers, DetectorPool
    from laanet_demo.limits import DemoLimits

    calls = []

    def progress(value, desc=None, unit=None):
        calls.append((value, desc, unit))

    handlers = DemoHandlers(DetectorPool(detector, None), DemoLimits(), OutputImages(tmp_path))
    out = handlers.predict_video(str(dfdc_video), 3, None, progress=progress)
    # frames are scored in batches; progress is reported after each batch, ending with all frames
    done = [c[0][0] for c in calls]
    assert done == sorted(done) and calls[-1][0] == (3, 3) and calls[0][2] == "frames"
    assert out[5]["n_frames_sampled"] == 3
    # every person found has a score, a timeline within the sampled frames and a thumbnail in the gallery
    people = out[5]["people"]
    assert len(people) >= 1 and len(out[6]) == len(people)
    sampled = {f["frame"] for f in out[5]["frames"]}
    for p in people:
        assert 0.0 <= p["prob"] <= 1.0 and {t["frame"] for t in p["timeline"]} <= sampled
        assert p["thumbnail"]["jpeg"].startswith("data:image/jpeg;base64,")
    small = DemoHandlers(DetectorPool(detector, None), DemoLimits(max_image_pixels=10_000), OutputImages(tmp_path))
    with pytest.raises(InputRejected, match="frames up to 10,000 pixels"):
        small.predict_video(str(dfdc_video), 3, None, progress=progress)
