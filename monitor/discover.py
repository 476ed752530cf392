"""`monitor discover`: unregistered mines around the registry, tracked year by year.

`monitor run` loads a ring around every site with the site's own imagery and keeps the mine
patches the FCN finds there, outside the concession (``ring_patches``). Discovery then needs no
imagery: patches within ``--ring-km`` of a site and outside every registered concession are
merged year by year, grouped across years into candidate mines (patches that touch, within
50 m, are one mine), and each candidate's yearly area goes through the same change analysis
as a site. One-year blobs stay out by persistence (k detections of at least
``change.min_area_ha`` within k + 1 consecutive years), the minimum mapping unit and the
model's confidence. A candidate keeps its id across runs: a new grouping that
overlaps a known candidate takes its id.

Candidates are kept in the store (``discoveries`` layer, ``discovery_years``) and exported
ready for `monitor sites import`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import shapely

from monitor.change import YearPoint, analyse
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.geo import to_crs, utm_crs
from monitor.records import DISCOVERY_FIELDS
from monitor.store import Store

__all__ = ["Discovery", "discover", "discovery_records", "DISCOVERY_FIELDS"]

_JOIN_M = 50.0


@dataclass(frozen=True)
class Discovery:
    """One candidate mine outside every concession."""

    candidate_id: str
    """Stable id."""
    footprint: object
    """Latest footprint (EPSG:4326)."""
    extent: object
    """Union of its footprints over the years (EPSG:4326): what later runs match against."""
    areas: dict[int, float]
    """Detected area per year (0 where a scanned year found nothing)."""
    status: str
    """Site vocabulary (opening, expansion ...)."""
    confidence: float
    """0-1."""
    nearest_site: str
    """The registered site nearest to it."""
    distance_km: float
    """Distance to that site's concession edge."""

    def as_json(self) -> dict:
        years = [y for y, a in sorted(self.areas.items()) if a > 0]
        c = self.footprint.centroid
        return {
            "candidate_id": self.candidate_id,
            "lon": round(c.x, 6),
            "lat": round(c.y, 6),
            "first_year": years[0] if years else None,
            "last_year": years[-1] if years else None,
            "latest_area_ha": round(self.areas[max(self.areas)], 2),
            "peak_area_ha": round(max(self.areas.values()), 2),
            "status": self.status,
            "confidence": round(self.confidence, 3),
            "nearest_site": self.nearest_site,
            "distance_km": round(self.distance_km, 3),
        }


def _local(geoms, crs):
    return [to_crs(g, 4326, crs) for g in geoms]


def _candidate_id(extent) -> str:
    c = extent.centroid
    return "D" + hashlib.sha1(f"{c.y:.3f},{c.x:.3f}".encode()).hexdigest()[:8].upper()


def _groups(patches: list[tuple[int, object, float, float]], crs):
    """Patches (year, polygon, area, probability) in one zone, grouped into mines: those
    whose footprints touch within 50 m, in any year, are one."""
    local = _local([p[1] for p in patches], crs)
    grown = shapely.unary_union([g.buffer(_JOIN_M / 2) for g in local])
    parts = list(getattr(grown, "geoms", [grown]))
    tree = shapely.STRtree(parts)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(local):
        hit = tree.query(g.representative_point(), predicate="within")
        k = int(hit[0]) if len(hit) else int(tree.nearest(g))
        members.setdefault(k, []).append(i)
    return members.values(), local


def discover(
    cfg: Config,
    *,
    ring_km: float | None = None,
    years: range | None = None,
) -> list[Discovery]:
    """Candidates found in the stored ring patches, stored back (``discoveries``) and returned
    by confidence and area."""
    from monitor.queries import open_store

    ring_km = cfg.discovery.ring_km if ring_km is None else ring_km
    if ring_km > cfg.discovery.ring_km + 1e-9:
        raise MonitorError(
            f"the runs scanned {cfg.discovery.ring_km} km around each site; set discovery.ring_km "
            f"to {ring_km} in the config and run `monitor run --force` to scan that far"
        )
    if ring_km <= 0:
        raise MonitorError(
            "discovery is off (discovery.ring_km is 0); set it and rerun `monitor run`"
        )
    with open_store(cfg) as store:
        sites = store.sites()
        found = _find(cfg, store, sites, ring_km, years)
        store.put_discoveries([(d.as_json(), d.footprint, d.extent, d.areas) for d in found])
    return found


