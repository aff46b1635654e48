"""A stage's FitConfig is composed of its profile section's optimiser part and the machine's
sections."""

from dataclasses import replace

from annokit.profile import Training, load_profile
from annokit.training.config import fit_config, training_part


def test_fit_config_takes_every_value_from_the_section():
    profile = load_profile("nuswide-m3")
    config = fit_config(profile.lqp, seed=3)
    t = config.training
    assert (
        config.epochs,
        config.batch_size,
        config.lr,
        t.momentum,
        t.weight_decay,
        config.seed,
    ) == (profile.lqp.epochs, 128, 0.1, 0.9, 0.0001, 3)
    assert fit_config(profile.rnn, seed=0).training.optimizer == "rmsprop_tf"
    assert fit_config(profile.rnn, seed=0, epochs=2).epochs == 2


def test_only_the_optimiser_part_of_a_section_is_recorded():
    """Extra seeds or a stage's other settings do not make a finished fit's checkpoint foreign."""
    profile = load_profile("demo")
    part = training_part(replace(profile.cnn, seeds=(1, 2)))
    assert type(part) is Training and part.seeds == ()
    assert part == training_part(profile.cnn)
    assert fit_config(profile.cnn, 0).with_epochs(7).epochs == 7
