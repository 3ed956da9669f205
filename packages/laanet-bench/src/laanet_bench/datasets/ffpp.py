"""FaceForensics++ in its published download layout (and DFD, which ships in the same tree)."""

from __future__ import annotations

import json
from pathlib import Path

from .base import DatasetLayoutError, LoadOptions, MediaItem, require_dir, require_file

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
COMPRESSIONS = ("raw", "c23", "c40")


def _check_compression(compression: str) -> None:
    if compression not in COMPRESSIONS:
        raise DatasetLayoutError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")


def split_file(root: Path, split: str) -> Path:
    """The official split list (``splits/<split>.json``, a list of ``[target, source]`` id pairs)."""
    for candidate in (root / "splits" / f"{split}.json", root / f"{split}.json"):
        if candidate.is_file():
            return candidate
    return require_file(root / "splits" / f"{split}.json",
                        f"the FaceForensics++ split list '{split}.json' (from the FaceForensics GitHub repo)")


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """Parse a split file into ``(a, b)`` id pairs."""
    try:
        data = json.loads(path.read_text())
        pairs = [(str(a), str(b)) for a, b in data]
    except (ValueError, TypeError) as exc:
        raise DatasetLayoutError(f"{path} should be a JSON list of [id, id] pairs: {exc}") from exc
    if not pairs:
        raise DatasetLayoutError(f"{path} lists no video pairs")
    return pairs


def load_ffpp(root: Path, options: LoadOptions) -> list[MediaItem]:
    """Originals and the four manipulations of the chosen split and compression.

    Layout: ``original_sequences/youtube/<c>/videos/<id>.mp4`` and
    ``manipulated_sequences/<Method>/<c>/videos/<a>_<b>.mp4``; the split lists both ``a_b`` and ``b_a``.
    """
    _check_compression(options.compression)
    methods = options.methods or FFPP_METHODS
    pairs = read_pairs(split_file(root, options.split))
    real_dir = require_dir(root / "original_sequences" / "youtube" / options.compression / "videos",
                           "FaceForensics++ original videos")
    ids = sorted({i for pair in pairs for i in pair})
    items = [MediaItem(key=f"original/{i}", label=0, kind="video", paths=(real_dir / f"{i}.mp4",),
                       subset="original") for i in ids]
    for method in methods:
        fake_dir = require_dir(root / "manipulated_sequences" / method / options.compression / "videos",
                               f"FaceForensics++ {method} videos")
        for a, b in pairs:
            for name in (f"{a}_{b}", f"{b}_{a}"):
                items.append(MediaItem(key=f"{method}/{name}", label=1, kind="video",
                                       paths=(fake_dir / f"{name}.mp4",), subset=method))
    return items


def load_dfd(root: Path, options: LoadOptions) -> list[MediaItem]:
    """DeepFakeDetection: ``original_sequences/actors/<c>/videos`` and
    ``manipulated_sequences/DeepFakeDetection/<c>/videos`` (all videos; DFD has no split)."""
    _check_compression(options.compression)
    real_dir = require_dir(root / "original_sequences" / "actors" / options.compression / "videos",
                           "DFD actors' original videos")
    fake_dir = require_dir(root / "manipulated_sequences" / "DeepFakeDetection" / options.compression / "videos",
                           "DFD (DeepFakeDetection) manipulated videos")
    items = []
    for folder, label, subset in ((real_dir, 0, "DeepFakeDetection_original"), (fake_dir, 1, "DeepFakeDetection")):
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".mp4")
        if not videos:
            raise DatasetLayoutError(f"expected .mp4 videos in {folder} (none found)")
        items += [MediaItem(key=f"{subset}/{p.stem}", label=label, kind="video", paths=(p,), subset=subset)
                  for p in videos]
    return items
