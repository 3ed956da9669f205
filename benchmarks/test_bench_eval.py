"""Evaluation throughput of the benchmark harness on CPU, in videos per minute.

* cold: frames decoded, faces found with dlib, cropped with the weights' recipe and scored by the Detector
  (flip test on, as the official recipe), with an empty cache each round;
* crops cached: the face crops read back from the cache, the network run again (as for new weights or TTA);
* cached: the same evaluation again, everything read back from the cache (crops and logits).

Clips are short videos of real LFW faces and self-blended fakes of them (250 x 250, 8 frames, all sampled).
The built-in weights are used when installed, otherwise an untrained Lite0 LAA-Net of the same size: only the
arithmetic is timed. ``extra_info`` holds ``videos_per_minute``, the frames per video and the weights used.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from laanet_bench.cache import EvalCache
from laanet_bench.datasets import LoadOptions, load_csv
from laanet_bench.pipeline import EvalSettings, evaluate_items
from laanet_bench.scorer import load_scorer

N_VIDEOS = 4
N_FRAMES = 8


def _clips(folder: Path, lfw: Path) -> Path:
    """Write ``N_VIDEOS`` clips (half SBI fakes) and a CSV listing them; returns the CSV path."""
    from laanet_synth.sbi import self_blend

    z = np.load(lfw / "landmarks68_dlib.npz")
    rows, picked = [], 0
    for name, lms, nf in zip(z["names"], z["landmarks"], z["nfaces"], strict=True):
        if nf != 1 or lms[0, 0] < 0 or not str(name).endswith("_0001.jpg"):
            continue
        img = cv2.cvtColor(cv2.imread(str(lfw / "images_deepfunneled" / str(name))), cv2.COLOR_BGR2RGB)
        label = picked % 2
        if label:
            img, _, _ = self_blend(img, lms.astype(np.float32), np.random.default_rng(picked))
        path = folder / f"clip{picked}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (img.shape[1], img.shape[0]))
        for k in range(N_FRAMES):
            m = np.float32([[1, 0, 2 * np.sin(k / 2)], [0, 1, 1.5 * np.cos(k / 3)]])
            frame = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        rows.append(f"{path},{label}")
        picked += 1
        if picked == N_VIDEOS:
            break
    csv_path = folder / "clips.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    return csv_path


def _weights(folder: Path) -> tuple[Path | str, str]:
    from laanet_model.weights import BUILTIN_WEIGHTS, get_weights, resolve_weights_file

    try:
        resolve_weights_file(get_weights(BUILTIN_WEIGHTS))
        return BUILTIN_WEIGHTS, BUILTIN_WEIGHTS
    except Exception:  # noqa: BLE001 - any reason the built-in file is unusable: fall back to random weights
        import torch
        from laanet_model.checkpoints import save_weights
        from laanet_model.variants import create_model

        torch.manual_seed(0)
        model = create_model("laanet_efficientnet_lite0", pretrained=False)
        return save_weights(model, folder / "untrained-lite0", card={"variant": "laanet_efficientnet_lite0"}), \
            "untrained lite0 (384 px)"


@pytest.fixture(scope="module")
def setup(tmp_path_factory, lfw_dir: Path):
    folder = tmp_path_factory.mktemp("bench_eval")
    items = load_csv(_clips(folder, lfw_dir), LoadOptions())
    weights, label = _weights(folder)
    scorer = load_scorer(weights)
    settings = EvalSettings(n_frames=N_FRAMES, tta=scorer.recipe_tta)
    evaluate_items(items[:1], scorer, settings, EvalCache(folder / "warmup"), progress=False)
    return folder, items, scorer, settings, label, {}


def _report(benchmark, label: str, cached: bool) -> None:
    mean = benchmark.stats.stats.mean
    benchmark.extra_info.update({"videos_per_minute": round(60.0 * N_VIDEOS / mean, 2), "videos": N_VIDEOS,
                                 "frames_per_video": N_FRAMES, "weights": label, "cached": cached})


def test_bench_eval_cold(benchmark, setup):
    folder, items, scorer, settings, label, state = setup
    counter = iter(range(1_000_000))

    def fresh():
        cache = folder / f"cold{next(counter)}"
        shutil.rmtree(cache, ignore_errors=True)
        state["warm"] = cache
        return (EvalCache(cache),), {}

    def run(cache):
        results, stats = evaluate_items(items, scorer, settings, cache, progress=False)
        assert stats.computed == N_VIDEOS

    benchmark.pedantic(run, setup=fresh, rounds=2, iterations=1)
    _report(benchmark, label, cached=False)


def test_bench_eval_cached(benchmark, setup):
    folder, items, scorer, settings, label, state = setup
    cache = EvalCache(state.get("warm", folder / "warm"))
    evaluate_items(items, scorer, settings, cache, progress=False)  # a no-op after the cold benchmark

    def run():
        results, stats = evaluate_items(items, scorer, settings, cache, progress=False)
        assert stats.cached == N_VIDEOS

    benchmark.pedantic(run, rounds=10, iterations=1)
    _report(benchmark, label, cached=True)


def test_bench_eval_crops_cached(benchmark, setup):
    folder, items, scorer, settings, label, state = setup
    warm = state.get("warm", folder / "warm")
    evaluate_items(items, scorer, settings, EvalCache(warm), progress=False)
    counter = iter(range(1_000_000))

    def crops_only():
        cache = folder / f"crops{next(counter)}"
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(warm / "crops", cache / "crops")
        return (EvalCache(cache),), {}

    def run(cache):
        results, stats = evaluate_items(items, scorer, settings, cache, progress=False)
        assert stats.computed == N_VIDEOS

    benchmark.pedantic(run, setup=crops_only, rounds=2, iterations=1)
    _report(benchmark, label, cached=False)
    benchmark.extra_info["crops_cached"] = True
