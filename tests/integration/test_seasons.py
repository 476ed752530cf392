"""Seasons and adaptive composites on tiny synthetic catalogs: a season across New Year, a year
widened to reach enough looks, a year that stays a gap, and sites in both hemispheres."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from monitor.geo import site_grid
from monitor.imagery import LocalCatalog, SeasonQuery, build_composite
from monitor.params import CompositeParams
from monitor.plan import GroupTask, SiteWindow
from monitor.work import widen
from tests.synthetic import lonlat_box, site_polygon, write_catalog

pytestmark = pytest.mark.slow

D = dt.date


def test_a_season_across_new_year_takes_the_months_before_it(tmp_path):
    cat = write_catalog(
        tmp_path,
        [
            (D(2020, 10, 20), None, 4),
            (D(2020, 11, 20), None, 4),
            (D(2021, 1, 10), None, 4),
            (D(2021, 11, 5), None, 4),
        ],
    )
    source = LocalCatalog(cat, "sentinel-2-l2a")
    found = source.search(SeasonQuery(lonlat_box(), 2021, (11, 12, 1, 2), 70.0))
    assert sorted(it.datetime.date() for it in found) == [D(2020, 11, 20), D(2021, 1, 10)]
    assert SeasonQuery(lonlat_box(), 2021, (11, 12, 1, 2), 70.0).datetime_range.startswith(
        "2020-11-01"
    )


def _task(year: int, months: tuple[int, ...]) -> GroupTask:
    site = site_polygon()
    grid = site_grid(site, 100.0)
    window = SiteWindow("S", site.wkb, grid, grid, "h")
    return GroupTask(
        "g", year, grid, CompositeParams(months, 70.0, 100.0), (window,), "", None, "k"
    )


class _Composite:
    target_clear_observations = 2
    min_clear_fraction = 0.5


def test_a_year_short_of_looks_is_widened_and_says_so(tmp_path):
    # June and July: one clear look and one cloud; May and August: clear
    cat = write_catalog(
        tmp_path,
        [
            (D(2021, 6, 10), None, 4),
            (D(2021, 7, 10), None, 9),
            (D(2021, 5, 12), None, 4),
            (D(2021, 8, 12), None, 4),
        ],
    )
    source = LocalCatalog(cat, "sentinel-2-l2a")
    task = _task(2021, (6, 7))
    comp = build_composite(source, task.grid, 2021, task.params)
    assert comp.clear.max() == 1
    wide, months = widen(source, task, comp, _Composite())
    assert months == {"S": (5, 6, 7, 8)} and (wide.clear >= 2).mean() > 0.95
    assert len(wide.items_used) == 3  # the cloudy scene went in, and stayed unclear
    np.testing.assert_allclose(np.nanmedian(wide.reflectance[7]), 0.33, atol=0.002)


def test_a_year_without_a_clear_look_stays_a_gap(tmp_path):
    cat = write_catalog(tmp_path, [(D(2021, 6, 10), None, 9), (D(2020, 6, 10), None, 4)])
    source = LocalCatalog(cat, "sentinel-2-l2a")
    task = _task(2021, (6, 7))
    comp = build_composite(source, task.grid, 2021, task.params)
    wide, months = widen(source, task, comp, _Composite())
    assert len(months["S"]) == 12 and wide.clear.max() == 0  # the whole year tried, nothing clear
    assert np.isnan(wide.reflectance).all()


class _ListSource:
    """Items in memory: what the automatic season reads (item metadata only)."""

    key = "list"
    signer = None

    def __init__(self, items):
        self.items = items

    def search(self, query):
        from shapely.geometry import box, shape

        area = box(*query.bbox)
        return [
            it for it in self.items if shape(it.geometry).intersects(area) and query.accepts(it)
        ]


def _items_at(bbox, clear_months, years=(2019, 2020, 2021)):
    import pystac
    from shapely.geometry import box, mapping

    out = []
    for year in years:
        for month in range(1, 13):
            when = dt.datetime(year, month, 15, tzinfo=dt.UTC)
            cloud = 5.0 if month in clear_months else 85.0
            out.append(
                pystac.Item(
                    f"{bbox[0]}-{year}-{month}",
                    mapping(box(*bbox)),
                    list(bbox),
                    when,
                    {"eo:cloud_cover": cloud},
                )
            )
    return out


def test_sites_in_both_hemispheres_get_their_own_season_recorded_and_shown(tmp_path):
    from shapely.geometry import box

    from monitor.config import load_config
    from monitor.records import SiteRecord, SiteYear
    from monitor.report import write_report
    from monitor.season import resolve_seasons
    from monitor.store import Store

    south, north = (29.0, -26.1, 29.1, -26.0), (-110.1, 30.0, -110.0, 30.1)
    source = _ListSource(_items_at(south, {5, 6, 7, 8, 9}) + _items_at(north, {11, 12, 1, 2, 3}))
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(
        "sites: null\nstore: s.gpkg\nreports: r\ncomposite: {cache: null}\n"
        "years: {first: 2019, last: 2021}\n"
    )
    cfg = load_config(cfg_path)
    sites = [
        SiteRecord("SOUTH", "s", box(29.02, -26.08, 29.03, -26.07)),
        SiteRecord("NORTH", "n", box(-110.08, 30.02, -110.07, 30.03)),
        SiteRecord("REG", "r", box(29.04, -26.08, 29.05, -26.07), season=(10, 11, 12)),
    ]
    seasons = resolve_seasons(cfg, sites, source, range(2019, 2022))
    assert seasons["SOUTH"].months == (5, 6, 7, 8, 9) and seasons["SOUTH"].how == "auto"
    assert seasons["NORTH"].months == (11, 12, 1, 2, 3)  # across New Year: the dry winter
    assert seasons["REG"].months == (10, 11, 12) and seasons["REG"].how == "registry"
    with Store(cfg.store) as store:
        store.upsert_sites(sites)
        for s in sites:
            store.put_site_year(
                SiteYear(
                    s.site_id,
                    2021,
                    0.0,
                    0.0,
                    3,
                    1.0,
                    None,
                    "m",
                    "src",
                    "p",
                    season=seasons[s.site_id].as_json(),
                )
            )
        stored = {r.site_id: r.season for r in store.site_years()}
    assert '"how": "auto"' in stored["NORTH"] and "[11, 12, 1, 2, 3]" in stored["NORTH"]
    res = write_report(cfg)
    pages = {p.stem: p.read_text() for p in res.pages}
    assert "11, 12, 1, 2, 3 (auto)" in pages["NORTH"] and "5, 6, 7, 8, 9 (auto)" in pages["SOUTH"]


def test_training_regions_in_both_hemispheres_are_each_composited_in_their_own_season(tmp_path):
    from shapely.geometry import box

    from monitor.config import load_config
    from monitor.train import _region_seasons

    south, north = (29.0, -26.1, 29.1, -26.0), (-110.1, 30.0, -110.0, 30.1)
    source = _ListSource(_items_at(south, {5, 6, 7, 8, 9}) + _items_at(north, {11, 12, 1, 2, 3}))
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text("sites: null\nstore: s.gpkg\ncomposite: {cache: null}\n")
    areas = [box(29.02, -26.08, 29.03, -26.07), box(-110.08, 30.02, -110.07, 30.03)]
    seasons = _region_seasons(load_config(cfg_path), source, areas, [2021])[2021]
    assert [s.months for s in seasons] == [(5, 6, 7, 8, 9), (11, 12, 1, 2, 3)]
    assert {s.how for s in seasons} == {"auto"}
    off = tmp_path / "off.yaml"  # the config's one season for all, as the shipped model had
    off.write_text("sites: null\nstore: s.gpkg\ncomposite: {cache: null, auto_season: false}\n")
    fixed = _region_seasons(load_config(off), source, areas, [2021])[2021]
    assert {(s.months, s.how) for s in fixed} == {((5, 6, 7, 8, 9), "default")}