def _find(cfg: Config, store: Store, sites, ring_km: float, years: range | None) -> list[Discovery]:
    if not sites:
        return []
    concessions = shapely.unary_union([s.geometry for s in sites])
    by_site = {s.site_id: s for s in sites}
    scanned = store.scanned_years()
    patches = []
    for site_id, year, geom, area, prob in store.ring_patches():
        site = by_site.get(site_id)
        if years is not None and year not in years:
            continue
        c = (site.geometry if site else geom).centroid
        crs = utm_crs(c.x, c.y).to_string()
        # a ring patch lies within --ring-km of its site; an AOI patch anywhere
        far = site is not None and (
            to_crs(geom, 4326, crs).distance(to_crs(site.geometry, 4326, crs)) > ring_km * 1000
        )
        if far:
            continue
        if geom.intersects(concessions):
            continue  # a registered site's own mine, seen from its neighbour's ring
        patches.append((year, geom, area, prob, crs))
    known = store.discovery_extents()
    out = []
    for crs in sorted({p[4] for p in patches}):
        zone = [p for p in patches if p[4] == crs]
        groups, local = _groups(zone, crs)
        for idx in groups:
            d = _candidate(
                cfg, [zone[i] for i in idx], [local[i] for i in idx], crs, scanned, sites, known
            )
            if d is not None:
                out.append(d)
    return sorted(out, key=lambda d: (-d.confidence, -max(d.areas.values()), d.candidate_id))


def _persistent(areas: dict[int, float], k: int, min_ha: float) -> bool:
    """At least ``k`` years of ``min_ha`` or more within some ``k + 1`` consecutive years: the
    k-of-n rule (as AMW's). Detections years apart are flickers of the land, not a mine; one
    missed year inside a mine (a cloudy ring) is not a break."""
    years = sorted(y for y, a in areas.items() if a >= min_ha)
    return any(years[i + k - 1] - years[i] <= k for i in range(len(years) - k + 1))


def _candidate(cfg, members, local, crs, scanned, sites, known) -> Discovery | None:
    yearly: dict[int, list] = {}
    for (year, geom, _area, prob, _), loc in zip(members, local, strict=True):
        yearly.setdefault(year, []).append((geom, loc, prob))
    areas_local = {y: shapely.unary_union([v[1] for v in vs]) for y, vs in yearly.items()}
    areas = {y: g.area / 1e4 for y, g in areas_local.items()}
    best_prob = max(float(np.mean([v[2] for v in vs])) for vs in yearly.values())
    persistent = _persistent(areas, cfg.discovery.persistence, cfg.change.min_area_ha)
    if not persistent or best_prob < cfg.discovery.min_probability:
        return None
    first = min(areas)
    for y in scanned:  # a scanned year without a patch is a 0, a year never scanned a gap
        if y >= first - 1 and y not in areas:
            areas[y] = 0.0
    extent_local = shapely.unary_union(list(areas_local.values()))
    extent = to_crs(extent_local, crs, 4326)
    latest = max(areas_local)
    footprint = to_crs(areas_local[latest], crs, 4326)
    cid = next((k for k, g in known.items() if g.intersects(extent)), None) or _candidate_id(extent)
    points = [YearPoint(y, a) for y, a in sorted(areas.items())]
    st = analyse(cid, cid, points, cfg.change, max(scanned) if scanned else None)
    near = min(sites, key=lambda s: to_crs(s.geometry, 4326, crs).distance(extent_local))
    dist = to_crs(near.geometry, 4326, crs).distance(extent_local) / 1000
    conf = min(1.0, st.confidence * (0.5 + 0.5 * min(1.0, best_prob)))
    return Discovery(
        cid, footprint, extent, dict(sorted(areas.items())), st.status, conf, near.site_id, dist
    )


def discovery_records(cfg: Config, store: Store) -> list[dict]:
    """The stored candidates as `monitor export --what discoveries` writes them: polygons with
    a `site_id` (the candidate id) and a name, ready for `monitor sites import`."""
    return [
        {
            "site_id": rec["candidate_id"],
            "name": f"candidate {rec['candidate_id']} (near {rec['nearest_site']})",
            **{k: rec[k] for k in DISCOVERY_FIELDS if k != "candidate_id"},
            "begin": str(rec["first_year"] or ""),
            "end": str(rec["last_year"] or ""),
            "geometry": geom,
        }
        for rec, geom in store.discoveries()
    ]


