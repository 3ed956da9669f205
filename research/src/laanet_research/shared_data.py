"""What the protocol reads from the shared data folder (``data/`` of the project's shared files), checked before
any face search or model load."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

#: the clips of ``videos/`` that their source names fake (real deepfakes); the other clips carry no label
FAKE_CLIPS = ("0017_fake.mp4", "0048_fake.mp4")
#: what each command needs: the face-score floor, selection (and greedy soups), and in addition the report
PHOTO_NEEDS = ("faces/portraits", "faces/realworld")
SELECTION_NEEDS = (*PHOTO_NEEDS, "lfw/landmarks68_dlib.npz")
#: the labelled list of real face swaps and real faces with its fixed train / select / report split
SWAP_LIST = "deepfakes/index.csv"
REPORT_NEEDS = (*SELECTION_NEEDS, "faces/groups", "dfdc-crops/real", "dfdc-crops/fake",
                *(f"videos/{name}" for name in FAKE_CLIPS), SWAP_LIST)


def selection_needs(swap_split: str | None) -> tuple[str, ...]:
    """What selection (``select``, ``soup greedy``) reads: the selection data, and the real-swap list when the rule
    adds one of its splits."""
    return (*SELECTION_NEEDS, SWAP_LIST) if swap_split else SELECTION_NEEDS


class SharedDataError(FileNotFoundError):
    """The shared data folder lacks what the protocol reads."""


def check_shared(shared: str | Path, needs: Sequence[str] = REPORT_NEEDS) -> Path:
    """``shared`` when it holds every path of ``needs``, else :class:`SharedDataError` naming what is missing."""
    root = Path(shared)
    missing = [n for n in needs if not (root / n).exists()]
    if missing:
        raise SharedDataError(f"{root} lacks {', '.join(missing)}: --shared is the shared data folder holding "
                              "faces/ (portraits, realworld, groups), lfw/ with landmarks68_dlib.npz, dfdc-crops/, "
                              "videos/ and deepfakes/index.csv")
    return root
