"""The [cnn_rnn] section (Wang et al. 2016's CNN-RNN, notebook 07) of every paper profile, value by
value, with where each value comes from; the demo's own values are checked to stay the demo's.

Sources: Sec. 3 of the paper (readable); "Sec. 4" marks sizes the paper reports for its experiments
that the kit could not check against a readable copy; "kit" marks the kit's reading where no value
could be read (docs/deviations.md).
"""

import pytest

from annokit.models.cnn_rnn import CNNRNN, PaperLSTMCell
from annokit.profile import load_profile
from annokit.profile.sections import CNNRNNSettings

PAPER_PROFILES = (
    "nuswide-m3",
    "nuswide-multi-order",
    "coco-m3",
    "coco-multi-order",
    "voc2007-cnn-rnn",
)
# key: (value, source)
PAPER_VALUES = {
    "recurrent": ("paper", "Sec. 3.1, Eq. 1: ReLU as the activation, no bias written"),
    "activation": ("relu", "Sec. 3.1: the only non-linearity the paper names"),
    "optimizer": ("rmsprop", "Sec. 3.4: 'we apply the rmsprop optimization algorithm'"),
    "momentum": (0.0, "Sec. 3.4: plain RMSProp, no momentum named"),
    "embed_dim": (64, "Sec. 4: label embedding size"),
    "hidden_dim": (512, "Sec. 4: recurrent layer size"),
    "beam_size": (3, "kit: N of Sec. 3.3, no value read"),
    "max_labels": (0, "kit: the most labels of a training image"),
    "finetune": ("all", "abstract, Sec. 1: trained end to end, after the CNN unchanged (Sec. 3.4)"),
    "lr": (0.001, "kit: RMSProp's usual rate"),
    "finetune_lr": (1e-5, "kit: a hundred times below phase 1 for the pretrained CNN"),
    "epochs": (20, "kit"),
    "finetune_epochs": (5, "kit"),
    "batch_size": (64, "kit"),
}


@pytest.mark.parametrize("name", PAPER_PROFILES)
@pytest.mark.parametrize("key", sorted(PAPER_VALUES))
def test_paper_profiles_carry_the_paper_values(name, key):
    value, source = PAPER_VALUES[key]
    assert getattr(load_profile(name).cnn_rnn, key) == value, source


@pytest.mark.parametrize("key", sorted(PAPER_VALUES))
def test_the_section_defaults_are_the_paper_profiles_values(key):
    assert getattr(CNNRNNSettings(), key) == PAPER_VALUES[key][0]


def test_the_paper_model_is_built_from_the_section():
    settings = load_profile("coco-m3").cnn_rnn
    model = CNNRNN(80, 2048, settings.embed_dim, settings.hidden_dim, settings.recurrent)
    assert isinstance(model.recurrent, PaperLSTMCell)
    assert (
        model.embedding.weight.shape == (81, 64) and model.output.weight is model.embedding.weight
    )


def test_the_voc_profile_reads_voc_2007_with_its_official_split():
    profile = load_profile("voc2007-cnn-rnn")
    assert (profile.dataset, profile.split_rule, profile.manifest) == (
        "voc2007",
        "official",
        "voc2007",
    )


def test_the_demo_keeps_the_papers_model_but_its_own_budget():
    demo = load_profile("demo").cnn_rnn
    assert (demo.recurrent, demo.activation, demo.optimizer, demo.embed_dim) == (
        "paper",
        "relu",
        "rmsprop",
        64,
    )
    assert demo.finetune == "last_conv" and demo.hidden_dim == 256 and len(demo.seeds) == 3
