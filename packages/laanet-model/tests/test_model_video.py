"""Video verdicts: faces linked into people (box overlap, then descriptors after a gap), a score per person
by the video rule, and the clip score by the recipe's rule, on a made-up clip of two LFW people."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from laanet_model.detector import Detector
from laanet_model.scoring import sigmoid
from laanet_synth.boxes import iou_matrix
from laanet_synth.imageio import read_image
from laanet_synth.sbi import self_blend
from laanet_synth.stages import StageTimer
from laanet_synth.tracks import link_tracks

NAME = "laanet-lite0-sbi-lfw"
N_SAMPLES = 10
GAP = (4, 5)  # samples in which the fake person is not in the frame


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [100, 100, 110, 110]], float)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0], [0.0, 0.0, 0.0]])


def test_link_tracks_by_overlap_and_descriptor():
    box = lambda x: np.array([x, 0, x + 10, 10], float)  # noqa: E731
    # person 0 stays at x=0..2; person 1 at x=50, leaves for one sample, comes back at x=200 (no overlap)
    boxes = [np.stack([box(0), box(50)]), np.stack([box(1), box(51)]), np.stack([box(2)]), np.stack([box(200), box(3)])]
    vectors = {0: np.zeros(3), 1: np.ones(3)}
    who = {(0, 0): 0, (0, 1): 1, (1, 0): 0, (1, 1): 1, (2, 0): 0, (3, 0): 1, (3, 1): 0}
    asked = []

    def describe(t, j):
        asked.append((t, j))
        return vectors[who[(t, j)]]

    ids = link_tracks(boxes, describe)
    assert ids == [[0, 1], [0, 1], [0], [1, 0]]
    assert (3, 0) in asked and (0, 0) not in asked  # descriptors only for faces that need rejoining
    assert len(asked) == len(set(asked))
    # without descriptors the returning person is a new track
    assert link_tracks(boxes, None) == [[0, 1], [0, 1], [0], [2, 0]]
    # a stranger far from the lost person's descriptor starts a new track
    vectors[1] = np.full(3, 5.0)
    who[(3, 0)] = 1
    assert link_tracks(boxes, lambda t, j: vectors[who[(t, j)]] if (t, j) != (3, 0) else np.full(3, -5.0))[3][0] == 2
    # a track never takes two faces of one sample, even when both overlap it
    assert link_tracks([np.stack([box(0)]), np.stack([box(0), box(1)])], None) == [[0], [0, 1]]


def _paste(canvas: np.ndarray, face: np.ndarray, x: int, y: int) -> None:
    canvas[y:y + face.shape[0], x:x + face.shape[1]] = face


@pytest.fixture(scope="module")
def two_person_clip(lfw_dir: Path):
    """10 sampled 720p frames: a real person on the left throughout and an SBI fake of another person on
    the right, who is gone in samples 4-5 and comes back in the middle. Each sample uses a different
    photo of each person (central 170 px of the LFW image, which leaves out bystanders)."""
    d = np.load(lfw_dir / "landmarks68_dlib.npz")
    names = [str(n) for n in d["names"]]
    rng = np.random.default_rng(0)

    def photos(person: str, fake: bool) -> list[np.ndarray]:
        rows = [i for i, n in enumerate(names) if n.startswith(person + "/") and d["landmarks"][i][0, 0] >= 0]
        out = []
        for i in rows[:N_SAMPLES]:
            img = read_image(lfw_dir / "images_deepfunneled" / names[i])
            if fake:
                img = self_blend(img, d["landmarks"][i].astype(np.float32), rng)[0]
            out.append(np.ascontiguousarray(img[40:210, 40:210]))
        assert len(out) == N_SAMPLES
        return out

    real, fake = photos("George_W_Bush", False), photos("Colin_Powell", True)
    frames, fake_at = [], {}
    for t in range(N_SAMPLES):
        canvas = np.full((720, 1280, 3), 110, np.uint8)
        _paste(canvas, real[t], 100 + 4 * t, 250)
        if t not in GAP:
            x = 900 + 4 * t if t < GAP[0] else 520 + 4 * t
            _paste(canvas, fake[t], x, 260)
            fake_at[t] = x
        frames.append((t * 30, canvas))
    return frames, fake_at


@pytest.mark.slow
def test_per_person_verdicts_on_a_two_person_clip(two_person_clip):
    frames, fake_at = two_person_clip
    det = Detector.from_weights(NAME, device="cpu")
    progress = []
    timer = StageTimer()
    res = det.predict_video(frames, progress=lambda done, total: progress.append((done, total)), timer=timer)
    assert progress[-1] == (N_SAMPLES, N_SAMPLES)
    assert [len(f.faces) for f in res.frames] == [1 if t in GAP else 2 for t in range(N_SAMPLES)]
    assert len(res.people) == 2, [p.frame_numbers for p in res.people]
    by_side = {}
    for p in res.people:
        xs = {res.frame_numbers[t]: float(res.frames[t].faces[j].box[0]) for t, j in p.faces}
        by_side["real" if all(x < 500 for x in xs.values()) else "fake"] = (p, xs)
    real, _ = by_side["real"]
    fake, fake_xs = by_side["fake"]
    assert real.frame_numbers == [t * 30 for t in range(N_SAMPLES)]
    # the fake person's track holds exactly the fake faces, rejoined after the gap by its descriptor
    assert sorted(fake_xs) == [t * 30 for t in fake_at]
    for t, x in fake_at.items():
        assert x <= fake_xs[t * 30] <= x + 170
    assert fake.prob > real.prob
    # each person's score is the video rule over their own faces; the clip score is max-per-frame then mean
    assert fake.prob == pytest.approx(sigmoid(float(np.mean(fake.logits))))
    frame_logits = [max(f.logit for f in fr.faces) for fr in res.frames]
    assert res.prob == pytest.approx(sigmoid(float(np.mean(frame_logits))))
    assert res.frame_policy == "max" and "most fake face" in res.rule
    assert fake.thumbnail is not None and fake.thumbnail.shape == (det.input_size, det.input_size, 3)
    assert set(res.timings_ms) >= {"detect", "landmarks", "crop", "network", "people"}
    # the batched video path gives the per-image path's scores
    single = det.predict_image(frames[0][1])
    np.testing.assert_allclose(sorted(f.logit for f in single.faces), sorted(f.logit for f in res.frames[0].faces),
                               atol=1e-4)
