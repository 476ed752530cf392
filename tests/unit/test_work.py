"""The worker side's small parts: DNs as the cache and COGs store them, and the coordinator's
model shared with local threads."""

from __future__ import annotations

import numpy as np
from shapely.geometry import box

from monitor import work
from monitor.geo import site_grid
from monitor.imagery.cog import to_dn
from monitor.params import CompositeParams
from monitor.plan import GroupTask


def test_dn_rounds_clips_and_zeroes_every_band_of_a_pixel_with_a_gap():
    refl = np.array(
        [[[0.00004, 0.00005, 0.00015]], [[-0.1, 7.0, np.nan]]], np.float32
    )  # (2 bands, 1 row, 3 cols)
    dn = to_dn(refl)
    assert dn.dtype == np.uint16
    # round half to even as numpy does, clipped to uint16, 0 in every band where one is NaN
    assert dn.tolist() == [[[0, 0, 0]], [[0, 65535, 0]]]
    assert to_dn(dn.astype(np.float32) / 10000).tolist() == dn.tolist()
    assert not np.isnan(refl[0]).any()  # the input is left as it was


def test_local_threads_use_the_coordinators_model_instead_of_loading_it(monkeypatch):
    geometry = box(27.0, -24.0, 27.005, -23.995)
    grid = site_grid(geometry, 300.0)
    task = GroupTask(
        "2021-g000", 2021, grid, CompositeParams((6, 7), 70.0, 300.0), (), "c.yaml", "m.keras", "k"
    )
    model = object()

    def no_load(path):
        raise AssertionError("the model was loaded again")

    monkeypatch.setattr(work, "load_model", no_load)
    monkeypatch.setattr(work, "_OPEN", {})
    work.execute([task], threads=2, model=model)  # results are lazy: nothing runs yet
    assert work._model("m.keras") is model
