"""The app launched on loopback and called through gradio_client, on real photos and a real DFDC video."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from laanet_demo.inference import sigmoid


def _faces_direct(detector: Any, path: Path) -> list[Any]:
    from laanet_synth.imageio import read_image

    return list(detector.predict_image(read_image(path)).faces)


def _check_image_result(result: tuple[Any, ...], detector: Any, path: Path, min_faces: int) -> dict[str, Any]:
    summary, label, overlay, gallery, table, details, report = result
    assert "Image verdict" in summary and "Measured limits of this model" in summary
    direct = _faces_direct(detector, path)
    n = len(direct)
    assert n >= min_faces
    assert details["kind"] == "image" and details["n_faces"] == n and len(details["faces"]) == n
    # the app goes through the same Detector: same faces, same probabilities, same boxes; most fake first
    got = [f["prob"] for f in details["faces"]]
    direct = sorted(direct, key=lambda f: -f.logit)
    assert np.allclose(got, [float(f.prob) for f in direct], atol=1e-5) and got == sorted(got, reverse=True)
    for rec, f in zip(details["faces"], direct, strict=True):
        assert np.allclose(rec["box"], np.asarray(f.box, float), atol=0.06)
    # image score follows the frame rule; the label and the verdict agree with it
    assert details["prob"] is not None and 0.0 <= details["prob"] <= 1.0
    if details["frame_rule"] == "max":
        assert math.isclose(details["prob"], max(got), abs_tol=1e-5)
    else:
        areas = [(r["box"][2] - r["box"][0]) * (r["box"][3] - r["box"][1]) for r in details["faces"]]
        assert math.isclose(details["prob"], got[int(np.argmax(areas))], abs_tol=1e-5)
    assert details["verdict"] in ("real", "uncertain", "fake") and details["verdict"] in summary
    assert label["label"].startswith(f"{details['verdict']} · score {details['prob']:.3f} (")
    assert label["confidences"] == [{"label": label["label"], "confidence": details["prob"]}]
    # the result names its file and its weights
    assert f"**File:** `{path.name}`" in summary and detector.spec.name in summary
    # the downloadable report: the details with the weights' name and sha256, and the overlay
    _check_report(report, details, detector, with_overlay=True)
    # the overlay (boxes + heatmaps) and one crop|heatmap tile per face, each a file downloaded from the server
    assert Path(overlay).is_file() and Path(overlay).stat().st_size > 1000
    assert len(gallery) == n and all(Path(g["image"]).is_file() for g in gallery)
    # the table lists the judged faces, then every face found but not judged (grey in the overlay), with its reason
    unjudged = details["not_judged"]
    assert len(table["data"]) == n + len(unjudged) and table["headers"][1] == "score"
    assert [row[2] for row in table["data"][n:]] == ["not judged"] * len(unjudged)
    assert all(u["reason"] for u in unjudged)
    assert details["timings_ms"]["detect_align_infer"] > 0
    return details


def _check_report(files: list[str], details: dict[str, Any], detector: Any, with_overlay: bool) -> None:
    import json

    paths = [Path(f) for f in files]
    assert [p.suffix for p in paths] == ([".json", ".html", ".jpg"] if with_overlay else [".json", ".html"])
    record = json.loads(paths[0].read_text())
    assert record["weights"] == {"name": detector.spec.name, "sha256": detector.spec.sha256}
    assert record["weights"]["sha256"] and len(record["weights"]["sha256"]) == 64
    assert record["prob"] == details["prob"] and record["verdict"] == details["verdict"]
    assert record["input_sha256"] and len(record["input_sha256"]) == 64
    # the readable report: the file and its hash, the verdict and score, the weights, the measured limits, and
    # every picture embedded (it stands alone when forwarded)
    page = paths[1].read_text()
    assert record["input"] in page and record["input_sha256"] in page and detector.spec.sha256 in page
    assert f"{details['verdict']} · score {details['prob']:.3f}" in page and "Measured limits" in page
    assert "src=\"http" not in page and page.count("data:image/jpeg;base64,") >= 1


@pytest.mark.slow
def test_predict_image_group_photo(client: Client, detector: Any, group_photo: Path) -> None:
    details = _check_image_result(
        client.predict(handle_file(str(group_photo)), api_name="/predict_image"), detector, group_photo, 3
    )
    assert details["model"]["name"]


@pytest.mark.slow
def test_predict_image_portrait(client: Client, detector: Any, portrait: Path) -> None:
    _check_image_result(client.predict(handle_file(str(portrait)), api_name="/predict_image"), detector, portrait, 1)


@pytest.mark.slow
def test_predict_video_dfdc(client: Client, detector: Any, dfdc_video: Path) -> None:
    from laanet_synth.video import sample_frame_indices, video_info

    k = 4
    summary, label, plot, gallery, table, details, people, report = client.predict(
        handle_file(str(dfdc_video)), k, api_name="/predict_video"
    )
    assert len(people) == len(details["people"]) >= 1 and "person 1" in people[0]["caption"]
    n_total = video_info(dfdc_video).n_frames
    assert details["n_frames_total"] == n_total
    assert [f["frame"] for f in details["frames"]] == [int(i) for i in sample_frame_indices(n_total, k)]
    assert details["n_frames_sampled"] == k and len(table["data"]) == k
    assert details["n_frames_with_face"] >= 1 and details["n_faces"] >= 1
    # video score = sigmoid(mean of the frame logits), each frame logit by the weight's frame rule
    frame_logits = []
    for fr in details["frames"]:
        if not fr["faces"]:
            assert fr["prob"] is None
            continue
        if details["frame_rule"] == "max":
            logit = max(x["logit"] for x in fr["faces"])
        else:
            logit = max(fr["faces"], key=lambda x: (x["box"][2] - x["box"][0]) * (x["box"][3] - x["box"][1]))["logit"]
        assert math.isclose(fr["prob"], sigmoid(logit), abs_tol=1e-5)
        frame_logits.append(logit)
    assert math.isclose(details["prob"], sigmoid(float(np.mean(frame_logits))), abs_tol=1e-4)
    assert label["label"].startswith(f"{details['verdict']} · score {details['prob']:.3f} (")
    _check_report(report, details, detector, with_overlay=False)
    assert "Video verdict" in summary and "mean of frame logits" in details["aggregation"]
    assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/")
    assert 1 <= len(gallery) <= k and all(Path(g["image"]).is_file() for g in gallery)


BAD_IMAGES = {
    "text_as_jpg": "not an image",
    "truncated_jpeg": "corrupt or truncated",
    "empty": "empty",
    "no_face": "No face was found.*whole image scored as one face: [01][.][0-9]{3}.*no verdict is shown",
    "huge": "too large|pixels",
}
BAD_VIDEOS = {
    "one_frame_video": "only 1 decodable frame",
    "no_face_video": "No face was found in any of the.*whole image scored as one face",
    "text_as_jpg": "could not be decoded",
    "empty": "empty",
}


@pytest.mark.slow
def test_bad_inputs_get_clear_messages_and_the_server_keeps_answering(
    client: Client, bad_inputs: dict[str, Path], portrait: Path
) -> None:
    import re

    for name, pattern in BAD_IMAGES.items():
        with pytest.raises(AppError) as info:
            client.predict(handle_file(str(bad_inputs[name])), api_name="/predict_image")
        msg = str(info.value)
        assert re.search(pattern, msg), f"{name}: unexpected message {msg!r}"
        assert "Traceback" not in msg and "/tmp" not in msg, f"{name}: message leaks internals: {msg!r}"
    for name, pattern in BAD_VIDEOS.items():
        with pytest.raises(AppError) as info:
            client.predict(handle_file(str(bad_inputs[name])), 4, api_name="/predict_video")
        msg = str(info.value)
        assert re.search(pattern, msg), f"{name} (video): unexpected message {msg!r}"
        assert "Traceback" not in msg and "/tmp" not in msg
    with pytest.raises(AppError, match="between 2 and"):
        client.predict(handle_file(str(bad_inputs["one_frame_video"])), 1000, api_name="/predict_video")
    # API messages are plain text, without HTML entities
    with pytest.raises(AppError) as info:
        client.predict(handle_file(str(bad_inputs["one_frame_video"])), "abc", api_name="/predict_video")
    assert "got 'abc'" in str(info.value) and "&#" not in str(info.value)
    # still answering, with a real result
    result = client.predict(handle_file(str(portrait)), api_name="/predict_image")
    assert result[5]["n_faces"] >= 1


def test_use_via_api_sample_points_at_shipped_examples(app_url: str) -> None:
    import json
    import urllib.request

    from laanet_demo.examples import examples_dir

    EXAMPLES_DIR = examples_dir()

    with urllib.request.urlopen(f"{app_url.rstrip('/')}/gradio_api/info", timeout=30) as resp:
        info = json.loads(resp.read())
    image = info["named_endpoints"]["/predict_image"]["parameters"][0]["example_input"]
    video = info["named_endpoints"]["/predict_video"]["parameters"][0]["example_input"]
    assert Path(image["path"]).parent == EXAMPLES_DIR and Path(image["path"]).is_file()
    assert Path(video["path"]).parent == EXAMPLES_DIR and Path(video["path"]).suffix == ".webm"
    assert "raw.githubusercontent" not in json.dumps(info) and "github.com/gradio-app" not in json.dumps(info)
    assert set(info["named_endpoints"]) == {"/predict_image", "/predict_video"}
