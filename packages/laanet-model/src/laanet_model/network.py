"""The LAA-Net network: backbone -> E-FPN -> heads ``hm`` / ``cls`` / ``cstency``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .backbones import (
    EfficientNetSpec,
    TimmBackbone,
    TimmSpec,
    build_efficientnet_modules,
    efficientnet_endpoints,
    efficientnet_feature_channels,
)
from .efpn import EFPNChannels, build_decoder, gated_fusion, init_decoder
from .heads import HEAD_NAMES, init_head, make_head

__all__ = ["LAANetConfig", "LAANet", "FeatureInfo", "config_to_dict", "config_from_dict"]

DEFAULT_HEADS: tuple[tuple[str, int], ...] = (("hm", 1), ("cls", 1), ("cstency", 256))


@dataclass(frozen=True)
class LAANetConfig:
    """Architecture of one LAA-Net variant.

    ``pretrained`` names built-in backbone weights loaded offline at construction
    (``"efficientnet-lite0-imagenet"``) or ``None``.
    """

    backbone: EfficientNetSpec | TimmSpec = field(default_factory=EfficientNetSpec)
    heads: tuple[tuple[str, int], ...] = DEFAULT_HEADS
    head_conv: int = 64
    dropout: float = 0.4
    input_size: int = 384
    pretrained: str | None = None


def config_to_dict(cfg: LAANetConfig) -> dict[str, Any]:
    """JSON-friendly dict of a config."""
    d = dataclasses.asdict(cfg)
    d["heads"] = [list(h) for h in cfg.heads]
    return d


def config_from_dict(d: dict[str, Any]) -> LAANetConfig:
    """Inverse of :func:`config_to_dict`; raises ``ValueError`` naming unknown fields."""
    d = dict(d)
    bb = dict(d.pop("backbone", {}))
    kind = bb.get("kind", "efficientnet")
    spec_cls: type = {"efficientnet": EfficientNetSpec, "timm": TimmSpec}.get(kind)  # type: ignore[assignment]
    if spec_cls is None:
        raise ValueError(f"unknown backbone kind {kind!r}; expected 'efficientnet' or 'timm'")
    known_bb = {f.name for f in dataclasses.fields(spec_cls)}
    extra = set(bb) - known_bb
    if extra:
        raise ValueError(f"unknown backbone fields {sorted(extra)}; expected some of {sorted(known_bb)}")
    known = {f.name for f in dataclasses.fields(LAANetConfig)}
    extra = set(d) - known
    if extra:
        raise ValueError(f"unknown config fields {sorted(extra)}; expected some of {sorted(known)}")
    if "heads" in d:
        d["heads"] = tuple((str(n), int(c)) for n, c in d["heads"])
    return LAANetConfig(backbone=spec_cls(**bb), **d)


@dataclass(frozen=True)
class FeatureInfo:
    """One feature map the network exposes."""

    name: str
    num_chs: int
    reduction: int


class LAANet(nn.Module):
    """LAA-Net with official module names (an official state_dict loads with ``strict=True``).

    ``forward(x)`` returns ``{"hm": (B,1,H/4,W/4), "cls": (B,1), "cstency": (B,256,H/4,W/4)}``, all raw
    (no activation). Pass ``heads=("hm", "cls")`` to skip the self-consistency head at inference.
    """

    def __init__(self, config: LAANetConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or LAANetConfig()
        bb = config.backbone
        if isinstance(bb, EfficientNetSpec):
            mods = build_efficientnet_modules(bb)
            for name, mod in mods.items():
                self.add_module(name, mod)
            self._backbone_names: tuple[str, ...] = tuple(mods)
            chans = efficientnet_feature_channels(bb)
        elif isinstance(bb, TimmSpec):
            self.backbone = TimmBackbone(bb)
            self._backbone_names = ("backbone",)
            chans = self.backbone.feature_channels
        else:
            raise TypeError(
                f"unknown backbone spec {type(bb).__name__}; expected EfficientNetSpec or TimmSpec"
            )
        self.feature_channels: tuple[int, int, int, int] = tuple(chans)  # type: ignore[assignment]
        ch = EFPNChannels(*self.feature_channels)
        decoder = build_decoder(ch)
        for name, mod in decoder.items():
            self.add_module(name, mod)
        self.feat_dropout = nn.Dropout(config.dropout)
        self.head_names: tuple[str, ...] = tuple(n for n, _ in config.heads)
        unknown = set(self.head_names) - set(HEAD_NAMES)
        if unknown:
            raise ValueError(f"unknown heads {sorted(unknown)}; expected some of {HEAD_NAMES}")
        for name, out in config.heads:
            self.add_module(name, make_head(name, ch.head_in, out, config.head_conv))
        self.feature_info: list[FeatureInfo] = [
            FeatureInfo("C3", ch.c3, 8),
            FeatureInfo("C4", ch.c4, 16),
            FeatureInfo("C5_1", ch.c5_1, 32),
            FeatureInfo("C5", ch.c5, 32),
            FeatureInfo("fused", ch.head_in, 4),
        ]
        self.num_features = ch.head_in
        init_decoder([self.deconv_1, self.deconv_2, self.deconv_3, self.deconv_4])
        for name in self.head_names:
            init_head(name, getattr(self, name))

    # --- backbone -------------------------------------------------------------------------------------
    def backbone_modules(self) -> list[nn.Module]:
        """The backbone's modules (stem, blocks, head) as registered on this network."""
        return [getattr(self, n) for n in self._backbone_names]

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Parameters of the backbone only."""
        for m in self.backbone_modules():
            yield from m.parameters()

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Stop (or restart) gradients through the backbone; BN running statistics still update in train."""
        for p in self.backbone_parameters():
            p.requires_grad_(not frozen)

    def forward_backbone(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[C3, C4, C5_1, C5]``."""
        bb = self.config.backbone
        if isinstance(bb, EfficientNetSpec):
            rate = bb.drop_connect_rate if self.training else 0.0
            return efficientnet_endpoints(self, x, rate)
        return self.backbone(x)

    # --- decoder and heads ----------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The fused stride-4 map (after ReLU) that the heads read."""
        c3, c4, c5_1, c5 = (self.feat_dropout(t) for t in self.forward_backbone(x))
        d = self.deconv_1(c5)
        d = self.deconv_2(gated_fusion(d, c5_1))
        d = self.deconv_3(gated_fusion(d, c4))
        d = self.deconv_4(gated_fusion(d, c3))
        return torch.relu(d)

    def forward_head(self, f: torch.Tensor, heads: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """Apply the heads (all, or the named subset) to the fused map."""
        names = self.head_names if heads is None else tuple(heads)
        missing = [n for n in names if n not in self.head_names]
        if missing:
            raise ValueError(f"heads {missing} not in this model; it has {self.head_names}")
        return {n: getattr(self, n)(f) for n in names}

    def forward(self, x: torch.Tensor, heads: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected input of shape (B, 3, H, W), got {tuple(x.shape)}")
        if x.shape[2] % 32 or x.shape[3] % 32:
            raise ValueError(
                f"expected H and W to be multiples of 32 (the decoder upsamples a stride-32 map), got "
                f"{tuple(x.shape[2:])}"
            )
        return self.forward_head(self.forward_features(x), heads)
