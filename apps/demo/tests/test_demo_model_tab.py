"""The Model tab: the weight card, and loading a local checkpoint with clear messages for wrong files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from laanet_demo import analysis
from laanet_demo.app import DemoHandlers, DetectorPool, load_checkpoint_detector
from laanet_demo.limits import DemoLimits, InputRejected


@pytest.fixture()
def handlers(detector: Any) -> DemoHandlers:
    return DemoHandlers(DetectorPool(detector, load_checkpoint_detector), DemoLimits())


def test_card_states_recipe_rules_and_licence(detector: Any) -> None:
    text = analysis.card_markdown(detector, source="built-in")
    spec = detector.spec
    assert f"## {spec.name}" in text and spec.variant in text and spec.licence in text
    assert detector.preprocessing.crop.name in text
    assert f"real below {detector.thresholds.real_below}" in text
    # which detections are judged: the recipe's floor on the face finder's confidence, or every face
    floor = detector.preprocessing.min_face_score
    assert ("| least sure detection judged | every face found |" in text) == (floor is None)
    assert floor is None or f"face-finder confidence {floor:.3g}" in text
    # the card's sha256 is shown (the file's own when the card has none)
    assert detector.spec.sha256 and f"| sha256 | `{detector.spec.sha256}` |" in text and "not recorded" not in text
    # the measured limits, "not measured" where the card has no such figure
    limits = analysis.measured_limits(detector)
    assert "Measured limits of this model" in text
    if limits["dfdc_frame_auc"] is None:
        assert "frame AUC on DFDC face crops: not measured" in text
    clips = detector.spec.metrics.get("fake_clips")
    want = f"{clips['called_fake']} of {clips['n']}" if clips else "not measured"
    assert f"labelled fake DFDC clips called fake: {want}." in text
    from laanet_model.weights import get_weights

    official = analysis._metrics_lines(get_weights("laanet-official-sbi").metrics)
    assert official[0].startswith("| dataset |") and any(line.startswith("| CDF | 97.64 | 95.4 |")
                                                         for line in official)


def test_wrong_files_get_clear_messages(handlers: DemoHandlers, tmp_path: Path) -> None:
    fake_pth = tmp_path / "weights.pth"
    fake_pth.write_text("not a checkpoint")
    with pytest.raises(InputRejected, match="'weights.pth' is not a LAA-Net checkpoint"):
        handlers.load_checkpoint([str(fake_pth)])
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(InputRejected, match="Upload one checkpoint"):
        handlers.load_checkpoint([str(notes)])
    st = tmp_path / "m.safetensors"
    st.write_bytes(b"\0" * 64)
    with pytest.raises(InputRejected, match="needs its JSON card"):
        handlers.load_checkpoint([str(st)])
    with pytest.raises(InputRejected, match="No checkpoint"):
        handlers.load_checkpoint(None)
    with pytest.raises(InputRejected, match="no longer in memory"):
        handlers.pool.get("0" * 64)


@pytest.mark.slow
def test_load_a_saved_checkpoint_for_one_session(
    handlers: DemoHandlers, detector: Any, tmp_path: Path, portrait: Path
) -> None:
    import torch
    from laanet_model.checkpoints import read_card, save_weights
    from laanet_model.variants import create_model
    from laanet_model.weights import preprocessing_to_dict

    torch.manual_seed(1)
    model = create_model(detector.spec.variant, pretrained=False)
    weights = save_weights(model, tmp_path / "my-model.safetensors", card={
        "variant": detector.spec.variant, "preprocessing": preprocessing_to_dict(detector.preprocessing),
        "thresholds": {"real_below": 0.2, "fake_above": 0.8}, "description": "a test model",
    })
    status, card, key = handlers.load_checkpoint([str(weights), str(weights.with_suffix(".json"))])
    assert key is not None and "## my-model" in card and "real below 0.2, fake above 0.8" in card
    assert "Loaded `my-model.safetensors`" in status and f"`{read_card(weights)['sha256']}`" in card
    assert handlers.pool.get(key) is not detector
    # the session's model is used for its predictions; the built-in one is untouched for others
    mine = handlers.predict_image(str(portrait), key)[5]
    builtin = handlers.predict_image(str(portrait), None)[5]
    assert mine["model"]["name"] == "my-model" and builtin["model"]["name"] == detector.spec.name
    assert mine["faces"][0]["prob"] != builtin["faces"][0]["prob"]
    _, card2, key2 = handlers.use_builtin()
    assert key2 is None and detector.spec.name in card2


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from laanet_model.checkpoints import save_weights
    from laanet_model.variants import create_model

    torch.manual_seed(4)
    model = create_model("laanet_efficientnet_lite0", pretrained=False)
    return save_weights(model, tmp_path_factory.mktemp("ckpt") / "upload.safetensors",
                        card={"variant": "laanet_efficientnet_lite0"})


def _refuse(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, what: str) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(what)

    monkeypatch.setattr(module, name, refuse)


def _upload(weights: Path) -> list[str]:
    return [str(weights), str(weights.with_suffix(".json"))]


def test_uploaded_cards_are_checked_before_any_network_is_built(
    handlers: DemoHandlers, small_checkpoint: Path, card_edited_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import laanet_model.checkpoints as ckpt

    _refuse(monkeypatch, ckpt, "LAANet", "a network was built from an unchecked card")

    def widen(card: dict) -> None:
        card["config"]["backbone"].update(width=2.2, fixed_stem_head=False)  # the widest a card may ask

    with pytest.raises(InputRejected, match=r"'upload.safetensors' is not a LAA-Net checkpoint .* more than a file"):
        handlers.load_checkpoint(_upload(card_edited_copy(small_checkpoint, widen)))

    def other_head(card: dict) -> None:
        card["config"]["heads"] = [["hm", 1], ["cls", 1], ["cstency", 64]]

    with pytest.raises(InputRejected, match="shape mismatches") as info:
        handlers.load_checkpoint(_upload(card_edited_copy(small_checkpoint, other_head)))
    assert "&#" not in str(info.value) and "edited-card" not in str(info.value)


def test_uploaded_cards_never_fetch_pretrained_weights(
    handlers: DemoHandlers, small_checkpoint: Path, card_edited_copy, monkeypatch: pytest.MonkeyPatch
) -> None:
    import laanet_model.variants as variants

    _refuse(monkeypatch, variants, "_load_pretrained_backbone", "pretrained weights were loaded for an upload")

    def ask_pretrained(card: dict) -> None:
        card["config"]["pretrained"] = "efficientnet-lite0-imagenet"

    status, card, key = handlers.load_checkpoint(_upload(card_edited_copy(small_checkpoint, ask_pretrained)))
    assert key and "Loaded" in status
    assert handlers.pool.get(key).model.config.pretrained is None


def test_the_limits_line_says_not_measured_for_what_a_card_lacks() -> None:
    none = dict.fromkeys(("real_photo_false_positive_rate", "real_photo_protocol", "dfdc_frame_auc",
                          "fake_clips_called_fake", "fake_clips_n"))
    text = analysis.limits_markdown(none)
    assert text.count("not measured") == 3
    text = analysis.limits_markdown({**none, "dfdc_frame_auc": 0.6312, "fake_clips_called_fake": 1, "fake_clips_n": 2})
    assert "frame AUC on DFDC face crops: 0.631" in text and "labelled fake DFDC clips called fake: 1 of 2." in text
