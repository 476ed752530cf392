"""Site registry import: any vector file GDAL reads, or a CSV with lon/lat.

Every record is checked; each bad one gets one line that names the file, the record and what
to do. Invalid geometries are repaired with ``make_valid`` (and reported); records that cannot
be used (no id, duplicate id, empty, implausibly large, across the antimeridian) are rejected,
and then nothing is imported unless the caller asks to skip them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import shapely

from monitor.errors import SiteError
from monitor.geo import MAX_GRID_PX, RESOLUTION, utm_crs
from monitor.params import parse_months
from monitor.records import SiteRecord

__all__ = ["ImportReport", "read_sites", "ID_FIELDS"]

log = logging.getLogger(__name__)
ID_FIELDS = ("site_id", "id", "fid")
_LON = ("lon", "longitude", "long", "x")
_LAT = ("lat", "latitude", "y")


@dataclass
class ImportReport:
    """What an import found."""

    path: Path
    """The file."""
    sites: list[SiteRecord] = field(default_factory=list)
    """Records that can be imported."""
    repaired: list[str] = field(default_factory=list)
    """One line per record whose geometry was repaired."""
    rejected: list[str] = field(default_factory=list)
    """One line per record that cannot be imported."""
    added: int = 0
    """Sites added to the store."""
    updated: int = 0
    """Sites updated in the store."""
    invalidated: list[str] = field(default_factory=list)
    """Sites whose geometry changed: their stored years were dropped, the next run redoes them."""


def _read_frame(path: Path, layer: str | None):
    import geopandas as gpd
    import pandas as pd
    import pyogrio

    if path.suffix.lower() in (".csv", ".txt"):
        try:  # every field as text: an id "007" stays "007"
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except Exception as exc:
            raise SiteError(f"{path}: cannot read CSV ({exc.__class__.__name__}: {exc})") from None
        cols = {c.lower(): c for c in df.columns}
        lon = next((cols[c] for c in _LON if c in cols), None)
        lat = next((cols[c] for c in _LAT if c in cols), None)
        if lon is None or lat is None:
            raise SiteError(
                f"{path}: a CSV needs lon and lat columns (found {', '.join(df.columns)})"
            )
        lonv = pd.to_numeric(df[lon], errors="coerce")
        latv = pd.to_numeric(df[lat], errors="coerce")
        ok = lonv.between(-180, 180) & latv.between(-90, 90)
        geom = [
            shapely.Point(x, y) if good else shapely.Point()
            for x, y, good in zip(lonv, latv, ok, strict=True)
        ]
        out = gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")
        # why a point is missing, for the record's one-line rejection
        return out.assign(
            _bad_coords=[
                "" if good else f"lon {x!r}, lat {y!r}: give lon in -180..180 and lat in -90..90"
                for x, y, good in zip(df[lon], df[lat], ok, strict=True)
            ]
        )
    try:
        layers = pyogrio.list_layers(path)
    except Exception as exc:
        raise SiteError(f"{path}: not a vector file GDAL can read ({exc})") from None
    names = [str(n) for n in layers[:, 0]]
    if layer is None and len(names) > 1:
        raise SiteError(f"{path} has layers {', '.join(names)}; choose one with --layer")
    if layer is not None and layer not in names:
        raise SiteError(f"{path} has no layer {layer!r}; its layers: {', '.join(names)}")
    try:
        gdf = gpd.read_file(path, layer=layer, fid_as_index=True)
    except Exception as exc:
        raise SiteError(f"{path}: cannot read ({exc})") from None
    if "fid" not in gdf.columns:
        gdf = gdf.assign(fid=gdf.index)
    return gdf


def read_sites(
    path: Path,
    *,
    layer: str | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    point_buffer_m: float = 500.0,
    max_area_km2: float = 2000.0,
) -> ImportReport:
    """Read and check a sites file; nothing is written."""
    import pandas as pd
    from pyproj import CRS

    path = Path(path)
    gdf = _read_frame(path, layer)
    if gdf.crs is None:
        raise SiteError(
            f"{path}: no CRS; set one (e.g. `ogr2ogr -a_srs EPSG:4326`) and import again"
        )
    id_field, name_field, season_field = _fields(path, gdf, id_field, name_field)
    geo = gdf if CRS.from_user_input(gdf.crs).equals(CRS.from_epsg(4326)) else gdf.to_crs(4326)
    report = ImportReport(path)
    ids = geo[id_field].map(_id_text)
    counts = ids.value_counts()
    for pos, (_idx, row) in enumerate(geo.iterrows()):
        where = f"{path.name} record {pos + 1}"
        sid = ids.iloc[pos]
        if not sid:
            report.rejected.append(f"{where}: no {id_field}; give every site an id")
            continue
        where += f" ({id_field}={sid})"
        try:
            if counts[sid] > 1:
                raise _Rejected("duplicate id; ids must be unique")
            geom, repaired = _site_geometry(row, point_buffer_m, max_area_km2)
            season = _season(row, season_field)
        except _Rejected as exc:
            report.rejected.append(f"{where}: {exc}")
            continue
        if repaired:
            report.repaired.append(f"{where}: {repaired}")
        name = str(row[name_field]) if name_field and pd.notna(row[name_field]) else sid
        report.sites.append(SiteRecord(sid, name, geom, str(path), season))
    return report


class _Rejected(ValueError):
    """A record that cannot be a site (the message says why and what to do)."""


def _fields(path: Path, gdf, id_field: str | None, name_field: str | None):
    """(id, name, season) field names, checked against the file's columns."""
    columns = ", ".join(map(str, gdf.columns))
    if id_field is None:
        id_field = next((f for f in ID_FIELDS if f in gdf.columns), None)
        if id_field is None:
            raise SiteError(
                f"{path}: no site_id, id or fid field; name the id field with --id-field"
            )
    elif id_field not in gdf.columns:
        raise SiteError(f"{path}: no field {id_field!r}; fields: {columns}")
    if name_field is not None and name_field not in gdf.columns:
        raise SiteError(f"{path}: no field {name_field!r}; fields: {columns}")
    name_field = name_field or ("name" if "name" in gdf.columns else None)
    season_field = next((f for f in ("season_months", "season") if f in gdf.columns), None)
    return id_field, name_field, season_field


