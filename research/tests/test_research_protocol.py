"""The real-image validation protocol's parts: the name-hash halves, the renderings, calibration scores and the
band rule, the sweep, the selection rule, the face cache and the face-score floor, the fake clips, and the
command line's checks of the shared folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from laanet_research.cli import main
from laanet_research.face_cache import FaceCache
from laanet_research.fake_clips import fake_clip_probs
from laanet_research.halves import SPLIT_FOLDERS, hash_halves, split_folders
from laanet_research.photo_bands import CALIBRATION_PHOTOS, calibration_scores, photo_bands
from laanet_research.renderings import (
    SWEEP_HEIGHTS,
    at_height,
    calibration_renderings,
    quarter,
    selection_renderings,
    sweep_renderings,
    sweep_views,
)
from laanet_research.selection import choose_checkpoint, replacement_margin, rule_value
from laanet_research.shared_data import FAKE_CLIPS
from laanet_research.sweep import sweep_spreads, sweep_summary
from laanet_synth.imageio import write_image_atomic
from laanet_train.calibration import band_rule, calibrate_bands


def test_hash_halves_are_disjoint_stable_and_complete():
    paths = [Path(f"/x/p{i:02d}.jpg") for i in range(63)]
    sel, rep = hash_halves(paths)
    assert len(sel) == 32 and len(rep) == 31
    assert not set(sel) & set(rep) and set(sel) | set(rep) == set(paths)
    # the split depends on names only: order and added files do not move a photo between halves
    sel2, rep2 = hash_halves(list(reversed(paths)))
    assert sel2 == sel and rep2 == rep
    more_sel, more_rep = hash_halves(paths + [Path("/x/new.jpg")])
    assert len(set(sel) - set(more_sel)) <= 1 and len(set(rep) - set(more_rep)) <= 1
    # not simply the alphabetical first half
    assert sel != sorted(paths)[:32]


def test_quarter_shrinks_each_side_by_four_with_area_averaging():
    img = np.zeros((400, 300, 3), np.uint8)
    img[::2] = 255
    q = quarter(img)
    assert q.shape == (100, 75, 3)
    assert abs(int(q.mean()) - 127) <= 1 and q.std() < 1.0


def test_photo_bands_are_the_one_band_rule_on_the_calibration_photos():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0, 1, 1000)
    bands = photo_bands(probs)
    assert bands == calibrate_bands(probs, CALIBRATION_PHOTOS)
    assert bands["rule"] == band_rule(CALIBRATION_PHOTOS) and bands["n_calibration"] == 1000
    assert bands["fake_above"] == pytest.approx(np.quantile(probs, 0.99), abs=1e-4)


def test_both_split_folders_give_calibration_and_reported_halves(tmp_path: Path):
    img = np.full((40, 40, 3), 128, np.uint8)
    for folder, n in (("portraits", 7), ("realworld", 6), ("groups", 3)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            write_image_atomic(tmp_path / folder / f"{folder[0]}{i}.png", img)
        (tmp_path / folder / "notes.txt").write_text("not an image")
    halves = split_folders(tmp_path)
    assert tuple(halves) == SPLIT_FOLDERS == ("portraits", "realworld")
    assert [(len(s), len(r)) for s, r in halves.values()] == [(4, 3), (3, 3)]
    for sel, rep in halves.values():
        assert not set(sel) & set(rep) and all(p.suffix == ".png" for p in sel + rep)


class _RecordingScorer:
    """Stands in for a detector: a logit per key, ``None`` (no judged face) for keys it is told to miss."""

    def __init__(self, missing: set[str]) -> None:
        self.keys: list[str] = []
        self.shapes: list[tuple[int, ...]] = []
        self.missing = missing

    def frame_logit(self, key: str, image: np.ndarray) -> float | None:
        self.keys.append(key)
        self.shapes.append(image.shape)
        return None if key in self.missing else float(len(self.keys))


def test_calibration_scores_every_selection_photo_as_it_is_and_at_a_quarter(tmp_path: Path):
    paths = []
    for folder in ("portraits", "realworld"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "a.png")
        write_image_atomic(paths[-1], np.zeros((80, 120, 3), np.uint8))
    scorer = _RecordingScorer(missing={"realworld/a.png#quarter"})
    probs = calibration_scores(scorer, calibration_renderings(paths))  # type: ignore[arg-type]
    assert scorer.keys == ["portraits/a.png#full", "portraits/a.png#quarter", "realworld/a.png#full",
                           "realworld/a.png#quarter"]
    assert scorer.shapes[0] == (80, 120, 3) and scorer.shapes[1] == (20, 30, 3)
    # the rendering without a judged face adds no score; the others are the sigmoid of their logits
    np.testing.assert_allclose(probs, 1 / (1 + np.exp(-np.array([1.0, 2.0, 3.0]))))


def test_sweep_heights_resize_with_the_right_interpolation():
    img = np.zeros((600, 400, 3), np.uint8)
    img[::2] = 255  # a one-pixel stripe pattern: area averaging turns it grey, bicubic keeps the stripes
    small, large = at_height(img, 240), at_height(img, 1080)
    assert small.shape == (240, 160, 3) and large.shape == (1080, 720, 3)
    assert small.min() >= 90 and small.max() <= 165  # averaged, not aliased to black or white rows
    assert at_height(img, 600) is img
    assert SWEEP_HEIGHTS == (240, 480, 720, 1080)


def test_sweep_summary_counts_photos_within_the_tolerance():
    s = sweep_summary([0.01, 0.05, 0.3, 0.9], images=5)
    assert s == {"n": 4, "images": 5, "within_tolerance": 0.5, "median_prob_spread": 0.175, "max_prob_spread": 0.9}
    assert sweep_summary([], images=2) == {"n": 0, "images": 2}


def test_the_selection_rule_takes_the_best_mean_of_the_two_aucs():
    rows = {
        "epoch_0.pt": {"synthetic_val_auc": 0.95, "photos_vs_fakes_auc": 0.80},
        "epoch_1.pt": {"synthetic_val_auc": 0.92, "photos_vs_fakes_auc": 0.93},
        "epoch_2.pt": {"synthetic_val_auc": 0.93, "photos_vs_fakes_auc": 0.92},
    }
    assert choose_checkpoint(rows) == "epoch_1.pt"  # a tie goes to the first
    with pytest.raises(ValueError, match="no checkpoints"):
        choose_checkpoint({})


def test_the_selection_rule_weighs_the_sweep_share_like_each_auc():
    rows = {
        # the best two AUCs, but 10 of 59 selection photos move by more than 0.2 from 240p to 1080p
        "epoch_0.pt": {"synthetic_val_auc": 0.962, "photos_vs_fakes_auc": 0.931, "sweep_within": 0.8305},
        "epoch_1.pt": {"synthetic_val_auc": 0.946, "photos_vs_fakes_auc": 0.935, "sweep_within": 0.9492},
    }
    assert choose_checkpoint(rows) == "epoch_1.pt"
    assert rule_value(rows["epoch_1.pt"]) == pytest.approx((0.946 + 0.935 + 0.9492) / 3)
    # a row scored before the sweep joined the rule is ranked by its two AUCs
    assert rule_value({"synthetic_val_auc": 0.9, "photos_vs_fakes_auc": 0.8}) == pytest.approx(0.85)


def test_a_stated_rule_averages_exactly_its_measures():
    from laanet_research.selection import RULE_MEASURES, SELECTION_RULE_WITH_SWAPS, SELECTION_RULE_WITH_TAIL

    row = {"synthetic_val_auc": 0.96, "photos_vs_fakes_auc": 0.95, "sweep_within": 0.97, "sweep_photos": 59,
           "swap_auc": 0.82, "swaps_called_fake": 0.0, "card_fake_above": 0.986}
    # the four-measure rule ignores the tail its rows now also carry; the five-measure rule counts it
    assert rule_value(row, SELECTION_RULE_WITH_SWAPS) == pytest.approx((0.96 + 0.95 + 0.97 + 0.82) / 4)
    assert rule_value(row, SELECTION_RULE_WITH_TAIL) == pytest.approx((0.96 + 0.95 + 0.97 + 0.82) / 5)
    assert rule_value(row) == rule_value(row, SELECTION_RULE_WITH_SWAPS)  # the recorded searches' reading
    assert replacement_margin(row, SELECTION_RULE_WITH_TAIL) == pytest.approx(1 / (5 * 59))
    assert RULE_MEASURES[SELECTION_RULE_WITH_TAIL][-1] == "swaps_called_fake"
    # a lower AUC with a lower band (a tenth of the swaps called fake) wins by the five measures, not by four
    tail = dict(row, swap_auc=0.80, swaps_called_fake=0.10)
    rows = {"epoch_0.pt": row, "epoch_1.pt": tail}
    assert choose_checkpoint(rows, SELECTION_RULE_WITH_SWAPS) == "epoch_0.pt"
    assert choose_checkpoint(rows, SELECTION_RULE_WITH_TAIL) == "epoch_1.pt"
    with pytest.raises(ValueError, match="lacks swaps_called_fake"):
        rule_value({k: v for k, v in row.items() if k != "swaps_called_fake"}, SELECTION_RULE_WITH_TAIL)
    with pytest.raises(ValueError, match="not a stated selection rule"):
        rule_value(row, "highest mean of something else")


def test_a_replacement_must_lead_by_one_selection_photo_crossing_the_sweep():
    shipped = {"synthetic_val_auc": 0.958, "photos_vs_fakes_auc": 0.938, "sweep_within": 58 / 59, "sweep_photos": 59}
    margin = replacement_margin(shipped)
    assert margin == pytest.approx(1 / 177)
    # one more photo within the tolerance, AUCs unchanged: exactly the margin
    one_more = dict(shipped, sweep_within=1.0)
    assert rule_value(one_more) - rule_value(shipped) == pytest.approx(margin)
    # AUC gains of a few thousandths are not enough
    soup = dict(shipped, synthetic_val_auc=0.963, photos_vs_fakes_auc=0.939)
    assert 0 < rule_value(soup) - rule_value(shipped) < margin
    assert replacement_margin({"synthetic_val_auc": 0.9, "photos_vs_fakes_auc": 0.8}) == 0.0


def test_sweep_spreads_take_each_photos_probability_range_over_its_heights():
    class Logits:
        def __init__(self, table: dict[str, float | None]) -> None:
            self.table = table

        def frame_logit(self, key: str, image: np.ndarray) -> float | None:
            return self.table[key]

    img = np.zeros((300, 200, 3), np.uint8)
    views = sweep_views(img, "portraits/a.jpg") + sweep_views(img, "portraits/b.jpg")
    table: dict[str, float | None] = {k: 0.0 for k, _ in views}
    table["portraits/a.jpg#h1080"] = np.log(3.0)  # probability 0.75 against 0.5 at the other heights
    table["portraits/b.jpg#h240"] = None  # no judged face at 240p: the photo has no spread
    assert sweep_spreads(Logits(table), views) == [pytest.approx(0.25)]  # type: ignore[arg-type]


class _CountingFinder:
    """A detector stand-in whose ``find_faces`` returns one RetinaFace-convention face and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def find_faces(self, image: np.ndarray) -> list:
        from laanet_synth.faces import Face

        self.calls += 1
        lms = np.stack([np.linspace(10, 50, 68), np.linspace(12, 52, 68)], axis=1)
        return [Face(box=np.array([5, 6, 55, 60]), score=0.99, landmarks=lms, box_convention="retinaface")]


