"""The demo world's mine mix: training regions hold the field's every mine type."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.demo.biomes import BIOMES
from monitor.demo.mines import MINE_KINDS
from monitor.demo.world import _field_variants, _mine_kinds


@pytest.mark.parametrize("name", list(BIOMES))
def test_a_training_region_holds_every_mine_kind_of_the_field(name):
    kinds = _mine_kinds(np.random.default_rng(3), BIOMES[name], 23, training=True)
    assert len(kinds) == 23
    assert set(kinds) == set(MINE_KINDS)


@pytest.mark.parametrize("name", list(BIOMES))
def test_a_main_world_holds_only_its_biomes_mine_kinds(name):
    own = {k for k, _ in BIOMES[name].mine_kinds}
    assert set(_mine_kinds(np.random.default_rng(3), BIOMES[name], 12)) == own


def test_field_variants_gather_every_biomes_variants_once():
    assert _field_variants("quarry") == ("dry", "rock", "wet")
    assert set(_field_variants("benched_pit")) == {
        "coal",
        "iron",
        "hardrock",
        "copper",
        "limestone",
    }