def _site_geometry(row, point_buffer_m: float, max_area_km2: float):
    """(lon/lat polygon, repair note or None) of one record; raises `_Rejected`."""
    import geopandas as gpd

    geom = row.geometry
    if row.get("_bad_coords"):
        raise _Rejected(row["_bad_coords"])
    if geom is None or geom.is_empty:
        raise _Rejected("empty geometry; draw the concession or give lon/lat")
    geom = shapely.force_2d(geom)  # heights are not part of a concession
    if geom.geom_type in ("Point", "MultiPoint"):
        c = geom.centroid
        to_utm = gpd.GeoSeries([geom], crs=4326).to_crs(utm_crs(c.x, c.y))
        geom = to_utm.buffer(point_buffer_m).to_crs(4326).iloc[0]
    elif geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise _Rejected(f"a {geom.geom_type} is not a site; give polygons or points")
    repaired = None
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        polys = [
            g
            for g in getattr(fixed, "geoms", [fixed])
            if g.geom_type in ("Polygon", "MultiPolygon")
        ]
        if not polys:
            raise _Rejected(f"invalid geometry ({reason}) that cannot be repaired")
        geom = shapely.unary_union(polys)
        repaired = f"invalid geometry ({reason}) repaired with make_valid"
    minx, miny, maxx, maxy = geom.bounds
    if maxx - minx > 180 or minx < -180 or maxx > 180 or abs(miny) > 90 or abs(maxy) > 90:
        raise _Rejected(
            "geometry crosses the antimeridian or leaves lon/lat bounds; split it at 180°"
        )
    utm = utm_crs(*geom.centroid.coords[0])
    area_km2 = gpd.GeoSeries([geom], crs=4326).to_crs(utm).area.iloc[0] / 1e6
    if area_km2 > max_area_km2:
        raise _Rejected(
            f"{area_km2:,.0f} km² is implausibly large for a site "
            f"(limit {max_area_km2:,.0f} km², site_import.max_area_km2)"
        )
    limit_km = MAX_GRID_PX * RESOLUTION / 1000 - 1
    if (extent_km := _extent_km(geom)) > limit_km:
        raise _Rejected(
            f"its parts span {extent_km:,.0f} km; a site must fit in {limit_km:.0f} km "
            "(split it into several sites)"
        )
    return geom, repaired


def _season(row, season_field: str | None) -> tuple[int, ...]:
    """The record's own season months, if it gives any; raises `_Rejected`."""
    raw = row.get(season_field) if season_field else None
    if raw is None or str(raw).strip() in ("", "nan", "None"):
        return ()
    try:
        return parse_months(str(raw))
    except ValueError as exc:
        raise _Rejected(f"{season_field} {exc}") from None


def _extent_km(geom) -> float:
    """Largest side (km) of the geometry's lon/lat box, roughly."""
    import math

    minx, miny, maxx, maxy = geom.bounds
    lat = math.radians((miny + maxy) / 2)
    return max((maxx - minx) * 111.32 * math.cos(lat), (maxy - miny) * 110.57)


def _id_text(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()