def test_face_cache_keeps_the_box_convention_across_a_save(tmp_path: Path):
    image = np.zeros((64, 64, 3), np.uint8)
    finder = _CountingFinder()
    cache = FaceCache(tmp_path, "retinaface")
    first = cache.faces("a", image, finder)
    cache.save()
    again = FaceCache(tmp_path, "retinaface").faces("a", image, finder)
    assert finder.calls == 1  # the second cache read the file
    for f in first + again:
        assert f.box_convention == "retinaface"  # so the crop uses the box as the Detector would
    np.testing.assert_allclose(again[0].box, [5, 6, 55, 60])
    # an entry written without the convention is found again rather than guessed
    import json

    stale = json.loads(cache.path.read_text())
    for d in stale["a"]:
        d.pop("box_convention")
    cache.path.write_text(json.dumps(stale))
    assert FaceCache(tmp_path, "retinaface").faces("a", image, finder)[0].box_convention == "retinaface"
    assert finder.calls == 2


def test_held_out_lfw_faces_exclude_whole_identities(lfw_dir: Path):
    from laanet_research.heldout import lfw_heldout
    from laanet_synth.dataset import FaceIndex

    test_people = np.unique(FaceIndex.from_lfw(lfw_dir, split="test").groups)
    excluded = set(test_people[::3].tolist())  # a third of the dev-test people, e.g. the validation's
    held = lfw_heldout(lfw_dir.parent, excluded, n=40)
    assert len(held) == 40 and len(set(held.groups.tolist())) == 40  # one face per person
    assert not set(held.groups.tolist()) & excluded  # no other photo of an excluded person slips in


