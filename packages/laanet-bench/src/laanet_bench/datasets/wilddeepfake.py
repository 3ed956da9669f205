"""WildDeepfake (the paper's "DFW" column): pre-cropped face sequences in ``real_<split>`` / ``fake_<split>``."""

from __future__ import annotations

from pathlib import Path

from laanet_synth.media import is_image

from .base import DatasetLayoutError, LoadOptions, MediaItem, frame_folders, require_dir


def load_wilddeepfake(root: Path, options: LoadOptions) -> list[MediaItem]:
    """Every folder of face images under ``real_<split>/`` (label 0) and ``fake_<split>/`` (label 1).

    The archives ship as ``real_test/*.tar.gz``; they must be extracted in place first.
    """
    items: list[MediaItem] = []
    for label, prefix in ((0, "real"), (1, "fake")):
        folder = require_dir(root / f"{prefix}_{options.split}", f"WildDeepfake {prefix} {options.split} sequences")
        sequences = frame_folders(folder)
        if not sequences:
            archives = sorted(folder.glob("*.tar.gz"))
            hint = f" ({len(archives)} .tar.gz archives found: extract them in place)" if archives else ""
            raise DatasetLayoutError(f"expected folders of face images under {folder}{hint}")
        for seq in sequences:
            rel = seq.relative_to(root).as_posix()
            items.append(MediaItem(key=rel, label=label, kind="frames", paths=tuple(sorted(
                p for p in seq.iterdir() if p.is_file() and is_image(p))),
                subset=f"{prefix}_{options.split}", pre_cropped=True))
    return items
