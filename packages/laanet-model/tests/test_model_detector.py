"""Detector: crops and images in, per-face probabilities and heatmaps out; scoring rules."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from laanet_model import Detector, create_model
from laanet_model.checkpoints import save_weights
from laanet_model.detector import DetectorInputError
from laanet_model.scoring import frame_score, sigmoid, verdict, video_score
from laanet_model.weights import Preprocessing, Thresholds, preprocessing_to_dict

SIZE = 128


@pytest.fixture(scope="module")
def lite_weights(tmp_path_factory) -> Path:
    torch.manual_seed(11)
    model = create_model("laanet_efficientnet_lite0", input_size=SIZE)
    from laanet_synth.crops import recipe_for_size

    pre = Preprocessing(crop=recipe_for_size(SIZE), flip_test=True)
    card = {
        "variant": "laanet_efficientnet_lite0",
        "preprocessing": preprocessing_to_dict(pre),
        "thresholds": {"real_below": 0.3, "fake_above": 0.7},
        "metrics": {"val_auc": 0.5},
    }
    return save_weights(model, tmp_path_factory.mktemp("w") / "tiny", card)


@pytest.fixture(scope="module")
def detector(lite_weights: Path) -> Detector:
    return Detector.from_weights(lite_weights, device="cpu", batch_size=3)


@pytest.fixture(scope="module")
def portrait(detector: Detector, shared_data: Path) -> tuple[np.ndarray, object]:
    """A real portrait (``faces/portraits/img1.jpg``) and the detector's prediction for it, made once."""
    from laanet_synth.imageio import read_image

    image = read_image(shared_data / "faces" / "portraits" / "img1.jpg")
    return image, detector.predict_image(image)


def _crops(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, SIZE, SIZE, 3), dtype=np.uint8)


def _manual(detector: Detector, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255.0
    x = (x - 0.5) / 0.5
    with torch.inference_mode():
        a = detector.model(x, heads=("hm", "cls"))
        b = detector.model(x.flip(3), heads=("hm", "cls"))
    logits = ((a["cls"] + b["cls"]) / 2).reshape(-1).numpy()
    hm = ((a["hm"] + b["hm"].flip(3)) / 2)[:, 0]
    return logits, torch.clamp(torch.sigmoid(hm), 1e-4, 1 - 1e-4).numpy()


def test_model_detector_flip_test_can_be_overridden_per_call(detector: Detector) -> None:
    crops = _crops(3, seed=5)
    plain = np.array([p.logit for p in detector.predict_crops(crops, flip_test=False)])
    mirrored = np.array([p.logit for p in detector.predict_crops(crops[:, :, ::-1].copy(), flip_test=False)])
    flipped = np.array([p.logit for p in detector.predict_crops(crops, flip_test=True)])
    default = np.array([p.logit for p in detector.predict_crops(crops)])
    assert detector.preprocessing.flip_test
    np.testing.assert_allclose(flipped, (plain + mirrored) / 2, atol=1e-5)
    np.testing.assert_array_equal(default, flipped)
    assert np.abs(plain - flipped).max() > 1e-4  # the override really changes the scores


def test_model_detector_card_recipe_and_thresholds(detector: Detector) -> None:
    assert detector.input_size == SIZE
    assert detector.thresholds == Thresholds(0.3, 0.7)
    assert detector.spec is not None and detector.spec.metrics == {"val_auc": 0.5}
    assert (
        detector.verdict(0.1) == "real"
        and detector.verdict(0.9) == "fake"
        and detector.verdict(0.5) == "uncertain"
    )


def test_model_detector_predict_crops_matches_manual_flip_test(detector: Detector) -> None:
    crops = _crops(4)
    preds = detector.predict_crops(crops)
    logits, heat = _manual(detector, crops)
    assert len(preds) == 4
    for p, logit, h in zip(preds, logits, heat, strict=True):
        assert p.logit == pytest.approx(float(logit), abs=1e-5)
        assert p.prob == pytest.approx(sigmoid(p.logit))
        assert p.heatmap.shape == (SIZE // 4, SIZE // 4) and p.heatmap.dtype == np.float32
        np.testing.assert_allclose(p.heatmap, h, atol=1e-5)
        assert p.heatmap.min() >= 1e-4 - 1e-7 and p.heatmap.max() <= 1 - 1e-4 + 1e-7
        assert p.heatmap_crop.shape == (SIZE, SIZE)
        assert abs(float(p.heatmap_crop.mean()) - float(p.heatmap.mean())) < 0.05
    # Batching does not change results.
    one = Detector(detector.model, detector.preprocessing, device="cpu", batch_size=1).predict_crops(crops)
    assert [p.logit for p in one] == pytest.approx([p.logit for p in preds], abs=1e-5)


def test_model_detector_heatmap_of_mirror_is_mirrored_back(detector: Detector) -> None:
    half = _crops(1, seed=5)[0, :, : SIZE // 2]
    symmetric = np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], axis=1))
    heat = detector.predict_crops([symmetric])[0].heatmap
    np.testing.assert_allclose(heat, heat[:, ::-1], atol=1e-5)


