"""Property and reference tests for the LAA-Net losses, SAM and the LR schedule."""

from __future__ import annotations

import math

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_train.losses import (
    LossWeights,
    classification_loss,
    consistency_logits,
    consistency_loss,
    heatmap_focal_loss,
    laanet_loss,
    resolution_consistency_loss,
)
from laanet_train.optim import SAM, linear_decay_factor

FAST = settings(max_examples=40, deadline=None)

logit_arrays = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 3), st.just(1), st.integers(2, 6), st.integers(2, 6)),
    elements=st.floats(-30, 30, allow_nan=False),
)


@st.composite
def heatmap_pairs(draw):
    logits = draw(logit_arrays)
    target = draw(hnp.arrays(np.float64, logits.shape, elements=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0])))
    return torch.from_numpy(logits), torch.from_numpy(target)


def _reference_focal(logits: np.ndarray, gt: np.ndarray) -> float:
    p = np.clip(1 / (1 + np.exp(-logits)), 1e-4, 1 - 1e-4)
    pos = gt == 1
    neg = gt < 1
    pos_loss = np.sum(0.72 * np.log(p[pos]) * (1 - p[pos]) ** 2)
    neg_loss = np.sum(np.log(1 - p[neg]) * p[neg] ** 2 * (1 - gt[neg]) ** 4)
    n = pos.sum()
    return float(-neg_loss if n == 0 else -(pos_loss + neg_loss) / n)


@FAST
@given(heatmap_pairs())
def test_model_focal_loss_finite_nonnegative_matches_formula(pair) -> None:
    logits, target = pair
    loss = heatmap_focal_loss(logits, target)
    assert torch.isfinite(loss) and loss.item() >= 0
    assert loss.item() == pytest.approx(_reference_focal(logits.numpy(), target.numpy()), rel=1e-9, abs=1e-12)


@FAST
@given(heatmap_pairs(), st.randoms())
def test_model_focal_loss_batch_order_invariant(pair, rnd) -> None:
    logits, target = pair
    perm = list(range(logits.shape[0]))
    rnd.shuffle(perm)
    a = heatmap_focal_loss(logits, target)
    b = heatmap_focal_loss(logits[perm], target[perm])
    assert a.item() == pytest.approx(b.item(), rel=1e-12, abs=1e-15)


@FAST
@given(heatmap_pairs())
def test_model_focal_loss_zero_gradient_when_saturated_correct(pair) -> None:
    _, target = pair
    target = (target == 1).double()  # only exact positives and plain negatives
    logits = torch.where(target == 1, 20.0, -20.0).double().requires_grad_()
    loss = heatmap_focal_loss(logits, target)
    loss.backward()
    assert torch.count_nonzero(logits.grad) == 0
    assert loss.item() < 1e-6


def test_model_focal_loss_normalised_by_batch_positives() -> None:
    logits = torch.zeros(2, 1, 4, 4, dtype=torch.float64)
    target = torch.zeros_like(logits)
    target[0, 0, 1, 1] = 1.0
    one = heatmap_focal_loss(logits, target)
    target[1, 0, 2, 2] = 1.0
    two = heatmap_focal_loss(logits, target)
    # Each positive at p = 0.5 contributes 0.72 * log 2 * 0.25; negatives log 2 * 0.25 each.
    assert one.item() == pytest.approx((0.72 * math.log(2) * 0.25 + 31 * math.log(2) * 0.25) / 1)
    assert two.item() == pytest.approx((2 * 0.72 * math.log(2) * 0.25 + 30 * math.log(2) * 0.25) / 2)
    with pytest.raises(ValueError, match="must match"):
        heatmap_focal_loss(logits, target[:, :, :2])


emb_arrays = hnp.arrays(
    np.float64,
    st.tuples(st.integers(1, 3), st.integers(1, 8), st.integers(2, 5), st.integers(2, 5)),
    elements=st.floats(-5, 5, allow_nan=False),
)


@st.composite
def consistency_pairs(draw):
    emb = draw(emb_arrays)
    b, _, h, w = emb.shape
    target = draw(hnp.arrays(np.float64, (b, 1, h, w), elements=st.floats(0, 1, allow_nan=False)))
    return torch.from_numpy(emb), torch.from_numpy(target)