@pytest.mark.parametrize("command", [["select", "RUN"], ["report", "laanet-lite0-sbi-lfw"], ["face-score"]])
def test_the_command_line_names_what_the_shared_folder_lacks(tmp_path: Path, capsys, command: list[str]) -> None:
    (tmp_path / "faces" / "portraits").mkdir(parents=True)
    args = [str(tmp_path) if a == "RUN" else a for a in command]
    # every command checks the folder before any face search or model load
    with pytest.raises(SystemExit) as exc:
        main([*args, "--shared", str(tmp_path)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "faces/realworld" in err and "faces/portraits," not in err
    assert ("lfw/landmarks68_dlib.npz" in err) == (command[0] != "face-score")  # face-score reads photos only
    assert ("dfdc-crops/real" in err) == (command[0] == "report")
    assert ("videos/0017_fake.mp4" in err) == (command[0] == "report")


def test_the_face_score_floor_is_the_largest_step_multiple_at_or_below_the_least_sure_top_face():
    from laanet_research.face_score import face_score_floor

    assert face_score_floor([0.999, 0.9836, 0.991]) == 0.95
    assert face_score_floor([0.999, 0.95]) == 0.95  # a minimum on a multiple is kept, not floored a step lower
    assert face_score_floor([0.94999]) == 0.9
    assert face_score_floor([0.873], step=0.1) == 0.8
    with pytest.raises(ValueError, match="no detections"):
        face_score_floor([])
    with pytest.raises(ValueError, match="step"):
        face_score_floor([0.9], step=0)


class _ListedFinder:
    """A detector stand-in that returns, per image key (the first pixel's value), the faces listed for it."""

    def __init__(self, faces: dict[int, list[tuple[float, float]]]) -> None:
        self.faces = faces

    def find_faces(self, image: np.ndarray) -> list:
        from laanet_synth.faces import Face

        lms = np.stack([np.linspace(10, 50, 68), np.linspace(12, 52, 68)], axis=1)
        return [Face(box=np.array([0, 0, w, w]), score=s, landmarks=lms, box_convention="retinaface")
                for w, s in self.faces[int(image[0, 0, 0])]]


def test_top_face_scores_take_each_renderings_surest_face_wide_enough_to_judge():
    from laanet_research.face_score import top_face_scores

    finder = _ListedFinder({
        1: [(80, 0.999), (40, 0.87)],  # a face and a stray box: the face counts
        2: [(20, 0.80), (60, 0.97)],  # the surer box is too small to judge: the judged one counts
        3: [(10, 0.99)],  # only a face too small to judge: the rendering adds nothing
        4: [],  # no face
    })
    renderings = [(f"k{v}", np.full((8, 8, 3), v, np.uint8)) for v in (1, 2, 3, 4)]
    tops = top_face_scores(finder, renderings, FaceCache(None, "retinaface"), min_face_size=32)
    np.testing.assert_allclose(tops, [0.999, 0.97])
    np.testing.assert_allclose(top_face_scores(finder, renderings, FaceCache(None, "retinaface")),
                               [0.999, 0.97, 0.99])


def test_sweep_renderings_are_keyed_as_the_reports_sweep(tmp_path: Path):
    (tmp_path / "portraits").mkdir()
    path = tmp_path / "portraits" / "a.png"
    write_image_atomic(path, np.zeros((600, 400, 3), np.uint8))
    out = sweep_renderings([path])
    assert [k for k, _ in out] == [f"portraits/a.png#h{h}" for h in SWEEP_HEIGHTS]
    assert [im.shape[0] for _, im in out] == list(SWEEP_HEIGHTS)


def test_selection_renderings_read_each_photo_once_and_match_the_separate_renderings(tmp_path: Path, monkeypatch):
    import laanet_synth.imageio as imageio

    (tmp_path / "portraits").mkdir()
    paths = [tmp_path / "portraits" / f"{n}.png" for n in ("a", "b")]
    for i, path in enumerate(paths):
        write_image_atomic(path, np.full((300, 200, 3), 40 * i, np.uint8))
    reads: list[Path] = []
    real_read = imageio.read_image
    monkeypatch.setattr(imageio, "read_image", lambda path: reads.append(Path(path)) or real_read(path))
    cal, sweep = selection_renderings(paths)
    assert reads == paths  # one read per photo
    for got, want in ((cal, calibration_renderings(paths)), (sweep, sweep_renderings(paths))):
        assert [k for k, _ in got] == [k for k, _ in want]
        assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(got, want, strict=True))


def test_face_score_names_selection_photos_without_a_face(tmp_path: Path, capsys) -> None:
    for folder in ("portraits", "realworld"):
        (tmp_path / "faces" / folder).mkdir(parents=True)
        write_image_atomic(tmp_path / "faces" / folder / "blank.png", np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(SystemExit) as exc:
        main(["face-score", "--shared", str(tmp_path)])
    assert exc.value.code == 2
    assert "no selection photo" in capsys.readouterr().err


def test_fake_clips_are_scored_as_the_command_line_scores_a_video(tmp_path: Path) -> None:
    """Each labelled clip goes through ``predict_video`` with the recipe's ``frames_per_video`` evenly spaced
    frames, decoded as RGB; its probability is kept under the clip's stem, and a clip with no judged face
    keeps ``None``."""
    from types import SimpleNamespace

    import cv2

    colours = {FAKE_CLIPS[0]: (200, 30, 30), FAKE_CLIPS[1]: (30, 30, 200)}  # RGB, one colour per clip
    for name, rgb in colours.items():
        writer = cv2.VideoWriter(str(tmp_path / name), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
        assert writer.isOpened(), "OpenCV cannot write mp4v videos here"
        for _ in range(20):
            writer.write(np.full((48, 64, 3), rgb[::-1], np.uint8))
        writer.release()

    seen: list[tuple[list[int], tuple[int, ...]]] = []

    class Stub:
        preprocessing = SimpleNamespace(frames_per_video=5)

        def predict_video(self, frames, people=True):
            assert people is False
            seen.append(([n for n, _ in frames], tuple(int(c) for c in frames[0][1][24, 32])))
            return SimpleNamespace(prob=0.123456 if len(seen) == 1 else None)

    probs = fake_clip_probs(Stub(), tmp_path)
    assert probs == {Path(FAKE_CLIPS[0]).stem: 0.1235, Path(FAKE_CLIPS[1]).stem: None}
    assert [numbers for numbers, _ in seen] == [[0, 4, 9, 14, 19]] * 2
    for (_, pixel), rgb in zip(seen, colours.values(), strict=True):
        assert np.abs(np.subtract(pixel, rgb)).max() <= 12  # RGB order, not OpenCV's BGR


def test_a_card_updated_by_a_report_takes_its_bands_rule_and_figures_and_keeps_the_rest() -> None:
    from laanet_research.card_update import updated_card

    card = {"name": "x", "thresholds": {"real_below": 0.1, "fake_above": 0.9}, "thresholds_rule": "old",
            "metrics": {"synthetic_val": {"auc": 0.9}, "real_photos": {"n": 1}}}
    report = {"thresholds": {"real_below": 0.3, "fake_above": 0.8, "rule": "new", "n_calibration": 114},
              "metrics": {"real_photos": {"n": 71}}}
    out = updated_card(card, report)
    assert out["thresholds"] == {"real_below": 0.3, "fake_above": 0.8} and out["thresholds_rule"] == "new"
    assert out["metrics"] == {"synthetic_val": {"auc": 0.9}, "real_photos": {"n": 71}}
    assert card["metrics"]["real_photos"] == {"n": 1}  # the card given is not changed


def test_report_refuses_to_write_a_card_into_the_installed_package(tmp_path: Path) -> None:
    import laanet_model
    from laanet_research.card_update import check_outside_packages

    with pytest.raises(ValueError, match="installed laanet_model package"):
        check_outside_packages(Path(laanet_model.__file__).parent / "assets" / "card.json")
    assert check_outside_packages(tmp_path / "card.json") == (tmp_path / "card.json").resolve()
