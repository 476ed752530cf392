"""The temporal filter: one-year flips go, growth and shrinking stay, gaps are skipped."""

import numpy as np

from monitor.geo import mask_polygon, polygon_mask, site_grid
from monitor.temporal import filtered_areas, majority_of_three
from tests.synthetic import site_polygon, site_year


def _nested(rng, n: int, shape=(20, 20)) -> list[np.ndarray]:
    """A footprint that only grows, year by year."""
    order = rng.permutation(shape[0] * shape[1])
    counts = np.sort(rng.integers(0, shape[0] * shape[1], n))
    out = []
    for k in counts:
        m = np.zeros(shape[0] * shape[1], bool)
        m[order[:k]] = True
        out.append(m.reshape(shape))
    return out


def test_a_growing_or_shrinking_footprint_is_left_as_detected():
    rng = np.random.default_rng(3)
    for _ in range(20):
        grows = _nested(rng, int(rng.integers(1, 9)))
        for series in (grows, grows[::-1]):
            for got, want in zip(majority_of_three(series), series, strict=True):
                np.testing.assert_array_equal(got, want)


def test_a_one_year_blip_goes_and_a_one_year_hole_is_filled():
    empty, blob = np.zeros((5, 5), bool), np.zeros((5, 5), bool)
    blob[1:4, 1:4] = True
    got = majority_of_three([empty, blob, empty, blob, blob, empty, blob])
    expect = [empty, empty, blob, blob, blob, blob, blob]
    for g, e in zip(got, expect, strict=True):
        np.testing.assert_array_equal(g, e)


def _footprint(geometry, rows: slice, cols: slice):
    grid = site_grid(geometry, 0.0)
    inside = polygon_mask(geometry, grid.shape, grid.transform, grid.crs)
    mask = np.zeros(grid.shape, bool)
    mask[rows, cols] = True
    mask &= inside
    return mask_polygon(mask, grid.transform, grid.crs), mask.sum() * 0.01, inside.sum() * 0.01


def test_filtered_areas_of_stored_footprints_skip_gaps_and_keep_unchanged_years():
    site = site_polygon()
    pit, pit_ha, site_ha = _footprint(site, slice(5, 15), slice(5, 15))
    blip, blip_ha, _ = _footprint(site, slice(18, 28), slice(0, 30))
    rows = [
        site_year(year=2016, area=0.0, footprint=None),
        site_year(year=2017, area=blip_ha, footprint=blip),  # everything flagged one year
        site_year(year=2018, area=None, footprint=None),  # a gap: not a neighbour
        site_year(year=2019, area=0.0, footprint=None),
        site_year(year=2020, area=pit_ha, footprint=pit),
        site_year(year=2021, area=pit_ha, footprint=pit),
        site_year(year=2022, area=0.0, footprint=None),  # a cloudy miss inside a mine
        site_year(year=2023, area=pit_ha + 0.004, footprint=pit),  # raw area, not the polygon's
    ]
    feet = {r.year: r.footprint for r in rows if r.footprint is not None}
    got = filtered_areas(site, rows, feet)
    assert set(got) == {2016, 2017, 2019, 2020, 2021, 2022, 2023}  # the gap stays a gap
    assert got[2017] == (0.0, 0.0)  # gone: 2016 and 2019 (not the gap) say otherwise
    assert abs(got[2022][0] - pit_ha) < 1e-9  # the hole filled from its neighbours
    assert abs(got[2022][1] - pit_ha / site_ha) < 1e-12
    assert got[2020] == (pit_ha, pit_ha / site_ha)  # unchanged: the detected value, exactly
    assert got[2023][0] == pit_ha + 0.004  # the last year as detected


def test_the_run_stores_filtered_areas_beside_the_detected_ones(tmp_path):
    from monitor.queries import history_records
    from monitor.run import _post_pass
    from monitor.store import SiteRecord, Store

    site = site_polygon()
    blip, blip_ha, _ = _footprint(site, slice(18, 28), slice(0, 30))
    with Store(tmp_path / "h.gpkg") as store:
        store.upsert_sites([SiteRecord("A", "Alpha", site)])
        store.put_site_years(
            site_year(
                year=y, area=blip_ha if y == 2021 else 0.0, footprint=blip if y == 2021 else None
            )
            for y in (2020, 2021, 2022)
        )
        before = store.generation()
        _post_pass(store, ["A"])
        rows = store.site_years("A")
        assert store.generation() > before  # cached analyses see the change
        assert store.footprints("A")[2021].equals(blip)  # the layer keeps what was detected
        assert [r.detected_area_ha for r in rows] == [0.0, blip_ha, 0.0]
    assert [r.mined_area_ha for r in rows] == [0.0, 0.0, 0.0]
    assert [rec["mined_area_ha"] for rec in history_records(rows)] == [0.0, 0.0, 0.0]
