"""Video previews: codecs browsers cannot play (MPEG-4 Part 2) get a frame strip, playable ones none."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from laanet_demo import preview
from laanet_demo.examples import examples_dir
from laanet_demo.handlers import DemoHandlers
from laanet_demo.limits import DemoLimits
from laanet_demo.outputs import OutputFiles
from laanet_demo.pool import DetectorPool

EXAMPLES = examples_dir()


def test_mpeg4_part2_is_not_playable_and_gets_a_frame_strip(dfdc_video: Path, tmp_path: Path) -> None:
    playable, codec = preview.browser_playable(dfdc_video)
    assert not playable and codec == "MPEG-4 Part 2"
    strip = preview.frame_strip(dfdc_video, n_frames=6, height=60, columns=3)
    assert strip.dtype == np.uint8 and strip.shape[0] == 2 * 60 + 4 and strip.std() > 10
    handlers = DemoHandlers(DetectorPool(None, None), DemoLimits(), OutputFiles(tmp_path))
    player, image, note = handlers.video_preview(str(dfdc_video))
    assert player.visible is False and image.visible is True and Path(image.value["path"]).is_file()
    assert "MPEG-4 Part 2" in note and "cannot play" in note


def test_browser_playable_videos_get_no_strip(tmp_path: Path) -> None:
    example = EXAMPLES / "video-dfdc-0017-fake.webm"
    assert preview.browser_playable(example) == (True, "VP8")
    handlers = DemoHandlers(DetectorPool(None, None), DemoLimits(), OutputFiles(tmp_path))
    player, image, note = handlers.video_preview(str(example))
    assert player.visible is True and image.visible is False and note == ""
    assert isinstance(player, gr.Video) and Path(player.value["path"]).suffix == ".webm"
    player, image, note = handlers.video_preview(None)
    assert player.visible is False and image.visible is False and note == ""


def test_a_playable_data_url_upload_is_served_from_a_file_of_its_own(tmp_path: Path) -> None:
    """A `data:` URL upload is decoded into a temporary file that is deleted after the handler: the player gets
    the served folder's file, with the upload's bytes, and no temporary file is left behind."""
    import base64

    example = EXAMPLES / "video-dfdc-0017-fake.webm"
    data = example.read_bytes()
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    handlers = DemoHandlers(DetectorPool(None, None), DemoLimits(), OutputFiles(tmp_path / "served"),
                            tmp_dir=tmp_dir)
    url = "data:video/webm;base64," + base64.b64encode(data).decode()
    player, image, note = handlers.video_preview({"path": None, "url": url, "orig_name": "clip.webm"})
    assert player.visible is True and image.visible is False and note == ""
    assert Path(player.value["path"]).read_bytes() == data  # the player's file (gradio may cache a copy)
    served = list((tmp_path / "served").rglob("preview-*.webm"))
    assert len(served) == 1 and served[0].read_bytes() == data
    assert not list(tmp_dir.iterdir())


def test_unreadable_videos_get_a_note_not_a_crash(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video" * 100)
    with pytest.raises(preview.PreviewError):
        preview.frame_strip(junk)
    handlers = DemoHandlers(DetectorPool(None, None), DemoLimits(), OutputFiles(tmp_path / "o"))
    player, image, note = handlers.video_preview(str(junk))
    assert player.visible is False and image.visible is False
    assert 'class="laanet-error"' in note and "<strong>No preview</strong>" in note and "cannot be opened" in note
