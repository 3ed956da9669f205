"""Hostile and unlucky requests: oversized bodies refused before they are read, a pixel budget per video,
bounded result files, data: URL videos, bad command-line limits, and SIGTERM cleaning up as Ctrl-C does."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from laanet_demo.handlers import DemoHandlers
from laanet_demo.limits import DemoLimits, InputRejected, check_video_budget
from laanet_demo.outputs import OutputFiles
from laanet_demo.pool import DetectorPool
from laanet_demo.request_limit import RequestSizeLimit
from laanet_demo.serve import main


# ------------------------------------------------------------------ request size
def _call(mw: RequestSizeLimit, path: str, chunks: list[bytes], declared: int | None) -> tuple[int, bool, int]:
    """Run one request through the middleware; returns (status, whether the inner app ran, bytes read)."""
    ran, sent, read = [False], [], [0]
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def inner(scope, receive, send):
        ran[0] = True
        while True:
            message = await receive()
            read[0] += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        return queue.pop(0)

    async def send(message):
        sent.append(message)

    headers = [] if declared is None else [(b"content-length", str(declared).encode())]
    mw.app = inner
    asyncio.run(mw({"type": "http", "path": path, "headers": headers}, receive, send))
    return sent[0]["status"], ran[0], read[0]


def test_request_size_limit_refuses_before_reading_the_body() -> None:
    mw = RequestSizeLimit(None, max_body=1000, max_upload=5000)  # type: ignore[arg-type]
    # declared too large: refused without the inner app ever running (nothing of the body is read)
    assert _call(mw, "/gradio_api/call/predict_image", [b"x" * 10], 300 * 1024 * 1024) == (413, False, 0)
    # streamed without a length: refused as soon as the count passes the limit, not after the whole body
    status, ran, read = _call(mw, "/gradio_api/queue/join", [b"x" * 600] * 50, None)
    assert status == 413 and read <= 1200
    # within the limits, and the upload route's larger limit
    assert _call(mw, "/gradio_api/call/predict_image", [b"x" * 900], 900) == (200, True, 900)
    assert _call(mw, "/gradio_api/upload", [b"x" * 4000], 4000) == (200, True, 4000)


@pytest.mark.slow
def test_a_300_mb_data_url_request_is_refused_at_once_by_the_running_demo(app_url: str) -> None:
    """Only the headers are sent: the server must answer 413 without waiting for (or buffering) the body."""
    from urllib.parse import urlparse

    u = urlparse(app_url)
    t0 = time.perf_counter()
    with socket.create_connection((u.hostname, u.port), timeout=30) as s:
        s.sendall(b"POST /gradio_api/call/predict_image HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 314572800\r\n\r\n" + b'{"data": [{"url": "data:image/png;base64,AAAA')
        reply = b""
        while b"limited to" not in reply:  # the headers and the body may come in separate reads
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
        reply = reply.decode("latin-1")
    assert reply.startswith("HTTP/1.1 413") and "limited to 64 MB" in reply
    assert time.perf_counter() - t0 < 10


# ------------------------------------------------------------------ pixel budget
def test_video_pixel_budget_is_checked_from_the_metadata() -> None:
    limits = DemoLimits(max_video_pixels=100_000_000)
    assert check_video_budget(900, 1920, 1080, 32, limits) == 32 * 1920 * 1080
    assert check_video_budget(4, 1920, 1080, 64, limits) == 4 * 1920 * 1080  # only the frames the file has
    with pytest.raises(InputRejected, match=r"sample at most 5 frames") as info:
        check_video_budget(40, 6000, 2800, 40, limits)  # 672 megapixels: 12 GB of RGB frames
    assert "megapixels per video" in str(info.value)
    with pytest.raises(InputRejected, match="frames up to"):
        check_video_budget(40, 9000, 9000, 4, limits)


def _write_video(path: Path, n: int, w: int, h: int) -> Path:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write mp4v videos")
    for i in range(n):
        writer.write(np.full((h, w, 3), 20 * i % 255, np.uint8))
    writer.release()
    return path


def test_the_demo_refuses_a_video_over_its_pixel_budget_before_decoding(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import laanet_synth.video as video

    video_path = _write_video(tmp_path / "big.mp4", 8, 640, 480)
    decoded = []
    monkeypatch.setattr(video, "read_frames", lambda *a, **k: decoded.append(a) or [])
    handlers = DemoHandlers(DetectorPool(object(), None), DemoLimits(max_video_pixels=4 * 640 * 480),
                            OutputFiles(tmp_path / "o"))
    with pytest.raises(InputRejected, match="at most 1,228,800 pixels per video"):
        handlers.predict_video(str(video_path), 8, None, progress=lambda *a, **k: None)
    # the preview's frame strip has the same budget
    _, strip, note = handlers.video_preview(str(video_path))
    assert strip.visible is False and "pixels per video" in note and "laanet-error" in note
    assert decoded == []


# ------------------------------------------------------------------ outputs
def test_result_files_are_bounded_and_removed_on_close(tmp_path: Path) -> None:
    out = OutputFiles(tmp_path, max_files=5)
    img = np.zeros((8, 8, 3), np.uint8)
    paths = [out.write(img, f"x{i}") for i in range(12)] + [out.write_text("{}", "r", ".json")]
    assert out.count() == 5 and len(list(out.folder().iterdir())) == 5
    assert all(not Path(p).exists() for p in paths[:-5]) and all(Path(p).exists() for p in paths[-5:])
    folder = out.folder()
    out.close()
    assert not folder.exists() and list(tmp_path.iterdir()) == []


def test_inline_data_urls_become_files_before_gradio_sees_them(tmp_path: Path) -> None:
    from laanet_demo.request_limit import InlineDataUrls

    seen: list[bytes] = []

    async def inner(scope, receive, send):
        seen.append((await receive())["body"])

    mw = InlineDataUrls(inner, OutputFiles(tmp_path, max_files=10))

    def call(path: str, payload: dict) -> dict:
        body = json.dumps(payload).encode()
        messages = [{"type": "http.request", "body": body[:10], "more_body": True},
                    {"type": "http.request", "body": body[10:], "more_body": False}]

        async def receive():
            return messages.pop(0)

        async def send(message):
            pass

        asyncio.run(mw({"type": "http", "method": "POST", "path": path, "headers": []}, receive, send))
        return json.loads(seen[-1])

    clip = b"\x1aE\xdf\xa3 a small webm"
    url = "data:video/webm;base64," + base64.b64encode(clip).decode()
    for form in ({"path": None, "url": url, "meta": {"_type": "gradio.FileData"}, "orig_name": "clip.webm"}, url):
        out = call("/gradio_api/call/predict_video", {"data": [form, 4, None]})
        file, rest = out["data"][0], out["data"][1:]
        assert rest == [4, None] and file["meta"] == {"_type": "gradio.FileData"} and file["url"] is None
        assert Path(file["path"]).read_bytes() == clip and Path(file["path"]).suffix == ".webm"
        assert file["orig_name"] == ("clip.webm" if isinstance(form, dict) else "inline.webm")
    # anything else passes through as it came
    plain = {"data": [{"path": "/x.png", "meta": {"_type": "gradio.FileData"}}], "fn_index": 3}
    assert call("/gradio_api/queue/join", plain) == plain


# ------------------------------------------------------------------ data: URL videos
@pytest.mark.slow
def test_a_video_sent_as_a_data_url_is_scored(app_url: str) -> None:
    from laanet_demo.examples import shipped

    clip = shipped("video")[0].path
    url = "data:video/webm;base64," + base64.b64encode(clip.read_bytes()).decode()
    base = app_url.rstrip("/")
    body = json.dumps({"data": [{"path": None, "url": url, "meta": {"_type": "gradio.FileData"}}, 2, None]}).encode()
    req = urllib.request.Request(f"{base}/gradio_api/call/predict_video", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        event = json.loads(resp.read())["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/predict_video/{event}", timeout=600) as resp:
        stream = resp.read().decode()
    assert "event: complete" in stream, stream[-500:]
    data = json.loads(stream.split("event: complete", 1)[1].split("data:", 1)[1].strip())
    details = data[5]
    assert details["kind"] == "video" and details["n_frames_sampled"] == 2 and details["prob"] is not None


# ------------------------------------------------------------------ command line
@pytest.mark.parametrize(("args", "words"), [
    (["--concurrency", "0"], "--concurrency 0: expected a whole number of at least 1"),
    (["--concurrency", "-3"], "--concurrency -3"),
    (["--max-upload", "banana"], "--max-upload 'banana': expected a size such as 256mb"),
])
def test_bad_limits_exit_2_with_one_line(args: list[str], words: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*args, "--weights", "no-such-weights"]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# ------------------------------------------------------------------ SIGTERM
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sigterm_removes_uploads_and_outputs(tmp_path: Path) -> None:
    from laanet_demo.examples import shipped

    gradio_tmp = tmp_path / "gradio"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(gradio_tmp), "GRADIO_ANALYTICS_ENABLED": "False"}
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "laanet_demo.serve", "--port", str(port), "--quiet"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        from gradio_client import Client, handle_file

        deadline = time.monotonic() + 600
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the demo did not start"
                time.sleep(0.1)
        example = next(e for e in shipped("image") if e.file.startswith("portrait")).path
        user_photo = tmp_path / "user-photo.jpg"  # a user's own file: not one of the page's examples
        user_photo.write_bytes(example.read_bytes() + b"\0" * 16)
        result = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(handle_file(str(user_photo)),
                                                                             api_name="/predict_image")
        assert result[5]["n_faces"] >= 1
        served = [p for p in gradio_tmp.rglob("*") if p.is_file()]
        assert any(p.name == "user-photo.jpg" for p in served) and any(p.suffix == ".html" for p in served)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # what may stay are Gradio's copies of the page's own examples (shipped files, recreated at each start)
    shipped_bytes = {e.thumbnail.read_bytes() for e in shipped("image") + shipped("video")}
    left = [p for p in gradio_tmp.rglob("*") if p.is_file() and p.read_bytes() not in shipped_bytes]
    assert left == [], f"users' files left behind after SIGTERM: {left[:5]}"
