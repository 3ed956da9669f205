"""A 32-frame 1080p video verdict with the built-in model: the RetinaFace front end against dlib HOG, side by
side in one run, with the time of each stage (decode, detect, landmarks, crop, network, people).

The clip is synthetic: three LFW photos pasted on a dim 1080p background at different sizes (a face of
about 100 px, as a person 3 m away, and two larger ones), drifting slowly, darkened and with sensor
noise, written as MPEG-4 to a temporary file. Target: 4 s or less per video on 2 cores with RetinaFace.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from laanet_model.detector import Detector
from laanet_model.weights import BUILTIN_WEIGHTS
from laanet_synth.faces import DlibFaceFinder
from laanet_synth.retinaface import RetinaFaceFinder
from laanet_synth.stages import StageTimer
from laanet_synth.video import read_frames

THREADS = 2


def video_verdict(detector: Detector, path: Path, n_frames: int) -> tuple[object, dict[str, float]]:
    """Decode the sampled frames and score the video as ``laanet predict`` does; returns the prediction and
    the stage times in ms."""
    timer = StageTimer()
    with timer.stage("decode"):
        frames = read_frames(path, n_frames)
    pred = detector.predict_video(frames, timer=timer)
    return pred, timer.milliseconds()


def test_bench_video_retinaface_vs_dlib(benchmark, clip_1080p: Path, clip_frames: int) -> None:
    torch.set_num_threads(THREADS)
    retina = Detector.from_weights(BUILTIN_WEIGHTS, device="cpu", face_finder=RetinaFaceFinder(num_threads=THREADS))
    hog = Detector.from_weights(BUILTIN_WEIGHTS, device="cpu", face_finder=DlibFaceFinder())
    onnx = Detector.from_weights(BUILTIN_WEIGHTS, device="cpu", backend="onnxruntime",
                                 face_finder=RetinaFaceFinder(num_threads=THREADS))
    video_verdict(retina, clip_1080p, clip_frames)  # warm-up: models load, first forward passes
    video_verdict(onnx, clip_1080p, clip_frames)

    stages: dict[str, list[dict[str, float]]] = {"retinaface": [], "dlib": [], "retinaface+onnxruntime": []}
    walls: dict[str, list[float]] = {"retinaface": [], "dlib": [], "retinaface+onnxruntime": []}
    preds = {}

    def run(name: str, det: Detector) -> object:
        t0 = time.perf_counter()
        pred, ms = video_verdict(det, clip_1080p, clip_frames)
        walls[name].append(time.perf_counter() - t0)
        stages[name].append(ms)
        preds[name] = pred
        return pred

    run("dlib", hog)  # side by side in this run: the HOG path once (it is the slow one)
    for _ in range(3):  # the same network on onnxruntime, alternating with the torch rounds below
        run("retinaface+onnxruntime", onnx)
    benchmark.pedantic(run, args=("retinaface", retina), rounds=3, iterations=1)

    r, h = preds["retinaface"], preds["dlib"]
    assert r.prob is not None and len(r.frames) == clip_frames
    faces_r = sum(len(f.faces) for f in r.frames)
    faces_h = sum(len(f.faces) for f in h.frames)
    assert faces_r >= 3 * clip_frames - 2  # every person in (nearly) every frame
    assert faces_r >= faces_h
    assert len(r.people) == 3
    o = preds["retinaface+onnxruntime"]
    assert abs(o.prob - r.prob) < 1e-4  # the same verdict from either back end

    def median_stages(name: str) -> dict[str, float]:
        keys = stages[name][0]
        return {k: float(np.median([s[k] for s in stages[name]])) for k in keys}

    wall_r, wall_h = float(np.median(walls["retinaface"])), float(np.median(walls["dlib"]))
    sr, sh = median_stages("retinaface"), median_stages("dlib")
    benchmark.extra_info.update({
        "clip": f"synthetic {clip_frames} frames 1920x1080 mp4v, 3 LFW faces of about 100, 190 and 230 px, darkened",
        "threads": THREADS,
        "retinaface_s_per_video": round(wall_r, 2),
        "dlib_s_per_video": round(wall_h, 2),
        "speedup_retinaface_vs_dlib": round(wall_h / wall_r, 2),
        "retinaface_onnxruntime_s_per_video": round(float(np.median(walls["retinaface+onnxruntime"])), 2),
        "retinaface_onnxruntime_stages_ms": median_stages("retinaface+onnxruntime"),
        "retinaface_stages_ms": sr,
        "dlib_stages_ms": sh,
        "retinaface_ms_per_frame_detect_landmarks": round((sr["detect"] + sr["landmarks"]) / clip_frames, 1),
        "dlib_ms_per_frame_detect_landmarks": round((sh["detect"] + sh["landmarks"]) / clip_frames, 1),
        "faces_found": {"retinaface": faces_r, "dlib": faces_h},
        "people": {"retinaface": len(r.people), "dlib": len(h.people)},
        "target_s_per_video": 4.0,
    })
