"""The Model tab: the weight card, and loading a local checkpoint with clear messages for wrong files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from laanet_demo import analysis
from laanet_demo.checkpoint_upload import load_checkpoint_detector
from laanet_demo.handlers import DemoHandlers
from laanet_demo.limits import DemoLimits, InputRejected
from laanet_demo.pool import DetectorPool


@pytest.fixture()
def handlers(detector: Any) -> DemoHandlers:
    return DemoHandlers(DetectorPool(detector, load_checkpoint_detector), DemoLimits())


def test_card_states_recipe_rules_and_licence(detector: Any) -> None:
    text = analysis.card_markdown(detector, source="built-in")
    spec = detector.spec
    assert f"## {spec.name}" in text and spec.variant in text and spec.licence in text
    assert detector.preprocessing.crop.name in text
    assert f"real below {detector.thresholds.real_below}" in text
    # the recipe's frame count and no-face rule
    assert f"over {detector.preprocessing.frames_per_video} frames by default" in text
    assert "| no face judged | the whole image scored as one face |" in text
    # which detections are judged: the recipe's floor on the face finder's confidence, or every face
    floor = detector.preprocessing.min_face_score
    assert ("| least sure detection judged | every face found |" in text) == (floor is None)
    assert floor is None or f"face-finder confidence {floor:.3g}" in text
    # the card's sha256 is shown (the file's own when the card has none)
    assert detector.spec.sha256 and f"| sha256 | `{detector.spec.sha256}` |" in text and "not recorded" not in text
    # the measured limits, as short plain sentences, "not measured" where the card has no such figure
    limits = analysis.measured_limits(detector)
    assert "Measured limits of this model" in text
    assert "fake_above" not in text.split("<details>")[0] and "reported halves" not in text.split("<details>")[0]
    clips = detector.spec.metrics.get("fake_clips")
    want = f"it called {clips['called_fake']} of {clips['n']} fake DFDC clips fake" if clips else "not measured"
    assert want in text
    assert limits["real_photo_false_positive_rate"] is None or "real photos fake" in text
    # compact: each data set is a short two-column table, protocols and the recipe folded away
    assert text.count("<details>") >= 2 and max(len(line) for line in text.splitlines()
                                                if line.startswith("|")) < 300
    assert all(line.count("|") <= 3 for line in text.split("### Reported metrics")[1].splitlines()
               if line.startswith("|"))
    from laanet_model.weights import get_weights

    official = analysis._metrics_lines(get_weights("laanet-official-sbi").metrics)
    assert "**CDF**" in official and "| auc | 95.4 |" in official and "| ap | 97.64 |" in official


def test_heatmap_strength_follows_the_cards_localisation_figure(detector: Any) -> None:
    import dataclasses

    strength, text = analysis.heatmap_localisation(detector)
    if "heatmap_localisation" not in detector.spec.metrics:
        assert "localisation not measured" in text and strength < 0.6
    measured = dataclasses.replace(detector.spec, metrics={**detector.spec.metrics,
                                                          "heatmap_localisation": {"sbi": {"peak_in_blend": 0.62}}})

    class WithCard:
        spec = measured
        preprocessing = detector.preprocessing
        thresholds = detector.thresholds

    strength, text = analysis.heatmap_localisation(WithCard())
    assert strength == 0.62 and "62%" in text and "SBI" in text


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
    none = dict.fromkeys(("real_photo_false_positive_rate", "real_photo_called_fake", "real_photo_n",
                          "real_photo_protocol", "dfdc_frame_auc", "fake_clips_called_fake", "fake_clips_n",
                          "real_swap_auc", "real_swap_fakes_called_fake", "real_swap_n_fake"))
    sentences = analysis.limits_sentences(none)
    assert 2 <= len(sentences) <= 3 and " ".join(sentences).count("not measured") == 3
    text = analysis.limits_markdown({**none, "real_photo_false_positive_rate": 0.0423, "real_photo_called_fake": 3,
                                     "real_photo_n": 71, "dfdc_frame_auc": 0.6312, "fake_clips_called_fake": 1,
                                     "fake_clips_n": 2})
    assert "It calls about 4 in 100 real photos fake (3 of 71 tested)." in text
    assert "only a little better than chance (AUC 0.63)" in text and "it called 1 of 2 fake DFDC clips fake" in text
    assert all(len(s) < 160 for s in analysis.limits_sentences({**none, "dfdc_frame_auc": 0.6312}))
    swaps = analysis.limits_sentences({**none, "real_swap_auc": 0.5649, "real_swap_fakes_called_fake": 0.1212,
                                       "real_swap_n_fake": 33})
    assert swaps[2] == ("It separates real face swaps from public tools close to chance (AUC 0.56; it called 4 of 33 "
                        "fake): a score is a hint, not proof.")
    assert all(len(s) < 160 for s in swaps)
