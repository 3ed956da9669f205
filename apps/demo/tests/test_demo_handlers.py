"""How uploads reach the handlers and how errors reach the user (no Gradio server needed)."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import gradio as gr
import pytest
from laanet_demo.checkpoint_upload import pick_checkpoint_files
from laanet_demo.handlers import GENERIC_ERROR, DemoHandlers, cleared, panel_error, user_errors
from laanet_demo.limits import DemoLimits, InputRejected
from laanet_demo.outputs import OutputFiles
from laanet_demo.pool import DetectorPool
from laanet_demo.uploads import decoded_size_bound, payload_path, upload_name, uploaded_file


def test_payload_forms(tmp_path: Path) -> None:
    assert payload_path("/a/b.jpg", "image") == Path("/a/b.jpg")
    assert payload_path({"path": "/a/c.png", "url": None}, "image") == Path("/a/c.png")
    assert payload_path({"video": {"path": "/v.mp4"}, "subtitles": None}, "video") == Path("/v.mp4")
    data = b"\x89PNG fake bytes"
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    with uploaded_file({"path": None, "url": url}, "image", 1000, tmp_path) as p:
        assert p.parent == tmp_path and p.read_bytes() == data
    assert not p.exists() and not list(tmp_path.iterdir())
    with pytest.raises(InputRejected, match="No image was given"):
        payload_path(None, "image")
    with pytest.raises(InputRejected, match="did not arrive complete"):
        payload_path({"path": None, "url": None}, "video")
    assert upload_name({"path": "/tmp/x/abc.jpg", "orig_name": "holiday.jpg"}) == "holiday.jpg"


def _data_url(n_bytes: int) -> str:
    return "data:image/png;base64," + base64.b64encode(b"\0" * n_bytes).decode()


def test_data_url_uploads_are_refused_above_the_limit_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import laanet_demo.uploads as app

    decoded = []
    real = base64.b64decode
    monkeypatch.setattr(app.base64, "b64decode", lambda *a, **k: decoded.append(1) or real(*a, **k))
    assert decoded_size_bound(_data_url(3000)) >= 3000
    with (
        pytest.raises(InputRejected, match=r"about 0\.0 MB; this demo accepts images up to"),
        uploaded_file({"path": None, "url": _data_url(3000)}, "image", 2000, tmp_path),
    ):
        pass
    assert decoded == [] and not list(tmp_path.iterdir())
    handlers = DemoHandlers(DetectorPool(None, None), DemoLimits(max_image_bytes=2000), OutputFiles(tmp_path / "o"),
                            tmp_dir=tmp_path)
    with pytest.raises(InputRejected, match="accepts images up to"):
        handlers.predict_image({"path": None, "url": _data_url(3000)})
    assert decoded == [] and not list(tmp_path.glob("*.upload"))


def test_data_url_temporary_files_are_deleted_when_the_work_fails(tmp_path: Path) -> None:
    handlers = DemoHandlers(DetectorPool(None, None), DemoLimits(), OutputFiles(tmp_path / "o"), tmp_dir=tmp_path)
    for _ in range(3):  # not an image: rejected after decoding; the temporary file must still go
        with pytest.raises(InputRejected, match="not an image"):
            handlers.predict_image({"path": None, "url": "data:image/png;base64," + base64.b64encode(b"x" * 500).decode()})  # noqa: E501
    with (
        pytest.raises(ZeroDivisionError),
        uploaded_file({"path": None, "url": _data_url(10)}, "image", 1000, tmp_path) as p,
    ):
        assert p.is_file()
        raise ZeroDivisionError
    assert not list(tmp_path.glob("*.upload")) and not p.exists()


def test_user_errors_shows_messages_and_hides_internals() -> None:
    @user_errors
    def rejects() -> None:
        raise InputRejected("'abc.pth' <b>is</b> empty")

    @user_errors
    def crashes() -> None:
        raise RuntimeError("secret detail at /srv/app/model.py line 3")

    with pytest.raises(gr.Error) as info:
        rejects()
    # API clients get the plain text, without HTML entities
    assert info.value.message == "'abc.pth' <b>is</b> empty"
    with pytest.raises(gr.Error) as info:
        crashes()
    assert info.value.message == GENERIC_ERROR and "secret" not in info.value.message


def test_errors_go_into_the_result_panel_and_clear_the_other_outputs() -> None:
    def rejects(x: int) -> tuple[str, ...]:
        raise InputRejected(f"bad <input> {x}")

    def crashes() -> tuple[str, ...]:
        raise RuntimeError("secret detail")

    out = user_errors(rejects, panel_error("Not analysed", cleared(3)))(7)
    assert out[1:] == (None, None, None) and 'class="laanet-error"' in out[0] and 'role="alert"' in out[0]
    assert "<strong>Not analysed</strong>" in out[0] and "bad &lt;input&gt; 7" in out[0]
    out = user_errors(crashes, panel_error("Not analysed", cleared(1)))()
    assert GENERIC_ERROR in out[0] and "secret" not in out[0] and out[1:] == (None,)


def test_checkpoint_file_choice(tmp_path: Path) -> None:
    pth, st, card = tmp_path / "a.pth", tmp_path / "m.safetensors", tmp_path / "m.json"
    assert pick_checkpoint_files([pth]) == (pth, [])
    assert pick_checkpoint_files([card, st]) == (st, [card])
    for bad in ([], [pth, st], [card], [tmp_path / "x.zip"]):
        with pytest.raises(InputRejected):
            pick_checkpoint_files(bad)


def test_output_images_get_unique_names(tmp_path: Path) -> None:
    import numpy as np

    out = OutputFiles(tmp_path)
    img = np.zeros((8, 8, 3), np.uint8)
    a, b = out.write(img, "x"), out.write(img, "x")
    assert a != b and Path(a).is_file() and Path(b).is_file()
    assert sorted(p.name.startswith(".") for p in Path(a).parent.iterdir()) == [False, False]


@pytest.mark.slow
def test_video_reports_progress_and_people(detector, dfdc_video: Path, tmp_path: Path) -> None:
    calls = []

    def progress(value, desc=None, unit=None):
        calls.append((value, desc, unit))

    handlers = DemoHandlers(DetectorPool(detector, None), DemoLimits(), OutputFiles(tmp_path))
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
    small = DemoHandlers(DetectorPool(detector, None), DemoLimits(max_image_pixels=10_000), OutputFiles(tmp_path))
    with pytest.raises(InputRejected, match="frames up to 10,000 pixels"):
        small.predict_video(str(dfdc_video), 3, None, progress=progress)


def test_the_network_sees_each_input_once_also_when_no_face_is_found(
        detector, portrait: Path, bad_inputs: dict[str, Path], tmp_path: Path, network_passes) -> None:
    # an image without a face is refused with the recipe's no-face score ("whole_image" for the built-in
    # weights): that score is the image's one network pass, not a second one
    from laanet_demo.inference import sigmoid
    from laanet_synth.imageio import read_image

    assert detector.preprocessing.no_face == "whole_image"
    quoted = f"whole image scored as one face: {sigmoid(detector.no_face_logit(read_image(bad_inputs['no_face']))):.3f}"
    rows = network_passes(detector)
    handlers = DemoHandlers(DetectorPool(detector, None), DemoLimits(), OutputFiles(tmp_path))
    out = handlers.predict_image(str(portrait))
    assert len(rows) == 1 and rows[0] == out[5]["n_faces"] >= 1
    rows.clear()
    with pytest.raises(InputRejected, match=re.escape(quoted)):
        handlers.predict_image(str(bad_inputs["no_face"]))
    assert rows == [1]
    rows.clear()
    with pytest.raises(InputRejected, match="No face was found in any of the 8 sampled frames"):
        handlers.predict_video(str(bad_inputs["no_face_video"]), 8, None, progress=lambda *a, **k: None)
    assert rows == [8]  # the eight frames scored whole, together
