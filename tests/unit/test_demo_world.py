"""The demo world's training regions: every biome's holds wet sand-and-gravel pits beside
restored flooded pits and sand bars, so that a model trained on them learns the working pit,
not "water with a sandy rim"."""

from __future__ import annotations

import pytest

from monitor.demo import world as world_module
from monitor.demo.world import make_world


@pytest.mark.parametrize("biome", ["savanna", "rainforest", "arid"])
def test_every_training_region_holds_wet_pits_beside_their_look_alikes(biome, monkeypatch):
    drawn = []
    confuser = world_module._confuser
    monkeypatch.setattr(
        world_module,
        "_confuser",
        lambda land, kind, *a: drawn.append(kind) or confuser(land, kind, *a),
    )
    region = make_world(7, biome=biome, training=True, size=480)
    wet = [m for m in region.mines if (m.kind, m.variant) == ("quarry", "wet")]
    assert len(wet) >= 3
    assert {"pit_lake", "river_sand"} <= set(drawn)


def test_the_main_world_keeps_its_own_mine_kinds():
    world = make_world(7, biome="savanna", size=480)
    assert not any(m.kind == "quarry" for m in world.mines)  # savanna digs none of its own


def test_a_wider_training_spread_draws_materials_farther_from_the_table_and_nothing_else():
    import numpy as np

    from monitor.demo import _world_specs
    from monitor.demo.spectra import SPECTRA

    def drawn(spread):
        specs = _world_specs(("arid",), 7, 2016, 2025, 480, 480, 2, spread)
        return {name: make_world(**kw) for name, kw in specs.items()}

    usual, wide = drawn(1.0), drawn(3.0)
    assert np.array_equal(usual["arid/main"].spectra, wide["arid/main"].spectra)
    for name in ("arid/training0", "arid/training1"):
        a, b = usual[name], wide[name]
        assert [m.kind for m in a.mines] == [m.kind for m in b.mines]  # the same land
        stray = [float(np.abs(np.log(w.spectra / SPECTRA)).mean()) for w in (a, b)]
        assert stray[1] > 2 * stray[0]