def test_model_detector_rejects_bad_crops(detector: Detector) -> None:
    with pytest.raises(DetectorInputError, match=rf"\({SIZE}, {SIZE}, 3\)"):
        detector.predict_crops([np.zeros((64, 64, 3), np.uint8)])
    with pytest.raises(DetectorInputError, match="uint8"):
        detector.predict_crops([np.zeros((SIZE, SIZE, 3), np.float32)])
    assert detector.predict_crops([]) == []
    with pytest.raises(DetectorInputError, match="RGB uint8 image"):
        detector.predict_image(np.zeros((10, 10), np.float64))


def test_model_detector_official_float64_path_agrees(lite_weights: Path, detector: Detector) -> None:
    f64 = Detector.from_weights(lite_weights, device="cpu", official_float64=True)
    assert next(f64.model.parameters()).dtype == torch.float64
    crops = _crops(1, seed=3)
    a = [p.logit for p in detector.predict_crops(crops)]
    b = [p.logit for p in f64.predict_crops(crops)]
    assert a == pytest.approx(b, abs=1e-3)


def test_model_detector_predict_image_on_real_portrait(detector: Detector, portrait) -> None:
    from laanet_synth.crops import apply_affine

    image, res = portrait
    assert res.image_size == image.shape[:2]
    assert len(res.faces) >= 1
    face = res.faces[0]
    assert face.crop is not None and face.crop.shape == (SIZE, SIZE, 3)
    assert face.crop_matrix is not None and face.crop_matrix.shape == (2, 3)
    assert face.box is not None and face.area > 0
    # The matrix maps the face's landmarks into the crop (the eyes land inside it).
    pts = apply_affine(face.landmarks, face.crop_matrix)
    eyes = pts[36:48]
    assert ((eyes > 0) & (eyes < SIZE)).all()
    # Scoring the crop directly gives the same logit.
    again = detector.predict_crops([face.crop])[0]
    assert again.logit == pytest.approx(face.logit, abs=1e-5)
    assert res.prob("max") == pytest.approx(max(sigmoid(f.logit) for f in res.faces))
    # Given faces are used as they are.
    given = detector.predict_image(image, faces=[])
    assert given.faces == [] and given.prob() is None


def test_model_scoring_rules() -> None:
    assert frame_score([0.1, 2.0, -1.0]) == 2.0
    assert frame_score([0.1, 2.0], policy="largest") == 0.1
    assert frame_score([0.1, 2.0], policy="largest", areas=[10, 20]) == 2.0
    assert frame_score([]) is None
    with pytest.raises(ValueError, match="policy"):
        frame_score([1.0], policy="median")
    assert video_score([0.0, 2.0, None, -1.0]) == pytest.approx(1 / (1 + math.exp(-1 / 3)))
    with pytest.raises(ValueError):
        video_score([None])
    assert verdict(0.2, Thresholds(0.4, 0.6)) == "real"
    assert verdict(0.6, (0.4, 0.6)) == "uncertain"
    assert verdict(0.61, (0.4, 0.6)) == "fake"
    with pytest.raises(ValueError):
        verdict(1.5, (0.4, 0.6))
    with pytest.raises(ValueError):
        verdict(0.5, (0.7, 0.6))
    assert sigmoid(-1000.0) == 0.0 and sigmoid(1000.0) == 1.0


def test_model_detector_official_pth_gets_official_recipe(
    tmp_path: Path, official_checkpoint_path: Path
) -> None:
    from laanet_model.weights import WEIGHTS

    bi_file = tmp_path / WEIGHTS["laanet-official-bi"].file_name
    bi_file.symlink_to(official_checkpoint_path)
    det = Detector.from_weights(bi_file, device="cpu")
    assert det.spec is not None and det.spec.name == "laanet-official-bi"
    assert det.preprocessing.crop.window == (18, 299, 18, 299) and det.input_size == 384
    other = tmp_path / "my_finetune.pth"
    other.symlink_to(official_checkpoint_path)
    det2 = Detector.from_weights(other, device="cpu", official_float64=True)
    assert det2.spec is not None and det2.spec.name == "my_finetune"
    assert det2.preprocessing.crop.border_trim == 5 and det2.preprocessing.flip_test
    assert next(det2.model.parameters()).dtype == torch.float64
    assert det2.thresholds == WEIGHTS["laanet-official-sbi"].thresholds


