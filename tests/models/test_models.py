"""Tests for annokit.models: scale-map shapes, Eq. 2-3 fusion, frozen-backbone
training, heads and weight loading."""

from __future__ import annotations

import pytest
import torch
import torchvision.models as tvm

from annokit.models import (
    JointClassifier,
    LabelQuantityRegressor,
    MultiScaleCNN,
    TagsMLP,
    build_backbone,
    build_mscnn,
)
from annokit.models.backbone import imagenet_cache_path, load_imagenet_weights
from annokit.models.losses import label_quantity_loss
from annokit.models.mscnn import FusionBlock, fusion_parameter_count

RESNET101_CHANNELS = (64, 256, 512, 1024, 2048)


@pytest.fixture(scope="module")
def resnet101():
    torch.manual_seed(0)
    return build_backbone(101, num_classes=3).eval()


@pytest.fixture
def small_mscnn():
    torch.manual_seed(0)
    return MultiScaleCNN.from_finetuned_cnn(build_backbone(18, num_classes=5))


@pytest.mark.slow
def test_resnet101_scale_maps_at_224(resnet101):
    with torch.no_grad():
        maps = resnet101.scale_maps(torch.randn(1, 3, 224, 224))
        logits = resnet101.fc(resnet101.avgpool(maps[-1]).flatten(1))
    expected = [
        (1, 64, 112, 112),
        (1, 256, 56, 56),
        (1, 512, 28, 28),
        (1, 1024, 14, 14),
        (1, 2048, 7, 7),
    ]
    assert [tuple(m.shape) for m in maps] == expected
    assert resnet101.channels == RESNET101_CHANNELS
    assert resnet101.feature_dim == 2048
    assert logits.shape == (1, 3)


@pytest.mark.parametrize(
    "depth, channels",
    [
        (18, (64, 64, 128, 256, 512)),
        ("resnet34", (64, 64, 128, 256, 512)),
        ("ResNet-50", RESNET101_CHANNELS),
    ],
)
@pytest.mark.slow
def test_backbone_shapes_at_64(depth, channels):
    model = build_backbone(depth, num_classes=4).eval()
    with torch.no_grad():
        images = torch.randn(2, 3, 64, 64)
        maps = model.scale_maps(images)
        assert [tuple(m.shape) for m in maps] == [
            (2, c, 64 // s, 64 // s) for c, s in zip(channels, (2, 4, 8, 16, 32))
        ]
        assert model.features(images).shape == (2, channels[-1])
        assert model(images).shape == (2, 4)
    assert model.channels == channels and model.feature_dim == channels[-1]


def test_unknown_depth_rejected():
    with pytest.raises(ValueError, match="152"):
        build_backbone(152, num_classes=2)


@pytest.mark.slow
def test_mscnn_shapes(small_mscnn):
    model = small_mscnn.eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        maps = model.backbone.scale_maps(images)
        fused = model.fused_maps(images)
        assert [f.shape for f in fused] == [m.shape for m in maps]
        assert torch.equal(fused[0], maps[0])  # M~1 = M1 (Eq. 2)
        assert model.features(images).shape == (2, 512)
        assert model(images).shape == (2, 5)
    assert len(model.fusion) == 4


def test_fusion_blocks_resnet101_layout_and_parameter_count():
    c = RESNET101_CHANNELS
    blocks = torch.nn.ModuleList(FusionBlock(c[i], c[i + 1]) for i in range(4))
    assert [b.psi1[0].out_channels for b in blocks] == [64, 256, 512, 1024]  # Fig. 4: 3x3 convs
    assert [b.psi2[0].out_channels for b in blocks] == [256, 512, 1024, 2048]  # Fig. 4: 1x1 convs
    assert all(b.psi1[0].kernel_size == (3, 3) and b.psi1[0].stride == (2, 2) for b in blocks)
    actual = sum(p.numel() for p in blocks.parameters())
    assert fusion_parameter_count(c) == actual == 15_203_456
    fused_prev, scale_map = torch.randn(1, 64, 16, 16), torch.randn(1, 256, 8, 8)
    out = blocks[0](fused_prev, scale_map)  # Eq. 2: M~2 = M2 + F_2(M~1)
    assert out.shape == (1, 256, 8, 8)
    assert torch.equal(out, scale_map + blocks[0].psi2(blocks[0].psi1(fused_prev)))


def test_build_mscnn_matches_backbone_channels():
    model = build_mscnn(18, num_classes=2)
    assert model.backbone.fc is None and model.feature_dim == 512
    assert sum(p.numel() for p in model.fusion.parameters()) == fusion_parameter_count(
        model.backbone.channels
    )


@pytest.mark.slow
def test_frozen_backbone_training_step_changes_only_fusion_and_fc(small_mscnn):
    model = small_mscnn.freeze_backbone().train()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("fusion.", "fc.")) for n in trainable)
    assert not model.backbone.training and model.fusion.training
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    images, targets = torch.randn(4, 3, 64, 64), torch.randint(0, 2, (4, 5)).float()
    torch.nn.functional.binary_cross_entropy_with_logits(model(images), targets).backward()  # Eq. 4
    optimizer.step()
    after = model.state_dict()
    for key, value in before.items():
        if key.startswith("backbone."):  # parameters and BN running statistics alike
            assert torch.equal(value, after[key]), key
    assert not torch.equal(before["fc.weight"], after["fc.weight"])
    assert not torch.equal(before["fusion.0.psi1.0.weight"], after["fusion.0.psi1.0.weight"])
    assert not torch.equal(
        before["fusion.3.psi2.1.running_mean"], after["fusion.3.psi2.1.running_mean"]
    )


