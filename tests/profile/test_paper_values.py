"""Every value the papers state, typed from the papers, against the paper profiles read through the
settings objects.

A setting that drifts (a learning rate, a width, the BN decay) fails here. Sources: M3 = Niu et al.
2019, Sec. III and IV-A3; MOR = Dutta et al. 2020, Sec. 4.3 (and the authors' release, where
named).
"""

import pytest
import torch
from torch import nn

from annokit.models import (
    JointClassifier,
    LabelQuantityRegressor,
    MultiScaleCNN,
    TagsMLP,
    build_backbone,
)
from annokit.models.backbone import feature_dim_of
from annokit.profile import load_profile

M3_PROFILES = {"nuswide-m3": "NUS-WIDE", "coco-m3": "MS-COCO"}
PAPER_PROFILES = ("nuswide-m3", "nuswide-multi-order", "coco-m3", "coco-multi-order")
# M3 IV-A3: "0.001 for NUS-WIDE and 0.002 for MSCOCO" (CNN, multi-scale CNN, classifier);
# "0.1 for NUS-WIDE and 0.0001 for MSCOCO" (textual model, label quantity prediction).
M3_RATES = {
    "NUS-WIDE": {"cnn": 0.001, "mscnn": 0.001, "classifier": 0.001, "tags_mlp": 0.1, "lqp": 0.1},
    "MS-COCO": {
        "cnn": 0.002,
        "mscnn": 0.002,
        "classifier": 0.002,
        "tags_mlp": 0.0001,
        "lqp": 0.0001,
    },
}
M3_STAGES = ("cnn", "mscnn", "tags_mlp", "classifier", "lqp")


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_backbone_input_size_and_top_k(name):
    profile = load_profile(name)
    assert (
        profile.cnn.backbone == "resnet101" and profile.cnn.pretrained
    )  # M3 IV-A3; MOR 4.3: ResNet-101 on ImageNet
    assert profile.image_size == 224  # M3 IV-A3: "resized to 224×224"
    assert profile.annotation.top_k == 3  # M3 IV-A2: the baselines' top-3 rule


@pytest.mark.parametrize("name, dataset", M3_PROFILES.items())
def test_m3_learning_rates_per_stage_and_dataset(name, dataset):
    profile = load_profile(name)
    assert {stage: profile.stage(stage).lr for stage in M3_STAGES} == M3_RATES[dataset]


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_m3_optimiser_momentum_and_batch_norm_decay(name):
    profile = load_profile(name)
    for stage in M3_STAGES:
        settings = profile.stage(stage)
        assert settings.optimizer == "sgd" and settings.momentum == 0.9, (
            stage
        )  # "Momentum ... rate of 0.9"
    assert profile.cnn.bn_momentum == pytest.approx(
        1 - 0.9997
    )  # "decay rate of batch normalization ... 0.9997"
    assert profile.mscnn.bn_momentum == pytest.approx(1 - 0.9997)  # the fusion blocks' BN too
    # Eq. 4 averaged over the labels, as TensorFlow's sigmoid cross-entropy does
    # (docs/deviations.md, "Loss reductions")
    assert {
        stage: profile.stage(stage).loss_reduction
        for stage in ("cnn", "mscnn", "tags_mlp", "classifier")
    } == dict.fromkeys(("cnn", "mscnn", "tags_mlp", "classifier"), "mean")


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_multi_order_rnn_settings(name):
    rnn = load_profile(name).rnn
    # MOR 4.3: "512 cells ... 256-dimensional label-embedding ... batch size of 32 with RMSProp ...
    # learning-rate of 1e-4 for 50 epochs ... T = 5 time-steps"; the RMSProp of the release's
    # solver/graph_ops.py is TensorFlow 1's (mean square from 1, epsilon inside the root)
    assert (
        rnn.hidden,
        rnn.embedding,
        rnn.batch_size,
        rnn.optimizer,
        rnn.lr,
        rnn.epochs,
        rnn.steps,
    ) == (512, 256, 32, "rmsprop_tf", 1e-4, 50, 5)
    # the authors' release, the paper profiles' default: config.py rmsprop_decay 0.9, momentum 0.9,
    # opt_epsilon 1.0
    assert (rnn.variant, rnn.rmsprop_alpha, rnn.momentum, rnn.rmsprop_eps) == (
        "released-code",
        0.9,
        0.9,
        1.0,
    )


def test_lqp_regressor_is_512_256_1_with_dropout_exactly_one_half():
    regressor = LabelQuantityRegressor(
        4096
    )  # M3 III-C: "two hidden layers with 512 and 256 units ... dropout rate 0.5"
    linear = [m for m in regressor.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(4096, 512), (512, 256), (256, 1)]
    assert [m.p for m in regressor.modules() if isinstance(m, nn.Dropout)] == [0.5, 0.5]


def test_tags_mlp_widths_match_the_paper_on_resnet101():
    profile = load_profile("nuswide-m3")
    mlp = TagsMLP(
        1000, 81, hidden=profile.tags_mlp.hidden, feature_dim=feature_dim_of(profile.cnn.backbone)
    )
    widths = [(m.in_features, m.out_features) for m in mlp.encoder if isinstance(m, nn.Linear)]
    assert widths == [
        (1000, 2048),
        (2048, 2048),
    ]  # M3 III-B: 2,048 units, dim f_t = dim f_v = 2,048


def test_joint_feature_is_4096_wide_into_the_classifier_and_lqp():
    f_v, f_t = torch.zeros(2, feature_dim_of("resnet101")), torch.zeros(2, 2048)
    joint = torch.cat([f_v, f_t], dim=1)  # M3 III-B: f = [f_v, f_t]
    assert joint.shape == (2, 4096)
    assert JointClassifier(4096, 81)(joint).shape == (2, 81)
    assert LabelQuantityRegressor(4096).eval()(joint).shape == (2,)


def test_mscnn_on_resnet101_at_224_fuses_the_papers_map_sizes_and_channels():
    cnn = build_backbone("resnet101", num_classes=81)
    mscnn = MultiScaleCNN.from_finetuned_cnn(cnn).eval()
    with torch.no_grad():
        fused = mscnn.fused_maps(torch.randn(1, 3, 224, 224))
    # M3 III-A: "112 × 112, 56 × 56, 28 × 28, 14 × 14 and 7 × 7, along with 64, 256, 512, 1024 and
    # 2048 channels"
    assert [tuple(m.shape[1:]) for m in fused] == [
        (64, 112, 112),
        (256, 56, 56),
        (512, 28, 28),
        (1024, 14, 14),
        (2048, 7, 7),
    ]
    assert mscnn.features(torch.randn(1, 3, 224, 224)).shape == (1, 2048)


def test_eq4_averaged_over_labels_is_the_sum_divided_by_c():
    from annokit.models.losses import sigmoid_cross_entropy

    logits, targets = (
        torch.tensor([[0.0, 2.0, -1.0, 0.5], [1.0, -2.0, 0.0, 3.0]]),
        torch.tensor([[1, 0, 0, 1], [0, 0, 1, 1]]),
    )
    summed, averaged = (
        sigmoid_cross_entropy(logits, targets, "sum"),
        sigmoid_cross_entropy(logits, targets, "mean"),
    )
    assert averaged.item() == pytest.approx(summed.item() / 4)
    assert averaged.item() == pytest.approx(
        torch.nn.functional.binary_cross_entropy_with_logits(logits, targets.float()).item()
    )
