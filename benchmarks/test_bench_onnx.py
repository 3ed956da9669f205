"""The ONNX deployment path against torch float32 on the CPU, measured side by side in one run.

For the built-in Lite0 model (at its recipe's input size) and the official B4 architecture (random weights, 384
px): the same ``Detector.predict_crops`` on a batch of faces, with the network run by torch and by onnxruntime
(the file exported in memory, with as many threads as torch uses). The torch and onnxruntime calls alternate
round by round (the benchmark's own timing is of one such pair) so that load on a shared machine hits both
alike; ``extra_info`` holds each median, the ratio
``torch_over_onnxruntime`` (> 1: onnxruntime is faster) and the largest logit difference.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import torch
from laanet_model import Detector, create_model
from laanet_model.onnx_backend import OnnxNetwork
from laanet_model.weights import Preprocessing
from laanet_synth.crops import OFFICIAL_SBI

BATCH = 4
ROUNDS = 3


def _detectors(which: str) -> tuple[Detector, Detector]:
    if which == "lite0":
        ref = Detector.from_weights("laanet-lite0-sbi-lfw", device="cpu", batch_size=BATCH)
    else:
        torch.manual_seed(0)
        ref = Detector(create_model("laanet_efficientnet_b4").eval(), Preprocessing(crop=OFFICIAL_SBI, flip_test=True),
                       device="cpu", batch_size=BATCH)
    net = OnnxNetwork.from_model(ref.model, ref.preprocessing, threads=torch.get_num_threads())
    return ref, Detector(net, ref.preprocessing, device="cpu", batch_size=BATCH, backend="onnxruntime")


@pytest.mark.parametrize("which", ["lite0", "b4"])
def test_bench_onnxruntime_vs_torch_float32(benchmark, which: str) -> None:
    ref, ort_det = _detectors(which)
    s = ref.input_size
    faces = np.random.default_rng(0).integers(0, 256, size=(BATCH, s, s, 3), dtype=np.uint8)
    ref.predict_crops(faces[:1])  # warm-up of both
    ort_det.predict_crops(faces[:1])
    torch_times: list[float] = []
    torch_out: list = []

    def both():
        t0 = time.perf_counter()
        torch_out.append(ref.predict_crops(faces))
        torch_times.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        out = ort_det.predict_crops(faces)
        ort_times.append(time.perf_counter() - t1)
        return out

    ort_times: list[float] = []
    result = benchmark.pedantic(both, rounds=ROUNDS, iterations=1)
    t_torch, t_ort = statistics.median(torch_times), statistics.median(ort_times)
    gap = max(abs(a.logit - b.logit) for a, b in zip(result, torch_out[-1], strict=True))
    benchmark.extra_info.update({
        "model": which, "input_size": s, "faces_per_call": BATCH, "flip_test": ref.preprocessing.flip_test,
        "torch_float32_s_per_face": t_torch / BATCH, "onnxruntime_s_per_face": t_ort / BATCH,
        "torch_over_onnxruntime": t_torch / t_ort, "max_logit_difference": gap, "threads": torch.get_num_threads(),
    })
    assert len(result) == BATCH and gap < 1e-4