def test_mscnn_from_cnn_keeps_backbone_and_fc():
    torch.manual_seed(1)
    cnn = build_backbone(18, num_classes=3).eval()
    model = MultiScaleCNN.from_finetuned_cnn(cnn).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(cnn.scale_maps(images), model.backbone.scale_maps(images)):
            assert torch.equal(a, b)
    assert torch.equal(model.fc.weight, cnn.fc.weight) and torch.equal(model.fc.bias, cnn.fc.bias)
    assert cnn.fc is not None and model.backbone is not cnn  # the stage-1 CNN is left untouched
    with pytest.raises(ValueError):
        MultiScaleCNN.from_finetuned_cnn(cnn, num_classes=7)


@pytest.mark.parametrize("depth, feature_dim", [(18, 512), (101, 2048)])
def test_tags_mlp_matches_visual_feature_dim(depth, feature_dim, request):
    backbone = request.getfixturevalue("resnet101") if depth == 101 else build_backbone(18, None)
    assert backbone.feature_dim == feature_dim
    mlp = TagsMLP(num_tags=30, num_classes=4, feature_dim=backbone.feature_dim)  # dim f_t = dim f_v
    linears = [m for m in mlp.encoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(30, 2048), (2048, feature_dim)]
    tags = torch.randint(0, 2, (3, 30))
    assert mlp.features(tags).shape == (3, feature_dim)
    assert mlp(tags).shape == (3, 4)


def test_joint_classifier_with_and_without_tags():
    f_v, f_t = torch.randn(3, 8), torch.randn(3, 8)
    assert JointClassifier(16, 5)(torch.cat([f_v, f_t], dim=1)).shape == (3, 5)
    assert JointClassifier(8, 5)(f_v).shape == (3, 5)


def test_label_quantity_regressor_dropout():
    torch.manual_seed(0)
    lqp = LabelQuantityRegressor(16)
    linears = [m for m in lqp.mlp if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [512, 256, 1]
    f = torch.randn(6, 16)
    lqp.train()
    assert lqp(f).shape == (6,)
    assert not torch.equal(lqp(f), lqp(f))
    lqp.eval()
    assert torch.equal(lqp(f), lqp(f))


def test_label_quantity_loss_hand_case():
    pred, true = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1, 3, 2])
    assert label_quantity_loss(pred, true).item() == pytest.approx(5 / 3)  # (0 + 1 + 4) / 3
    assert label_quantity_loss(pred, true, reduction="sum").item() == pytest.approx(5.0)


def test_local_weights_file_loads(tmp_path):
    reference = tvm.resnet18()
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    model = build_backbone(18, num_classes=7, weights_path=path)
    for key, value in reference.state_dict().items():
        if not key.startswith("fc."):
            assert torch.equal(model.state_dict()[key], value), key
    assert model.fc.out_features == 7


def test_cached_enum_weights_load_and_missing_cache_raises(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    expected = tmp_path / "checkpoints" / tvm.ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    assert imagenet_cache_path(18) == expected
    with pytest.raises(FileNotFoundError, match="weights_path") as info:
        build_backbone(18, num_classes=2, pretrained=True)
    assert str(expected) in str(info.value)
    expected.parent.mkdir()
    reference = tvm.resnet18()
    torch.save(reference.state_dict(), expected)
    state = load_imagenet_weights("resnet18")
    assert not any(k.startswith("fc.") for k in state)
    assert torch.equal(state["conv1.weight"], reference.conv1.weight)


def test_corrupt_or_mismatched_weights_name_the_file(tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
    with pytest.raises(ValueError, match="corrupt.pth"):
        load_imagenet_weights(18, corrupt)
    wrong = tmp_path / "resnet34.pth"
    torch.save(tvm.resnet34().state_dict(), wrong)
    with pytest.raises(ValueError, match="resnet34.pth"):
        load_imagenet_weights(18, wrong)
    with pytest.raises(FileNotFoundError, match="absent.pth"):
        load_imagenet_weights(18, tmp_path / "absent.pth")


@pytest.mark.parametrize(
    "depth,dim", [(18, 512), ("resnet34", 512), (50, 2048), ("ResNet-101", 2048)]
)
def test_feature_dim_of_matches_the_built_backbone(depth, dim):
    from annokit.models.backbone import feature_dim_of

    assert feature_dim_of(depth) == dim == build_backbone(depth, num_classes=3).feature_dim
