from __future__ import annotations

import pickle

import numpy as np
import pytest
from laanet_synth.faces import (
    DlibFaceFinder,
    Face,
    FaceAlignmentFinder,
    FaceDescriber,
    FaceFinder,
    FaceFinderError,
    InvalidImageError,
    ShapePredictor68,
    make_face_finder,
)
from laanet_synth.imageio import read_image
from laanet_synth.landmarks import read_pts


def test_make_face_finder_and_protocol():
    f = make_face_finder("dlib")
    assert isinstance(f, DlibFaceFinder) and isinstance(f, FaceFinder)
    assert isinstance(make_face_finder(), FaceFinder)
    assert f._detector is None  # lazy: nothing loaded yet
    with pytest.raises(ValueError, match="unknown face finder"):
        make_face_finder("nope")


def test_face_validates_shapes():
    with pytest.raises(ValueError, match="68, 2"):
        Face(box=np.zeros(4), score=1.0, landmarks=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="4 values"):
        Face(box=np.zeros(3), score=1.0, landmarks=np.zeros((68, 2)))


def test_bad_image_input():
    f = DlibFaceFinder()
    with pytest.raises(InvalidImageError, match="uint8"):
        f.find(np.zeros((10, 10, 3), np.float32))
    with pytest.raises(InvalidImageError, match=r"\(H, W, 3\)"):
        f.find(np.zeros((10, 10), np.uint8))


def test_blank_image_has_no_face(finder):
    finder.upsample_schedule = (0, 1)
    assert finder.find(np.zeros((120, 160, 3), np.uint8)) == []


def test_face_alignment_missing_is_clear(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(FaceFinderError, match=r"face-alignment|2DFAN4"):
        FaceAlignmentFinder().find(np.zeros((32, 32, 3), np.uint8))


def test_dlib_model_files_missing_are_clear(tmp_path):
    missing = tmp_path / "nope.dat"
    image = np.zeros((32, 32, 3), np.uint8)
    face = Face(box=np.array([0, 0, 20, 20]), score=1.0, landmarks=np.full((68, 2), 10.0))
    calls = [
        (lambda: ShapePredictor68(missing).predict(image, face.box), ShapePredictor68),
        (lambda: FaceDescriber(missing).describe(image, face), FaceDescriber),
        (lambda: DlibFaceFinder(predictor_path=str(missing)).find(image), ShapePredictor68),
    ]
    for call, cls in calls:
        message = f"{cls.what} not found at .*nope.dat; expected {cls.file_name}"
        with pytest.raises(FaceFinderError, match=message):
            call()
    assert (ShapePredictor68.what, FaceDescriber.what) == ("68-point predictor", "face descriptor model")


def test_dlib_model_files_default_and_pickle_without_the_model():
    predictor, describer = ShapePredictor68(), FaceDescriber()
    assert predictor.path.name == "shape_predictor_68_face_landmarks.dat" and predictor.path.is_file()
    assert describer.path.name == "dlib_face_recognition_resnet_model_v1.dat" and describer.path.is_file()
    assert predictor.model() is predictor.model()  # loaded once
    clone = pickle.loads(pickle.dumps(predictor))
    assert clone.path == predictor.path and clone._model is None


@pytest.fixture(scope="module")
def finder() -> DlibFaceFinder:
    return DlibFaceFinder()


def _best_match(finder: DlibFaceFinder, image: np.ndarray, gt: np.ndarray) -> Face | None:
    centre = gt.mean(0)
    for up in (0, 1, 2):
        finder.upsample_schedule = (up,)
        faces = finder.find(image)
        inside = [f for f in faces if f.box[0] <= centre[0] <= f.box[2] and f.box[1] <= centre[1] <= f.box[3]]
        if inside:
            return min(inside, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - centre))
    return None


def test_landmark_accuracy_against_ground_truth(shared_data, finder):
    folder = shared_data / "faces" / "landmarks68"
    errors = {}
    for pts in sorted(folder.glob("*.pts")):
        image_path = next(p for p in folder.iterdir() if p.stem == pts.stem and p.suffix != ".pts")
        gt = read_pts(pts)
        face = _best_match(finder, read_image(image_path), gt)
        assert face is not None, f"no face found near the ground truth in {image_path.name}"
        iod = np.linalg.norm(gt[36] - gt[45])
        errors[pts.stem] = float(np.linalg.norm(face.landmarks - gt, axis=1).mean() / iod)
    assert len(errors) >= 3
    assert max(errors.values()) < 0.08, errors
    assert np.mean(list(errors.values())) < 0.06, errors


def test_large_frame_is_downscaled_and_mapped_back(shared_data):
    img = read_image(shared_data / "faces" / "landmarks68" / "takeo.ppm")
    gt = read_pts(shared_data / "faces" / "landmarks68" / "takeo.pts")
    big = np.kron(img, np.ones((12, 12, 1), np.uint8))  # 2700 x 1800: detection runs on a smaller copy
    faces = DlibFaceFinder(max_pixels=800 * 533, min_face=200).find(big)
    assert len(faces) == 1
    err = np.linalg.norm(faces[0].landmarks / 12 - (gt + 0.5) + 0.5 / 12, axis=1).mean() / np.linalg.norm(gt[36] - gt[45])
    assert err < 0.08


def test_group_photo_many_faces(shared_data, finder):
    img = read_image(shared_data / "faces" / "groups" / "insightface_t1.jpg")
    finder.upsample_schedule = (0, 1)
    faces = finder.find(img)
    assert len(faces) >= 4
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True)
    for f in faces:
        c = f.landmarks.mean(0)
        assert f.box[0] - f.width * 0.3 <= c[0] <= f.box[2] + f.width * 0.3
