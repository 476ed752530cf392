"""Grids, crops and the plan by imagery: a site cropped from its group is the site alone."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import box

from monitor.geo import NETWORK_ALIGN_M, Grid, mask_polygon, polygon_mask, site_grid, union_grid
from monitor.imagery import Composite
from monitor.plan import SiteWindow, group_windows


def _window(site_id: str, geometry, buffer_m: float = 300.0) -> SiteWindow:
    grid = site_grid(geometry, buffer_m)
    return SiteWindow(site_id, geometry.wkb, grid, grid, "h")


def test_site_grids_are_aligned_sub_windows_of_their_union():
    a = site_grid(box(29.00, -26.00, 29.01, -25.99), 300)
    b = site_grid(box(29.03, -26.02, 29.04, -26.01), 300)
    u = union_grid([a, b])
    for g in (a, b):
        rows, cols = u.window_of(g)
        assert (rows.stop - rows.start, cols.stop - cols.start) == g.shape
        # the same ground: the window's corner is the site grid's corner
        assert u.transform * (cols.start, rows.start) == g.transform * (0, 0)
    with pytest.raises(ValueError, match="inside"):
        a.window_of(u)


def test_a_reach_on_the_network_lattice_holds_the_site_grid():
    site = box(29.0013, -26.0007, 29.0111, -25.9902)
    grid, reach = site_grid(site, 300), site_grid(site, 2000, NETWORK_ALIGN_M)
    assert reach.x0 % NETWORK_ALIGN_M == 0 and reach.y1 % NETWORK_ALIGN_M == 0
    assert reach.width * 10 % NETWORK_ALIGN_M == 0 and reach.height * 10 % NETWORK_ALIGN_M == 0
    rows, cols = reach.window_of(grid)  # raises unless the site grid lies inside
    assert rows.stop - rows.start == grid.height


def test_a_crop_of_a_composite_is_pixel_for_pixel_the_same():
    u = Grid("EPSG:32735", 700000.0, 7100000.0, 50, 40)
    refl = np.random.default_rng(0).random((12, 40, 50)).astype(np.float32)
    comp = Composite("group", 2021, refl, np.full((40, 50), 3, np.uint8), u, items_used=("a",))
    inner = Grid(u.crs, 700100.0, 7099900.0, 20, 15)
    crop = comp.crop(inner, "S1")
    np.testing.assert_array_equal(crop.reflectance, refl[:, 10:25, 10:30])
    assert crop.grid == inner and crop.name == "S1" and crop.items_used == ("a",)


def test_dense_sites_form_one_group_and_far_ones_their_own():
    dense = [
        _window(
            f"G{i}{j}", box(29 + 0.01 * i, -26 + 0.01 * j, 29.005 + 0.01 * i, -25.995 + 0.01 * j)
        )
        for i in range(5)
        for j in range(5)
    ]
    assert len(group_windows(dense)) == 1
    far = [_window("A", box(29, -26, 29.01, -25.99)), _window("B", box(29.5, -26, 29.51, -25.99))]
    assert len(group_windows(far)) == 2  # the land between them is not worth decoding
    assert len(group_windows(dense, max_px=1)) == len(dense)  # every site alone


def test_sites_in_two_utm_zones_never_share_a_group():
    west = _window("W", box(29.98, -26, 29.99, -25.99))
    east = _window("E", box(30.01, -26, 30.02, -25.99))
    assert west.grid.crs != east.grid.crs
    assert len(group_windows([west, east])) == 2


def test_masks_and_polygons_round_trip():
    g = Grid("EPSG:32735", 700000.0, 7100000.0, 30, 30)
    mask = np.zeros((30, 30), bool)
    mask[5:15, 8:20] = True
    poly = mask_polygon(mask, g.transform, g.crs)
    back = polygon_mask(poly, g.shape, g.transform, g.crs)
    assert (back == mask).all()
    assert mask_polygon(np.zeros((3, 3), bool), g.transform, g.crs) is None


def test_an_implausibly_large_site_grid_is_refused():
    with pytest.raises(ValueError, match="too large for one site"):
        site_grid(box(20, -30, 21, -29), 0)
