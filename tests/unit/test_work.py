"""The worker side's small parts: DNs as the cache and COGs store them, and the model
loaded once per process, beside the imagery."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from shapely.geometry import box

from monitor import work
from monitor.errors import ModelError
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


def _task(config_path: str) -> GroupTask:
    grid = site_grid(box(27.0, -24.0, 27.005, -23.995), 300.0)
    params = CompositeParams((6, 7), 70.0, 300.0)
    return GroupTask("2021-g000", 2021, grid, params, (), config_path, "m.keras", "k")


def test_local_threads_load_the_model_once_beside_the_imagery(monkeypatch):
    loads = []

    def slow_load(path):
        loads.append(path)
        time.sleep(0.2)  # long enough for every thread to ask for it meanwhile
        return object()

    monkeypatch.setattr(work, "load_model", slow_load)
    monkeypatch.setattr(work, "_OPEN", {})
    with ThreadPoolExecutor(3) as pool:
        models = list(pool.map(work._model, ["m.keras"] * 3))
    assert loads == [Path("m.keras")]
    assert models[0] is models[1] is models[2]


def test_a_model_that_cannot_load_stops_the_run_before_any_result(monkeypatch, tmp_path):
    def broken(path):
        raise ModelError(f"cannot load model {path}")

    monkeypatch.setattr(work, "load_model", broken)
    monkeypatch.setattr(work, "_OPEN", {})
    task = _task(str(tmp_path / "missing.yaml"))  # the group itself fails too, as text
    with pytest.raises(ModelError, match="cannot load model"):
        list(work.execute([task], threads=2))