@FAST
@given(consistency_pairs(), st.randoms())
def test_model_consistency_loss_properties(pair, rnd) -> None:
    emb, target = pair
    loss = consistency_loss(emb, target)
    assert torch.isfinite(loss) and loss.item() >= 0
    perm = list(range(emb.shape[0]))
    rnd.shuffle(perm)
    assert consistency_loss(emb[perm], target[perm]).item() == pytest.approx(
        loss.item(), rel=1e-12, abs=1e-15
    )
    # Dot products are invariant to an orthogonal change of the embedding basis.
    c = emb.shape[1]
    q, _ = torch.linalg.qr(torch.from_numpy(np.random.default_rng(c).standard_normal((c, c))))
    rotated = torch.einsum("dc,bchw->bdhw", q, emb)
    assert consistency_loss(rotated, target).item() == pytest.approx(loss.item(), rel=1e-9, abs=1e-12)


def test_model_consistency_anchor_is_first_argmax() -> None:
    emb = torch.zeros(1, 2, 2, 2, dtype=torch.float64)
    emb[0, :, 0, 1] = torch.tensor([3.0, 4.0])  # anchor (first maximum of the target)
    emb[0, :, 1, 1] = torch.tensor([1.0, 0.0])
    target = torch.tensor([[[[0.0, 0.8], [0.2, 0.8]]]], dtype=torch.float64)
    sims = consistency_logits(emb, target)
    assert sims[0, 0, 0, 1].item() == pytest.approx(25 / math.sqrt(2))
    assert sims[0, 0, 1, 1].item() == pytest.approx(3 / math.sqrt(2))
    assert sims[0, 0, 0, 0].item() == 0.0
    # A real image (all-zero target) anchors at pixel 0.
    zero = torch.zeros_like(target)
    assert consistency_logits(emb, zero)[0, 0, 0, 1].item() == 0.0
    with pytest.raises(ValueError, match="target"):
        consistency_loss(emb, target[:, :, :1])


@FAST
@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-20, 20, allow_nan=False)), st.randoms())
def test_model_classification_loss_properties(logits, rnd) -> None:
    x = torch.from_numpy(logits).reshape(-1, 1)
    labels = torch.from_numpy((np.arange(len(logits)) % 2).astype(np.float64))
    loss = classification_loss(x, labels)
    assert torch.isfinite(loss) and loss.item() >= 0
    perm = list(range(len(logits)))
    rnd.shuffle(perm)
    assert classification_loss(x[perm], labels[perm]).item() == pytest.approx(loss.item(), rel=1e-12)
    ref = -np.mean(
        labels.numpy() * np.log(1 / (1 + np.exp(-logits)))
        + (1 - labels.numpy()) * np.log(1 - 1 / (1 + np.exp(-logits)))
    )
    if np.isfinite(ref):
        assert loss.item() == pytest.approx(ref, rel=1e-6, abs=1e-9)


def test_model_total_loss_weights_and_gradients() -> None:
    g = torch.Generator().manual_seed(0)
    outputs = {
        "hm": torch.randn(2, 1, 6, 6, generator=g, requires_grad=True),
        "cls": torch.randn(2, 1, generator=g, requires_grad=True),
        "cstency": torch.randn(2, 8, 6, 6, generator=g, requires_grad=True),
    }
    hm_t = torch.zeros(2, 1, 6, 6)
    hm_t[1, 0, 3, 3] = 1.0
    targets = {"hm": hm_t, "label": torch.tensor([0.0, 1.0]), "cstency": hm_t * 0.7}
    w = LossWeights(hm=10.0, cls=1.0, cstency=100.0)
    parts = laanet_loss(outputs, targets, w)
    expected = 10 * parts["hm"] + parts["cls"] + 100 * parts["cstency"]
    assert parts["loss"].item() == pytest.approx(expected.item())
    parts["loss"].backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in outputs.values())
    only_cls = laanet_loss(outputs, targets, LossWeights(hm=0.0, cls=1.0, cstency=0.0))
    assert only_cls["loss"].item() == pytest.approx(only_cls["cls"].item())
    assert only_cls["hm"].item() == 0.0


