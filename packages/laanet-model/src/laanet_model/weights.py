"""Named LAA-Net weights, declared as data (torchvision style).

Each :class:`WeightSpec` holds the architecture variant, the full :class:`Preprocessing` recipe, where the
file comes from, its licence and hash, the metrics its authors reported and the verdict thresholds.

The official entries are complete as written here. Official checkpoints are never downloaded: the user fetches
them from the source given and puts them in ``$LAANET_WEIGHTS_DIR`` or ``~/.cache/laanet/weights`` (or passes the
path). Their sha256 is ``None`` until the released files are available to hash; they are loaded strictly
instead. The built-in model ships in ``laanet_model/assets`` as ``<name>.safetensors`` + ``<name>.json``; its
card is the one source of its entry (variant, recipe, bands, figures, hash, licence, description), read once
when this module is imported; nothing is written into the package.

For other ``.safetensors`` files the card is the only description; :func:`spec_from_card` reads it
(``variant`` / ``config``, ``preprocessing`` as written by :func:`preprocessing_to_dict`, or ``crop_recipe`` +
``input_size`` + ``mean`` / ``std``, ``metrics``, ``thresholds``, ``description``, ``licence``).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from laanet_synth.crops import (
    OFFICIAL_BI,
    OFFICIAL_SBI,
    CropRecipe,
    get_recipe,
    recipe_for_size,
)
from laanet_synth.media import OFFICIAL_FRAMES_PER_VIDEO

from .checkpoints import CheckpointError, read_card
from .paper import PAPER_RESULTS

__all__ = [
    "Preprocessing",
    "Thresholds",
    "WeightSpec",
    "WEIGHTS",
    "BUILTIN_WEIGHTS",
    "get_weights",
    "list_weights",
    "weights_dirs",
    "resolve_weights_file",
    "assets_dir",
    "preprocessing_to_dict",
    "preprocessing_from_dict",
    "spec_for_file",
    "NO_FACE_RULES",
    "OFFICIAL_FRAMES_PER_VIDEO",
]

BUILTIN_WEIGHTS = "laanet-lite0-sbi-lfw"
#: what an image or frame with no judged face gets (``Preprocessing.no_face``): "no_score" (no score: it is
#: reported as having no face, left out of every metric and counted), "chance" (probability 0.5, logit 0: the
#: official frame-level protocol's score for a frame with no face) or "whole_image" (the whole image is warped
#: to the input size and scored as one face)
NO_FACE_RULES: tuple[str, ...] = ("no_score", "chance", "whole_image")
OFFICIAL_LICENCE = "SnT academic licence"
OFFICIAL_SOURCE = (
    "https://github.com/10Ring/LAA-Net (README, section 'LAA-Net Pre-trained Models': Dropbox folder)"
)


@dataclass(frozen=True)
class Preprocessing:
    """Everything between a video/image and the network input, and how scores are aggregated.

    ``face_detector`` is the :func:`laanet_synth.faces.make_face_finder` name used here;
    ``reference_detector`` the detector the weights' authors used. ``flip_test`` averages the logits of the
    crop and its mirror. ``video_aggregation`` ``"mean_logit"``: mean of frame logits, then sigmoid.
    ``frame_policy`` picks the face score of a frame with several faces (``"max"`` or ``"largest"``).
    ``min_face_size`` is the smallest face box width, in image pixels, that is judged: smaller faces hold too
    little detail for the recipe's crop and are reported as not judged, outside every frame and video score.
    ``min_face_score`` is the lowest face-finder confidence that is judged, on that finder's own scale (``None``:
    every face found is judged): a less certain detection may be no face at all, or a second box inside a face,
    and is reported as not judged in the same way.
    ``frames_per_video`` is how many evenly spaced frames a video is sampled at, unless a caller asks for
    another count. ``no_face`` is what an image (or video frame) with no judged face gets, one of
    :data:`NO_FACE_RULES`; a video is scored from its frames with a judged face, and by the rule only when no
    sampled frame has one (the official evaluation leaves frames without a face out of a video's mean).
    """

    face_detector: str = "retinaface"
    crop: CropRecipe = OFFICIAL_SBI
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.5, 0.5, 0.5)
    flip_test: bool = True
    video_aggregation: str = "mean_logit"
    frames_per_video: int = OFFICIAL_FRAMES_PER_VIDEO
    frame_policy: str = "max"
    reference_detector: str | None = None
    min_face_size: int = 32
    min_face_score: float | None = None
    no_face: str = "whole_image"

    def __post_init__(self) -> None:
        if self.frames_per_video < 1:
            raise ValueError(f"frames_per_video must be >= 1, got {self.frames_per_video}")
        if self.no_face not in NO_FACE_RULES:
            raise ValueError(f"no_face must be one of {NO_FACE_RULES}, got {self.no_face!r}")
        if self.min_face_size < 0:
            raise ValueError(f"min_face_size must be >= 0 pixels, got {self.min_face_size}")
        if self.min_face_score is not None and not math.isfinite(self.min_face_score):
            raise ValueError(f"min_face_score must be a finite number or None, got {self.min_face_score}")

    @property
    def input_size(self) -> int:
        """Network input size (square)."""
        return self.crop.input_size


@dataclass(frozen=True)
class Thresholds:
    """Verdict bands on the fake probability: real below ``real_below``, fake above ``fake_above``."""

    real_below: float = 0.4
    fake_above: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.real_below <= self.fake_above <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= real_below <= fake_above <= 1, got {self.real_below}, {self.fake_above}"
            )

    def verdict(self, prob: float) -> str:
        """``"real"``, ``"uncertain"`` or ``"fake"`` for a fake probability (:func:`laanet_model.scoring.verdict`)."""
        from .scoring import verdict

        return verdict(prob, (self.real_below, self.fake_above))

    def describe(self) -> str:
        """One line stating the bands."""
        return f"real below {self.real_below:.3g}, fake above {self.fake_above:.3g}, uncertain in between"


@dataclass(frozen=True)
class WeightSpec:
    """One named set of weights."""

    name: str
    variant: str
    preprocessing: Preprocessing
    source: str
    licence: str
    file_name: str
    sha256: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    thresholds: Thresholds = field(default_factory=Thresholds)
    description: str = ""
    builtin: bool = False

    def path(self, weights_dir: str | os.PathLike[str] | None = None) -> Path:
        """The local file (see :func:`resolve_weights_file`)."""
        return resolve_weights_file(self, weights_dir)


def preprocessing_to_dict(p: Preprocessing) -> dict[str, Any]:
    """JSON-friendly dict (the crop recipe as its fields)."""
    d = dataclasses.asdict(p)
    d["crop"] = dataclasses.asdict(p.crop)
    return d


def preprocessing_from_dict(d: dict[str, Any]) -> Preprocessing:
    """Inverse of :func:`preprocessing_to_dict`; ``crop`` may also be a recipe name."""
    d = dict(d)
    crop = d.pop("crop", None)
    if isinstance(crop, str):
        recipe = get_recipe(crop)
    elif isinstance(crop, dict):
        c = dict(crop)
        if c.get("window") is not None:
            c["window"] = tuple(int(v) for v in c["window"])
        recipe = CropRecipe(**c)
    else:
        recipe = OFFICIAL_SBI
    known = {f.name for f in dataclasses.fields(Preprocessing)} - {"crop"}
    extra = set(d) - known
    if extra:
        raise ValueError(f"unknown preprocessing fields {sorted(extra)}; expected some of {sorted(known)}")
    for key in ("mean", "std"):
        if key in d:
            d[key] = tuple(float(v) for v in d[key])
    return Preprocessing(crop=recipe, **d)


#: How folder evaluation scores images (``laanet_train.evaluate.score_folder``), as cards record it.
FOLDER_PROTOCOL = (
    "frame level: every image of dfdc-crops/real and dfdc-crops/fake through Detector.predict_image "
    "(the card's face finder and crop recipe, flip test); the frame logit is the most fake face; an image "
    "with no face found is warped whole to the input size and scored as one face. Never used for training, "
    "selection or calibration."
)

_OFFICIAL_NOTE = "video-level, %, trained on FF++ c0 (raw); 'CDF' is Celeb-DF v2, 'DFDC' is DFDC-Preview"


def _official(name: str, crop: CropRecipe, file_name: str, metrics: dict[str, Any], description: str) -> WeightSpec:
    """A released official checkpoint: B4, the official crop, the paper's video-level metrics."""
    return WeightSpec(
        name=name,
        variant="laanet_efficientnet_b4",
        preprocessing=Preprocessing(
            face_detector="retinaface",
            crop=crop,
            flip_test=True,
            frames_per_video=OFFICIAL_FRAMES_PER_VIDEO,
            # the official frame-level protocol scores a frame with no face 0.5 (10Ring/LAA-Net issue #3), as
            # SBI's evaluation does; at video level frames without a face are left out of the mean
            no_face="chance",
            reference_detector="retinaface resnet50_2020-07-20 (box + 25% per side, 256 px)",
        ),
        source=OFFICIAL_SOURCE,
        licence=OFFICIAL_LICENCE,
        file_name=file_name,
        sha256=None,
        metrics={"note": _OFFICIAL_NOTE, **metrics},
        # the official single-image mode thresholds the raw logit at 0.5, i.e. a probability of 0.622
        thresholds=Thresholds(real_below=0.5, fake_above=0.622),
        description=description,
    )


_OFFICIAL_WEIGHTS: dict[str, WeightSpec] = {
    "laanet-official-sbi": _official(
        "laanet-official-sbi",
        OFFICIAL_SBI,
        "PoseEfficientNet_EFN_hm10_EFPN_NoBasedCLS_Focal_C3_256Cst100_8SBI_SAM(Adam)_ADV_Era1_OutSigmoid"
        "_1e7_boost500_UnFZ_model_best.pth",
        PAPER_RESULTS["sbi"].values,
        "Official LAA-Net (EfficientNet-B4 + E-FPN) trained with self-blended images (SBI).",
    ),
    "laanet-official-bi": _official(
        "laanet-official-bi",
        OFFICIAL_BI,
        "PoseEfficientNet_EFN_hm100_EFPN_NoBasedCLS_Focal_C3_256Cstency100_32BI_SAM(Adam)_ADV_Erasing1"
        "_OutSigmoid_model_best.pth",
        PAPER_RESULTS["bi"].values,
        "Official LAA-Net (EfficientNet-B4 + E-FPN) trained with blended images (BI).",
    ),
}


def assets_dir() -> Path:
    """Folder of the weights shipped with the package."""
    return Path(__file__).resolve().parent / "assets"


def builtin_spec(card: dict[str, Any]) -> WeightSpec:
    """The built-in weights' entry, as their ``card`` (``assets/<name>.json``) describes them."""
    return spec_from_card(
        WeightSpec(
            name=BUILTIN_WEIGHTS,
            variant=card["variant"],
            preprocessing=Preprocessing(),
            source="built in (laanet_model/assets), trained by laanet-train on LFW with SBI",
            licence=card["licence"],
            file_name=f"{BUILTIN_WEIGHTS}.safetensors",
            sha256=card["sha256"],
            builtin=True,
        ),
        card,
    )


def weights_dirs() -> list[Path]:
    """Where user-downloaded weights are looked for: ``$LAANET_WEIGHTS_DIR``, then ``~/.cache/laanet/weights``."""
    dirs = []
    env = os.environ.get("LAANET_WEIGHTS_DIR")
    if env:
        dirs.append(Path(env).expanduser())
    dirs.append(Path.home() / ".cache" / "laanet" / "weights")
    return dirs


def resolve_weights_file(spec: WeightSpec, weights_dir: str | os.PathLike[str] | None = None) -> Path:
    """The local file of ``spec``; a clear :class:`CheckpointError` says which file to put where if absent.

    ``weights_dir`` may be a folder holding ``spec.file_name`` or the file itself.
    """
    if spec.builtin:
        p = assets_dir() / spec.file_name
        if not p.is_file():
            raise CheckpointError(f"built-in weights {spec.name!r} are not installed: expected {p}")
        return p
    candidates: list[Path] = []
    if weights_dir is not None:
        given = Path(weights_dir).expanduser()
        candidates.append(given if given.suffix and not given.is_dir() else given / spec.file_name)
    candidates += [d / spec.file_name for d in weights_dirs()]
    for c in candidates:
        if c.is_file():
            return c
    where = "\n  ".join(str(c) for c in candidates)
    raise CheckpointError(
        f"weights {spec.name!r} not found. Download the file\n  {spec.file_name}\nfrom {spec.source} "
        f"(licence: {spec.licence}) and put it at one of:\n  {where}\n"
        "(set LAANET_WEIGHTS_DIR to use another folder, or pass the file path)"
    )


def card_input_size(card: dict[str, Any]) -> int | None:
    """The network input size a card states: its preprocessing recipe's crop, else ``input_size``, else the
    architecture ``config``'s ``input_size`` (the one precedence every reader uses); ``None`` when absent."""
    crop = (card.get("preprocessing") or {}).get("crop") if isinstance(card.get("preprocessing"), dict) else None
    if isinstance(crop, dict) and crop.get("input_size"):
        return int(crop["input_size"])
    size = card.get("input_size") or (card.get("config") or {}).get("input_size")
    return int(size) if size else None


def preprocessing_from_card(card: dict[str, Any], default: Preprocessing = Preprocessing()) -> Preprocessing:
    """The preprocessing recipe a card describes (falls back on ``default`` field by field)."""
    if isinstance(card.get("preprocessing"), dict):
        merged = preprocessing_to_dict(default)
        merged.update(card["preprocessing"])
        return preprocessing_from_dict(merged)
    pre = default
    if isinstance(card.get("crop_recipe"), str):
        pre = dataclasses.replace(pre, crop=get_recipe(card["crop_recipe"]))
    size = card_input_size(card)
    if size and int(size) != pre.crop.input_size:
        pre = dataclasses.replace(pre, crop=recipe_for_size(int(size), pre.crop))
    for key in ("mean", "std"):
        if key in card:
            pre = dataclasses.replace(pre, **{key: tuple(float(v) for v in card[key])})
    return pre


def spec_from_card(spec: WeightSpec, card: dict[str, Any]) -> WeightSpec:
    """``spec`` with recipe, metrics, thresholds, hash and description taken from ``card`` where present."""
    updates: dict[str, Any] = {"preprocessing": preprocessing_from_card(card, spec.preprocessing)}
    if isinstance(card.get("metrics"), dict):
        updates["metrics"] = dict(card["metrics"])
    th = card.get("thresholds")
    if isinstance(th, dict):
        updates["thresholds"] = Thresholds(float(th["real_below"]), float(th["fake_above"]))
    if isinstance(card.get("description"), str):
        updates["description"] = card["description"]
    if isinstance(card.get("sha256"), str) and not spec.sha256:
        updates["sha256"] = card["sha256"]
    if isinstance(card.get("variant"), str):
        updates["variant"] = card["variant"]
    if isinstance(card.get("licence"), str):
        updates["licence"] = card["licence"]
    return dataclasses.replace(spec, **updates)


#: every named set of weights: the official releases, and the built-in weights as their shipped card describes them
WEIGHTS: dict[str, WeightSpec] = {
    **_OFFICIAL_WEIGHTS,
    BUILTIN_WEIGHTS: builtin_spec(read_card(assets_dir() / f"{BUILTIN_WEIGHTS}.json")),
}


def get_weights(name: str) -> WeightSpec:
    """The registered weights ``name`` (the entry as declared; no file is read here)."""
    if name not in WEIGHTS:
        raise KeyError(f"unknown weights {name!r}; expected one of {sorted(WEIGHTS)}")
    return WEIGHTS[name]


def list_weights() -> list[str]:
    """Names of the registered weights."""
    return sorted(WEIGHTS)


def spec_for_file(path: str | os.PathLike[str]) -> WeightSpec | None:
    """The registered weights whose file name is ``path``'s name, if any."""
    name = Path(path).name
    for spec in WEIGHTS.values():
        if spec.file_name == name:
            return get_weights(spec.name)
    return None
