"""Backbones for LAA-Net.

Two families:

* the lukemelas ``efficientnet_pytorch`` layout (module names ``_conv_stem``, ``_bn0``, ``_blocks.N.*``,
  ``_conv_head``, ``_bn1``), with TF-"SAME" padding either computed statically for a fixed image size (as
  the official LAA-Net B4, built for 380 px) or dynamically from each input; EfficientNet-Lite (no SE,
  ReLU6, fixed stem/head) uses the same layout;
* any timm model created with ``features_only=True``.

Every backbone yields the four maps the E-FPN consumes, in the order ``(C3, C4, C5_1, C5)``:
stride 8, stride 16, the last stride-32 block output and the stride-32 head output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BlockArgs",
    "EfficientNetSpec",
    "TimmSpec",
    "Conv2dSame",
    "MBConvBlock",
    "EfficientNet",
    "TimmBackbone",
    "efficientnet_endpoints",
    "efficientnet_feature_channels",
    "expand_blocks",
    "same_padding",
]

# The standard B0 stage strings as data: (repeats, kernel, stride, expand, in, out, se_ratio).
B0_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)


@dataclass(frozen=True)
class EfficientNetSpec:
    """A lukemelas-layout EfficientNet (or EfficientNet-Lite) backbone.

    ``pad_image_size`` fixes the static TF-SAME padding (380 for the official B4 even at 384 px input);
    ``None`` means dynamic SAME padding computed from each input.
    """

    width: float = 1.4
    depth: float = 1.8
    pad_image_size: int | None = 380
    se_ratio: float | None = 0.25
    activation: str = "swish"  # "swish" or "relu6"
    fixed_stem_head: bool = False  # Lite: stem 32 / head 1280 and first/last stage repeats not scaled
    drop_connect_rate: float = 0.2
    bn_eps: float = 1e-3
    bn_momentum: float = 0.01
    stem_channels: int = 32
    head_channels: int = 1280

    kind: str = "efficientnet"


@dataclass(frozen=True)
class TimmSpec:
    """Any timm model that supports ``features_only=True`` (no weights are downloaded by default)."""

    model_name: str = "resnet18"
    pretrained: bool = False
    kind: str = "timm"


@dataclass(frozen=True)
class BlockArgs:
    """One MBConv block, after width/depth scaling."""

    kernel: int
    stride: int
    expand: int
    in_ch: int
    out_ch: int
    se_ratio: float | None


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """lukemelas channel rounding: multiply by ``width``, round to a multiple of ``divisor``."""
    if width == 1.0:
        return filters
    f = filters * width
    new = max(divisor, int(f + divisor / 2) // divisor * divisor)
    if new < 0.9 * f:
        new += divisor
    return int(new)


def round_repeats(repeats: int, depth: float) -> int:
    """lukemelas depth rounding (ceil)."""
    return int(math.ceil(depth * repeats))


def expand_blocks(spec: EfficientNetSpec) -> list[BlockArgs]:
    """The flat list of blocks for ``spec`` (B4: 32 blocks, Lite0/B0: 16 blocks)."""
    blocks: list[BlockArgs] = []
    last = len(B0_STAGES) - 1
    for i, (rep, k, s, e, cin, cout) in enumerate(B0_STAGES):
        keep = spec.fixed_stem_head and i in (0, last)
        n = rep if keep else round_repeats(rep, spec.depth)
        cin_r = round_filters(cin, spec.width)
        cout_r = round_filters(cout, spec.width)
        if spec.fixed_stem_head and i == 0:
            cin_r = spec.stem_channels
        for j in range(n):
            blocks.append(
                BlockArgs(
                    kernel=k,
                    stride=s if j == 0 else 1,
                    expand=e,
                    in_ch=cin_r if j == 0 else cout_r,
                    out_ch=cout_r,
                    se_ratio=spec.se_ratio,
                )
            )
    return blocks


def stem_channels(spec: EfficientNetSpec) -> int:
    """Stem output channels."""
    return spec.stem_channels if spec.fixed_stem_head else round_filters(32, spec.width)


def head_channels(spec: EfficientNetSpec) -> int:
    """Head (``_conv_head``) output channels."""
    return spec.head_channels if spec.fixed_stem_head else round_filters(1280, spec.width)


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TF-SAME padding (before, after) along one axis for an input of ``size`` pixels."""
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return pad // 2, pad - pad // 2


