"""The faces-per-image cache: a file's key follows its bytes, and faces found once are read back from disk."""

import numpy as np
from laanet_synth.face_cache import FaceCache, file_key
from laanet_synth.faces import Face


class _Finder:
    def __init__(self) -> None:
        self.calls = 0

    def find_faces(self, image: np.ndarray) -> list[Face]:
        self.calls += 1
        return [Face(np.array([1, 2, 30, 40]), 0.9, np.full((68, 2), 7.5), "retinaface")]


def test_a_file_key_names_the_path_and_changes_with_the_bytes(tmp_path):
    f = tmp_path / "a.png"
    f.write_bytes(b"one")
    first = file_key(f)
    assert first.startswith(f"{f}#") and file_key(f) == first
    f.write_bytes(b"two")
    assert file_key(f) != first


def test_faces_found_once_are_read_back_by_a_new_cache(tmp_path):
    finder, image = _Finder(), np.zeros((8, 8, 3), np.uint8)
    cache = FaceCache(tmp_path, "retinaface")
    found = cache.faces("k", image, finder)
    cache.save()
    again = FaceCache(tmp_path, "retinaface").faces("k", image, finder)
    assert finder.calls == 1 and "k" in FaceCache(tmp_path, "retinaface")
    np.testing.assert_array_equal(again[0].box, found[0].box)
    assert again[0].box_convention == "retinaface"


def test_a_files_faces_are_decoded_and_searched_only_on_a_miss(tmp_path, monkeypatch):
    import laanet_synth.imageio
    from laanet_synth.imageio import write_image_atomic

    f = tmp_path / "a.png"
    write_image_atomic(f, np.full((8, 8, 3), 9, np.uint8))
    decoded: list[str] = []
    real_read = laanet_synth.imageio.read_image
    monkeypatch.setattr(laanet_synth.imageio, "read_image", lambda p: decoded.append(str(p)) or real_read(p))
    finder, cache = _Finder(), FaceCache(tmp_path, "retinaface")
    first = cache.file_faces(f, finder)
    cache.save()
    again = FaceCache(tmp_path, "retinaface").file_faces(f, finder)
    assert finder.calls == 1 and decoded == [str(f)] and file_key(f) in cache
    np.testing.assert_array_equal(again[0].box, first[0].box)
    write_image_atomic(f, np.full((8, 8, 3), 200, np.uint8))  # the same name, other bytes: searched again
    cache.file_faces(f, finder)
    assert finder.calls == 2 and decoded == [str(f), str(f)]
