"""Tiny synthetic Sentinel-2 L2A catalogs for tests: a few scenes of a 600 m square in UTM 35S,
12 bands and SCL as real COGs, any dates, any cloud. Written with rasterio and pystac."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pystac
import rasterio
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box, mapping

from monitor.records import SiteYear
from tests.contract import BANDS


def site_year(site_id: str = "A", year: int = 2020, area: float = 5.0, **kw) -> SiteYear:
    """A stored row of a site-year, as a run writes it; ``kw`` overrides any field."""
    fields = {
        "mine_fraction": 0.1,
        "clear_observations": 5,
        "valid_fraction": 1.0,
        "ndvi": 0.2,
        "model_version": "m1",
        "source_key": "s",
        "params_key": "p",
        "items_used": ("i1", "i2"),
        "baselines": ("02.12", "05.10"),
        "footprint": box(29, -26, 29.001, -25.999),
    }
    return SiteYear(site_id=site_id, year=year, mined_area_ha=area, **{**fields, **kw})


EPSG = 32735
X0, Y1 = 700000.0, 7100000.0
SIZE = 60  # px at 10 m
#: Grass and bare ground, the two covers of the synthetic scenes.
GRASS = np.array([0.03, 0.035, 0.065, 0.035, 0.095, 0.235, 0.3, 0.33, 0.345, 0.34, 0.185, 0.09])


def lonlat_box() -> tuple[float, float, float, float]:
    t = Transformer.from_crs(EPSG, 4326, always_xy=True)
    xs, ys = t.transform([X0, X0 + SIZE * 10], [Y1 - SIZE * 10, Y1])
    return min(xs), min(ys), max(xs), max(ys)


def site_polygon(margin_px: int = 15):
    """The middle of the square, as a site (EPSG:4326)."""
    t = Transformer.from_crs(EPSG, 4326, always_xy=True)
    a, b = margin_px * 10, (SIZE - margin_px) * 10
    (x0, x1), (y0, y1) = t.transform([X0 + a, X0 + b], [Y1 - b, Y1 - a])
    return box(x0, y0, x1, y1)


def add_cog_asset(
    item: pystac.Item, folder: Path, band: str, data: np.ndarray, res: float, x0, y1, epsg: int
) -> None:
    """Write ``data`` as the COG ``folder/<band>.tif`` (upper-left corner x0, y1) and add it to
    ``item`` with the ``proj:`` fields Planetary Computer gives its assets."""
    path = folder / f"{band}.tif"
    h, w = data.shape
    transform = [res, 0, x0, 0, -res, y1]
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=w,
        height=h,
        count=1,
        dtype=data.dtype,
        nodata=0,
        crs=f"EPSG:{epsg}",
        transform=Affine(*transform),
    ) as dst:
        dst.write(data, 1)
    item.add_asset(
        band,
        pystac.Asset(
            str(path),
            media_type=pystac.MediaType.COG,
            extra_fields={"proj:shape": [h, w], "proj:transform": transform},
        ),
    )


def write_catalog(root: Path, scenes: list[tuple[dt.date, np.ndarray | None, int]]) -> Path:
    """``scenes``: (date, reflectance (12, SIZE, SIZE) or None for grass, SCL class or 9 for
    cloud everywhere). Returns the catalog.json."""
    coll = pystac.Collection(
        "sentinel-2-l2a",
        "synthetic",
        pystac.Extent(
            pystac.SpatialExtent([list(lonlat_box())]),
            pystac.TemporalExtent([[dt.datetime(2015, 1, 1, tzinfo=dt.UTC), None]]),
        ),
    )
    cat = pystac.Catalog("synthetic", "synthetic scenes")
    cat.add_child(coll)
    items_dir = root / "stac" / "items"
    for k, (date, refl, scl_class) in enumerate(scenes):
        when = dt.datetime(date.year, date.month, date.day, 8, 6, 9, tzinfo=dt.UTC)
        item_id = f"S2A_MSIL2A_{date:%Y%m%d}T080609_R064_T35JZZ_{date:%Y%m%d}T12{k:04d}"
        cloud = 100.0 if scl_class in (8, 9) else 0.0
        item = pystac.Item(
            item_id,
            mapping(box(*lonlat_box())),
            list(lonlat_box()),
            when,
            {"s2:processing_baseline": "02.14", "eo:cloud_cover": cloud, "proj:epsg": EPSG},
        )
        data = refl if refl is not None else np.broadcast_to(GRASS[:, None, None], (12, SIZE, SIZE))
        folder = items_dir / item_id
        folder.mkdir(parents=True)
        for b, name in enumerate((*BANDS, "SCL")):
            arr = (
                np.full((SIZE // 2, SIZE // 2), scl_class, np.uint8)
                if name == "SCL"
                else np.round(data[b] * 10000).astype(np.uint16)
            )
            add_cog_asset(item, folder, name, arr, 20 if name == "SCL" else 10, X0, Y1, EPSG)
        coll.add_item(item)
    cat.normalize_hrefs(str(root / "stac"))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "stac" / "catalog.json"