class Conv2dSame(nn.Conv2d):
    """Conv2d with TF-SAME padding: static (computed once for ``image_size``) or dynamic (``None``).

    The static padding lives in a parameter-free ``static_padding`` module, as in the lukemelas layout,
    so no extra keys appear in the state dict.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel: int,
        stride: int = 1,
        groups: int = 1,
        bias: bool = False,
        image_size: int | None = None,
    ) -> None:
        super().__init__(in_ch, out_ch, kernel, stride=stride, padding=0, groups=groups, bias=bias)
        self.image_size = image_size
        if image_size is None:
            self.static_padding: nn.Module = nn.Identity()
        else:
            left, right = same_padding(image_size, kernel, stride)
            pads = (left, right, left, right)
            self.static_padding = nn.ZeroPad2d(pads) if any(pads) else nn.Identity()

    @property
    def padding_ltrb(self) -> tuple[int, int, int, int] | None:
        """(left, right, top, bottom) for static padding, ``None`` when dynamic."""
        if self.image_size is None:
            return None
        if isinstance(self.static_padding, nn.ZeroPad2d):
            return tuple(int(p) for p in self.static_padding.padding)  # type: ignore[return-value]
        return (0, 0, 0, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.image_size is None:
            k, s = self.kernel_size, self.stride
            top, bottom = same_padding(x.shape[-2], k[0], s[0])
            left, right = same_padding(x.shape[-1], k[1], s[1])
            if top or bottom or left or right:
                x = F.pad(x, (left, right, top, bottom))
        else:
            x = self.static_padding(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _activation(name: str) -> nn.Module:
    if name == "swish":
        return nn.SiLU()
    if name == "relu6":
        return nn.ReLU6()
    raise ValueError(f"unknown activation {name!r}; expected 'swish' or 'relu6'")


def drop_connect(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Per-sample stochastic depth (drop the residual branch with probability ``p``)."""
    if not training or p <= 0.0:
        return x
    keep = 1.0 - p
    mask = torch.floor(keep + torch.rand((x.shape[0], 1, 1, 1), dtype=x.dtype, device=x.device))
    return x / keep * mask


class MBConvBlock(nn.Module):
    """Mobile inverted bottleneck block with optional squeeze-excitation (lukemelas names)."""

    def __init__(self, args: BlockArgs, spec: EfficientNetSpec, image_size: int | None) -> None:
        super().__init__()
        self.args = args
        eps, mom = spec.bn_eps, spec.bn_momentum
        mid = args.in_ch * args.expand
        if args.expand != 1:
            self._expand_conv = Conv2dSame(args.in_ch, mid, 1, image_size=image_size)
            self._bn0 = nn.BatchNorm2d(mid, eps=eps, momentum=mom)
        self._depthwise_conv = Conv2dSame(
            mid, mid, args.kernel, stride=args.stride, groups=mid, image_size=image_size
        )
        self._bn1 = nn.BatchNorm2d(mid, eps=eps, momentum=mom)
        self.has_se = args.se_ratio is not None and 0 < args.se_ratio <= 1
        if self.has_se:
            squeezed = max(1, int(args.in_ch * float(args.se_ratio)))  # type: ignore[arg-type]
            self._se_reduce = nn.Conv2d(mid, squeezed, 1, bias=True)
            self._se_expand = nn.Conv2d(squeezed, mid, 1, bias=True)
        self._project_conv = Conv2dSame(mid, args.out_ch, 1, image_size=image_size)
        self._bn2 = nn.BatchNorm2d(args.out_ch, eps=eps, momentum=mom)
        self._act = _activation(spec.activation)
        self.skip = args.stride == 1 and args.in_ch == args.out_ch

    def forward(self, inputs: torch.Tensor, drop_connect_rate: float = 0.0) -> torch.Tensor:
        x = inputs
        if self.args.expand != 1:
            x = self._act(self._bn0(self._expand_conv(x)))
        x = self._act(self._bn1(self._depthwise_conv(x)))
        if self.has_se:
            s = F.adaptive_avg_pool2d(x, 1)
            s = self._se_expand(self._act(self._se_reduce(s)))
            x = torch.sigmoid(s) * x
        x = self._bn2(self._project_conv(x))
        if self.skip:
            x = drop_connect(x, drop_connect_rate, self.training) + inputs
        return x