def test_model_detector_faces_below_min_face_size_are_not_judged(detector: Detector, portrait) -> None:
    import dataclasses

    from laanet_model.detector import too_small_reason
    from laanet_synth.faces import Face

    assert Preprocessing().min_face_size == 32 and detector.preprocessing.min_face_size == 32
    image, found = portrait
    big = found.faces[0]
    lms = np.asarray(big.landmarks, np.float32)
    # the same face shrunk to 20 px wide, placed in a corner: found (given), but not judged
    x1, y1, x2, y2 = (float(v) for v in big.box)
    s = 20.0 / (x2 - x1)
    tiny = Face(box=np.array([10, 10, 10 + (x2 - x1) * s, 10 + (y2 - y1) * s], np.float32), score=1.0,
                landmarks=(lms - [x1, y1]) * s + 10)
    face_big = Face(box=np.asarray(big.box), score=1.0, landmarks=lms)
    res = detector.predict_image(image, faces=[face_big, tiny])
    assert len(res.faces) == 1 and len(res.not_judged) == 1 and res.skipped == 0
    assert res.not_judged[0].reason == too_small_reason(20.0, 32)
    assert "20 px wide" in res.not_judged[0].reason and "at least 32 px" in res.not_judged[0].reason
    # a face that is not judged counts in no frame score
    assert res.frame_logit("max") == pytest.approx(res.faces[0].logit)
    only_tiny = detector.predict_image(image, faces=[tiny])
    assert only_tiny.faces == [] and only_tiny.prob() is None and len(only_tiny.not_judged) == 1
    # the threshold comes from the recipe (and the card): 0 judges every face
    relaxed = Detector(detector.model, dataclasses.replace(detector.preprocessing, min_face_size=0), device="cpu")
    assert len(relaxed.predict_image(image, faces=[tiny]).faces) == 1
    assert too_small_reason(32.0, 32) is None
    with pytest.raises(ValueError, match="min_face_size"):
        Preprocessing(min_face_size=-1)


def test_model_detector_detections_below_min_face_score_are_not_judged(detector: Detector, portrait) -> None:
    import dataclasses

    from laanet_model.detector import unsure_face_reason
    from laanet_synth.faces import Face

    assert Preprocessing().min_face_score is None and detector.preprocessing.min_face_score is None
    image, found = portrait
    big = found.faces[0]
    sure = Face(box=np.asarray(big.box), score=0.99, landmarks=np.asarray(big.landmarks, np.float32))
    unsure = dataclasses.replace(sure, score=0.87)
    # without a floor every face found is judged
    assert len(detector.predict_image(image, faces=[sure, unsure]).faces) == 2
    strict = Detector(detector.model, dataclasses.replace(detector.preprocessing, min_face_score=0.95), device="cpu")
    res = strict.predict_image(image, faces=[sure, unsure])
    assert len(res.faces) == 1 and res.faces[0].detector_score == pytest.approx(0.99)
    assert len(res.not_judged) == 1 and res.not_judged[0].detector_score == pytest.approx(0.87)
    assert res.not_judged[0].reason == unsure_face_reason(0.87, 0.95)
    assert "confidence 0.870" in res.not_judged[0].reason and "from 0.95" in res.not_judged[0].reason
    # the unsure detection counts in no frame score, and an image of only unsure detections has none
    assert res.frame_logit() == pytest.approx(res.faces[0].logit)
    assert strict.predict_image(image, faces=[unsure]).prob() is None
    # the floor is inclusive; a finder without a confidence is not held to it
    assert unsure_face_reason(0.95, 0.95) is None and unsure_face_reason(None, 0.95) is None
    # a face too small to judge is reported as too small, whatever its confidence
    tiny = Face(box=np.array([0, 0, 20, 20], np.float32), score=0.5, landmarks=np.asarray(big.landmarks, np.float32))
    assert "too small" in strict.predict_image(image, faces=[tiny]).not_judged[0].reason
    with pytest.raises(ValueError, match="min_face_score"):
        Preprocessing(min_face_score=float("nan"))



