"""Dataset adapters for each published layout, the official LAA-Net frames layout and a generic CSV."""

from __future__ import annotations

from pathlib import Path

from .base import DatasetLayoutError, DatasetSpec, LoadOptions, MediaItem, check_missing, official_frames
from .celebdf import load_celebdf
from .dfdc import load_dfdc, load_dfdcp
from .ffpp import load_dfd, load_ffpp
from .generic import list_csv, load_csv
from .wilddeepfake import load_wilddeepfake

DATASETS: dict[str, DatasetSpec] = {
    "ffpp": DatasetSpec(
        name="ffpp", title="FaceForensics++", paper_column="FF++",
        layout="splits/<split>.json, original_sequences/youtube/<c>/videos/, "
               "manipulated_sequences/<Deepfakes|Face2Face|FaceSwap|NeuralTextures>/<c>/videos/",
        splits=("train", "val", "test"), loader=load_ffpp,
        frame_types={"original": 0, "Deepfakes": 1, "Face2Face": 1, "FaceSwap": 1, "NeuralTextures": 1},
    ),
    "celebdf": DatasetSpec(
        name="celebdf", title="Celeb-DF v2", paper_column="CDF",
        layout="List_of_testing_videos.txt, Celeb-real/, Celeb-synthesis/, YouTube-real/",
        splits=("test",), loader=load_celebdf,
        frame_types={"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1},
    ),
    "wilddeepfake": DatasetSpec(
        name="wilddeepfake", title="WildDeepfake", paper_column="DFW",
        layout="real_<split>/**/<frames>.png, fake_<split>/**/<frames>.png (pre-cropped faces)",
        splits=("train", "test"), loader=load_wilddeepfake,
        frame_types={"real_test": 0, "fake_test": 1},
    ),
    "dfd": DatasetSpec(
        name="dfd", title="DeepFakeDetection (DFD)", paper_column="DFD",
        layout="original_sequences/actors/<c>/videos/, manipulated_sequences/DeepFakeDetection/<c>/videos/",
        splits=("test",), loader=load_dfd,
        frame_types={"DeepFakeDetection_original": 0, "DeepFakeDetection": 1},
    ),
    "dfdcp": DatasetSpec(
        name="dfdcp", title="DFDC-Preview", paper_column="DFDC",
        layout="dataset.json (set == split), method_A/, method_B/, original_videos/",
        splits=("train", "test"), loader=load_dfdcp,
        frame_types={"original_videos": 0, "method_A": 1, "method_B": 1},
    ),
    "dfdc": DatasetSpec(
        name="dfdc", title="DFDC (public test set)", paper_column=None,
        layout="test/labels.csv (filename,label; 1 = fake), test/videos/ or test/*.mp4",
        splits=("test",), loader=load_dfdc,
        frame_types={"real": 0, "fake": 1},
    ),
}


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by name, with a message listing the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise DatasetLayoutError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}") from None


def load_dataset(name: str, root: Path, options: LoadOptions | None = None) -> list[MediaItem]:
    """Load the evaluation units of a dataset from its published layout or the official frames layout;
    listed files that do not exist are reported (or, with ``skip_missing``, dropped)."""
    options = options or LoadOptions()
    return check_missing(list_dataset(name, root, options), options, get_dataset(name).title)


def list_dataset(name: str, root: Path, options: LoadOptions | None = None) -> list[MediaItem]:
    """Every evaluation unit a dataset lists (see :func:`load_dataset`), whether or not its files exist."""
    spec = get_dataset(name)
    options = options or LoadOptions()
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"expected the {spec.title} root folder at {root} (folder not found)")
    if options.split not in spec.splits:
        raise DatasetLayoutError(f"{spec.title} has splits {spec.splits}, got {options.split!r}")
    if options.layout == "official-frames":
        types = dict(spec.frame_types)
        if name == "wilddeepfake":
            types = {f"real_{options.split}": 0, f"fake_{options.split}": 1}
        return official_frames(root, options.split, types, spec.title, methods=options.methods)
    return spec.loader(root, options)


__all__ = ["DATASETS", "DatasetLayoutError", "DatasetSpec", "LoadOptions", "MediaItem", "get_dataset",
           "list_csv", "list_dataset", "load_csv", "load_dataset"]
