"""`monitor export`: the history as layers a GIS opens. Footprints as polygons (site, year,
area, model version), candidates as points (rank, status, reasons), the history as points of
the site with one row per year, discoveries as polygons ready for `monitor sites import`;
GeoPackage or GeoJSON for QGIS, KML with a time span per feature for Google Earth, or CSV.
Written with pyogrio (GDAL's own drivers), never by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from monitor.config import Config
from monitor.errors import MonitorError
from monitor.outputs import OutputFolder

__all__ = ["EXPORTS", "FORMATS", "ExportResult", "export"]

EXPORTS = ("footprints", "candidates", "history", "discoveries")
#: Format -> (GDAL driver, file suffix).
FORMATS = {
    "gpkg": ("GPKG", ".gpkg"),
    "geojson": ("GeoJSON", ".geojson"),
    "kml": ("LIBKML", ".kml"),
    "csv": ("CSV", ".csv"),
}


@dataclass(frozen=True)
class ExportResult:
    """What was written."""

    path: Path
    """The file."""
    features: int
    """Features (rows) in it."""


def _footprints(cfg: Config, store) -> list[dict]:
    names = dict(store.site_names())
    rows = {(r.site_id, r.year): r for r in store.site_years()}
    out = []
    for (site_id, year), geom in sorted(store.all_footprints().items()):
        r = rows.get((site_id, year))
        out.append(
            {
                "site_id": site_id,
                "name": names.get(site_id, site_id),
                "year": year,
                "area_ha": round(r.mined_area_ha, 2) if r and r.mined_area_ha else None,
                "model_version": r.model_version if r else "",
                "begin": f"{year}-01-01",
                "end": f"{year}-12-31",
                "geometry": geom,
            }
        )
    return out


def _candidates(cfg: Config, store) -> list[dict]:
    from monitor.queries import candidates, site_statuses

    statuses = {s.site_id: s for s in site_statuses(cfg, store)}
    ranked = candidates(cfg, store, list(statuses.values()))
    geoms = {s.site_id: s.geometry for s in store.sites(list(ranked))} if ranked else {}
    out = []
    for c in sorted(ranked.values(), key=lambda c: c.rank):
        s = statuses[c.site_id]
        out.append(
            {
                "rank": c.rank,
                "site_id": s.site_id,
                "name": s.name,
                "status": s.status,
                "score": c.score,
                "confidence": round(s.confidence, 3),
                "latest_area_ha": s.latest_area_ha,
                "peak_area_ha": round(s.peak_area_ha, 2),
                "years_since_activity": s.years_since_activity,
                "protected_overlap": round(c.protected_overlap, 3),
                "reasons": "; ".join(c.reasons),
                "begin": f"{s.opened_year or ''}",
                "end": f"{s.abandoned_since or ''}",
                "geometry": geoms[c.site_id].representative_point(),
            }
        )
    return out


def _history(cfg: Config, store) -> list[dict]:
    from monitor.queries import history_records

    points = {s.site_id: s.geometry.representative_point() for s in store.sites(retired=True)}
    return [
        rec
        | {
            "begin": f"{rec['year']}-01-01",
            "end": f"{rec['year']}-12-31",
            "geometry": points.get(rec["site_id"]),
        }
        for rec in history_records(store.site_years())
    ]


def _discoveries(cfg: Config, store) -> list[dict]:
    from monitor.discover import discovery_records

    return discovery_records(cfg, store)


_BUILDERS = {
    "footprints": _footprints,
    "candidates": _candidates,
    "history": _history,
    "discoveries": _discoveries,
}


def _why_empty(what: str, store) -> str:
    """Why an export has no records, and what would give it some."""
    if not store.done_keys():
        return (
            f"nothing to export as {what}: the store holds no results yet; run `monitor run` first"
        )
    if what == "discoveries":
        return (
            "nothing to export as discoveries: no candidate is stored; run `monitor discover` "
            "(after a run it may find none: no persistent mine patch outside the concessions)"
        )
    if what == "candidates":
        return (
            "nothing to export as candidates: no site is a restoration candidate (`monitor status`)"
        )
    return f"nothing to export as {what}: no site-year has a mapped footprint"


def export(cfg: Config, what: str, fmt: str, out: Path | None = None) -> ExportResult:
    """Write one export; the default file is ``<reports>/<what>.<suffix>``."""
    import geopandas as gpd

    from monitor.queries import open_store

    if what not in EXPORTS or fmt not in FORMATS:
        raise MonitorError(
            f"export {what!r} as {fmt!r}: choose from {EXPORTS} and {tuple(FORMATS)}"
        )
    driver, suffix = FORMATS[fmt]
    out = Path(out) if out else cfg.reports / f"{what}{suffix}"
    with open_store(cfg) as store:
        records = _BUILDERS[what](cfg, store)
        if not records:
            raise MonitorError(_why_empty(what, store))
    frame = gpd.GeoDataFrame(records, geometry="geometry", crs=4326)
    if fmt == "csv":  # a table: the geometry as WKT, so it still opens as a layer
        frame = frame.assign(wkt=frame.geometry.to_wkt()).drop(columns="geometry")
    if fmt != "kml":
        frame = frame.drop(columns=[c for c in ("begin", "end") if c in frame.columns])
    folder = OutputFolder(out.parent)

    def write(tmp: Path) -> None:
        if fmt == "csv":
            frame.to_csv(tmp, index=False)
        else:
            import pyogrio

            pyogrio.write_dataframe(frame, tmp, driver=driver, layer=what)

    path = folder.write(out.name, write)
    folder.save()
    return ExportResult(path, len(records))
