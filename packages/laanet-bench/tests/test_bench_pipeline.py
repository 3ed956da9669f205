"""The whole pipeline, end to end, on miniature datasets in each published layout.

Scores come from a Detector built on an untrained network: these tests check the plumbing (frames, faces,
crops, caches, aggregation, metrics, records), never the quality of the scores.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from laanet_bench.cache import EvalCache, ScoreEntry, item_fingerprint
from laanet_bench.datasets import LoadOptions, load_csv, load_dataset
from laanet_bench.evaluation import RunInfo, run_evaluation
from laanet_bench.frames import load_frames
from laanet_bench.metrics import BootstrapConfig
from laanet_bench.perturbations import Perturbation
from laanet_bench.pipeline import (
    EvalSettings,
    aggregate_entry,
    crop_tag,
    evaluate_items,
    extract_crops,
    resolve_settings,
    score_tag,
)
from laanet_bench.records import read_records
from laanet_bench.scorer import DetectorScorer
from laanet_model import Detector
from laanet_model.scoring import sigmoid
from sklearn import metrics as skm

FRAMES = 3
BOOT = BootstrapConfig(n_boot=50, seed=0)

LAYOUTS = {
    # name: (dataset, builder, load options, expected (n_real, n_fake) videos)
    "ffpp": ("ffpp", "ffpp", LoadOptions(methods=("Deepfakes",)), (4, 4)),
    "celebdf": ("celebdf", "celebdf", LoadOptions(), (2, 2)),
    "wilddeepfake": ("wilddeepfake", "wilddeepfake", LoadOptions(), (2, 2)),
    "dfd": ("dfd", "dfd", LoadOptions(), (2, 2)),
    "dfdcp": ("dfdcp", "dfdcp", LoadOptions(), (2, 2)),
    "dfdc": ("dfdc", "dfdc", LoadOptions(), (2, 2)),
}


def read_scores(path):
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return np.array([int(r["label"]) for r in rows]), np.array([float(r["score"]) for r in rows]), rows


def check_record_against_sklearn(out, rec):
    y, s, _ = read_scores(out / rec.scores_file)
    assert (int((y == 0).sum()), int((y == 1).sum())) == (rec.n_real, rec.n_fake)
    assert rec.auc == pytest.approx(skm.roc_auc_score(y, s), abs=1e-9)
    assert rec.ap == pytest.approx(skm.average_precision_score(y, s), abs=1e-9)
    assert rec.acc == pytest.approx(skm.accuracy_score(y, s >= 0.5), abs=1e-9)
    assert rec.ar == pytest.approx(skm.recall_score(y, s >= 0.5, average="macro"), abs=1e-9)
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    assert rec.eer == pytest.approx(fpr[np.nanargmin(np.abs(1 - tpr - fpr))], abs=1e-9)
    for name, (lo, hi) in rec.ci95.items():
        assert lo <= hi, name


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_end_to_end_on_each_published_layout(tmp_path, build, clips, scorer, layout):
    dataset, builder, options, (n_real, n_fake) = LAYOUTS[layout]
    root = getattr(build, builder)(tmp_path / layout, clips)
    items = load_dataset(dataset, root, options)
    out = tmp_path / "out"
    records, stats = run_evaluation(items, scorer, EvalSettings(n_frames=FRAMES), RunInfo(dataset), out,
                                    bootstrap=BOOT, progress=False)
    assert stats.computed == len(items) and stats.failed == 0
    video, frame = {r.level: r for r in records}["video"], {r.level: r for r in records}["frame"]
    assert (video.n_real, video.n_fake) == (n_real, n_fake)
    assert video.n_no_face == 0
    # every sampled frame of these clips shows one face
    assert frame.n_real + frame.n_fake == FRAMES * len(items)
    for rec in records:
        check_record_against_sklearn(out, rec)
        assert rec.weights_sha256 == scorer.weights_sha256 and rec.n_frames == FRAMES
    assert read_records(out) == records

    # the video score is the sigmoid of the mean frame logit, each frame the max over its faces
    cache = EvalCache(out / "cache")
    _, s, rows = read_scores(out / video.scores_file)
    by_key = {r["key"]: float(r["score"]) for r in rows}
    for item in items:
        entry = cache.load_scores(score_tag(scorer, EvalSettings(n_frames=FRAMES)), item_fingerprint(item))
        per_frame = [entry.logits[entry.frame_of_face == j].max() for j in np.unique(entry.frame_of_face)]
        assert by_key[item.key] == pytest.approx(float(sigmoid(np.mean(per_frame))), rel=1e-6)
        assert len(entry.frame_indices) == FRAMES


def test_official_frames_layout_end_to_end(tmp_path, build, clips, scorer):
    root = build.official_frames(tmp_path / "of", clips, ("original", "Deepfakes"))
    items = load_dataset("ffpp", root, LoadOptions(layout="official-frames"))
    records, _ = run_evaluation(items, scorer, EvalSettings(n_frames=FRAMES), RunInfo("ffpp", layout="official-frames"),
                                tmp_path / "out", bootstrap=BOOT, progress=False)
    assert {r.level: (r.n_real, r.n_fake) for r in records} == {"video": (2, 2), "frame": (6, 6)}
    for rec in records:
        check_record_against_sklearn(tmp_path / "out", rec)


def test_cache_reuse_across_settings(tmp_path, build, clips, scorer):
    root = build.dfdcp(tmp_path / "d", clips)
    items = load_dataset("dfdcp", root)
    out = tmp_path / "out"
    base = EvalSettings(n_frames=FRAMES, tta="none")  # not the recipe's flip test, which this test turns on below
    first, s1 = run_evaluation(items, scorer, base, RunInfo("dfdcp"), out, bootstrap=BOOT, progress=False)
    crop_files = sorted((out / "cache" / "crops").rglob("*.npz"))
    stamps = {p: p.stat().st_mtime_ns for p in crop_files}
    assert len(crop_files) == len(items)
    again, s2 = run_evaluation(items, scorer, base, RunInfo("dfdcp"), out, bootstrap=BOOT, progress=False)
    assert (s2.cached, s2.computed) == (len(items), 0)
    assert [r.auc for r in again] == [r.auc for r in first]
    # the face policy is applied after the cache: no recomputation
    _, s3 = run_evaluation(items, scorer, replace(base, face_policy="largest"), RunInfo("dfdcp"), out,
                           bootstrap=BOOT, progress=False)
    assert s3.cached == len(items)
    # flip TTA needs new logits but reuses the crops
    flip = replace(base, tta="flip")
    assert score_tag(scorer, flip) != score_tag(scorer, base) and crop_tag(scorer, flip) == crop_tag(scorer, base)
    recs, s4 = run_evaluation(items, scorer, flip, RunInfo("dfdcp"), out, bootstrap=BOOT, progress=False)
    assert s4.computed == len(items)
    assert {p: p.stat().st_mtime_ns for p in crop_files} == stamps
    assert all(r.tta == "flip" for r in recs)
    cache = EvalCache(out / "cache")
    item = items[0]
    crops = cache.load_crops(crop_tag(scorer, base), item_fingerprint(item))
    plain = scorer.crop_logits(crops.crops)
    mirrored = scorer.crop_logits(np.ascontiguousarray(crops.crops[:, :, ::-1]))
    stored = cache.load_scores(score_tag(scorer, flip), item_fingerprint(item)).logits
    np.testing.assert_allclose(stored, (plain + mirrored) / 2, rtol=1e-5, atol=1e-6)


def test_an_items_frames_are_detected_together_with_the_faces_of_each_frame(tmp_path, build, clips, scorer,
                                                                             monkeypatch):
    item = load_dataset("dfd", build.dfd(tmp_path / "d", clips))[0]
    calls = []
    batched = scorer.find_faces_batch

    def counting(images):
        calls.append(len(images))
        return batched(images)

    monkeypatch.setattr(scorer, "find_faces_batch", counting)
    entry = extract_crops(item, scorer, EvalSettings(n_frames=FRAMES))
    assert calls == [FRAMES]
    # the same crops and boxes as finding the faces frame by frame
    cuts = [scorer.crop_faces(im, scorer.detector.find_faces(im)) for im in load_frames(item, FRAMES).images]
    np.testing.assert_array_equal(entry.crops, np.stack([c for cut in cuts for c in cut.images]))
    np.testing.assert_array_equal(entry.boxes, np.stack([b for cut in cuts for b in cut.boxes]))
    np.testing.assert_array_equal(entry.frame_of_face, [j for j, cut in enumerate(cuts) for _ in cut.images])


class LeftRightNet(torch.nn.Module):
    """A network whose class logit is the left-half minus the right-half mean: mirroring negates it."""

    head_names = ("hm", "cls")

    def forward(self, x, heads=("hm", "cls")):
        half = x.shape[3] // 2
        cls = (x[..., :half].mean(dim=(1, 2, 3)) - x[..., -half:].mean(dim=(1, 2, 3))) * 10.0
        hm = x.new_zeros((x.shape[0], 1, x.shape[2] // 4, x.shape[3] // 4))
        return {"cls": cls[:, None], "hm": hm}


def test_flip_tta_averages_the_mirror_logit(tmp_path, build, clips, scorer):
    items = load_dataset("dfd", build.dfd(tmp_path / "d", clips))
    det = scorer.detector
    lr = DetectorScorer(Detector(LeftRightNet(), det.preprocessing, face_finder=det.face_finder, device="cpu"),
                        "left-right", "1" * 64)
    cache = EvalCache(tmp_path / "cache")
    plain, _ = evaluate_items(items, lr, EvalSettings(n_frames=2, tta="none"), cache, progress=False)
    flipped, _ = evaluate_items(items, lr, EvalSettings(n_frames=2, tta="flip"), cache, progress=False)
    assert max(abs(r.video_prob - 0.5) for r in plain) > 0.01
    assert max(abs(r.video_prob - 0.5) for r in flipped) < 1e-5  # float32 network: the two halves are summed in different orders


def test_perturbed_run_is_recorded_with_its_setting(tmp_path, build, clips, scorer):
    root = build.dfdc(tmp_path / "d", clips)
    items = load_dataset("dfdc", root)
    settings = EvalSettings(n_frames=2, perturbation=Perturbation("GB", 5))
    records, _ = run_evaluation(items, scorer, settings, RunInfo("dfdc"), tmp_path / "out", levels=("video",),
                                bootstrap=BOOT, progress=False)
    (rec,) = records
    assert (rec.perturbation, rec.perturbation_level, rec.perturbation_param) == ("GB", 5, 21.0)
    assert crop_tag(scorer, settings) != crop_tag(scorer, replace(settings, perturbation=None))


def test_unreadable_video_is_skipped_and_counted(tmp_path, clips, scorer):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    rows = [f"{c.video},{c.label}" for c in clips[:2] + clips[-2:]] + [f"{bad},1"]
    (tmp_path / "list.csv").write_text("\n".join(rows) + "\n")
    items = load_csv(tmp_path / "list.csv", LoadOptions())
    with pytest.warns(UserWarning, match="broken.mp4"):
        records, stats = run_evaluation(items, scorer, EvalSettings(n_frames=2), RunInfo("list"), tmp_path / "out",
                                        levels=("video",), bootstrap=BOOT, progress=False)
    assert stats.failed == 1 and records[0].extra["n_failed"] == 1
    assert (records[0].n_real, records[0].n_fake) == (2, 2)


def test_generic_csv_on_dfdc_crops(tmp_path, shared_data, scorer):
    rows = ["path,label,group"]
    for label, folder in ((0, "real"), (1, "fake")):
        for p in sorted((shared_data / "dfdc-crops" / folder).glob("*.jpg")):
            rows.append(f"{p},{label},{p.stem.split('_')[0]}")
    (tmp_path / "crops.csv").write_text("\n".join(rows) + "\n")
    items = [replace(it, pre_cropped=True) for it in load_csv(tmp_path / "crops.csv", LoadOptions())]
    records, stats = run_evaluation(items, scorer, EvalSettings(), RunInfo("dfdc-crops", layout="csv"),
                                    tmp_path / "out", bootstrap=BOOT, progress=False)
    levels = {r.level: r for r in records}
    assert (levels["video"].n_real, levels["video"].n_fake) == (32, 28)
    assert (levels["frame"].n_real, levels["frame"].n_fake) == (34, 33)
    for rec in records:
        check_record_against_sklearn(tmp_path / "out", rec)


def test_generic_csv_on_shared_videos(tmp_path, shared_data, scorer):
    videos = sorted((shared_data / "videos").glob("*.mp4"))
    rows = [f"{p},{int(p.stem.endswith('_fake'))}" for p in videos]
    (tmp_path / "videos.csv").write_text("\n".join(rows) + "\n")
    items = load_csv(tmp_path / "videos.csv", LoadOptions())
    records, stats = run_evaluation(items, scorer, EvalSettings(n_frames=2), RunInfo("videos", layout="csv"),
                                    tmp_path / "out", levels=("video",), bootstrap=BOOT, progress=False)
    assert stats.failed == 0 and stats.computed == len(videos) == 8
    (rec,) = records
    assert (rec.n_real, rec.n_fake) == (6, 2)
    assert rec.n_no_face <= 2
    line = json.loads((tmp_path / "out" / "records.jsonl").read_text().splitlines()[0])
    assert {"dataset", "level", "auc", "ap", "n_real", "n_fake", "weights_sha256"} <= set(line)


def test_unset_settings_come_from_the_recipe_and_given_ones_win(scorer):
    pre = scorer.preprocessing
    got = resolve_settings(EvalSettings(), scorer)
    assert (got.n_frames, got.face_policy, got.no_face) == (pre.frames_per_video, pre.frame_policy, pre.no_face)
    assert got.tta == ("flip" if pre.flip_test else "none")
    assert set(got.from_recipe) == {"n_frames", "face_policy", "tta", "no_face"}
    given = resolve_settings(EvalSettings(n_frames=3, tta="none", no_face="no_score"), scorer)
    assert (given.n_frames, given.tta, given.no_face) == (3, "none", "no_score")
    assert set(given.from_recipe) == {"face_policy"}
    assert resolve_settings(given, scorer) == given


@pytest.mark.parametrize(("rule", "frames", "video"), [
    # frame 0 has two faces (logits 1 and 3), frames 1 and 2 none (frame 1's whole frame scored -2)
    ("whole_image", [3.0, -2.0], 3.0),
    ("chance", [3.0, 0.0, 0.0], 3.0),
    ("no_score", [3.0], 3.0),
])
def test_frames_without_a_face_follow_the_no_face_rule(scorer, rule, frames, video):
    whole = rule == "whole_image"
    entry = ScoreEntry(logits=np.array([1.0, 3.0] + ([-2.0] if whole else [])),
                       frame_of_face=np.array([0, 0] + ([1] if whole else [])),
                       areas=np.array([10.0, 5.0] + ([99.0] if whole else [])), frame_indices=np.array([0, 5, 9]),
                       whole=np.array([False, False] + ([True] if whole else [])))
    logits, prob, n_no_face = aggregate_entry(entry, scorer, EvalSettings(no_face=rule))
    assert logits.tolist() == frames and n_no_face == 2
    assert prob == pytest.approx(float(sigmoid(video)))  # a video with a judged face: its faces alone


@pytest.mark.parametrize(("rule", "video"), [("whole_image", -1.0), ("chance", 0.0), ("no_score", None)])
def test_a_video_with_no_judged_face_gets_the_rule(scorer, rule, video):
    whole = rule == "whole_image"
    entry = ScoreEntry(logits=np.array([-2.0, 0.0] if whole else []), frame_of_face=np.array([0, 1] if whole else [],
                       dtype=np.int64), areas=np.array([99.0, 99.0] if whole else []), frame_indices=np.array([0, 5]),
                       whole=np.array([True, True] if whole else [], dtype=bool))
    _, prob, n_no_face = aggregate_entry(entry, scorer, EvalSettings(no_face=rule))
    assert n_no_face == 2
    assert prob == (None if video is None else pytest.approx(float(sigmoid(video))))
