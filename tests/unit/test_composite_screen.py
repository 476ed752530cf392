"""The cloud and shadow screen on synthetic looks: it removes what SCL missed and keeps the
surfaces that look like haze to a naive screen (turbid water, tailings, limestone, salt)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from monitor.imagery.composite import _fuse, _sort_looks, median_composite, nan_quantile

#                 B01   B02   B03   B04   B05   B06   B07   B08   B8A   B09   B11   B12
TURBID = np.array([0.07, 0.08, 0.11, 0.12, 0.11, 0.07, 0.06, 0.055, 0.045, 0.03, 0.015, 0.01])
TAILINGS = np.array([0.18, 0.21, 0.26, 0.30, 0.32, 0.33, 0.34, 0.35, 0.36, 0.36, 0.40, 0.34])
LIMESTONE = np.array([0.28, 0.31, 0.35, 0.38, 0.395, 0.405, 0.415, 0.425, 0.43, 0.43, 0.45, 0.36])
GRASS = np.array([0.03, 0.035, 0.065, 0.035, 0.095, 0.235, 0.3, 0.33, 0.345, 0.34, 0.185, 0.09])
CLOUD = np.array([0.52, 0.52, 0.51, 0.50, 0.50, 0.50, 0.50, 0.50, 0.49, 0.45, 0.38, 0.28])


def _stack(surfaces: list[np.ndarray], looks: int, rng) -> np.ndarray:
    """(looks, 12, 1, n) DNs of each surface, with date-to-date variation of 15 %."""
    t = np.stack(
        [np.stack([s * rng.uniform(0.85, 1.15) for s in surfaces], axis=-1) for _ in range(looks)]
    )[:, :, None, :]
    return np.round(t * 10000).astype(np.uint16)


def test_turbid_water_tailings_and_limestone_keep_their_looks():
    rng = np.random.default_rng(0)
    dn = _stack([TURBID, TAILINGS, LIMESTONE, GRASS], 6, rng)
    scl = np.full((6, 1, 4), 5, np.uint8)
    med, clear = _fuse(dn, scl, np.zeros(6, bool))
    assert (clear[0] >= 4).all(), clear  # none of them erased, most looks kept
    for k, truth in enumerate([TURBID, TAILINGS, LIMESTONE, GRASS]):
        np.testing.assert_allclose(med[:, 0, k], truth, rtol=0.12)


def test_looks_scl_missed_are_screened():
    rng = np.random.default_rng(1)
    dn = _stack([GRASS, GRASS, TURBID], 5, rng)
    hazy = GRASS * 0.7 + CLOUD * 0.3  # a cloud edge SCL called clear
    dn[2, :, 0, 0] = np.round(hazy * 10000)
    dn[3, :, 0, 1] = np.round(CLOUD * 10000)  # a whole missed cloud
    scl = np.full((5, 1, 3), 4, np.uint8)
    med, clear = _fuse(dn, scl, np.zeros(5, bool))
    assert clear[0, 0] == 4 and clear[0, 1] == 4 and clear[0, 2] >= 4
    np.testing.assert_allclose(med[:, 0, 0], GRASS, rtol=0.12)
    assert med[1, 0, 1] < 0.06  # the cloud did not reach the median


def test_nan_quantile_matches_numpy():
    rng = np.random.default_rng(2)
    x = rng.random((7, 3, 5)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 0, 0] = np.nan
    ours = nan_quantile(x, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN pixel
        theirs = np.nanmedian(x, axis=0)
    np.testing.assert_allclose(ours, theirs, equal_nan=True, rtol=1e-6)


@pytest.mark.parametrize("looks", range(1, 13))
def test_looks_sort_as_numpy_sorts_them_for_any_number_of_looks(looks):
    rng = np.random.default_rng(looks)
    x = rng.random((looks, 2, 9, 11)).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 0, 0, 0] = np.nan
    x[:, 1, 2, 3] = 0.25  # ties
    ours, theirs = _sort_looks(x), np.sort(x, axis=0)
    n = np.sum(~np.isnan(x), axis=0)
    first_n = np.arange(looks)[:, None, None, None] < n[None]
    assert ours.dtype == x.dtype
    np.testing.assert_array_equal(ours[first_n], theirs[first_n])
    assert not np.isfinite(ours[~first_n]).any()  # what is not a look sorts last
    for q in (0.25, 0.5):  # and so the quantiles, as numpy's own
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
            theirs = np.nanquantile(x, q, axis=0)
        np.testing.assert_allclose(nan_quantile(x, q), theirs, equal_nan=True, rtol=1e-6)


def test_a_composite_fuses_only_where_there_is_data_and_in_parallel_alike():
    from monitor.geo import Grid
    from monitor.imagery.load import SceneStack

    rng = np.random.default_rng(3)
    t, h, w = 5, 70, 50
    dn = np.round(rng.uniform(0.02, 0.4, (t, 12, h, w)) * 10000).astype(np.uint16)
    dn[:, :, :20] = 0  # the scenes' edge: no look north of row 20 or east of column 35
    dn[:, :, :, 35:] = 0
    dn[1, :, 30:40, 5:10] = 0  # a hole in one look
    scl = np.full((t, h, w), 4, np.uint8)
    grid = Grid("EPSG:32735", 500000.0, 7100000.0, w, h)
    stack = SceneStack(dn, scl, [], grid.geobox(), [])
    stack.items = [type("Item", (), {"id": f"i{k}", "properties": {}})() for k in range(t)]
    one = median_composite(stack, grid, "g", 2021, threads=1)
    two = median_composite(stack, grid, "g", 2021, threads=2)
    np.testing.assert_array_equal(one.reflectance, two.reflectance)
    np.testing.assert_array_equal(one.clear, two.clear)
    assert np.isnan(one.reflectance[:, :20]).all() and (one.clear[:, 35:] == 0).all()
    inside, count = _fuse(dn[:, :, 20:, :35], scl[:, 20:, :35], np.zeros(t, bool))
    np.testing.assert_array_equal(one.reflectance[:, 20:, :35], inside)
    np.testing.assert_array_equal(one.clear[20:, :35], count)
    assert one.clear[35, 7] <= t - 1  # the hole is no look