def scanned_area_km2(cfg: Config, store: Store, ring_km: float) -> float:
    """Area scanned: the rings around every site minus every concession (km²)."""
    sites = store.sites()
    if not sites:
        return 0.0
    total = 0.0
    for zone in sorted(
        {utm_crs(s.geometry.centroid.x, s.geometry.centroid.y).to_string() for s in sites}
    ):
        mine = [
            s
            for s in sites
            if utm_crs(s.geometry.centroid.x, s.geometry.centroid.y).to_string() == zone
        ]
        local = _local([s.geometry for s in mine], zone)
        rings = shapely.unary_union([g.buffer(ring_km * 1000) for g in local])
        total += rings.difference(shapely.unary_union(local)).area / 1e6
    return total


def scan_aoi(cfg: Config, path, years: range, progress=None) -> int:
    """Scan any area (`--aoi`): composite and classify it for ``years`` (tiles of at most
    ``compute.max_group_px``), keep its mine patches as a ring of its own. Returns the patches
    kept. This one reads imagery: its cost is the area's."""
    import geopandas as gpd
    from scipy import ndimage

    from monitor.classify import detect
    from monitor.geo import Grid, mask_polygon, polygon_mask, site_grid
    from monitor.imagery import build_composite, open_source, quantized
    from monitor.model import load_model
    from monitor.params import CompositeParams, DetectionParams
    from monitor.queries import open_store

    try:
        aoi = gpd.read_file(path).to_crs(4326)
    except Exception as exc:
        raise MonitorError(
            f"{path}: cannot read the area of interest ({exc.__class__.__name__})"
        ) from None
    model = load_model(cfg.model)
    source = open_source(cfg.source)
    params = CompositeParams.from_config(cfg)
    det_params = DetectionParams.from_config(cfg)
    side = cfg.compute.max_group_px
    kept = 0
    with open_store(cfg) as store:
        concessions = shapely.unary_union(
            [s.geometry for s in store.sites()] or [shapely.Polygon()]
        )
        for k, poly in enumerate(aoi.geometry.make_valid()):
            try:
                full = site_grid(poly, 0.0)
            except ValueError as exc:
                raise MonitorError(f"{path}: area {k} {exc}") from None
            tiles = [
                Grid(
                    full.crs,
                    full.x0 + c * 10.0,
                    full.y1 - r * 10.0,
                    min(side, full.width - c),
                    min(side, full.height - r),
                )
                for r in range(0, full.height, side)
                for c in range(0, full.width, side)
            ]
            for year in years:
                patches = []
                for tile in tiles:
                    comp = quantized(build_composite(source, tile, year, params, name=f"aoi-{k}"))
                    det = detect(comp, model, det_params)
                    inside = polygon_mask(
                        poly.difference(concessions), tile.shape, tile.transform, tile.crs
                    )
                    labels, _ = ndimage.label(det.mask & inside, structure=np.ones((3, 3), bool))
                    for j, sl in enumerate(ndimage.find_objects(labels), 1):
                        part = labels[sl] == j
                        from affine import Affine

                        t = tile.transform * Affine.translation(sl[1].start, sl[0].start)
                        prob = det.probability[sl][part]
                        patches.append(
                            (
                                mask_polygon(part, t, tile.crs),
                                float(part.sum() * 0.01),
                                float(np.nanmean(prob)) if prob.size else 0.0,
                            )
                        )
                store.put_aoi_patches(f"aoi:{k}", year, patches)
                kept += len(patches)
                if progress:
                    progress(
                        len(list(years)) * k + years.index(year) + 1, len(list(years)) * len(aoi)
                    )
    return kept


def show_discoveries(
    cfg: Config, *, ring_km=None, aoi=None, years=None, fmt="table", progress=None
) -> str:
    """`monitor discover`: scan the --aoi if given, find the candidates, render them."""
    from monitor.formats import render

    if aoi is not None:
        scan_aoi(cfg, aoi, years or range(cfg.year_range[0], cfg.year_range[1] + 1), progress)
    found = discover(cfg, ring_km=ring_km, years=years)
    return render([d.as_json() for d in found], DISCOVERY_FIELDS, fmt, _table)


def _table(records: list[dict]) -> str:
    if not records:
        return "no candidate mine outside the registered concessions"
    lines = [
        f"{'candidate':<10} {'lon':>10} {'lat':>9} {'years':>9} {'ha':>6} {'status':<18} "
        f"{'conf':>4}  near"
    ]
    for r in records:
        span = f"{r['first_year']}-{r['last_year']}"
        lines.append(
            f"{r['candidate_id']:<10} {r['lon']:>10.4f} {r['lat']:>9.4f} {span:>9} "
            f"{r['latest_area_ha']:>6.1f} {r['status']:<18} {r['confidence']:>4.2f}  "
            f"{r['nearest_site']} ({r['distance_km']:.1f} km)"[:120]
        )
    return "\n".join(lines)
