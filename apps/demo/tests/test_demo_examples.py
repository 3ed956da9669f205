"""The shipped examples: package data with a source each, and labels that the built-in model does not
contradict (a fake it misses is labelled so)."""

from __future__ import annotations

from typing import Any

import pytest
from laanet_demo.examples import EXAMPLES, LABELLED_FOR, examples_dir, shipped


def test_examples_ship_inside_the_package_with_their_sources() -> None:
    import laanet_demo

    folder = examples_dir()
    assert folder.parent == __import__("pathlib").Path(laanet_demo.__file__).parent
    sources = (folder / "SOURCES.md").read_text()
    for e in EXAMPLES:
        assert e.path.is_file() and e.thumbnail.is_file(), e.file
        assert f"`{e.file}`" in sources, f"{e.file} has no source in SOURCES.md"
        assert e.truth in ("real", "fake") and e.builtin_verdict in ("real", "uncertain", "fake")
    assert shipped("image") and shipped("video")


def test_labels_say_what_the_model_does() -> None:
    by_file = {e.file: e for e in EXAMPLES}
    assert by_file["fake-swap-ghost.jpg"].label == "Face swap (GHOST) · missed by this model"
    assert by_file["fake-sbi-lfw-Aaron_Tippin.jpg"].label.endswith("· caught")
    assert by_file["astronaut.jpg"].label.endswith("· called real")
    assert by_file["portrait-img12.jpg"].label.endswith("· called real")
    assert by_file["fake-swap-faceshifter.png"].label == "Face swap (FaceShifter) · caught"
    assert by_file["group-selfie-many-people.jpg"].label.endswith("· model unsure")


@pytest.mark.slow
def test_the_built_in_model_gives_each_example_its_labelled_verdict(detector: Any) -> None:
    from laanet_synth.imageio import read_image
    from laanet_synth.video import read_frames

    if detector.spec.name != LABELLED_FOR:
        pytest.skip(f"labels state {LABELLED_FOR}'s results")
    bands = detector.thresholds
    for e in EXAMPLES:
        if e.kind == "image":
            prob = detector.predict_image(read_image(e.path)).prob()
        else:
            prob = detector.predict_video(read_frames(e.path, detector.preprocessing.frames_per_video)).prob
        assert prob is not None and bands.verdict(prob) == e.builtin_verdict, (e.file, prob)
