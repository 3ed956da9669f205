"""Output heads of LAA-Net: heatmap ``hm``, classification ``cls`` and self-consistency ``cstency``."""

from __future__ import annotations

import math

from torch import nn

__all__ = ["HEAD_NAMES", "HM_CLAMP", "make_head", "init_head"]

HEAD_NAMES: tuple[str, ...] = ("hm", "cls", "cstency")

HM_BIAS_INIT = -2.19

HM_CLAMP = 1e-4
"""Heatmap probabilities are clamped to ``[HM_CLAMP, 1 - HM_CLAMP]`` (by the loss and by the detector)."""


def make_head(name: str, in_ch: int, out_ch: int, head_conv: int = 64) -> nn.Sequential:
    """One head with the official Sequential indices.

    ``hm`` / ``cstency``: 0 Conv3x3 · 1 BN · 2 ReLU · 3 Conv1x1. ``cls``: 0 Conv3x3 · 1 BN · 2 ReLU ·
    3 AdaptiveAvgPool · 4 Flatten · 5 Linear.
    """
    trunk: list[nn.Module] = [
        nn.Conv2d(in_ch, head_conv, 3, padding=1, bias=True),
        nn.BatchNorm2d(head_conv),
        nn.ReLU(inplace=True),
    ]
    if name == "cls":
        return nn.Sequential(*trunk, nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(head_conv, out_ch))
    return nn.Sequential(*trunk, nn.Conv2d(head_conv, out_ch, 1, bias=True))


def init_head(name: str, head: nn.Sequential) -> None:
    """``hm`` last bias = -2.19; ``cstency`` last weight ~ N(0, sqrt(2/out)), bias 0; ``cls`` default."""
    last = head[-1]
    if name == "hm":
        nn.init.constant_(last.bias, HM_BIAS_INIT)
    elif name == "cstency":
        nn.init.normal_(last.weight, 0.0, math.sqrt(2.0 / last.out_channels))
        nn.init.zeros_(last.bias)
