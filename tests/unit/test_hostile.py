"""A catalogue of hostile and careless inputs, one case per class at least: nothing written
outside its folder, no script in a report, nothing stored lost, and every refusal one line
that names the file or record and what to do."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, mapping

from monitor.config import load_config
from monitor.errors import ConfigError, ModelError, MonitorError, SiteError, StoreError
from monitor.imagery import CompositeCache, safe_name
from monitor.records import SiteRecord, SiteYear
from monitor.registry import import_sites
from monitor.sites import read_sites
from monitor.store import Store, StoreLock
from tests.synthetic import site_year


# -- data loss ------------------------------------------------------------------------------
def test_demo_never_replaces_a_folder_it_did_not_build(tmp_path):
    from monitor.demo import build_demo

    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "field-notes.txt").write_text("three years of notes")
    with pytest.raises(MonitorError, match="refusing to replace .*notes.*choose another --out"):
        build_demo(precious, 0)
    assert (precious / "field-notes.txt").read_text() == "three years of notes"
    with pytest.raises(MonitorError, match="refusing to replace"):
        build_demo(tmp_path, 0)  # `--out ..`: the parent holds other things
    assert precious.exists()


def test_a_store_named_lock_is_not_truncated_by_the_runs_lock(tmp_path):
    store = tmp_path / "history.lock"
    Store(store).close()
    before = store.read_bytes()
    with StoreLock(store) as lock:
        assert lock.path.name == "history.lock.lock"
    assert store.read_bytes() == before


def test_a_geopackage_of_another_program_is_refused_untouched(tmp_path):
    import geopandas as gpd

    other = tmp_path / "parcels.gpkg"
    gpd.GeoDataFrame({"owner": ["x"]}, geometry=[box(0, 0, 1, 1)], crs=4326).to_file(other)
    before = other.read_bytes()
    with pytest.raises(StoreError, match="did not write; nothing was changed"):
        Store(other)
    assert other.read_bytes() == before


# -- path traversal -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "site_id", ["../../x", "/etc/passwd", "a/b", "x" * 300, ".", "..", "", "S 01"]
)
def test_every_id_becomes_a_safe_file_name(site_id):
    name = safe_name(site_id)
    assert name and "/" not in name and not name.startswith(".") and len(name) <= 90
    assert name == safe_name(site_id)  # stable
    if site_id and site_id.isalnum() and len(site_id) <= 80:
        assert name == site_id


def test_distinct_ids_never_share_a_file():
    assert len({safe_name(i) for i in ["a/b", "a_b", "a?b", "a b"]}) == 4


def test_cache_paths_stay_inside_the_cache(tmp_path):
    cache = CompositeCache(tmp_path / "cache")
    for site_id in ("../../escape", "/abs/path", "a/b"):
        path = cache.path(site_id, 2021, "k").resolve()
        assert (tmp_path / "cache").resolve() in path.parents


# -- stored script injection ----------------------------------------------------------------
def test_report_escapes_ids_names_and_reasons(tmp_path):
    from monitor.report import write_report

    evil_id = '"><svg onload=alert(1)>'
    evil_name = "</script><script>alert(2)</script>"
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(
        "sites: null\nstore: s.gpkg\nreports: out\ncomposite: {cache: null}\n"
        "years: {first: 2016, last: 2021}\n"
    )
    cfg = load_config(cfg_path)
    with Store(cfg.store) as store:
        store.upsert_sites(
            [
                SiteRecord(evil_id, evil_name, box(29, -26, 29.01, -25.99)),
                SiteRecord("../../x", "traversal", box(29.02, -26, 29.03, -25.99)),
            ]
        )
        for year, area in zip(range(2016, 2022), [10, 12, 12, 11, 0, 0], strict=True):
            store.put_site_year(site_year(evil_id, year, area))
    res = write_report(cfg, dossier=True)
    out = (tmp_path / "out").resolve()
    for path in out.rglob("*"):
        assert out in path.resolve().parents
    assert not (tmp_path / "x.html").exists() and not Path("/x.html").exists()
    for page in [res.index, *res.pages, res.dossier]:
        text = page.read_text()
        assert "<svg onload" not in text and "<script>alert" not in text
        for island in text.split('type="application/json"')[1:]:
            payload = island.split(">", 1)[1].split("</script>", 1)[0]
            json.loads(payload)  # the data island is whole: no id ended it early


# -- silent wrong history -------------------------------------------------------------------
def test_a_changed_concession_drops_its_years_and_a_removed_site_retires(tmp_path):
    import geopandas as gpd

    from monitor.registry import sync_config_sites

    reg = tmp_path / "reg.geojson"
    gpd.GeoDataFrame(
        {"site_id": ["A", "B"]},
        geometry=[box(29, -26, 29.01, -25.99), box(29.02, -26, 29.03, -25.99)],
        crs=4326,
    ).to_file(reg)
    cfg_path = tmp_path / "c.yaml"
    cfg_path.write_text(f"sites: {reg}\nstore: s.gpkg\n")
    cfg = load_config(cfg_path)
    with Store(cfg.store) as store:
        sync_config_sites(store, cfg)
        store.put_site_year(site_year("A"))
        store.put_site_year(site_year("B"))
    gpd.GeoDataFrame({"site_id": ["A"]}, geometry=[box(29, -26, 29.02, -25.98)], crs=4326).to_file(
        reg
    )
    with Store(cfg.store) as store:
        sync_config_sites(store, cfg)
        assert store.site_years("A") == []  # measured inside the old outline: gone, redone next run
        assert [s.site_id for s in store.sites()] == ["A"]  # B left the registry: retired ...
        assert len(store.site_years("B")) == 1  # ... and its history kept
        assert [s.site_id for s in store.sites(retired=True)] == ["A", "B"]


def test_years_outside_sentinel2s_complete_years_are_refused():
    from monitor.run import check_years

    for years in (
        range(2030, 2032),
        range(1999, 2000),
        range(dt.date.today().year, dt.date.today().year + 1),
    ):
        with pytest.raises(MonitorError, match="complete years"):
            check_years(years)
    check_years(range(2017, 2019))


# -- resource exhaustion --------------------------------------------------------------------
def test_a_site_spread_over_a_degree_is_refused_at_import(tmp_path):
    import geopandas as gpd

    parts = MultiPolygon([box(29, -26, 29.0005, -25.9995), box(29.9, -26, 29.9005, -25.9995)])
    path = tmp_path / "spread.geojson"
    gpd.GeoDataFrame({"site_id": ["X"]}, geometry=[parts], crs=4326).to_file(path)
    rep = read_sites(path)
    assert rep.sites == [] and "parts span" in rep.rejected[0] and "X" in rep.rejected[0]


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    p = tmp_path / "c.yaml"
    p.write_text(bomb + "composite: {season_months: *j}\n")
    with pytest.raises(ConfigError, match="aliases are not allowed"):
        load_config(p)


# -- bad records ----------------------------------------------------------------------------
def test_csv_coordinates_out_of_range_and_leading_zeros(tmp_path):
    csv = tmp_path / "pts.csv"
    csv.write_text("site_id,lon,lat\n007,29.1,-26.1\n008,200,-26.1\n009,29.1,100\n")
    rep = read_sites(csv)
    assert [s.site_id for s in rep.sites] == ["007"]
    assert len(rep.rejected) == 2 and all("lon in -180..180" in r for r in rep.rejected)
    assert "record 2 (site_id=008)" in rep.rejected[0]


def test_3d_polygons_are_stored_flat(tmp_path):
    import geopandas as gpd

    poly = Polygon([(29, -26, 100), (29.01, -26, 100), (29.01, -25.99, 120), (29, -25.99, 110)])
    path = tmp_path / "z.geojson"
    gpd.GeoDataFrame({"site_id": ["Z"]}, geometry=[poly], crs=4326).to_file(path)
    with Store(tmp_path / "s.gpkg") as store:
        import_sites(store, path)
        assert not store.sites()[0].geometry.has_z


def test_a_reference_that_is_not_a_mask_is_refused(tmp_path):
    import rasterio
    from affine import Affine

    from monitor.evaluate import _reference_area

    path = tmp_path / "rgb.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=8,
        height=8,
        count=3,
        dtype="float32",
        crs="EPSG:32735",
        transform=Affine(10, 0, 7e5, 0, -10, 7.1e6),
    ) as dst:
        dst.write(np.zeros((3, 8, 8), np.float32))
    with pytest.raises(MonitorError, match="one band of integers.*3 band"):
        _reference_area(path)


def test_a_local_catalog_never_leaves_its_folder(tmp_path, caplog):
    import pystac

    from monitor.imagery import LocalCatalog, SeasonQuery

    when = dt.datetime(2021, 6, 1, tzinfo=dt.UTC)
    cat = pystac.Catalog("c", "c")
    coll = pystac.Collection(
        "sentinel-2-l2a",
        "c",
        pystac.Extent(
            pystac.SpatialExtent([[29, -26, 30, -25]]), pystac.TemporalExtent([[when, when]])
        ),
    )
    cat.add_child(coll)
    geom = mapping(box(29, -26, 30, -25))
    for k, href in enumerate(["http://example.org/B04.tif", "/etc/passwd", "../../../outside.tif"]):
        it = pystac.Item(f"bad{k}", geom, [29, -26, 30, -25], when, {"eo:cloud_cover": "cloudy"})
        it.add_asset("B04", pystac.Asset(href))
        coll.add_item(it)
    good = pystac.Item("good", geom, [29, -26, 30, -25], when, {"eo:cloud_cover": "n/a"})
    good.add_asset("B04", pystac.Asset("./B04.tif"))
    coll.add_item(good)
    cat.normalize_hrefs(str(tmp_path / "stac"))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    # and one item file that is not JSON at all
    broken = tmp_path / "stac" / "sentinel-2-l2a" / "bad0" / "bad0.json"
    broken.write_text("{ this is not json")
    source = LocalCatalog(tmp_path / "stac" / "catalog.json", "sentinel-2-l2a")
    found = source.search(SeasonQuery((29, -26, 30, -25), 2021, (6,), 50.0))
    assert [it.id for it in found] == ["good"]  # a string cloud cover is left to the mask
    skipped = " ".join(r.getMessage() for r in caplog.records)
    assert "bad0.json" in skipped and "outside the catalog folder" in skipped


# -- half-written outputs -------------------------------------------------------------------
def test_a_truncated_plotly_is_written_again(tmp_path):
    from monitor.outputs import OutputFolder
    from monitor.report import _assets

    folder = OutputFolder(tmp_path)
    _assets(folder)
    folder.save()
    js = tmp_path / "assets" / "plotly.min.js"
    size = js.stat().st_size
    with js.open("r+b") as f:  # a killed write, or a full disk, left half a file
        f.truncate(size // 2)
    folder = OutputFolder(tmp_path)
    _assets(folder)
    assert js.stat().st_size == size


def test_a_full_disk_is_said_so_and_keeps_what_was_stored(tmp_path):
    path = tmp_path / "s.gpkg"
    with Store(path) as store:
        store.put_site_year(site_year("A", 2020))
        pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
        store.conn.execute(f"PRAGMA max_page_count={pages}")
        with pytest.raises(StoreError, match="disk holding .* is full; free space"):
            for year in range(2001, 2015):  # the rasters make rows big enough to need pages
                store.put_site_year(
                    SiteYear(**{**site_year("A", year).__dict__, "ndvi_grid": b"x" * 9000})
                )
    with Store(path) as store:
        assert 2020 in [r.year for r in store.site_years("A")]
        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_cache_write_that_fails_leaves_no_partial_file(tmp_path):
    from monitor.geo import Grid
    from monitor.imagery import Composite

    cache = CompositeCache(tmp_path)
    comp = Composite(
        "S",
        2021,
        np.full((12, 4, 4), 0.1, np.float32),
        np.ones((4, 4), np.uint8),
        Grid("EPSG:32735", 7e5, 7.1e6, 4, 4),
    )
    target = cache.path("S", 2021, "k")
    target.mkdir(parents=True)  # the rename into place cannot happen
    with pytest.raises(OSError):
        cache.put(comp, "k")
    assert not list(tmp_path.rglob("*.partial"))


# -- unclear messages -----------------------------------------------------------------------
def test_store_schema_version_that_is_not_a_number(tmp_path):
    path = tmp_path / "s.gpkg"
    Store(path).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE meta SET value='two' WHERE key='schema_version'")
    with pytest.raises(StoreError, match="schema version two, this tool writes"):
        Store(path)


def test_model_metadata_and_files_that_do_not_fit(tmp_path):
    from monitor.model import ModelMeta, load_model

    meta = tmp_path / "m.json"
    meta.write_text(
        json.dumps(
            {
                "version": "v",
                "bands": ["B01"] * 12,
                "mean": [0.1] * 11,
                "std": [0.1] * 12,
                "patch_size": 64,
            }
        )
    )
    with pytest.raises(ModelError, match="one value per band"):
        ModelMeta.read(meta)
    (tmp_path / "m.keras").write_bytes(b"not a zip at all")
    meta.write_text(
        json.dumps(
            {
                "version": "v",
                "bands": list(__import__("monitor.bands").bands.BANDS),
                "mean": [0.1] * 12,
                "std": [0.1] * 12,
                "patch_size": 64,
            }
        )
    )
    with pytest.raises(ModelError, match="not a model this tool wrote"):
        load_model(tmp_path / "m.keras")


@pytest.mark.parametrize(
    "text,key",
    [
        ("composite: {site_buffer_m: -5}\n", "composite.site_buffer_m"),
        ("composite: {max_cloud_cover: 300}\n", "composite.max_cloud_cover"),
        ("compute: {threads: 0}\n", "compute.threads"),
        ("demo: {seed: -1}\n", "demo.seed"),
        ("years: {first: 2016, last: 2999}\n", "years"),
    ],
)
def test_config_values_out_of_range_name_the_key(tmp_path, text, key):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(p)


def test_a_site_file_problem_names_the_file_and_record(tmp_path):
    path = tmp_path / "reg.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"site_id": "A"},
                        "geometry": mapping(box(29, -26, 29.01, -25.99)),
                    },
                    {
                        "type": "Feature",
                        "properties": {"site_id": "A"},
                        "geometry": mapping(box(29, -26, 29.01, -25.99)),
                    },
                ],
            }
        )
    )
    with Store(tmp_path / "s.gpkg") as store, pytest.raises(SiteError) as err:
        import_sites(store, path)
    assert "reg.geojson record 1 (site_id=A): duplicate id" in str(err.value)
    assert shapely.is_valid(box(0, 0, 1, 1))
