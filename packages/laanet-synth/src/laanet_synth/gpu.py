"""Batched torch versions of the SBI mask deformation and blending (GPU when available, CPU tensors too).

Randomness comes from a ``torch.Generator`` on the tensors' device; the per-sample parameters (affines,
kernel sigmas, blend ratios) are drawn by :func:`sample_sbi_params` or given explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


def default_device() -> torch.device:
    """CUDA when torch sees it, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass(frozen=True)
class SBIBatchParams:
    """Per-sample random parameters for a batch of B masks (all tensors on one device)."""

    affine: torch.Tensor  # (B, 2, 3) pixel-space affines
    sigma1: torch.Tensor  # (B,) first blur sigma
    sigma2: torch.Tensor  # (B,) second blur sigma
    ratio: torch.Tensor  # (B,) blend ratio


def _auto_sigma(k: torch.Tensor) -> torch.Tensor:
    """OpenCV's sigma for an odd kernel size k: 0.3 * ((k - 1) / 2 - 1) + 0.8."""
    return 0.3 * ((k - 1) * 0.5 - 1) + 0.8


def sample_sbi_params(batch: int, height: int, width: int, generator: torch.Generator, device: torch.device | str = "cpu") -> SBIBatchParams:
    """Draw SBI parameters: affine (translate +-3 % / +-1.5 %, scale U[0.95, 1/0.95]); blur kernels as in
    the CPU path, folded with the random resize factor into effective sigmas; blend ratio from
    {0.25, 0.5, 0.75, 1, 1, 1}."""
    def u(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(batch, generator=generator, device=device)

    s = u(0.95, 1 / 0.95)
    tx, ty = u(-0.03, 0.03) * width, u(-0.015, 0.015) * height
    cx, cy = (width - 1) / 2, (height - 1) / 2
    aff = torch.zeros(batch, 2, 3, device=device)
    aff[:, 0, 0] = s
    aff[:, 1, 1] = s
    aff[:, 0, 2] = cx - s * cx + tx
    aff[:, 1, 2] = cy - s * cy + ty
    resize = u(0.8, 1 / 0.8)  # working-size factor of the CPU path: blur there = blur / factor here
    k1 = 5 + 2 * torch.randint(0, 11, (batch,), generator=generator, device=device)
    sig2 = torch.randint(5, 46, (batch,), generator=generator, device=device).float()
    ratios = torch.tensor([0.25, 0.5, 0.75, 1.0, 1.0, 1.0], device=device)
    ratio = ratios[torch.randint(0, 6, (batch,), generator=generator, device=device)]
    return SBIBatchParams(aff, _auto_sigma(k1.float()) / resize, sig2 / resize, ratio)


def gaussian_kernels(sigmas: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, 2r+1) normalised 1-D Gaussian kernels."""
    x = torch.arange(-radius, radius + 1, device=sigmas.device, dtype=torch.float32)
    k = torch.exp(-(x[None] ** 2) / (2 * sigmas[:, None].float() ** 2))
    return k / k.sum(1, keepdim=True)


def blur_batch(x: torch.Tensor, sigmas: torch.Tensor, max_radius: int = 40) -> torch.Tensor:
    """Separable Gaussian blur of (B, 1, H, W) with a different sigma per sample (zero padding)."""
    b, c, h, w = x.shape
    r = int(min(max_radius, max(1, math.ceil(3 * float(sigmas.max())))))
    k = gaussian_kernels(sigmas, r)  # (B, K)
    y = x.reshape(1, b * c, h, w)
    kx = k.repeat_interleave(c, 0)[:, None, None, :]
    ky = k.repeat_interleave(c, 0)[:, None, :, None]
    y = F.conv2d(F.pad(y, (r, r, 0, 0)), kx, groups=b * c)
    y = F.conv2d(F.pad(y, (0, 0, r, r)), ky, groups=b * c)
    return y.reshape(b, c, h, w)


def deform_masks(masks: torch.Tensor, affine: torch.Tensor, generator: torch.Generator, alpha: float = 50.0, sigma: float = 7.0) -> torch.Tensor:
    """Affine + elastic deformation of (B, 1, H, W) masks in one ``grid_sample`` (bilinear, zero border)."""
    b, _, h, w = masks.shape
    dev = masks.device
    noise = torch.rand(b * 2, 1, h, w, generator=generator, device=dev) * 2 - 1
    disp = blur_batch(noise, torch.full((b * 2,), sigma, device=dev)).reshape(b, 2, h, w) * alpha
    ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float32), torch.arange(w, device=dev, dtype=torch.float32), indexing="ij")
    ex = xs[None] + disp[:, 0]
    ey = ys[None] + disp[:, 1]
    a = affine.float()
    det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    inv00, inv01 = a[:, 1, 1] / det, -a[:, 0, 1] / det
    inv10, inv11 = -a[:, 1, 0] / det, a[:, 0, 0] / det
    ux, uy = ex - a[:, 0, 2, None, None], ey - a[:, 1, 2, None, None]
    sx = inv00[:, None, None] * ux + inv01[:, None, None] * uy
    sy = inv10[:, None, None] * ux + inv11[:, None, None] * uy
    grid = torch.stack([sx / max(w - 1, 1) * 2 - 1, sy / max(h - 1, 1) * 2 - 1], -1)
    out = F.grid_sample(masks.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out.clamp_(0, 1)


def _normalise_max(x: torch.Tensor) -> torch.Tensor:
    mx = x.amax(dim=(1, 2, 3), keepdim=True)
    return torch.where(mx > 0, x / mx.clamp_min(1e-12), x)


def blend_masks(masks: torch.Tensor, sigma1: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """The two-stage blurred blend mask for (B, 1, H, W): blur, normalise, keep the fully-inside part,
    blur again, normalise."""
    m = _normalise_max(blur_batch(masks.float(), sigma1))
    m = torch.where(m >= 1 - 1e-6, torch.ones_like(m), torch.zeros_like(m))
    m = _normalise_max(blur_batch(m, sigma2))
    return m.clamp_(0, 1)


def blend_images(source: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    """``r*M*source + (1 - r*M)*target`` for (B, 3, H, W) images (any float or uint8), masks (B, 1, H, W)."""
    w = mask * ratio.view(-1, 1, 1, 1)
    out = w * source.float() + (1 - w) * target.float()
    if source.dtype == torch.uint8:
        out = out.round_().clamp_(0, 255).to(torch.uint8)
    return out


def sbi_blend_batch(
    sources: torch.Tensor,
    targets: torch.Tensor,
    hull_masks: torch.Tensor,
    generator: torch.Generator,
    params: SBIBatchParams | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The SBI mask deformation and blending for a batch: sources are warped by their affines, masks by
    affine + elastic, then blurred twice, and images blended. Returns (fakes, M)."""
    b, _, h, w = sources.shape
    p = params or sample_sbi_params(b, h, w, generator, sources.device)
    m = deform_masks(hull_masks, p.affine, generator)
    m = blend_masks(m, p.sigma1, p.sigma2)
    a = p.affine.float()
    theta = _pixel_affine_to_theta(a, h, w)
    grid = F.affine_grid(theta, (b, 3, h, w), align_corners=True)
    src = F.grid_sample(sources.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    if sources.dtype == torch.uint8:
        src = src.round_().clamp_(0, 255).to(torch.uint8)
    return blend_images(src, targets, m, p.ratio), m


def _pixel_affine_to_theta(a: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The ``affine_grid`` theta (output -> input, normalised coords, align_corners) of a pixel affine."""
    full = torch.zeros(a.shape[0], 3, 3, device=a.device)
    full[:, :2] = a
    full[:, 2, 2] = 1
    inv = torch.linalg.inv(full)
    n = torch.tensor([[2 / max(w - 1, 1), 0, -1], [0, 2 / max(h - 1, 1), -1], [0, 0, 1]], device=a.device)
    n_inv = torch.linalg.inv(n)
    return (n @ inv @ n_inv)[:, :2]
