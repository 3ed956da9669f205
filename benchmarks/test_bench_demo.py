"""End-to-end speed of the demo's path on CPU: one image (decode, detect, align, infer) and video frames/s.

Uses the built-in weights when installed (otherwise an untrained Lite0 with the built-in recipe, which
costs the same arithmetic; ``extra_info["weights"]`` says which). Inputs are real files from ../shared/data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from laanet_demo import analysis
from laanet_demo.handlers import DemoHandlers
from laanet_demo.limits import DemoLimits
from laanet_demo.outputs import OutputFiles
from laanet_demo.pool import DetectorPool

VIDEO_FRAMES = 8


@pytest.fixture(scope="module")
def detector_and_name():
    from laanet_model.checkpoints import CheckpointError
    from laanet_model.detector import Detector
    from laanet_model.variants import create_model
    from laanet_model.weights import BUILTIN_WEIGHTS, get_weights

    try:
        return Detector.from_weights(BUILTIN_WEIGHTS, device="cpu"), BUILTIN_WEIGHTS
    except CheckpointError:
        spec = get_weights(BUILTIN_WEIGHTS)
        torch.manual_seed(0)
        det = Detector(create_model(spec.variant, pretrained=False), spec.preprocessing, spec=spec, device="cpu")
        return det, f"untrained {spec.variant} (built-in recipe)"


def test_bench_demo_image_end_to_end(benchmark, detector_and_name, shared_data: Path) -> None:
    detector, name = detector_and_name
    portrait = shared_data / "faces" / "portraits" / "img12.jpg"
    limits = DemoLimits()
    analysis.analyse_image(detector, portrait, limits)  # warm-up: face finder models, first forward
    result = benchmark.pedantic(analysis.analyse_image, args=(detector, portrait, limits), rounds=5, iterations=1)
    assert len(result.faces) == 1
    benchmark.extra_info.update({
        "weights": name, "image": "portraits/img12.jpg (560x415, 1 face)", "flip_test": detector.preprocessing.flip_test,
        "threads": torch.get_num_threads(), "steps": "decode + dlib detect + landmarks + crop + network",
    })


def test_bench_demo_image_with_rendering(benchmark, detector_and_name, tmp_path, shared_data: Path) -> None:
    detector, name = detector_and_name
    group = shared_data / "faces" / "groups" / "selfie-many-people.jpg"
    handlers = DemoHandlers(DetectorPool(detector, None), DemoLimits(), OutputFiles(tmp_path))
    handlers.predict_image(str(group))
    out = benchmark.pedantic(handlers.predict_image, args=(str(group),), rounds=3, iterations=1)
    n = out[5]["n_faces"]
    assert n >= 3
    benchmark.extra_info.update({"weights": name, "image": "groups/selfie-many-people.jpg", "faces": n,
                                 "steps": "everything the Image tab does, overlay and face tiles included"})


def test_bench_demo_video_frames_per_second(benchmark, detector_and_name, shared_data: Path) -> None:
    detector, name = detector_and_name
    video = shared_data / "videos" / "0017_fake.mp4"
    limits = DemoLimits()
    result = benchmark.pedantic(
        analysis.analyse_video, args=(detector, video, VIDEO_FRAMES, limits), rounds=2, iterations=1,
    )
    assert len(result.frames) == VIDEO_FRAMES
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "weights": name, "video": "videos/0017_fake.mp4", "frames_sampled": VIDEO_FRAMES,
        "frames_per_second": round(VIDEO_FRAMES / seconds, 3), "faces": result.n_faces,
        "steps": "decode sampled frames + detect + align + infer per frame",
    })
