"""Composites against the demo world's truth; faults; a site across a UTM zone boundary."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pystac
import pytest
from pyproj import Transformer
from shapely.geometry import Polygon, box, mapping

from monitor.bands import BANDS
from monitor.demo.spectra import index_of
from monitor.demo.world import make_world
from monitor.geo import Grid
from monitor.imagery import (
    CompositeCache,
    LoadedScenes,
    load_scenes,
    median_composite,
    site_composite,
)
from monitor.imagery.source import LocalCatalog, SeasonQuery
from monitor.params import CompositeParams
from tests.synthetic import add_cog_asset

pytestmark = pytest.mark.slow

SEASON = (5, 6, 7, 8, 9)


@pytest.fixture(scope="module")
def world_and_source(tiny_demo):
    # the same world the tiny demo rendered (conftest: seed 11, 576 px, 2020-2023)
    world = make_world(seed=11, size=576, first_year=2020, last_year=2023)
    return world, LocalCatalog(tiny_demo / "catalog.json", "sentinel-2-l2a")


def _year(world, source, year):
    grid = Grid("EPSG:32735", world.origin[0], world.origin[1], world.size, world.size)
    q = SeasonQuery((-180, -90, 180, 90), year, SEASON, 70.0)
    items = [it for it in source.search(q) if it.properties["s2:mgrs_tile"] == world.mgrs_tile]
    comp = median_composite(load_scenes(items, grid.geobox()), grid, "world", year)
    # the clear-sky truth of every acquisition date
    clear_sky = np.stack([world.surface(year, it.datetime.timetuple().tm_yday) for it in items])
    return comp, clear_sky, items


def _cloudiest(source, world) -> int:
    def cover(year):
        q = SeasonQuery((-180, -90, 180, 90), year, SEASON, 70.0)
        its = [it for it in source.search(q) if it.properties["s2:mgrs_tile"] == world.mgrs_tile]
        return np.mean([it.properties["eo:cloud_cover"] for it in its])

    return max(range(2020, 2024), key=cover)


_WATER = [index_of(w) for w in ("water_clear", "water_turbid", "water_brown", "water_green")]


def test_cloudiest_year_leaves_no_cloud_over_land(world_and_source):
    world, source = world_and_source
    year = _cloudiest(source, world)
    comp, clear_sky, items = _year(world, source, year)
    assert np.mean([it.properties["eo:cloud_cover"] for it in items]) > 20
    ab = world.abundances(year, 200)
    land = ab[_WATER].sum(axis=0) < 0.5
    valid = land & (comp.clear >= 2)
    # a residual cloud is brighter in blue than the pixel ever is under clear sky that season
    haze = comp.reflectance[1] - clear_sky[:, 1].max(axis=0) > 0.02
    assert valid.mean() > 0.6
    assert haze[valid].mean() < 0.005, f"{haze[valid].mean():.4%} of valid land still cloudy"


def test_harmonization_keeps_stable_vegetation_within_two_percent(world_and_source):
    world, source = world_and_source
    before, truth_before, items_b = _year(world, source, 2021)
    after, truth_after, items_a = _year(world, source, 2023)
    assert all(it.properties["s2:processing_baseline"] < "04.00" for it in items_b)
    assert all(it.properties["s2:processing_baseline"] >= "04.00" for it in items_a)
    ab = world.abundances(2021, 200)
    veg = ab[index_of("veg_green")] + ab[index_of("veg_dry")]
    stable = (world.land.evergreen > 0.8) & (veg > 0.85) & (world.land.fields == 0)
    stable &= (before.clear >= 3) & (after.clear >= 3)
    assert stable.sum() > 500
    errors, levels = [], []
    for b in range(12):
        seen = np.nanmean(after.reflectance[b][stable]) - np.nanmean(before.reflectance[b][stable])
        real = (
            np.median(truth_after[:, b], axis=0)[stable].mean()
            - np.median(truth_before[:, b], axis=0)[stable].mean()
        )
        errors.append(abs(seen - real))
        levels.append(np.nanmean(before.reflectance[b][stable]))
    errors, levels = np.array(errors), np.array(levels)
    # beyond what the land itself did between the years: the spectrum as a whole within 2 %,
    # and the bright bands that carry vegetation (red edge, NIR, SWIR) each within 2 %.
    # An unremoved offset would be 1000 DN, i.e. 30-200 %.
    assert errors.sum() / levels.sum() < 0.02, errors / levels
    for b in (5, 6, 7, 8, 10):
        assert errors[b] / levels[b] < 0.02, f"{BANDS[b]}: {errors[b] / levels[b]:.2%}"


def _linked_copy(src: Path, dst: Path) -> None:
    """A catalog copy whose JSON files are copied and whose COGs are links (cheap)."""
    for path in src.rglob("*"):
        target = dst / path.relative_to(src)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)  # files may come before their folder
        if path.suffix == ".json":
            shutil.copyfile(path, target)
        else:
            os.symlink(path, target)


def test_corrupt_cog_is_skipped_and_recorded(tiny_demo, tmp_path):
    copy = tmp_path / "cat"
    _linked_copy(tiny_demo, copy)
    sites = json.loads((tiny_demo / "sites.geojson").read_text())["features"]
    from shapely.geometry import shape

    site = shape(sites[6]["geometry"])
    source = LocalCatalog(copy / "catalog.json", "sentinel-2-l2a")
    params = CompositeParams(SEASON, 70.0, 100.0)
    items = source.search(SeasonQuery(site.bounds, 2022, SEASON, 70.0))
    victim = items[1]
    href = Path(victim.assets["B04"].href)
    href.unlink()
    href.write_bytes(b"II*\x00 this is not a tiff any more" * 10)  # a torn download
    comp = site_composite(source, "S07", site, 2022, params)
    assert [i for i, _ in comp.items_skipped] == [victim.id]
    assert len(comp.items_used) == len(items) - 1
    assert np.isfinite(comp.reflectance).mean() > 0.9
    cache = CompositeCache(tmp_path / "cache")
    cache.put(comp, "k")
    back = cache.get("S07", 2022, "k")
    assert back.items_skipped == comp.items_skipped and back.items_used == comp.items_used
    np.testing.assert_allclose(back.reflectance, comp.reflectance, atol=1e-4)


def test_a_widened_season_reads_only_the_items_it_adds(world_and_source, monkeypatch):
    world, source = world_and_source
    grid = Grid("EPSG:32735", world.origin[0], world.origin[1], 160, 160)
    season = source.search(SeasonQuery(grid.lonlat_bounds(), 2022, SEASON, 70.0))
    year = source.search(SeasonQuery(grid.lonlat_bounds(), 2022, tuple(range(1, 13)), 70.0))
    assert 0 < len(season) < len(year)
    import monitor.imagery.load as load

    read: list[str] = []
    real = load._load
    monkeypatch.setattr(
        load, "_load", lambda items, *a: read.extend(i.id for i in items) or real(items, *a)
    )
    loaded = LoadedScenes(grid.geobox())
    loaded.load(season, threads=1)
    wide = loaded.load(year, threads=1)
    assert sorted(read) == sorted(i.id for i in year)  # each item read once
    once = load_scenes(year, grid.geobox(), threads=1)
    assert [i.id for i in wide.items] == [i.id for i in once.items]
    np.testing.assert_array_equal(wide.dn, once.dn)
    np.testing.assert_array_equal(wide.scl, once.scl)


# -- a site across the 30° E boundary between UTM zones 35 and 36 -------------------------------
def _field(lon: np.ndarray, lat: np.ndarray, band: int) -> np.ndarray:
    """A smooth surface defined in lon/lat, so any seam between zones would show."""
    return 0.1 + 0.02 * band + 0.05 * np.sin((lon - 29.9) * 60) + 0.03 * np.cos((lat + 26.2) * 80)


def _zone_item(root: Path, epsg: int, lon_range, lat_range, when: dt.datetime) -> pystac.Item:
    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    to_ll = Transformer.from_crs(epsg, 4326, always_xy=True)
    xs, ys = to_utm.transform(
        [lon_range[0], lon_range[1], lon_range[0], lon_range[1]],
        [lat_range[0], lat_range[0], lat_range[1], lat_range[1]],
    )
    x0, x1 = np.floor(min(xs) / 60) * 60, np.ceil(max(xs) / 60) * 60
    y0, y1 = np.floor(min(ys) / 60) * 60, np.ceil(max(ys) / 60) * 60
    item_id = f"S2A_MSIL2A_{when:%Y%m%d}T080609_R064_T{epsg % 100}JZZ_{when:%Y%m%d}T120000"
    folder = root / item_id
    folder.mkdir(parents=True)
    item = pystac.Item(
        item_id,
        mapping(box(*lon_range[:1], lat_range[0], lon_range[1], lat_range[1])),
        [lon_range[0], lat_range[0], lon_range[1], lat_range[1]],
        when,
        {"s2:processing_baseline": "05.10", "eo:cloud_cover": 0.0, "proj:epsg": epsg},
    )
    for band in (*BANDS, "SCL"):
        res = 20 if band == "SCL" else 10
        w, h = int((x1 - x0) / res), int((y1 - y0) / res)
        cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
        lon, lat = to_ll.transform(x0 + cols * res, y1 - rows * res)
        if band == "SCL":
            data = np.full((h, w), 4, np.uint8)
        else:
            data = (np.round(_field(lon, lat, BANDS.index(band)) * 10000) + 1000).astype(np.uint16)
        add_cog_asset(item, folder, band, data, res, x0, y1, epsg)
    return item


def test_site_across_a_utm_zone_boundary_has_no_seam(tmp_path):
    when = dt.datetime(2022, 6, 10, 8, 6, 9, tzinfo=dt.UTC)
    cat = pystac.Catalog("zones", "two UTM zones")
    coll = pystac.Collection(
        "sentinel-2-l2a",
        "test",
        pystac.Extent(
            pystac.SpatialExtent([[29.9, -26.3, 30.1, -26.1]]),
            pystac.TemporalExtent([[when, when]]),
        ),
    )
    cat.add_child(coll)
    # real tiles overlap across zones; each item here spills a little over 30° E
    coll.add_item(
        _zone_item(tmp_path / "stac" / "items", 32735, (29.97, 30.01), (-26.23, -26.17), when)
    )
    coll.add_item(
        _zone_item(tmp_path / "stac" / "items", 32736, (29.99, 30.03), (-26.23, -26.17), when)
    )
    cat.normalize_hrefs(str(tmp_path / "stac"))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    site = Polygon([(29.992, -26.21), (30.008, -26.21), (30.008, -26.19), (29.992, -26.19)])
    source = LocalCatalog(tmp_path / "stac" / "catalog.json", "sentinel-2-l2a")
    comp = site_composite(source, "Z", site, 2022, CompositeParams((6,), 70.0, 200.0))
    assert comp.crs == "EPSG:32735" or comp.crs == "EPSG:32736"
    assert len(comp.items_used) == 2
    refl = comp.reflectance
    assert np.isfinite(refl).all(), "no gap along the zone boundary"
    h, w = comp.shape
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    x, y = comp.transform * (cols, rows)
    lon, lat = Transformer.from_crs(comp.crs, 4326, always_xy=True).transform(x, y)
    for b in (1, 7, 10):
        err = np.abs(refl[b] - _field(lon, lat, b))
        assert err.max() < 0.006, f"band {BANDS[b]}: seam or shift of {err.max():.4f}"
    # and the columns either side of 30° E continue each other
    col = np.argmin(np.abs(lon[h // 2] - 30.0))
    steps = np.abs(np.diff(refl[7], axis=1))
    assert steps[:, col - 1 : col + 1].max() <= steps.max()
