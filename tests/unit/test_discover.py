"""Discovery from stored ring patches: persistence, stable ids, the store layer, the contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from shapely.geometry import box

from monitor.config import load_config
from monitor.discover import discover, discovery_records
from monitor.errors import MonitorError
from monitor.export import export
from monitor.records import DISCOVERY_FIELDS
from monitor.store import SiteRecord, Store
from tests.contract import DISCOVER_KEYS, STATUSES
from tests.synthetic import site_year

SITE = box(29.000, -26.000, 29.010, -25.990)
# a mine 1 km east of the site, growing; a one-year blob north of it
MINE = [box(29.020, -25.996, 29.022 + 0.001 * k, -25.994) for k in range(4)]
BLOB = box(29.004, -25.985, 29.0055, -25.9838)


def _row(year: int, patches: tuple):
    # a site with no mine of its own, and mine patches in its ring
    return site_year(
        "S1",
        year,
        0.0,
        mine_fraction=0.0,
        footprint=None,
        ring_patches=patches,
        ring_valid_fraction=1.0,
    )


def _store(tmp_path: Path, years=range(2019, 2023)):
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text("sites: null\nstore: d.gpkg\nyears: {first: 2019, last: 2022}\n")
    cfg = load_config(cfg_path)
    with Store(cfg.store) as store:
        store.upsert_sites([SiteRecord("S1", "site one", SITE)])
        for k, year in enumerate(years):
            patches = [(MINE[k], 4.0 + k, 0.9)]
            if year == 2020:
                patches.append((BLOB, 1.0, 0.95))
            store.put_site_year(_row(year, tuple(patches)))
    return cfg


def test_a_persistent_patch_is_a_candidate_and_a_one_year_blob_is_not(tmp_path):
    cfg = _store(tmp_path)
    found = discover(cfg)
    assert len(found) == 1
    rec = found[0].as_json()
    assert tuple(rec) == DISCOVERY_FIELDS and set(rec) == DISCOVER_KEYS
    assert rec["first_year"] == 2019 and rec["last_year"] == 2022
    assert rec["nearest_site"] == "S1" and 0.5 < rec["distance_km"] < 1.5
    assert rec["status"] in STATUSES - {"none"}


def test_candidates_keep_their_id_and_the_store_keeps_their_years(tmp_path):
    cfg = _store(tmp_path)
    first = discover(cfg)[0].candidate_id
    with Store(cfg.store) as store:  # a later year moves the centroid; the id stays
        store.put_site_year(_row(2023, ((box(29.020, -25.997, 29.027, -25.994), 9.0, 0.9),)))
    again = discover(cfg, years=range(2019, 2024))
    assert [d.candidate_id for d in again] == [first]
    with Store(cfg.store) as store:
        years = store.discovery_years(first)
        records = discovery_records(cfg, store)
    assert sorted(years) == [2019, 2020, 2021, 2022, 2023] and years[2023] > years[2019]
    assert records[0]["site_id"] == first and records[0]["geometry"].intersects(MINE[0])


def test_a_patch_inside_a_registered_concession_is_not_a_discovery(tmp_path):
    cfg = _store(tmp_path)
    with Store(cfg.store) as store:
        store.upsert_sites([SiteRecord("S1", "site one", SITE), SiteRecord("S2", "east", MINE[3])])
    assert discover(cfg) == []


def test_an_empty_export_says_which_step_is_missing(tmp_path):
    cfg = _store(tmp_path, years=())
    with pytest.raises(MonitorError, match=r"no results yet; run `monitor run` first"):
        export(cfg, "discoveries", "geojson")
    (tmp_path / "ran").mkdir()
    cfg = _store(tmp_path / "ran", years=(2019,))  # one year: nothing persists
    assert discover(cfg) == []
    with pytest.raises(MonitorError, match=r"run `monitor discover`"):
        export(cfg, "discoveries", "geojson", tmp_path / "d.geojson")
    assert not (tmp_path / "d.geojson").exists()


def test_detections_years_apart_are_no_candidate_and_a_missed_year_is_no_break(tmp_path):
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text("sites: null\nstore: d.gpkg\nyears: {first: 2016, last: 2022}\n")
    cfg = load_config(cfg_path)
    flicker = box(29.004, -25.985, 29.0065, -25.9825)  # ~7 ha, seen in 2016 and 2020 only
    mine = MINE[2]  # seen in 2017, missed in 2018 (a cloudy ring), seen again in 2019
    seen = {2016: [flicker], 2017: [mine], 2019: [mine], 2020: [flicker]}
    with Store(cfg.store) as store:
        store.upsert_sites([SiteRecord("S1", "site one", SITE)])
        for year in range(2016, 2023):
            patches = tuple((g, 5.0, 0.9) for g in seen.get(year, []))
            store.put_site_year(_row(year, patches))
    found = discover(cfg)
    assert [d.as_json()["first_year"] for d in found] == [2017]
    assert found[0].footprint.intersects(mine)
