"""Enhanced FPN decoder of LAA-Net (gated fusion that limits redundancy)."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["conv_block", "InceptionBlock", "gated_fusion", "EFPNChannels", "build_decoder", "init_decoder"]


def conv_block(in_ch: int, out_ch: int, kernel: int = 3) -> nn.Sequential:
    """Conv (no bias) -> BN -> ReLU, padding keeping the size."""
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(out_ch),
        nn.ReLU(inplace=True),
    )


class InceptionBlock(nn.Module):
    """Four branches sharing one point-wise block: pw(x), conv3(pw(x)), conv5(pw(x)), pw(maxpool(x))."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__()
        if out_ch % 4:
            raise ValueError(f"InceptionBlock needs out_ch divisible by 4, got {out_ch}")
        mid = out_ch // 4
        self.pw_block = conv_block(in_ch, mid, 1)
        self.conv3_block = conv_block(mid, mid, 3)
        self.conv5_block = conv_block(mid, mid, 5)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pw_block(x)
        return torch.cat([p, self.conv3_block(p), self.conv5_block(p), self.pw_block(self.pool(x))], dim=1)


def gated_fusion(d: torch.Tensor, lower: torch.Tensor) -> torch.Tensor:
    """``cat([d, (1 - sigmoid(d)) * lower], C)``: the decoder map, then the gated lower-level map."""
    return torch.cat([d, (1.0 - torch.sigmoid(d)) * lower], dim=1)


def _up(ch: int) -> list[nn.Module]:
    return [
        nn.ConvTranspose2d(ch, ch, 4, stride=2, padding=1, output_padding=0, bias=False),
        nn.BatchNorm2d(ch),
    ]


class EFPNChannels:
    """Channel bookkeeping for the decoder from the backbone's (C3, C4, C5_1, C5)."""

    def __init__(self, c3: int, c4: int, c5_1: int, c5: int) -> None:
        self.c3, self.c4, self.c5_1, self.c5 = c3, c4, c5_1, c5
        self.out = 2 * c3 if (2 * c3) % 4 == 0 else 4 * ((2 * c3) // 4 + 1)

    @property
    def head_in(self) -> int:
        """Channels of the fused stride-4 map fed to the heads."""
        return self.out


def build_decoder(ch: EFPNChannels) -> dict[str, nn.Module]:
    """``inception_block`` and ``deconv_1..4`` (``deconv_4[0]`` *is* ``inception_block``)."""
    inception = InceptionBlock(2 * ch.c3, ch.out)
    return {
        "inception_block": inception,
        "deconv_1": nn.Sequential(conv_block(ch.c5, ch.c5_1, 3)),
        "deconv_2": nn.Sequential(conv_block(2 * ch.c5_1, ch.c4, 3), *_up(ch.c4)),
        "deconv_3": nn.Sequential(conv_block(2 * ch.c4, ch.c3, 3), *_up(ch.c3)),
        "deconv_4": nn.Sequential(inception, *_up(ch.out)),
    }


def init_decoder(modules: list[nn.Module]) -> None:
    """Transposed convs ~ N(0, sqrt(2 / (k*k*out))); BNs of the deconv blocks weight 1, bias 0."""
    for root in modules:
        for m in root.modules():
            if isinstance(m, nn.ConvTranspose2d):
                k = m.kernel_size[0] * m.kernel_size[1]
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (k * m.out_channels)))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