def build_efficientnet_modules(spec: EfficientNetSpec) -> dict[str, nn.Module]:
    """The backbone modules, by their lukemelas names, in registration order."""
    size = spec.pad_image_size
    eps, mom = spec.bn_eps, spec.bn_momentum
    c_stem = stem_channels(spec)
    mods: dict[str, nn.Module] = {
        "_conv_stem": Conv2dSame(3, c_stem, 3, stride=2, image_size=size),
        "_bn0": nn.BatchNorm2d(c_stem, eps=eps, momentum=mom),
    }
    if size is not None:
        size = math.ceil(size / 2)
    blocks = []
    for args in expand_blocks(spec):
        blocks.append(MBConvBlock(args, spec, size))
        if size is not None and args.stride > 1:
            size = math.ceil(size / args.stride)
    mods["_blocks"] = nn.ModuleList(blocks)
    last = blocks[-1].args.out_ch
    mods["_conv_head"] = Conv2dSame(last, head_channels(spec), 1, image_size=size)
    mods["_bn1"] = nn.BatchNorm2d(head_channels(spec), eps=eps, momentum=mom)
    mods["_swish"] = _activation(spec.activation)
    return mods


def efficientnet_feature_channels(spec: EfficientNetSpec) -> tuple[int, int, int, int]:
    """Channels of (C3, C4, C5_1, C5) for a lukemelas-layout backbone."""
    blocks = expand_blocks(spec)
    reductions: list[int] = []
    for i, b in enumerate(blocks):
        if i > 0 and b.stride > 1:
            reductions.append(blocks[i - 1].out_ch)
    reductions.append(blocks[-1].out_ch)
    # reductions: [r1, r2, r3, r4, r5]; C3 = r3, C4 = r4, C5_1 = r5
    if len(reductions) < 5:
        raise ValueError(f"backbone has {len(reductions)} reductions; LAA-Net needs 5 (stride 32)")
    return reductions[2], reductions[3], reductions[4], head_channels(spec)


def efficientnet_endpoints(
    module: nn.Module, x: torch.Tensor, drop_connect_rate: float
) -> list[torch.Tensor]:
    """Run a module holding the lukemelas backbone names and return ``[C3, C4, C5_1, C5]``.

    An endpoint is the tensor before each spatial reduction, plus the last block output and the head
    output (lukemelas ``extract_endpoints``).
    """
    act = module._swish
    x = act(module._bn0(module._conv_stem(x)))
    endpoints: list[torch.Tensor] = []
    prev = x
    blocks = module._blocks
    n = len(blocks)
    for idx, block in enumerate(blocks):
        x = block(x, drop_connect_rate * float(idx) / n)
        if prev.shape[2] > x.shape[2]:
            endpoints.append(prev)
        elif idx == n - 1:
            endpoints.append(x)
        prev = x
    head = act(module._bn1(module._conv_head(x)))
    endpoints.append(head)
    if len(endpoints) < 6:
        raise ValueError(f"expected 6 endpoints (5 reductions + head), got {len(endpoints)}")
    return [endpoints[2], endpoints[3], endpoints[4], endpoints[5]]


class EfficientNet(nn.Module):
    """Stand-alone lukemelas-layout EfficientNet (features and optional ImageNet classifier ``_fc``)."""

    def __init__(self, spec: EfficientNetSpec, num_classes: int | None = None) -> None:
        super().__init__()
        self.spec = spec
        for name, mod in build_efficientnet_modules(spec).items():
            self.add_module(name, mod)
        if num_classes is not None:
            self._fc = nn.Linear(head_channels(spec), num_classes)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """``[C3, C4, C5_1, C5]``."""
        return efficientnet_endpoints(self, x, self.spec.drop_connect_rate if self.training else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (needs ``num_classes``)."""
        feats = self.forward_features(x)
        pooled = F.adaptive_avg_pool2d(feats[-1], 1).flatten(1)
        return self._fc(pooled)


class TimmBackbone(nn.Module):
    """A timm ``features_only`` model exposing (C3, C4, C5_1, C5).

    timm feature extractors end with the last stage, so C5 and C5_1 are the same stride-32 map.
    """

    def __init__(self, spec: TimmSpec) -> None:
        super().__init__()
        import timm

        self.spec = spec
        self.model = timm.create_model(spec.model_name, features_only=True, pretrained=spec.pretrained)
        reductions: Sequence[int] = self.model.feature_info.reduction()
        chans: Sequence[int] = self.model.feature_info.channels()
        self._index: list[int] = []
        for want in (8, 16, 32):
            if want not in reductions:
                raise ValueError(
                    f"timm model {spec.model_name!r} exposes reductions {list(reductions)}; "
                    "LAA-Net needs feature maps at strides 8, 16 and 32"
                )
            self._index.append(max(i for i, r in enumerate(reductions) if r == want))
        c3, c4, c5 = (chans[i] for i in self._index)
        self.feature_channels = (c3, c4, c5, c5)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.model(x)
        c3, c4, c5 = (feats[i] for i in self._index)
        return [c3, c4, c5, c5]
