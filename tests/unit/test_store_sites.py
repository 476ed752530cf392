"""The history store and the site registry import."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from shapely.geometry import Polygon, box

from monitor.errors import SiteError, StoreError
from monitor.registry import import_sites
from monitor.sites import read_sites
from monitor.store import SCHEMA_VERSION, SiteRecord, Store
from tests.shared_data import real_data
from tests.synthetic import site_year


def test_store_is_a_geopackage_qgis_can_open(tmp_path):
    path = tmp_path / "h.gpkg"
    with Store(path) as s:
        s.upsert_sites([SiteRecord("A", "Alpha", box(29, -26, 29.01, -25.99))])
        s.put_site_year(site_year())
    layers = dict(pyogrio.list_layers(path))
    assert layers["sites"] == "MultiPolygon" and layers["footprints"] == "MultiPolygon"
    assert "site_years" in layers and "runs" in layers
    sites = gpd.read_file(path, layer="sites")
    assert sites.crs.to_epsg() == 4326 and sites.site_id.tolist() == ["A"]
    assert sites.geometry.iloc[0].equals(shapely.MultiPolygon([box(29, -26, 29.01, -25.99)]))
    years = gpd.read_file(path, layer="site_years")
    assert json.loads(years.items_used.iloc[0]) == ["i1", "i2"]
    with sqlite3.connect(path) as c:
        assert c.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47


def test_schema_version_is_checked(tmp_path):
    path = tmp_path / "h.gpkg"
    Store(path).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(StoreError, match=f"schema version 99, this tool writes {SCHEMA_VERSION}"):
        Store(path)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE t (x)")
    before = other.read_bytes()
    with pytest.raises(StoreError, match="this tool did not write; nothing was changed"):
        Store(other)
    assert other.read_bytes() == before


def test_reimport_keeps_history_unless_the_geometry_changed(tmp_path):
    with Store(tmp_path / "h.gpkg") as s:
        s.upsert_sites([SiteRecord("A", "Alpha", box(0, 0, 1, 1))])
        s.put_site_year(site_year())
        added, updated, invalidated = s.upsert_sites(
            [SiteRecord("A", "Alpha 2", box(0, 0, 1, 1)), SiteRecord("B", "B", box(3, 3, 4, 4))]
        )
        assert (added, updated, invalidated) == (1, 1, [])
        assert [x.name for x in s.sites()] == ["Alpha 2", "B"]
        assert len(s.site_years("A")) == 1
        # a new concession outline: the years measured inside the old one are dropped
        assert s.upsert_sites([SiteRecord("A", "Alpha 2", box(0, 0, 2, 2))])[2] == ["A"]
        assert s.site_years("A") == [] and s.footprints("A") == {}


def test_site_year_write_is_atomic(tmp_path):
    with Store(tmp_path / "h.gpkg") as s:
        s.put_site_year(site_year(year=2019))
        with pytest.raises(RuntimeError), s.transaction() as c:
            c.execute("DELETE FROM site_years")
            raise RuntimeError("killed mid-write")
        assert [r.year for r in s.site_years()] == [2019]
        s.record_failure("A", 2020, "boom", None)
        s.put_site_year(site_year(year=2020))
        assert s.failures() == []  # success clears the failure


def test_a_group_of_site_years_lands_whole_or_not_at_all(tmp_path):
    with Store(tmp_path / "h.gpkg") as s:
        s.put_site_years([site_year("A", 2019), site_year("B", 2019)])
        assert sorted((r.site_id, r.year) for r in s.site_years()) == [("A", 2019), ("B", 2019)]

        broken = site_year("B", 2020, items_used=(object(),))  # fails while being written
        with pytest.raises(TypeError):
            s.put_site_years([site_year("A", 2020), broken])
        assert sorted(r.year for r in s.site_years("A")) == [2019]  # nothing half-written
        s.update_ndvi_of({"A": {2019: (0.2, 0.5)}, "B": {2019: (0.1, 0.6)}})
        assert [(r.ndvi, r.ndvi_surroundings) for r in s.site_years("B")] == [(0.1, 0.6)]


def test_real_registries_import(tmp_path):
    with Store(tmp_path / "h.gpkg") as s:
        rep = import_sites(s, real_data("mining_polygons_sample.gpkg"))
        assert rep.added == 100 and not rep.rejected
        with pytest.raises(
            SiteError, match="has layers tiles, polygons_original, polygons_annotated"
        ):
            import_sites(s, real_data("mining_tiles_annotated.gpkg"))
        rep = import_sites(
            s,
            real_data("mining_tiles_annotated.gpkg"),
            layer="polygons_annotated",
            id_field="tile_id",
        )
        assert rep.added == 116
        assert len(s.sites()) == 216


def _broken_copy(tmp_path: Path) -> Path:
    gdf = gpd.read_file(real_data("mining_polygons_sample.gpkg")).head(8).copy()
    bowtie = Polygon([(29, -26), (29.01, -25.99), (29.01, -26), (29, -25.99), (29, -26)])
    gdf.loc[1, "geometry"] = bowtie  # self-intersection: repaired
    gdf.loc[2, "id"] = gdf.loc[3, "id"]  # duplicate id: rejected (both)
    gdf.loc[4, "geometry"] = Polygon()  # empty: rejected
    gdf.loc[5, "geometry"] = box(10, 0, 14, 4)  # ~190,000 km²: rejected
    gdf.loc[6, "geometry"] = box(-179.9, 10, 179.9, 10.1)  # across the antimeridian: rejected
    path = tmp_path / "broken.gpkg"
    gdf.to_file(path)
    return path


def test_broken_registry_reports_each_record_and_imports_nothing(tmp_path):
    path = _broken_copy(tmp_path)
    with Store(tmp_path / "h.gpkg") as s:
        with pytest.raises(SiteError) as err:
            import_sites(s, path)
        msg = str(err.value)
        assert "5 bad record(s)" in msg and "nothing imported" in msg
        for needle in ("duplicate id", "empty geometry", "implausibly large", "antimeridian"):
            assert needle in msg, needle
        assert msg.count("broken.gpkg record") == 5
        assert s.sites() == []
        rep = import_sites(s, path, skip_invalid=True)
        assert rep.added == 3 and len(rep.repaired) == 1 and "Self-intersection" in rep.repaired[0]


def test_missing_crs_csv_points_and_bad_fields(tmp_path):
    gdf = gpd.GeoDataFrame({"site_id": ["a"]}, geometry=[box(0, 0, 0.01, 0.01)])
    shp = tmp_path / "nocrs.shp"
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(shp)
    (tmp_path / "nocrs.prj").unlink(missing_ok=True)
    with pytest.raises(SiteError, match="no CRS"):
        read_sites(shp)
    csv = tmp_path / "pts.csv"
    csv.write_text("id,name,lon,lat\n1,One,29.1,-26.1\n2,Two,29.2,-26.2\n")
    rep = read_sites(csv, point_buffer_m=500)
    assert [s.site_id for s in rep.sites] == ["1", "2"]
    assert rep.sites[0].geometry.geom_type == "Polygon"
    with pytest.raises(SiteError, match="no field 'code'"):
        read_sites(csv, id_field="code")


def test_a_version_2_store_keeps_its_areas_as_detected(tmp_path):
    path = tmp_path / "h.gpkg"
    with Store(path) as s:
        s.upsert_sites([SiteRecord("A", "Alpha", box(29, -26, 29.01, -25.99))])
        s.put_site_year(site_year(area=7.5))
    with sqlite3.connect(path) as c:  # the store as version 2 wrote it
        c.execute("ALTER TABLE site_years DROP COLUMN detected_area_ha")
        c.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    with Store(path) as s:
        (row,) = s.site_years("A")
        assert s.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert row.mined_area_ha == row.detected_area_ha == 7.5
