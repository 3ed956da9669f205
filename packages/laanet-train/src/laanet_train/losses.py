"""LAA-Net training losses: heatmap focal loss, self-consistency loss and BCE on the class logit, and (for
our own recipes only) a resolution-consistency term.

``L = hm * L_hm + cls * L_cls + cstency * L_cstency + rescons * L_rescons`` (weights in :class:`LossWeights`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = [
    "LossWeights",
    "clamped_sigmoid",
    "heatmap_focal_loss",
    "consistency_loss",
    "classification_loss",
    "resolution_consistency_loss",
    "laanet_loss",
]

from laanet_model.heads import HM_CLAMP


@dataclass(frozen=True)
class LossWeights:
    """Weights of the three terms (defaults: the official SBI config; the released SBI weights used hm=10)."""

    hm: float = 100.0
    cls: float = 1.0
    cstency: float = 100.0
    rescons: float = 0.0


def clamped_sigmoid(x: torch.Tensor, eps: float = HM_CLAMP) -> torch.Tensor:
    """``clamp(sigmoid(x), eps, 1 - eps)`` as the official heatmap consumers apply it."""
    return torch.clamp(torch.sigmoid(x), eps, 1.0 - eps)


def heatmap_focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    *,
    smoothing: float = 0.35,
    alpha: float = 2.0,
    beta: float = 4.0,
) -> torch.Tensor:
    """CornerNet focal loss with positive-term smoothing, normalised by the positives of the whole batch.

    Positives are pixels where ``target == 1`` exactly; their term is weighted by
    ``(1 - smoothing) + smoothing * 0.2``. Negatives (``target < 1``) are down-weighted by
    ``(1 - target) ** beta``. Returns ``-(pos + neg) / num_pos`` (or ``-neg`` without positives).
    """
    if logits.shape != target.shape:
        raise ValueError(f"heatmap logits {tuple(logits.shape)} and target {tuple(target.shape)} must match")
    p = clamped_sigmoid(logits)
    target = target.to(p.dtype)
    pos_mask = (target == 1).to(p.dtype)
    neg_mask = (target < 1).to(p.dtype)
    pos_weight = (1.0 - smoothing) + smoothing * 0.2
    pos = (pos_weight * torch.log(p) * (1.0 - p) ** alpha * pos_mask).sum()
    neg = (torch.log(1.0 - p) * p**alpha * (1.0 - target) ** beta * neg_mask).sum()
    num_pos = pos_mask.sum()
    # Without positives pos == 0 and this is -neg, as in the official loss.
    return -(pos + neg) / num_pos.clamp(min=1.0)


def consistency_logits(embeddings: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``<E[:, anchor], E[:, p]> / sqrt(C)`` for every pixel p, anchor = first argmax of the target.

    ``embeddings`` (B, C, H, W), ``target`` (B, 1, H, W); returns (B, 1, H, W).
    """
    if embeddings.ndim != 4 or target.ndim != 4 or target.shape[1] != 1:
        raise ValueError(
            f"expected embeddings (B, C, H, W) and target (B, 1, H, W), got {tuple(embeddings.shape)} "
            f"and {tuple(target.shape)}"
        )
    b, c, h, w = embeddings.shape
    if target.shape[0] != b or target.shape[2:] != (h, w):
        raise ValueError(f"target {tuple(target.shape)} does not match embeddings {tuple(embeddings.shape)}")
    flat = embeddings.reshape(b, c, h * w)
    anchor_idx = target.reshape(b, h * w).argmax(dim=1)
    anchor = flat[torch.arange(b, device=flat.device), :, anchor_idx]  # (B, C)
    sims = torch.einsum("bc,bcp->bp", anchor, flat) / math.sqrt(c)
    return sims.reshape(b, 1, h, w)


def consistency_loss(embeddings: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Self-consistency loss: mean BCE between ``sigmoid(consistency_logits)`` and the target in [0, 1]."""
    logits = consistency_logits(embeddings, target)
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="mean")


def classification_loss(cls_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean BCE on the class logit (labels 0 = real, 1 = fake)."""
    labels = labels.to(cls_logits.dtype).reshape(cls_logits.shape)
    return F.binary_cross_entropy_with_logits(cls_logits, labels, reduction="mean")


def resolution_consistency_loss(real_logits: torch.Tensor, view_logits: torch.Tensor) -> torch.Tensor:
    """Mean Huber distance (delta 1) between the class logits of real faces and of the same faces rendered at
    another effective resolution: quadratic for small disagreements, linear for large ones, so one face whose
    views disagree wildly does not swamp the batch. Symmetric: both views are pulled together."""
    if real_logits.shape != view_logits.shape:
        raise ValueError(f"real logits {tuple(real_logits.shape)} and view logits {tuple(view_logits.shape)} must match")
    return F.smooth_l1_loss(real_logits, view_logits, reduction="mean", beta=1.0)


def laanet_loss(
    outputs: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    weights: LossWeights | None = None,
) -> dict[str, torch.Tensor]:
    """The weighted total and its parts.

    ``outputs``: ``hm`` (B,1,H,W), ``cls`` (B,1), ``cstency`` (B,C,H,W), and with ``rescons`` weighted
    ``view_cls`` (R,1): the class logits of the R real rows (label 0, in row order) rendered at another
    resolution. ``targets``: ``hm`` (B,1,H,W), ``label`` (B,), ``cstency`` (B,1,H,W) in [0, 1]. Terms whose
    weight is 0 are skipped. Returns a dict with ``loss`` (the total) and the unweighted ``hm``, ``cls``,
    ``cstency`` terms (and ``rescons`` when weighted).
    """
    w = weights or LossWeights()
    zero = outputs["cls"].new_zeros(())
    parts = {"hm": zero, "cls": zero, "cstency": zero}
    if w.rescons:
        if "view_cls" not in outputs:
            raise ValueError("the rescons term needs outputs['view_cls'] (the class logits of the real faces' views)")
        real = targets["label"].reshape(-1) == 0
        parts["rescons"] = resolution_consistency_loss(outputs["cls"][real], outputs["view_cls"])
    if w.hm:
        parts["hm"] = heatmap_focal_loss(outputs["hm"], targets["hm"])
    if w.cls:
        parts["cls"] = classification_loss(outputs["cls"], targets["label"])
    if w.cstency:
        parts["cstency"] = consistency_loss(outputs["cstency"], targets["cstency"])
    total = w.hm * parts["hm"] + w.cls * parts["cls"] + w.cstency * parts["cstency"]
    if w.rescons:
        total = total + w.rescons * parts["rescons"]
    return {"loss": total, **parts}
