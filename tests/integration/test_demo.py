"""The demo world as a Planetary Computer look-alike, read back with odc-stac."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import odc.stac
import pystac
import pytest
import rasterio
from shapely.geometry import shape

from monitor.bands import BANDS
from monitor.imagery import site_composite
from monitor.imagery.source import LocalCatalog
from monitor.params import CompositeParams
from monitor.quicklook import rgb_array, write_png
from tests.shared_data import find_real_data

pytestmark = pytest.mark.slow


def _items(root: Path) -> list[pystac.Item]:
    cat = pystac.Catalog.from_file(str(root / "catalog.json"))
    items = list(cat.get_child("sentinel-2-l2a").get_items())
    for it in items:
        it.make_asset_hrefs_absolute()
    return items


def test_items_look_like_planetary_computer(tiny_demo):
    items = _items(tiny_demo)
    assert len(items) > 15
    item = items[0]
    for key in ("datetime", "platform", "eo:cloud_cover", "s2:mgrs_tile", "s2:processing_baseline"):
        assert key in item.properties, key
    # pystac migrates proj:epsg to proj:code on read
    assert {"proj:epsg", "proj:code"} & set(item.properties)
    assert set(item.assets) >= {*BANDS, "SCL"}
    for band in (*BANDS, "SCL"):
        asset = item.assets[band].to_dict()
        assert {"proj:shape", "proj:transform", "proj:bbox"} <= set(asset), band
    # same id grammar and asset gsd as a real PC item
    real_file = find_real_data("stac/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json")
    if real_file is not None:
        real = json.loads(real_file.read_text())
        assert item.id.split("_")[:2] == ["S2A", "MSIL2A"] or item.id.split("_")[:2] == [
            "S2B",
            "MSIL2A",
        ]
        assert len(item.id.split("_")) == len(real["id"].split("_"))
        for band in BANDS:
            assert float(item.assets[band].extra_fields["gsd"]) == float(
                real["assets"][band]["gsd"]
            )
    with rasterio.open(item.assets["B05"].href) as src:
        assert src.res == (20.0, 20.0) and src.nodata == 0 and src.dtypes[0] == "uint16"
        assert src.overviews(1), "assets are COGs with overviews"
    with rasterio.open(item.assets["B01"].href) as src:
        assert src.res == (60.0, 60.0)


def test_odc_stac_loads_all_assets_offset_scl_and_cloud_cover(tiny_demo):
    items = [it for it in _items(tiny_demo) if it.properties["s2:mgrs_tile"] == "35JNM"]
    ds = odc.stac.load(
        items,
        bands=[*BANDS, "SCL"],
        resolution=10,
        groupby="id",
        dtype="uint16",
        nodata=0,
        preserve_original_order=True,
    )
    assert ds["B02"].shape[1:] == (576, 576)
    assert set(ds.data_vars) == {*BANDS, "SCL"}
    post = np.array([it.properties["s2:processing_baseline"] >= "04.00" for it in items])
    assert post.any() and (~post).any()
    # the darkest valid DN of a scene: never below 1000 after baseline 04.00, well below before
    mins = []
    for k in range(len(items)):
        b02 = ds["B02"].values[k]
        mins.append(b02[b02 > 0].min())
    mins = np.array(mins)
    assert (mins[post] > 1000).all()
    assert (mins[~post] < 1000).all()
    scl = ds["SCL"].values
    present = set(np.unique(scl))
    assert {0, 3, 4, 5, 6, 8, 9} <= present, present
    for k, item in enumerate(items):
        s = scl[k]
        valid = s > 0
        cloudy = np.isin(s, [8, 9, 10]) & valid
        assert (
            abs(100 * cloudy.sum() / max(valid.sum(), 1) - item.properties["eo:cloud_cover"]) < 2.0
        )


def test_expanding_site_grows_in_quicklooks_as_truth_says(tiny_demo, tmp_path):
    truth = json.loads((tiny_demo / "truth/truth.json").read_text())
    site = next(s for s in truth["sites"] if s["trajectory"] == "expansion")
    sites = {
        f["properties"]["site_id"]: shape(f["geometry"])
        for f in json.loads((tiny_demo / "sites.geojson").read_text())["features"]
    }
    source = LocalCatalog(tiny_demo / "catalog.json", "sentinel-2-l2a")
    params = CompositeParams(months=(5, 6, 7, 8, 9), max_cloud_cover=70, buffer_m=100)
    comps = {
        y: site_composite(source, site["site_id"], sites[site["site_id"]], y, params)
        for y in range(truth["years"][0], truth["years"][1] + 1)
    }
    # the two years furthest apart among those most pixels saw at least twice: a season
    # under cloud (one look a pixel) keeps cloud edges a mask cannot find
    good = [y for y, c in comps.items() if (c.clear >= 2).mean() > 0.6]
    first, last = min(good), max(good)
    looks, seen = {}, None
    for year in (first, last):
        comp = comps[year]
        looks[year] = rgb_array(comp.reflectance).astype(np.int16)
        clear = comp.clear >= 2
        seen = clear if seen is None else seen & clear
        png = write_png(looks[year].astype(np.uint8), tmp_path / f"{site['site_id']}_{year}.png", 2)
        assert png.stat().st_size > 1000
        # the truth's footprint on the composite grid
        with rasterio.open(tiny_demo / f"truth/savanna/mine_{year}.tif") as ref:
            from rasterio.warp import Resampling, reproject

            grid = np.zeros(comp.shape, np.uint8)
            reproject(
                rasterio.band(ref, 1),
                grid,
                dst_transform=comp.transform,
                dst_crs=comp.crs,
                resampling=Resampling.nearest,
            )
        looks[f"truth{year}"] = grid.astype(bool)
    # pixels whose quicklook colour changed a lot: new pits and dumps
    changed = (np.abs(looks[last] - looks[first]).mean(axis=0) > 25) & seen
    grown = looks[f"truth{last}"] & ~looks[f"truth{first}"] & seen
    truth_growth = site["area_ha"][str(last)] - site["area_ha"][str(first)]
    assert last - first >= 2 and truth_growth > 2
    assert grown.sum() * 0.01 > 0.5 * truth_growth
    # most of the truth's new footprint changed colour, and most change lies in it
    assert (changed & grown).sum() > 0.6 * grown.sum(), ((changed & grown).sum(), grown.sum())
    assert (changed & grown).sum() > 0.5 * changed.sum(), ((changed & grown).sum(), changed.sum())
