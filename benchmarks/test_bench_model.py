"""Benchmarks of the LAA-Net Detector.

* the official B4 network on a batch of 384 px faces: our float32 path vs the official float64 path, timed
  in the same run; the float64 / float32 ratio is stored in ``extra_info``;
* per-image latency of the EfficientNet-Lite0 variant (batch of one face).

Weights are random (the architecture and the arithmetic are what is timed); flip test is on, as in the
official recipe.
"""

from __future__ import annotations

import copy
import statistics
import time

import numpy as np
import pytest
import torch
from laanet_model import Detector, create_model
from laanet_model.weights import Preprocessing
from laanet_synth.crops import OFFICIAL_SBI, recipe_for_size

BATCH = 4


def _faces(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def b4() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("laanet_efficientnet_b4").eval()


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def test_bench_detector_b4_float32_vs_official_float64(benchmark, b4) -> None:
    pre = Preprocessing(crop=OFFICIAL_SBI, flip_test=True)
    fast = Detector(copy.deepcopy(b4), pre, device="cpu", batch_size=BATCH)
    official = Detector(copy.deepcopy(b4), pre, device="cpu", batch_size=BATCH, official_float64=True)
    faces = _faces(BATCH, 384)
    fast.predict_crops(faces[:1])  # warm-up
    result = benchmark.pedantic(fast.predict_crops, args=(faces,), rounds=3, iterations=1)
    f32 = benchmark.stats.stats.median
    official_out: list = []
    f64 = _median_seconds(lambda: official_out.append(official.predict_crops(faces)), repeats=2)
    agree = max(abs(a.logit - b.logit) for a, b in zip(result, official_out[-1], strict=True))
    benchmark.extra_info.update(
        {
            "faces_per_call": BATCH,
            "flip_test": True,
            "float32_s_per_face": f32 / BATCH,
            "float64_s_per_face": f64 / BATCH,
            "ratio_float64_over_float32": f64 / f32,
            "max_logit_difference": agree,
            "threads": torch.get_num_threads(),
        }
    )
    assert len(result) == BATCH
    assert agree < 1e-4, agree  # the float64 path being compared computes the same logits


@pytest.mark.parametrize("size", [224, 384])
def test_bench_detector_lite0_per_image(benchmark, size: int) -> None:
    model = create_model("laanet_efficientnet_lite0", input_size=size)
    det = Detector(
        model, Preprocessing(crop=recipe_for_size(size), flip_test=True), device="cpu", batch_size=1
    )
    face = _faces(1, size)
    det.predict_crops(face)  # warm-up
    out = benchmark.pedantic(det.predict_crops, args=(face,), rounds=5, iterations=1)
    benchmark.extra_info.update({"input_size": size, "flip_test": True, "threads": torch.get_num_threads()})
    assert len(out) == 1
