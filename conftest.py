"""Fixtures every test folder shares (package tests, cross-package tests, benchmarks): where the shared
sample data lives, skipping with a reason when it is absent, the built-in weights' card and detector, and a
count of a detector's network passes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent


def shared_root() -> Path:
    """``$LAANET_SHARED`` when set, else ``../shared`` beside the checkout."""
    env = os.environ.get("LAANET_SHARED")
    return Path(env).resolve() if env else (REPO.parent / "shared").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<shared>/data`` (real faces, videos, LFW, DFDC crops); skips the test when it is absent."""
    data = shared_root() / "data"
    if not data.is_dir():
        pytest.skip(f"shared sample data not found at {data} (put it there or set LAANET_SHARED)")
    return data


@pytest.fixture(scope="session")
def lfw_dir(shared_data: Path) -> Path:
    """The LFW folder with its dlib landmarks; skips the test when it is absent."""
    lfw = shared_data / "lfw"
    if not (lfw / "landmarks68_dlib.npz").is_file():
        pytest.skip(f"LFW with landmarks68_dlib.npz not found under {lfw}")
    return lfw


@pytest.fixture(scope="session")
def shipped_card() -> dict:
    """The card shipped beside the built-in weights, as read from its JSON file (shared: do not modify)."""
    from laanet_model.checkpoints import read_card
    from laanet_model.weights import BUILTIN_WEIGHTS, WEIGHTS, assets_dir

    return read_card(assets_dir() / WEIGHTS[BUILTIN_WEIGHTS].file_name)


@pytest.fixture(scope="session")
def builtin_detector():
    """The built-in weights' ``Detector`` on the CPU. There is no fallback: when the shipped weights do not
    load, every test that uses it fails with the loader's error."""
    from laanet_model.detector import Detector
    from laanet_model.weights import BUILTIN_WEIGHTS

    return Detector.from_weights(BUILTIN_WEIGHTS, device="cpu")


@pytest.fixture()
def card_edited_copy(tmp_path: Path):
    """A function copying a ``.safetensors`` file and its card into a fresh folder with the card edited by a
    function (its sha256 dropped, as a hand-made card has none); returns the copied weights path."""
    import json

    counter = iter(range(1_000_000))

    def copy(weights: Path, edit) -> Path:
        folder = tmp_path / f"edited-card-{next(counter)}"
        folder.mkdir()
        dst = folder / weights.name
        dst.write_bytes(weights.read_bytes())
        card = json.loads(weights.with_suffix(".json").read_text())
        card.pop("sha256", None)
        edit(card)
        dst.with_suffix(".json").write_text(json.dumps(card))
        return dst

    return copy


@pytest.fixture()
def network_passes(monkeypatch: pytest.MonkeyPatch):
    """A function that starts counting a ``Detector``'s network passes (``predict_logits`` calls, each with its
    flip test) for the rest of the test; it returns the list of their batch sizes, filled as they happen."""

    def count(detector) -> list[int]:
        rows: list[int] = []
        network = detector.predict_logits

        def counted(x, *args, **kwargs):
            rows.append(int(x.shape[0]))
            return network(x, *args, **kwargs)

        monkeypatch.setattr(detector, "predict_logits", counted)
        return rows

    return count
