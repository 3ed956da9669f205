"""Benchmarks of the synthesis engine (laanet-synth), per core (OpenCV and torch pinned to one thread).

* SBI and BI pairs per second at 256 and 384 px (pair + heatmap/consistency targets, from face crops),
  each against a straightforward per-sample implementation of the same algorithm written here
  (albumentations transforms, the elastic pass run on image and mask, float64 blending, pixel loops in
  the target encoder, a triangle-by-triangle piecewise-affine warp); ``extra_info["speedup"]`` holds the
  ratio of the two medians, measured in the same run, and ``extra_info["interleaved_speedup"]`` the
  ratio of per-pair medians with the two timed alternately pair by pair (both under the same load);
* the BI donor search, vectorised vs a Python loop over candidates (per query);
* the dlib face finder on frames from ../shared/data (portraits and video frames).

Each comparison first checks that the baseline computes the same thing as the fast path: the target
encoders give equal targets, the piecewise-affine warps the same mask from the same random draws, the donor
searches the same donors; the SBI / BI baselines draw their augmentations through albumentations, so only
their deterministic parts (targets, masks) can be compared, and are.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from laanet_synth.bi import (
    feather_weights,
    make_bi_pair,
    nearest_donors,
    normalise_landmarks,
    piecewise_affine_mask,
    summed_landmark_distance,
)
from laanet_synth.crops import crop_face, recipe_for_size
from laanet_synth.faces import DlibFaceFinder
from laanet_synth.imageio import read_image
from laanet_synth.landmarks import flip_landmarks, to_81
from laanet_synth.masks import random_hull_mask
from laanet_synth.sbi import make_sbi_pair
from laanet_synth.targets import encode_targets, gaussian_radius, stamp_gaussian
from laanet_synth.video import read_frames

N_FACES = 8


def _median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@pytest.fixture(scope="module", autouse=True)
def one_core():
    cv_threads, torch_threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    yield
    cv2.setNumThreads(cv_threads)
    torch.set_num_threads(torch_threads)


@pytest.fixture(scope="module")
def lfw(lfw_dir: Path):
    d = np.load(lfw_dir / "landmarks68_dlib.npz")
    ok = np.flatnonzero((d["landmarks"].reshape(len(d["landmarks"]), -1) >= 0).all(1))
    return lfw_dir, d, ok


@pytest.fixture(scope="module")
def crops(lfw):
    """size -> list of (crop image, crop landmarks) for N_FACES LFW faces, cut with the official recipe."""
    from laanet_synth.faces import Face

    lfw_dir, d, ok = lfw
    out: dict[int, list] = {256: [], 384: []}
    for i in ok[: N_FACES * 40 : 40]:
        img = read_image(lfw_dir / "images_deepfunneled" / str(d["names"][i]))
        face = Face(box=d["boxes"][i], score=1.0, landmarks=d["landmarks"][i].astype(np.float32))
        for s in out:
            c = crop_face(img, face, recipe_for_size(s))
            out[s].append((c.image, c.landmarks))
    return out


# ----------------------------------------------------------------------------- baseline: SBI


def baseline_run_lengths(b: np.ndarray, j: int, i: int) -> tuple[int, int]:
    h, w = b.shape
    vert = horiz = 0
    if not b[j, i]:
        return 0, 0
    k = j
    while k >= -h and b[k, i]:
        vert += 1
        k -= 1
    k = j
    while k < h and b[k, i]:
        vert += 1
        k += 1
    k = i
    while k >= -w and b[j, k]:
        horiz += 1
        k -= 1
    k = i
    while k < w and b[j, k]:
        horiz += 1
        k += 1
    return vert, horiz


def baseline_encode(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The target encoder written plainly: pixel loops for the vulnerable points and their runs."""
    H, W = t.shape
    hm = np.zeros((H, W), np.float32)
    cst = np.zeros((H, W), np.float32)
    gmax = int(t.max())
    b = t > 128
    for y0 in (0, H // 2):
        for x0 in (0, W // 2):
            qmax = int(t[y0 : y0 + H // 2, x0 : x0 + W // 2].max()) or 1
            pts = [(j, i) for j in range(y0, y0 + H // 2) for i in range(x0, x0 + W // 2) if t[j, i] == qmax]
            for j, i in pts:
                vert, horiz = baseline_run_lengths(b, j, i)
                stamp_gaussian(hm, j, i, gaussian_radius(horiz, vert) / 3 + 1e-4)
            if pts:
                for j in range(y0, y0 + H // 2):
                    for i in range(x0, x0 + W // 2):
                        cst[j, i] = (255.0 - abs(gmax - float(t[j, i]))) / 255.0
    return hm[None], cst[None]


class BaselineSBI:
    """SBI per sample with albumentations, as a first implementation would write it."""

    def __init__(self) -> None:
        self.source_tf = A.Compose(
            [
                A.RGBShift(r_shift_limit=20, g_shift_limit=20, b_shift_limit=20, p=0.3),
                A.HueSaturationValue(hue_shift_limit=0.3, sat_shift_limit=0.3, val_shift_limit=0.3, p=1),
                A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=1),
                A.OneOf(
                    [
                        A.Downscale(scale_range=(0.25, 0.5), interpolation_pair={"downscale": cv2.INTER_NEAREST, "upscale": cv2.INTER_LINEAR}),
                        A.Sharpen(alpha=(0.2, 0.5), lightness=(0.5, 1.0)),
                    ],
                    p=1,
                ),
            ]
        )
        self.affine = A.Affine(translate_percent={"x": (-0.03, 0.03), "y": (-0.015, 0.015)}, scale=(0.95, 1 / 0.95), fit_output=False, p=1)
        self.elastic = A.ElasticTransform(alpha=50, sigma=7, p=1)
        self.colour = A.Compose(
            [
                A.RGBShift(r_shift_limit=20, g_shift_limit=20, b_shift_limit=20, p=0.3),
                A.HueSaturationValue(hue_shift_limit=0.3, sat_shift_limit=0.3, val_shift_limit=0.3, p=0.3),
                A.RandomBrightnessContrast(brightness_limit=0.3, contrast_limit=0.3, p=0.3),
                A.ImageCompression(quality_range=(40, 100), p=0.5),
            ],
            additional_targets={"image1": "image"},
        )

    def blend_mask(self, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        h, w = mask.shape
        m = cv2.resize(mask.astype(np.float64), (int(rng.integers(int(w * 0.8), int(w / 0.8))), int(rng.integers(int(h * 0.8), int(h / 0.8)))))
        k1 = int(rng.choice(np.arange(5, 27, 2)))
        m = cv2.GaussianBlur(m, (k1, k1), 0)
        m = m / m.max()
        m[m < 1] = 0
        k2 = int(rng.choice(np.arange(5, 27, 2)))
        m = cv2.GaussianBlur(m, (k2, k2), int(rng.integers(5, 46)))
        m = m / max(m.max(), 1e-12)
        return cv2.resize(m, (w, h))

    def pair(self, img: np.ndarray, lms68: np.ndarray, rng: np.random.Generator):
        S = img.shape[0]
        lms = to_81(lms68)
        if rng.random() < 0.5:
            img, lms = img[:, ::-1].copy(), flip_landmarks(lms, S)
        if rng.random() < 0.25:
            lms = lms[:68]
        mask, _ = random_hull_mask((S, S), lms, rng)
        source = img.copy()
        if rng.random() < 0.5:
            source = self.source_tf(image=source)["image"]
        else:
            img = self.source_tf(image=img)["image"]
        r = self.affine(image=source, mask=mask)
        r = self.elastic(image=r["image"], mask=r["mask"])  # the image pass is computed and thrown away
        source = self.affine(image=source)["image"]
        m = self.blend_mask(r["mask"], rng)
        ratio = [0.25, 0.5, 0.75, 1, 1, 1][int(rng.integers(6))]
        fake = np.clip(ratio * m[..., None] * source + (1 - ratio * m[..., None]) * img, 0, 255).astype(np.uint8)
        e = int(rng.integers(0, 20) * S / 256)
        b = 4 * m * (1 - m)
        mat = cv2.getAffineTransform(np.float32([[e, e], [S - 1 - e, e], [e, S - 1 - e]]), np.float32([[0, 0], [S - 1, 0], [0, S - 1]]))
        real = cv2.warpAffine(img, mat, (S, S))
        fake = cv2.warpAffine(fake, mat, (S, S))
        small = cv2.resize(cv2.warpAffine((b * 255).astype(np.uint8), mat, (S, S)), (S // 4, S // 4))
        out = self.colour(image=real, image1=fake)
        hm, cst = baseline_encode(small)
        return out["image"], out["image1"], m, hm, cst


# ----------------------------------------------------------------------------- baseline: BI


def baseline_piecewise_affine(mask: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Piecewise-affine warp triangle by triangle: one full-image warp and one polygon fill per triangle."""
    h, w = mask.shape
    rows = cols = 4
    gx, gy = np.meshgrid(np.linspace(0, w - 1, cols), np.linspace(0, h - 1, rows))
    dst = np.stack([gx, gy], -1)
    src = dst + rng.normal(0, scale, (rows, cols, 2)) * [w, h]
    out = np.zeros_like(mask)
    for r in range(rows - 1):
        for c in range(cols - 1):
            for tri in (((r, c), (r, c + 1), (r + 1, c)), ((r + 1, c + 1), (r + 1, c), (r, c + 1))):
                d = np.float32([dst[p] for p in tri])
                s = np.float32([src[p] for p in tri])
                warped = cv2.warpAffine(mask, cv2.getAffineTransform(d, s), (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
                sel = np.zeros((h, w), np.uint8)
                cv2.fillConvexPoly(sel, np.round(d).astype(np.int32), 1)
                out[sel > 0] = warped[sel > 0]
    return out


def baseline_bi_pair(bg: np.ndarray, lms: np.ndarray, donor: np.ndarray, rng: np.random.Generator):
    S = bg.shape[0]
    a = int(rng.integers(128, 318))
    b = cv2.resize(bg, (a, a)).astype(np.float64)
    f = cv2.resize(donor, (a, a)).astype(np.float64)
    mask, _ = random_hull_mask((a, a), lms * (a / S), rng)
    mask = baseline_piecewise_affine(mask, rng, float(rng.uniform(0.01, 0.15)))
    k = int(rng.integers(1, 22)) | 1
    mask = cv2.erode(mask, np.ones((k, k), np.uint8)) if rng.random() < 0.5 else cv2.dilate(mask, np.ones((3, 3), np.uint8))
    sel = mask > 0
    for ch in range(3):
        f[..., ch] += b[..., ch][sel].mean() - f[..., ch][sel].mean() if sel.any() else 0
    wgt = feather_weights(mask)[..., None].astype(np.float64)
    fake = cv2.resize(np.clip(wgt * f + (1 - wgt) * b, 0, 255).astype(np.uint8), (S, S))
    m = cv2.resize(wgt[..., 0], (S, S))
    small = cv2.resize((4 * m * (1 - m) * 255).astype(np.uint8), (S // 4, S // 4))
    return fake, m, baseline_encode(small)


# ----------------------------------------------------------------------------- benchmarks


def _interleaved(ours, base, n: int, rounds: int = 2) -> dict[str, float]:
    """Time ``ours(k)`` and ``base(k)`` alternately, pair by pair (k = face index), so that both see the
    same machine load; returns per-pair medians and their ratio."""
    t_ours, t_base = [], []
    for _ in range(rounds):
        for k in range(n):
            t0 = time.perf_counter()
            base(k)
            t1 = time.perf_counter()
            ours(k)
            t2 = time.perf_counter()
            t_base.append(t1 - t0)
            t_ours.append(t2 - t1)
    mo, mb = statistics.median(t_ours), statistics.median(t_base)
    return {
        "interleaved_pairs_per_s_per_core": 1 / mo,
        "interleaved_baseline_pairs_per_s_per_core": 1 / mb,
        "interleaved_speedup": mb / mo,
    }



@pytest.mark.parametrize("size", [256, 384])
def test_bench_sbi_pairs(benchmark, crops, size):
    faces = crops[size]
    rng = np.random.default_rng(0)
    state = {"k": 0}

    def ours():
        img, lms = faces[state["k"] % len(faces)]
        state["k"] += 1
        p = make_sbi_pair(img, lms, rng)
        return encode_targets(p.boundary_small)

    base = BaselineSBI()
    brng = np.random.default_rng(0)
    # the baseline's target encoder computes the same targets as the fast one
    small = make_sbi_pair(*faces[0], np.random.default_rng(3)).boundary_small
    for fast, slow in zip(encode_targets(small), baseline_encode(small[..., 0] if small.ndim == 3 else small), strict=True):
        np.testing.assert_allclose(fast, slow, atol=1e-6)

    def baseline():
        for img, lms in faces:
            base.pair(img, lms, brng)

    for _ in range(3):
        ours()
    benchmark.pedantic(ours, rounds=3 * len(faces), iterations=1)
    t_ours = benchmark.stats.stats.median
    t_base = _median_seconds(baseline, repeats=2) / len(faces)
    benchmark.extra_info.update(
        {"size": size, "pairs_per_s_per_core": 1 / t_ours, "baseline_pairs_per_s_per_core": 1 / t_base, "speedup": t_base / t_ours}
    )
    benchmark.extra_info.update(
        _interleaved(
            lambda k: encode_targets(make_sbi_pair(*faces[k], rng).boundary_small), lambda k: base.pair(*faces[k], brng), len(faces)
        )
    )


@pytest.mark.parametrize("size", [256, 384])
def test_bench_bi_pairs(benchmark, crops, size):
    faces = crops[size]
    rng = np.random.default_rng(0)
    state = {"k": 0}

    def ours():
        k = state["k"]
        state["k"] += 1
        bg, lms = faces[k % len(faces)]
        donor, _ = faces[(k + 1) % len(faces)]
        p = make_bi_pair(bg, lms, donor, rng)
        return encode_targets(p.boundary_small)

    brng = np.random.default_rng(0)
    small = make_bi_pair(*faces[0], faces[1][0], np.random.default_rng(3)).boundary_small
    for fast, slow in zip(encode_targets(small), baseline_encode(small[..., 0] if small.ndim == 3 else small), strict=True):
        np.testing.assert_allclose(fast, slow, atol=1e-6)

    def baseline():
        for k, (bg, lms) in enumerate(faces):
            baseline_bi_pair(bg, lms, faces[(k + 1) % len(faces)][0], brng)

    for _ in range(3):
        ours()
    benchmark.pedantic(ours, rounds=3 * len(faces), iterations=1)
    t_ours = benchmark.stats.stats.median
    t_base = _median_seconds(baseline, repeats=2) / len(faces)
    benchmark.extra_info.update(
        {"size": size, "pairs_per_s_per_core": 1 / t_ours, "baseline_pairs_per_s_per_core": 1 / t_base, "speedup": t_base / t_ours}
    )
    benchmark.extra_info.update(
        _interleaved(
            lambda k: encode_targets(make_bi_pair(*faces[k], faces[(k + 1) % len(faces)][0], rng).boundary_small),
            lambda k: baseline_bi_pair(*faces[k], faces[(k + 1) % len(faces)][0], brng),
            len(faces),
        )
    )


def test_bench_piecewise_affine_mask(benchmark, crops):
    img, lms = crops[256][0]
    mask, _ = random_hull_mask((256, 256), to_81(lms), np.random.default_rng(0))
    # same random draws -> the same warped mask (up to interpolation at triangle seams)
    fast = piecewise_affine_mask(mask, np.random.default_rng(5)) > 0
    r = np.random.default_rng(5)
    slow = baseline_piecewise_affine(mask, r, float(r.uniform(0.01, 0.15))) > 0
    iou = (fast & slow).sum() / max(1, (fast | slow).sum())
    assert iou > 0.97, iou
    rng = np.random.default_rng(1)
    benchmark.pedantic(lambda: piecewise_affine_mask(mask, rng), rounds=20, iterations=1)
    t_base = _median_seconds(lambda: baseline_piecewise_affine(mask, rng, 0.08), repeats=10)
    benchmark.extra_info.update({"baseline_s": t_base, "speedup": t_base / benchmark.stats.stats.median})


def test_bench_donor_search(benchmark, lfw):
    _, d, ok = lfw
    sel = ok[:2000]
    lms = normalise_landmarks(d["landmarks"][sel].astype(np.float32))
    groups = np.array([str(n).split("/")[0] for n in d["names"][sel]])
    benchmark.pedantic(lambda: nearest_donors(lms, groups, k=30), rounds=3, iterations=1)
    per_query = benchmark.stats.stats.median / len(sel)

    def loop(q: int) -> list[int]:
        dists = []
        for c in range(len(sel)):
            if groups[c] != groups[q]:
                dists.append((float(summed_landmark_distance(lms[q], lms[c])), c))
        return [c for _, c in sorted(dists)[:30]]

    n_q = 5
    looped: list[list[int]] = []
    t_loop = _median_seconds(lambda: looped.extend(loop(q) for q in range(n_q)), repeats=1) / n_q
    # the loop and the exact vectorised search find the same donors; the shortlisted default nearly so
    exact = nearest_donors(lms, groups, k=30, shortlist=None)
    assert [list(exact[q]) for q in range(n_q)] == looped
    fast = nearest_donors(lms, groups, k=30)
    recall = float(np.mean([len(set(fast[q]) & set(looped[q])) / 30 for q in range(n_q)]))
    assert recall >= 0.9, recall
    benchmark.extra_info.update({"faces": len(sel), "s_per_query": per_query, "loop_s_per_query": t_loop,
                                 "speedup": t_loop / per_query, "shortlist_recall": recall})


def test_bench_face_finder(benchmark, shared_data: Path):
    frames = [read_image(p) for p in sorted((shared_data / "faces" / "portraits").glob("*.jpg"))[:4]]
    for name in ("0017_fake.mp4", "sample_2.mp4"):
        frames += [f for _, f in read_frames(shared_data / "videos" / name, 2)]
    finder = DlibFaceFinder()
    finder.find(frames[0])  # loads the models
    found = benchmark.pedantic(lambda: [len(finder.find(f)) for f in frames], rounds=2, iterations=1)
    benchmark.extra_info.update(
        {"frames": len(frames), "faces_found": int(sum(found)), "s_per_frame": benchmark.stats.stats.median / len(frames),
         "max_side": int(max(max(f.shape[:2]) for f in frames))}
    )
