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