class _NoFaces:
    """A face finder that never finds a face."""

    def find(self, image: np.ndarray) -> list:
        return []


@pytest.mark.parametrize("rule", ["no_score", "chance", "whole_image"])
def test_model_detector_no_face_rule_of_the_recipe(detector: Detector, rule: str) -> None:
    import dataclasses

    from laanet_model.scoring import clip_score

    pre = dataclasses.replace(detector.preprocessing, no_face=rule)
    det = Detector(detector.model, pre, face_finder=_NoFaces(), device="cpu")
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (90, 150, 3), dtype=np.uint8)
    pred = det.predict_image(image)
    assert pred.faces == [] and pred.prob() is None and pred.frame_logit() is None
    whole = det.predict_crops([det.whole_image_crop(image)])[0].logit
    want = {"no_score": None, "chance": 0.0, "whole_image": whole}[rule]
    assert pred.no_face_logit == (None if want is None else pytest.approx(want, abs=1e-6))
    assert pred.score() == (None if want is None else pytest.approx(sigmoid(want), abs=1e-6))
    assert det.whole_image_crop(image).shape == (SIZE, SIZE, 3)
    # a video none of whose frames has a face: the rule over every frame
    frames = [(0, image), (5, image[:, ::-1].copy())]
    vid = det.predict_video(frames, people=False)
    per_frame = [det.no_face_logit(im) for _, im in frames]
    assert vid.frame_logits == [None, None]
    assert vid.prob == (None if want is None else pytest.approx(clip_score([None, None], per_frame), abs=1e-6))


class _FaceInBrightImages:
    """A face finder that finds one face (template landmarks) in images whose top-left pixel is white."""

    def find(self, image: np.ndarray) -> list:
        from laanet_synth.faces import Face
        from laanet_synth.landmarks import template_landmarks

        if image[0, 0, 0] != 255:
            return []
        lms = template_landmarks(image.shape[1] / 2, image.shape[0] / 2, 0.5)
        return [Face(box=np.concatenate([lms.min(0), lms.max(0)]), score=0.99, landmarks=lms)]


def test_model_detector_scores_each_image_once_faces_and_whole_images_together(
        detector: Detector, network_passes) -> None:
    # the whole-image rule's score is the answer for a faceless image, scored in the same pass as the faces
    import dataclasses

    pre = dataclasses.replace(detector.preprocessing, no_face="whole_image")
    det = Detector(detector.model, pre, face_finder=_FaceInBrightImages(), device="cpu", batch_size=3)
    rng = np.random.default_rng(5)
    faceless = [rng.integers(0, 200, (160, 200, 3), dtype=np.uint8) for _ in range(2)]
    with_face = rng.integers(0, 200, (160, 200, 3), dtype=np.uint8)
    with_face[0, 0] = 255
    alone = {k: det.predict_image(im) for k, im in enumerate(faceless)}
    face_alone = det.predict_image(with_face)
    rows = network_passes(det)
    preds = det.predict_frames([faceless[0], with_face, faceless[1]])
    assert rows == [3]  # one face and two whole images: one pass
    assert [len(p.faces) for p in preds] == [0, 1, 0] and preds[1].no_face_logit is None
    assert preds[1].faces[0].logit == pytest.approx(face_alone.faces[0].logit, abs=1e-5)
    for pred, k in ((preds[0], 0), (preds[2], 1)):
        assert pred.no_face_logit == pytest.approx(alone[k].no_face_logit, abs=1e-5)
    rows.clear()
    assert det.predict_image(faceless[0]).score() == pytest.approx(alone[0].score(), abs=1e-12)
    assert rows == [1]  # a faceless image: the whole image, once
    rows.clear()
    vid = det.predict_video([(n, faceless[n % 2]) for n in range(3)], people=False)
    assert rows == [3] and vid.prob is not None  # a video without faces: its frames scored whole together


def test_model_scoring_clip_score_prefers_frames_with_faces() -> None:
    from laanet_model.scoring import clip_score

    assert clip_score([1.0, None, 3.0], [None, -9.0, None]) == pytest.approx(sigmoid(2.0))
    assert clip_score([None, None], [0.0, 2.0]) == pytest.approx(sigmoid(1.0))
    assert clip_score([None], [None]) is None and clip_score([], []) is None


def test_model_recipe_checks_its_no_face_rule_and_frames() -> None:
    with pytest.raises(ValueError, match="no_face must be one of"):
        Preprocessing(no_face="0.5")
    with pytest.raises(ValueError, match="frames_per_video"):
        Preprocessing(frames_per_video=0)
