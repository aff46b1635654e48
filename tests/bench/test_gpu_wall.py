"""Wall hours on the GPUs of one machine: independent jobs one per card, longest first; the image
stages under torchrun; the one-card wall is the chain's hours."""

import pytest
from tests.bench.test_projection_chain import RATES

from annokit.bench.chain import TORCHRUN, Work
from annokit.bench.gpu_wall import chain_wall, makespan, notebook_wall
from annokit.bench.projection import PAPER_PROFILES, project_profile


def test_makespan_by_hand():
    # longest first: 3+2+2 | 3+2 (the best split, 3+3 | 2+2+2, is 6: a greedy schedule, as a pool's)
    assert makespan([3.0, 3.0, 2.0, 2.0, 2.0], 2) == 7.0
    assert makespan([5.0, 1.0, 1.0], 8) == 5.0  # the longest job bounds it
    assert makespan([1.0] * 16, 8) == 2.0
    assert makespan([], 4) == 0.0


def test_a_notebook_sums_its_alone_stages_shares_torchrun_and_packs_each_bag():
    stages = [
        (Work("01", "training", 1, "r", 1, bag=TORCHRUN), 8.0),
        (Work("01", "features", 1, "r"), 1.0),
        (Work("06", "grid", 1, "r", 4, jobs=4, bag="grid"), 4.0),
        (Work("06", "labelling", 1, "r", 2, jobs=2, bag="labelling"), 2.0),
        (Work("06", "curriculum", 1, "r", 2), 3.0),
    ]
    assert notebook_wall(stages[:2], 8) == pytest.approx(8.0 / 8 + 1.0)
    # the grid's four jobs of 1 h on four cards, then the labelling's two of 1 h, then the rest
    assert notebook_wall(stages[2:], 4) == pytest.approx(1.0 + 1.0 + 3.0)
    walls = chain_wall(stages, 1)
    assert walls["total"] == pytest.approx(sum(hours for _, hours in stages))


@pytest.mark.parametrize("name", PAPER_PROFILES)
def test_eight_cards_take_at_least_an_eighth_and_at_most_the_one_card_hours(name):
    projected = project_profile(name, RATES)
    one, eight = projected["wall_hours"]["1"], projected["wall_hours"]["8"]
    assert one["total"] == pytest.approx(projected["hours"])
    assert projected["hours"] / 8 <= eight["total"] < projected["hours"]
    # notebook 06's grid fans out: its wall on eight cards is well under its hours
    grid = projected["notebooks"]["06_partial_labels"]["hours"]
    assert eight["06_partial_labels"] < grid / 2
