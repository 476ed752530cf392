"""Measures of a site-year from its crop of a group: ring patches from the group's labelling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from shapely.geometry import box

from monitor.classify import Detection
from monitor.geo import NETWORK_ALIGN_M, Grid, site_grid, to_crs
from monitor.measure import RingScan, ring_patches
from tests.synthetic import site_year

CRS = "EPSG:32735"
X0, Y1 = 700000.0, 7100000.0
RING_M = 400.0


def _group_detection(seed: int) -> Detection:
    """2 x 2 km of blobs of every size and shape (many cut by a ring's edge)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=(200, 200)), 3)
    mask = field > np.quantile(field, 0.8)
    prob = rng.uniform(0.5, 1.0, mask.shape).astype(np.float32)
    valid = rng.uniform(size=mask.shape) > 0.05
    return Detection(prob, mask, valid, Grid(CRS, X0, Y1, 200, 200), "m1")


def _site(col_m: float, row_m: float):
    local = box(X0 + col_m, Y1 - row_m - 300, X0 + col_m + 300, Y1 - row_m)
    return to_crs(local, CRS, 4326)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ring_patches_from_the_group_labelling_are_those_of_the_ring_alone(seed):
    det = _group_detection(seed)
    scan = RingScan(det)
    ring_edges = 0
    for col_m, row_m in [(600, 600), (900, 700), (1100, 1200)]:  # overlapping rings
        geometry = _site(col_m, row_m)
        crop = det.crop(site_grid(geometry, RING_M, NETWORK_ALIGN_M))
        alone = ring_patches(site_year(), geometry, crop, RING_M, 0.05)
        grouped = ring_patches(site_year(), geometry, crop, RING_M, 0.05, scan)
        assert len(alone.ring_patches) >= 3
        assert grouped.ring_valid_fraction == alone.ring_valid_fraction
        assert len(grouped.ring_patches) == len(alone.ring_patches)
        for (g, ga, gp), (a, aa, ap) in zip(grouped.ring_patches, alone.ring_patches, strict=True):
            assert g.equals_exact(a, 0) and ga == aa and gp == ap
        ring = to_crs(to_crs(geometry, 4326, CRS).buffer(RING_M), CRS, 4326).exterior
        ring_edges += sum(p.distance(ring) < 2e-4 for p, _, _ in alone.ring_patches)
    assert ring_edges > 0  # patches cut by a ring's edge were compared too