def test_model_linear_decay_schedule_matches_official_curve() -> None:
    base = 5e-5
    lrs = [base * linear_decay_factor(e, 100, 25, 4) for e in range(101)]
    assert lrs[0] == pytest.approx(5e-5)
    assert lrs[25] == pytest.approx(2e-4)
    assert lrs[10] == pytest.approx(5e-5 * (1 + 3 * 10 / 25))
    assert lrs[100] == pytest.approx(0.0, abs=1e-18)
    assert lrs[62] == pytest.approx(2e-4 * (1 - 37 / 75))
    with pytest.raises(ValueError):
        linear_decay_factor(0, 10, 20)


def test_model_sam_reaches_minimum_and_restores_weights() -> None:
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    opt = SAM([w], torch.optim.SGD, rho=0.05, lr=0.1)

    def loss_fn() -> torch.Tensor:
        return ((w - torch.tensor([1.0, 1.0])) ** 2).sum()

    for _ in range(100):
        loss_fn().backward()
        before = w.detach().clone()
        opt.first_step(zero_grad=True)
        assert not torch.equal(w.detach(), before)  # climbed to the perturbed point
        assert torch.linalg.norm(w.detach() - before).item() == pytest.approx(0.05, rel=1e-5)
        loss_fn().backward()
        opt.second_step(zero_grad=True)
    # SAM keeps a rho-sized perturbation, so it settles within about lr * 2 * rho of the minimum.
    assert torch.linalg.norm(w.detach() - torch.tensor([1.0, 1.0])).item() < 0.02

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    loss_fn().backward()
    assert opt.step(closure) is not None
    with pytest.raises(ValueError, match="closure"):
        opt.step()
    state = opt.state_dict()
    opt2 = SAM([w], torch.optim.SGD, rho=0.05, lr=0.1)
    opt2.load_state_dict(state)
    assert opt2.param_groups[0]["lr"] == 0.1


def test_resolution_consistency_loss_is_a_huber_distance_between_the_views() -> None:
    a = torch.tensor([[0.0], [-2.0], [1.0]])
    assert resolution_consistency_loss(a, a.clone()).item() == 0.0
    b = a + torch.tensor([[0.5], [3.0], [-1.0]])
    # quadratic below 1 (0.5 * 0.5**2), linear above (3 - 0.5), the seam at 1 (0.5)
    assert resolution_consistency_loss(a, b).item() == pytest.approx((0.125 + 2.5 + 0.5) / 3)
    assert resolution_consistency_loss(a, b).item() == pytest.approx(resolution_consistency_loss(b, a).item())
    with pytest.raises(ValueError, match="must match"):
        resolution_consistency_loss(a, b[:2])


def test_total_loss_compares_the_real_rows_with_their_views() -> None:
    g = torch.Generator().manual_seed(1)
    cls = torch.randn(4, 1, generator=g, requires_grad=True)
    outputs = {"hm": torch.randn(4, 1, 6, 6, generator=g), "cls": cls, "cstency": torch.randn(4, 8, 6, 6, generator=g),
               "view_cls": torch.randn(2, 1, generator=g, requires_grad=True)}
    hm_t = torch.zeros(4, 1, 6, 6)
    hm_t[2:, 0, 3, 3] = 1.0
    targets = {"hm": hm_t, "label": torch.tensor([[0.0], [0.0], [1.0], [1.0]]), "cstency": hm_t * 0.7}
    w = LossWeights(hm=1.0, cls=1.0, cstency=1.0, rescons=2.0)
    parts = laanet_loss(outputs, targets, w)
    expected_rc = resolution_consistency_loss(cls[:2], outputs["view_cls"])
    assert parts["rescons"].item() == pytest.approx(expected_rc.item())
    assert parts["loss"].item() == pytest.approx((parts["hm"] + parts["cls"] + parts["cstency"] + 2 * expected_rc).item())
    parts["loss"].backward()
    assert outputs["view_cls"].grad is not None and float(outputs["view_cls"].grad.abs().sum()) > 0
    # without the weight the views are ignored; with it they are required
    assert "rescons" not in laanet_loss(outputs, targets, LossWeights(hm=1.0, cstency=1.0))
    no_views = {k: v for k, v in outputs.items() if k != "view_cls"}
    with pytest.raises(ValueError, match="view_cls"):
        laanet_loss(no_views, targets, w)
