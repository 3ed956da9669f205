from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from laanet_synth.gpu import (
    SBIBatchParams,
    blend_images,
    blend_masks,
    blur_batch,
    default_device,
    deform_masks,
    sample_sbi_params,
    sbi_blend_batch,
)
from laanet_synth.landmarks import template_landmarks
from laanet_synth.masks import hull_mask

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _masks(b: int, size: int, device: str) -> torch.Tensor:
    m = hull_mask((size, size), template_landmarks(size / 2, size / 2, size / 210), "facehull")
    return torch.from_numpy(m)[None, None].repeat(b, 1, 1, 1).to(device)


def _ident(b: int, device: str) -> SBIBatchParams:
    aff = torch.tensor([[[1.0, 0, 0], [0, 1, 0]]], device=device).repeat(b, 1, 1)
    return SBIBatchParams(aff, torch.full((b,), 2.0, device=device), torch.full((b,), 3.0, device=device), torch.ones(b, device=device))


@pytest.mark.parametrize("device", DEVICES)
def test_blur_matches_opencv(device):
    x = np.zeros((64, 64), np.float32)
    x[20:40, 15:45] = 1
    for sigma in (1.5, 3.0, 6.0):
        got = blur_batch(torch.from_numpy(x)[None, None].to(device), torch.tensor([sigma], device=device))[0, 0].cpu().numpy()
        k = 2 * int(np.ceil(3 * sigma)) + 1
        want = cv2.GaussianBlur(x, (k, k), sigma, borderType=cv2.BORDER_CONSTANT)
        np.testing.assert_allclose(got, want, atol=2e-3)


@pytest.mark.parametrize("device", DEVICES)
def test_identity_deformation_keeps_mask(device):
    m = _masks(3, 64, device)
    out = deform_masks(m, _ident(3, device).affine, torch.Generator(device=device).manual_seed(0), alpha=0.0)
    torch.testing.assert_close(out, m, atol=1e-5, rtol=0)


def test_translation_moves_mask():
    m = torch.zeros(1, 1, 32, 32)
    m[0, 0, 10:20, 10:20] = 1
    aff = torch.tensor([[[1.0, 0, 3.0], [0, 1, -2.0]]])
    out = deform_masks(m, aff, torch.Generator().manual_seed(0), alpha=0.0)
    torch.testing.assert_close(out[0, 0, 8:18, 13:23], torch.ones(10, 10), atol=1e-5, rtol=0)
    assert out.sum().item() == pytest.approx(100, abs=1e-3)


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([32, 64]))
def test_batch_properties(seed, size):
    g = torch.Generator().manual_seed(seed)
    b = 3
    src = torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g)
    tgt = torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g)
    fake, m = sbi_blend_batch(src, tgt, _masks(b, size, "cpu"), g)
    assert fake.dtype == torch.uint8 and fake.shape == src.shape
    assert m.min() >= 0 and m.max() <= 1
    zero = (m == 0).expand_as(fake)
    assert torch.equal(fake[zero], tgt[zero])
    g2 = torch.Generator().manual_seed(seed)
    torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g2)
    torch.randint(0, 256, (b, 3, size, size), dtype=torch.uint8, generator=g2)
    fake2, _ = sbi_blend_batch(src, tgt, _masks(b, size, "cpu"), g2)
    assert torch.equal(fake, fake2)


def test_blend_masks_inside_is_one():
    m = _masks(2, 96, "cpu")
    out = blend_masks(m, torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0]))
    assert (out.amax(dim=(1, 2, 3)) == 1.0).all() and out[:, :, 48, 48].min() > 0.9 and out[:, :, 0, 0].max() == 0


def test_blend_images_formula():
    s = torch.full((1, 3, 2, 2), 200.0)
    t = torch.full((1, 3, 2, 2), 100.0)
    m = torch.tensor([[[[0.0, 0.5], [1.0, 1.0]]]])
    out = blend_images(s, t, m, torch.tensor([0.5]))
    assert out[0, 0].flatten().tolist() == [100.0, 125.0, 150.0, 150.0]


def test_params_ranges():
    p = sample_sbi_params(64, 100, 200, torch.Generator().manual_seed(1))
    s = p.affine[:, 0, 0]
    assert (s >= 0.95).all() and (s <= 1 / 0.95).all()
    assert set(p.ratio.tolist()) <= {0.25, 0.5, 0.75, 1.0}
    assert default_device().type in ("cpu", "cuda")
