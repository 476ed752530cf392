"""Site registry import: any vector file GDAL reads, or a CSV with lon/lat.

Every record is checked; each bad one gets one line that names the file, the record and what
to do. Invalid geometries are repaired with ``make_valid`` (and reported); records that cannot
be used (no id, duplicate id, empty, implausibly large, across the antimeridian) are rejected,
and then nothing is imported unless the caller asks to skip them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import shapely

from monitor.errors import SiteError
from monitor.geo import MAX_GRID_PX, RESOLUTION, utm_crs
from monitor.params import parse_months
from monitor.records import SiteRecord
from monitor.store import Store

__all__ = ["ImportReport", "read_sites", "import_sites", "sync_config_sites", "ID_FIELDS"]

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
    path = Path(path)
    gdf = _read_frame(path, layer)
    import geopandas as gpd
    import pandas as pd
    from pyproj import CRS

    report = ImportReport(path)
    if gdf.crs is None:
        raise SiteError(
            f"{path}: no CRS; set one (e.g. `ogr2ogr -a_srs EPSG:4326`) and import again"
        )
    if id_field is None:
        id_field = next((f for f in ID_FIELDS if f in gdf.columns), None)
        if id_field is None:
            raise SiteError(
                f"{path}: no site_id, id or fid field; name the id field with --id-field"
            )
    elif id_field not in gdf.columns:
        raise SiteError(
            f"{path}: no field {id_field!r}; fields: {', '.join(map(str, gdf.columns))}"
        )
    if name_field is not None and name_field not in gdf.columns:
        raise SiteError(
            f"{path}: no field {name_field!r}; fields: {', '.join(map(str, gdf.columns))}"
        )
    name_field = name_field or ("name" if "name" in gdf.columns else None)
    season_field = next((f for f in ("season_months", "season") if f in gdf.columns), None)
    src_crs = CRS.from_user_input(gdf.crs)
    geo = gdf.to_crs(4326) if not src_crs.equals(CRS.from_epsg(4326)) else gdf

    ids = geo[id_field].map(_id_text)
    counts = ids.value_counts()
    for pos, (_idx, row) in enumerate(geo.iterrows()):
        where = f"{path.name} record {pos + 1}"
        sid = ids.iloc[pos]
        if not sid:
            report.rejected.append(f"{where}: no {id_field}; give every site an id")
            continue
        where += f" ({id_field}={sid})"
        if counts[sid] > 1:
            report.rejected.append(f"{where}: duplicate id; ids must be unique")
            continue
        geom = row.geometry
        if row.get("_bad_coords"):
            report.rejected.append(f"{where}: {row['_bad_coords']}")
            continue
        if geom is None or geom.is_empty:
            report.rejected.append(f"{where}: empty geometry; draw the concession or give lon/lat")
            continue
        geom = shapely.force_2d(geom)  # heights are not part of a concession
        if geom.geom_type in ("Point", "MultiPoint"):
            c = geom.centroid
            utm = utm_crs(c.x, c.y)
            to_utm = gpd.GeoSeries([geom], crs=4326).to_crs(utm)
            geom = to_utm.buffer(point_buffer_m).to_crs(4326).iloc[0]
        elif geom.geom_type not in ("Polygon", "MultiPolygon"):
            report.rejected.append(
                f"{where}: a {geom.geom_type} is not a site; give polygons or points"
            )
            continue
        if not geom.is_valid:
            reason = shapely.is_valid_reason(geom)
            fixed = shapely.make_valid(geom)
            polys = [
                g
                for g in getattr(fixed, "geoms", [fixed])
                if g.geom_type in ("Polygon", "MultiPolygon")
            ]
            if not polys:
                report.rejected.append(
                    f"{where}: invalid geometry ({reason}) that cannot be repaired"
                )
                continue
            geom = shapely.unary_union(polys)
            report.repaired.append(f"{where}: invalid geometry ({reason}) repaired with make_valid")
        minx, miny, maxx, maxy = geom.bounds
        if maxx - minx > 180 or minx < -180 or maxx > 180 or abs(miny) > 90 or abs(maxy) > 90:
            report.rejected.append(
                f"{where}: geometry crosses the antimeridian or leaves lon/lat bounds; "
                "split it at 180°"
            )
            continue
        area_km2 = (
            gpd.GeoSeries([geom], crs=4326).to_crs(utm_crs(*geom.centroid.coords[0])).area.iloc[0]
            / 1e6
        )
        if area_km2 > max_area_km2:
            report.rejected.append(
                f"{where}: {area_km2:,.0f} km² is implausibly large for a site "
                f"(limit {max_area_km2:,.0f} km²,"
                " site_import.max_area_km2)"
            )
            continue
        extent_km = _extent_km(geom)
        if extent_km > MAX_GRID_PX * RESOLUTION / 1000 - 1:
            report.rejected.append(
                f"{where}: its parts span {extent_km:,.0f} km; a site must fit in "
                f"{MAX_GRID_PX * RESOLUTION / 1000 - 1:.0f} km (split it into several sites)"
            )
            continue
        name = str(row[name_field]) if name_field and pd.notna(row[name_field]) else sid
        season: tuple[int, ...] = ()
        raw_season = row.get(season_field) if season_field else None
        if raw_season is not None and str(raw_season).strip() not in ("", "nan", "None"):
            try:
                season = parse_months(str(raw_season))
            except ValueError as exc:
                report.rejected.append(f"{where}: {season_field} {exc}")
                continue
        report.sites.append(SiteRecord(sid, name, geom, str(path), season))
    return report


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


def import_sites(
    store: Store, path: Path, *, skip_invalid: bool = False, **options
) -> ImportReport:
    """Check a sites file and upsert its sites by id in one transaction (all or nothing)."""
    report = read_sites(path, **options)
    for line in report.repaired:
        log.warning("%s", line)
    if report.rejected and not skip_invalid:
        lines = "\n".join(report.rejected)
        raise SiteError(
            f"{len(report.rejected)} bad record(s) in {path}, nothing imported:\n{lines}\n"
            "fix them, or pass --skip-invalid to import the others"
        )
    for line in report.rejected:
        log.warning("skipped %s", line)
    if not report.sites:
        raise SiteError(f"{path}: no usable site")
    report.added, report.updated, report.invalidated = store.upsert_sites(report.sites)
    for site_id in report.invalidated:
        log.warning(
            "%s: site %s changed its geometry; its stored years were dropped and the "
            "next run recomputes them",
            path,
            site_id,
        )
    return report


def _digest(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sync_config_sites(store: Store, cfg) -> None:
    """Import the config's sites file when it changed since the last sync."""
    path = cfg.sites
    if path is None:
        return
    if not Path(path).exists():
        raise SiteError(
            f"sites file {path} (config key `sites`) not found; fix the path or set it to null"
        )
    digest = _digest(path)
    key = f"sites_sync:{Path(path).resolve()}"
    if store.get_meta(key) == digest:
        return
    si = cfg.site_import
    rep = import_sites(
        store,
        path,
        id_field=si.id_field,
        name_field=si.name_field,
        point_buffer_m=si.point_buffer_m,
        max_area_km2=si.max_area_km2,
    )
    gone = store.retire_sites(str(path), {s.site_id for s in rep.sites})
    for site_id in gone:
        log.warning(
            "%s no longer lists site %s: it is retired (its history stays in the "
            "store; it returns when the file lists it again)",
            path,
            site_id,
        )
    log.info("synced %s: %d added, %d updated", path, rep.added, rep.updated)
    store.set_meta(key, digest)
