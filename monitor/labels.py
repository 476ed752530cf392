"""Labelled polygons or points (mine / background) for training and evaluation."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
from affine import Affine
from pyproj import CRS

from monitor.errors import MonitorError

__all__ = ["read_labels", "rasterize_labels", "rasterize_kinds", "LABEL_IGNORE", "KIND_FIELDS"]

LABEL_IGNORE = 255
_MINE = {"mine", "mines", "mining", "1", "true", "yes"}
_BACKGROUND = {"background", "non-mine", "nonmine", "not mine", "other", "0", "false", "no"}
#: Optional fields naming what a background polygon is (sand bar, town, clear-cut ...):
#: training draws patches from every kind, so rare look-alikes are not drowned out.
KIND_FIELDS = ("kind", "type", "subclass", "category", "landcover")


def read_labels(
    path: Path, point_buffer_m: float = 30.0, default_year: int | None = None
) -> gpd.GeoDataFrame:
    """Read a labels file into EPSG:4326 polygons with an integer ``cls`` (1 mine, 0
    background), a ``kind`` (the file's kind field, else "mine" / "background") and a
    ``year`` (the file's `year` field where set, else ``default_year``)."""
    path = Path(path)
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise MonitorError(
            f"{path}: cannot read labels ({exc}); give a GeoPackage, GeoJSON or Shapefile"
        ) from None
    if gdf.crs is None:
        raise MonitorError(f"{path}: no CRS; set one (e.g. EPSG:4326) before training")
    column = next((c for c in gdf.columns if c.lower() in ("label", "class")), None)
    if column is None:
        raise MonitorError(f"{path}: no `label` column; add one with values mine / background")
    cls = []
    for idx, value in gdf[column].items():
        v = str(value).strip().lower()
        if v in _MINE:
            cls.append(1)
        elif v in _BACKGROUND:
            cls.append(0)
        else:
            raise MonitorError(
                f"{path}: record {idx} has label {value!r}; use `mine` or `background`"
            )
    kind_field = next((c for c in gdf.columns if c.lower() in KIND_FIELDS and c != column), None)
    kind = np.where(np.array(cls) == 1, "mine", "background").astype(object)
    if kind_field:
        named = gdf[kind_field].map(lambda v: "" if pd.isna(v) else str(v).strip().lower())
        kind = np.where(named.to_numpy() != "", named.to_numpy(), kind).astype(object)
    years = np.full(len(gdf), -1 if default_year is None else default_year, np.int64)
    if "year" in gdf.columns:
        given = pd.to_numeric(gdf["year"], errors="coerce")
        bad = given.notna() & ((given < 2015) | (given > 2100) | (given % 1 != 0))
        if bad.any():
            idx = gdf.index[bad][0]
            raise MonitorError(
                f"{path}: record {idx} has year {gdf['year'][idx]!r}; use a year like 2021"
            )
        years = np.where(given.notna(), given.fillna(0).astype(np.int64), years)
    gdf = gdf.assign(cls=np.array(cls, np.uint8), kind=kind, year=years)
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    if gdf.empty:
        raise MonitorError(f"{path}: no labelled geometries")
    points = gdf.geom_type.isin(["Point", "MultiPoint"])
    if points.any():
        utm = gdf.estimate_utm_crs()
        buffered = gdf[points].to_crs(utm).buffer(point_buffer_m).to_crs(gdf.crs)
        gdf.loc[points, "geometry"] = buffered
    gdf = gdf.to_crs(4326)
    gdf["geometry"] = gdf.geometry.make_valid()
    return gdf[["cls", "kind", "year", "geometry"]]


def rasterize_labels(
    labels: gpd.GeoDataFrame, shape: tuple[int, int], transform: Affine, crs: str
) -> np.ndarray:
    """uint8 raster: 1 mine, 0 background, 255 unlabelled; mine wins where labels overlap."""
    out = np.full(shape, LABEL_IGNORE, np.uint8)
    local = labels.to_crs(CRS.from_user_input(crs))
    for value in (0, 1):
        geoms = [g for g in local.geometry[local.cls == value] if g is not None and not g.is_empty]
        if geoms:
            burnt = rasterio.features.geometry_mask(geoms, shape, transform, invert=True)
            out[burnt] = value
    return out


def rasterize_kinds(
    labels: gpd.GeoDataFrame, kinds: list[str], shape: tuple[int, int], transform: Affine, crs: str
) -> np.ndarray:
    """uint8 raster of each labelled pixel's kind (index into ``kinds``), 255 unlabelled."""
    out = np.full(shape, LABEL_IGNORE, np.uint8)
    local = labels.to_crs(CRS.from_user_input(crs))
    order = sorted(range(len(local)), key=lambda i: int(local.cls.iloc[i]))  # mine drawn last
    shapes = [
        (local.geometry.iloc[i], kinds.index(local.kind.iloc[i]))
        for i in order
        if local.geometry.iloc[i] is not None and not local.geometry.iloc[i].is_empty
    ]
    if shapes:
        rasterio.features.rasterize(shapes, out_shape=shape, transform=transform, out=out)
    return out
