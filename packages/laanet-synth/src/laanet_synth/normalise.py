"""The network input: uint8 RGB images to a normalised float tensor, the one definition every caller uses.

``(x / 255 - mean) / std`` per channel, channels first. The detector (``laanet_model.Detector.normalise``) and
the training datasets (:func:`laanet_synth.dataset.to_tensor`) both call :func:`normalise_images`, so what the
network sees in training and at inference is computed by the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["normalise_images"]


def normalise_images(
    images: np.ndarray | torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """uint8 RGB ``(N, H, W, 3)`` -> ``(N, 3, H, W)`` (or one ``(H, W, 3)`` image -> ``(3, H, W)``) in ``dtype`` on
    ``device`` (default: where ``images`` are), scaled to [0, 1], minus ``mean``, over ``std``."""
    x = images if isinstance(images, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(images))
    if x.dtype != torch.uint8 or x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB images (N, H, W, 3) or one (H, W, 3), got {x.dtype} {tuple(x.shape)}")
    single = x.ndim == 3
    if single:
        x = x[None]
    if device is not None:
        x = x.to(device)
    x = x.permute(0, 3, 1, 2).to(dtype).div_(255.0)
    m = torch.tensor(tuple(mean), dtype=dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(tuple(std), dtype=dtype, device=x.device).view(1, 3, 1, 1)
    out = (x - m) / s
    return out[0] if single else out
