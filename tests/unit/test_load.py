"""Loading scenes: bands coarser than 10 m read on their own lattice give what GDAL's nearest
warp gives, on tiny COGs with Planetary Computer's asset layout."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pystac
import pytest
from affine import Affine
from odc.geo.geobox import GeoBox
from pyproj import Transformer
from shapely.geometry import box, mapping

from monitor.bands import BAND_RESOLUTION, BANDS
from monitor.imagery import load
from tests.synthetic import add_cog_asset

EPSG = 32735
X0, Y1 = 699960.0, 7100040.0  # a tile corner: on the 10, 20 and 60 m lattices
SIDE_M = 1800


def _item(tmp_path, k: int, rng) -> pystac.Item:
    t = Transformer.from_crs(EPSG, 4326, always_xy=True)
    xs, ys = t.transform([X0, X0 + SIDE_M], [Y1 - SIDE_M, Y1])
    bbox = [min(xs), min(ys), max(xs), max(ys)]
    when = dt.datetime(2021, 6, 1 + k, tzinfo=dt.UTC)
    item = pystac.Item(f"S2A_{k}", mapping(box(*bbox)), bbox, when, {"proj:epsg": EPSG})
    folder = tmp_path / item.id
    folder.mkdir()
    for band in (*BANDS, "SCL"):
        res = BAND_RESOLUTION[band]
        n = SIDE_M // res
        data = rng.integers(1, 12, (n, n)).astype(np.uint8 if band == "SCL" else np.uint16)
        data[: n // 10] = 0  # nodata along the top, as at a swath edge
        add_cog_asset(item, folder, band, data, res, X0, Y1, EPSG)
    return item


@pytest.mark.parametrize("offset_px", [(0, 0), (4, 2), (7, 13)])
def test_coarse_bands_read_on_their_lattice_equal_the_warp(tmp_path, monkeypatch, offset_px):
    rng = np.random.default_rng(sum(offset_px))
    items = [_item(tmp_path, k, rng) for k in range(2)]
    r, c = offset_px  # a grid starting off the 20 and 60 m pixel edges, reaching past the data
    geobox = GeoBox((170, 190), Affine(10, 0, X0 + 10 * c, 0, -10, Y1 - 10 * r), f"EPSG:{EPSG}")
    assert set(load._shared_lattices(items, geobox)) == {
        b for b, res in BAND_RESOLUTION.items() if res > 10
    }
    fast = load.load_scenes(items, geobox, threads=1)
    monkeypatch.setattr(load, "_shared_lattices", lambda *a: None)  # every band warped to 10 m
    warped = load.load_scenes(items, geobox, threads=1)
    assert fast.dn.shape == (2, 12, 170, 190)
    np.testing.assert_array_equal(fast.dn, warped.dn)
    np.testing.assert_array_equal(fast.scl, warped.scl)


def test_an_asset_off_the_lattice_is_warped(tmp_path):
    rng = np.random.default_rng(0)
    items = [_item(tmp_path, 0, rng)]
    geobox = GeoBox((50, 50), Affine(10, 0, X0 + 5, 0, -10, Y1), f"EPSG:{EPSG}")  # half a pixel
    assert load._shared_lattices(items, geobox) == {}


@pytest.mark.parametrize("f", [2, 6])
def test_repeating_a_coarse_band_equals_indexing_it(f):
    rng = np.random.default_rng(f)
    for r0 in range(f):
        for c0 in range(f):
            h, w = 23, 17  # not multiples of f: the last coarse pixels are cut
            coarse = rng.integers(0, 9, (2, (r0 + h + f - 1) // f, (c0 + w + f - 1) // f))
            target = np.zeros((2, h, w), coarse.dtype)
            load._repeat_into(target, coarse, f, r0, c0)
            rows, cols = (r0 + np.arange(h)) // f, (c0 + np.arange(w)) // f
            np.testing.assert_array_equal(target, coarse[:, rows][:, :, cols])
