"""`monitor report`: HTML change reports that work offline from the file system.

``index.html``: sites per status, a map (the latest composite of every site, drawn under its
outline, with a scale bar; click a site to open it), disturbed area per year, the ranked
restoration candidates, the candidate mines outside the registry, and every site (tables sort
by mouse or keyboard, filter and page, so a thousand sites stay quick). One page per site:
status and the reasons in words, coordinates and concession area, a before/after slider,
area and NDVI per year with events and gaps, the yearly composites with the detected
outline, provenance. ``--candidates`` adds ``dossier.html``: one printable page per
restoration candidate, evidence first.

Pages come from Jinja2 templates (``monitor/assets/report/templates``) with autoescaping on:
every site id, name and reason is escaped wherever it lands, and page data travels as JSON
that cannot end its script block. File names come from :func:`monitor.imagery.safe_name`, so
no id can write outside the report folder. Charts are drawn in the browser from that JSON
(plotly.js, written once to ``assets/``); pictures come from the composite cache, so a
report never reloads imagery; nothing is fetched unless the reader asks for the online map.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.change import SiteStatus
from monitor.config import Config
from monitor.geo import polygon_mask
from monitor.imagery import CompositeCache, cache_for, composite_key, open_source, safe_name
from monitor.outputs import OutputFolder
from monitor.params import CompositeParams
from monitor.queries import candidates, open_store, site_statuses
from monitor.quicklook import png_bytes, rgb_array
from monitor.rank import Candidate
from monitor.records import SiteRecord, SiteYear

__all__ = ["write_report", "ReportResult"]

log = logging.getLogger(__name__)
ASSETS = Path(__file__).parent / "assets" / "report"
STATUS_ORDER = ("none", "opening", "active", "expansion", "stagnation", "likely_abandonment")
_MAP_PX = 1600


@dataclass(frozen=True)
class ReportResult:
    """What was written."""

    index: Path
    """The index page."""
    pages: tuple[Path, ...]
    """One page per site."""
    dossier: Path | None
    """The printable dossier of restoration candidates (``--candidates``)."""
    bytes_total: int
    """Size of everything written."""


def _env():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS / "templates"),
        autoescape=jinja2.select_autoescape(["html"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    return env


# -- pictures -------------------------------------------------------------------------------
class _Pictures:
    """Quicklooks from the composite cache, written once under ``img/``."""

    def __init__(self, cfg: Config, folder: OutputFolder):
        self.cache: CompositeCache | None = cache_for(cfg)
        self.params = CompositeParams.from_config(cfg)
        self.source_key = open_source(cfg.source).key
        self.folder = folder

    def composite(self, site: SiteRecord, year: int):
        if self.cache is None:
            return None
        return self.cache.get(
            site.site_id, year, composite_key(self.source_key, self.params, site.geometry.wkb)
        )

    def thumb(self, site: SiteRecord, year: int, footprint) -> tuple[str, float] | None:
        """(relative path, height/width) of the site-year's quicklook with its outline."""
        comp = self.composite(site, year)
        if comp is None:
            return None
        rel = f"img/{safe_name(site.site_id)}_{year}.png"
        outline = (
            polygon_mask(footprint, comp.shape, comp.transform, comp.crs) if footprint else None
        )
        self.folder.write_bytes(rel, png_bytes(rgb_array(comp.reflectance, outline), scale=1))
        return rel, comp.shape[0] / comp.shape[1]


@dataclass(frozen=True)
class _MapFrame:
    """The index map's lon/lat frame: bounds and picture size."""

    x0: float
    y0: float
    x1: float
    y1: float
    width: int
    height: int

    @classmethod
    def around(cls, geoms) -> _MapFrame:
        """A frame around ``geoms`` with a margin, scaled by the cosine of the latitude."""
        import shapely

        x0, y0, x1, y1 = shapely.GeometryCollection(list(geoms)).bounds
        pad = 0.05 * max(x1 - x0, y1 - y0, 1e-3)
        x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
        aspect = (y1 - y0) / ((x1 - x0) * cls.coslat_of(y0, y1))
        width, height = _MAP_PX, max(120, int(_MAP_PX * aspect))
        if height > 2 * _MAP_PX:
            height, width = 2 * _MAP_PX, max(120, int(2 * _MAP_PX / aspect))
        return cls(x0, y0, x1, y1, width, height)

    @staticmethod
    def coslat_of(y0: float, y1: float) -> float:
        return max(0.2, math.cos(math.radians((y0 + y1) / 2)))

    @property
    def transform(self):
        from affine import Affine

        return Affine(
            (self.x1 - self.x0) / self.width,
            0,
            self.x0,
            0,
            -(self.y1 - self.y0) / self.height,
            self.y1,
        )

    def points(self, geom) -> str:
        """SVG points of the largest polygon of ``geom`` (lon/lat)."""
        polys = [p for p in getattr(geom, "geoms", [geom]) if p.geom_type == "Polygon"]
        if not polys:
            return ""
        xy = np.asarray(max(polys, key=lambda p: p.area).exterior.coords)
        cols = (xy[:, 0] - self.x0) / (self.x1 - self.x0) * self.width
        rows = (self.y1 - xy[:, 1]) / (self.y1 - self.y0) * self.height
        return " ".join(f"{c:.1f},{r:.1f}" for c, r in zip(cols, rows, strict=True))

    def scale_bar(self) -> dict:
        """A scale bar of a round length, about a fifth of the map."""
        km_per_px = (self.x1 - self.x0) / self.width * 111.32 * self.coslat_of(self.y0, self.y1)
        target = km_per_px * self.width / 5
        nice = min(
            (v for v in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500) if v >= target / 2),
            default=500,
        )
        return {"x": 16, "px": nice / km_per_px, "label": f"{nice:g} km"}


def _mosaic(frame: _MapFrame, sites, statuses, pictures: _Pictures) -> tuple[np.ndarray, int]:
    """(RGBA picture, sites drawn): each site's latest cached composite, transparent elsewhere."""
    from rasterio.warp import Resampling, reproject

    rgba = np.zeros((4, frame.height, frame.width), np.uint8)
    drawn = 0
    for s in sites:
        year = statuses[s.site_id].series[-1].year if statuses[s.site_id].series else None
        comp = pictures.composite(s, year) if year else None
        if comp is None:
            continue
        img = rgb_array(comp.reflectance)
        for b in range(3):
            out = np.zeros((frame.height, frame.width), np.uint8)
            reproject(
                img[b],
                out,
                src_transform=comp.transform,
                src_crs=comp.crs,
                src_nodata=0,
                dst_transform=frame.transform,
                dst_crs="EPSG:4326",
                dst_nodata=0,
                resampling=Resampling.average,
            )
            rgba[b] = np.where(out > 0, out, rgba[b])
            rgba[3] |= np.where(out > 0, 255, 0).astype(np.uint8)
        drawn += 1
    return rgba, drawn


def _site_map(
    sites, statuses, pictures: _Pictures, discoveries, folder: OutputFolder
) -> dict | None:
    """The index map: every site's latest composite in one picture (lon/lat, scaled by the
    cosine of the latitude), site outlines and candidate mines over it, a scale bar."""
    if not sites:
        return None
    frame = _MapFrame.around(s.geometry for s in sites)
    rgba, drawn = _mosaic(frame, sites, statuses, pictures)
    if drawn:
        folder.write_bytes("img/map.png", png_bytes(rgba))
    return {
        "width": frame.width,
        "height": frame.height,
        "image": "img/map.png" if drawn else None,
        "sites": [
            {
                "href": f"sites/{safe_name(s.site_id)}.html",
                "status": statuses[s.site_id].status,
                "label": f"{s.site_id} {s.name}: {statuses[s.site_id].status.replace('_', ' ')}",
                "points": frame.points(s.geometry),
            }
            for s in sites
        ],
        "discoveries": [
            {
                "label": f"candidate {rec['candidate_id']} ({rec['status']})",
                "points": frame.points(geom),
            }
            for rec, geom in discoveries
        ],
        "scale": frame.scale_bar(),
        "note": (
            f"Latest composites of {drawn} of {len(sites)} sites (from the cache)."
            if drawn
            else "No composite in the cache: outlines only."
        ),
    }


# -- pages ----------------------------------------------------------------------------------
def _reason_text(st: SiteStatus, cand: Candidate | None) -> str:
    return "; ".join(cand.reasons if cand else st.reasons)


def _area_ha(geometry) -> float:
    from pyproj import Geod

    return abs(Geod(ellps="WGS84").geometry_area_perimeter(geometry)[0]) / 1e4


def _site_context(
    site: SiteRecord,
    st: SiteStatus,
    cand: Candidate | None,
    rows: list[SiteYear],
    feet: dict,
    pictures: _Pictures,
) -> tuple[dict, dict]:
    """The site page's template values, and the images by year (for the dossier)."""
    images = {}
    for r in rows:
        made = pictures.thumb(site, r.year, feet.get(r.year))
        if made:
            label = "no clear data" if r.mined_area_ha is None else f"{r.mined_area_ha:.1f} ha"
            images[r.year] = {
                "src": f"../{made[0]}",
                "year": r.year,
                "label": label,
                "ratio": made[1],
            }
    detected = [r for r in rows if (r.mined_area_ha or 0) >= 1.0]
    compare = None
    if len(images) >= 2:
        before = st.opened_year if st.opened_year in images else min(images)
        after = max(images)
        if before == after:
            before = min(images)
        compare = {
            "before": images[before],
            "after": images[after],
            "ratio": f"{1 / images[after]['ratio']:.4f}",
        }
    c = site.geometry.centroid
    data = {
        "years": [r.year for r in rows],
        "area": [r.mined_area_ha for r in rows],
        "ndvi": [r.ndvi for r in rows],
        "ndvi_surroundings": [r.ndvi_surroundings for r in rows],
        "gaps": [r.year for r in rows if r.mined_area_ha is None],
        "events": [e.as_json() for e in st.events],
    }
    provenance = [
        {
            "year": r.year,
            "used": len(r.items_used),
            "skipped": len(r.items_skipped),
            "clear_obs": r.clear_observations,
            "valid": r.valid_fraction,
            "season": _season(r.season),
            "baselines": ", ".join(sorted(set(r.baselines))),
            "model": r.model_version,
            "why_skipped": "; ".join(f"{i}: {why}" for i, why in r.items_skipped),
        }
        for r in rows
    ]
    context = {
        "site_id": site.site_id,
        "status": st,
        "candidate": cand,
        "reasons": _reason_text(st, cand),
        "lon": c.x,
        "lat": c.y,
        "area_ha": _area_ha(site.geometry),
        "compare": compare,
        "thumbs": list(images.values()),
        "provenance": provenance,
        "data": data,
        "peak_year": max(detected, key=lambda r: r.mined_area_ha).year if detected else None,
    }
    return context, images


def _season(text: str) -> str:
    try:
        s = json.loads(text) if text else {}
    except ValueError:
        return text
    return ", ".join(str(m) for m in s.get("months", [])) + (
        f" ({s['how']})" if s.get("how") else ""
    )


def _svg_chart(rows: list[SiteYear]) -> str:
    """A small static chart for print: area bars per year, the footprint NDVI as a line."""
    from markupsafe import escape

    w, h, pad = 640, 180, 28
    years = [r.year for r in rows]
    if not years:
        return ""
    top = max([r.mined_area_ha or 0 for r in rows] + [1.0])
    step = (w - 2 * pad) / max(1, len(years))
    parts = [
        f'<svg viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="mined area per year">'
    ]
    for k, r in enumerate(rows):
        x = pad + k * step
        if r.mined_area_ha is None:
            parts.append(
                f'<rect x="{x:.1f}" y="{pad}" width="{step * 0.8:.1f}" '
                f'height="{h - 2 * pad}" fill="#ddd"/>'
            )
        else:
            bh = (h - 2 * pad) * r.mined_area_ha / top
            parts.append(
                f'<rect x="{x:.1f}" y="{h - pad - bh:.1f}" width="{step * 0.8:.1f}" '
                f'height="{bh:.1f}" fill="#d55e00"/>'
            )
        parts.append(
            f'<text x="{x + step * 0.4:.1f}" y="{h - 8}" font-size="10" '
            f'text-anchor="middle">{r.year}</text>'
        )
    pts = [
        (pad + k * step + step * 0.4, pad + (h - 2 * pad) * (1 - (r.ndvi + 0.2) / 1.2))
        for k, r in enumerate(rows)
        if r.ndvi is not None
    ]
    if len(pts) >= 2:
        parts.append(
            '<polyline fill="none" stroke="#009e73" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            + '"/>'
        )
    parts.append(
        f'<text x="{pad}" y="14" font-size="11">mined area (bars, up to '
        f"{escape(f'{top:.1f}')} ha) · "
        "footprint NDVI (line) · grey: no clear data</text></svg>"
    )
    return "".join(parts)


def _assets(folder: OutputFolder) -> None:
    """plotly.js once (rewritten if truncated or changed), the report's CSS and JS."""
    from plotly.offline import get_plotlyjs

    if not folder.is_current("assets/plotly.min.js"):
        folder.write_text("assets/plotly.min.js", get_plotlyjs())
    for name in ("report.css", "report.js"):
        folder.write_text(f"assets/{name}", (ASSETS / name).read_text())


def write_report(
    cfg: Config,
    out: Path | None = None,
    site_ids: tuple[str, ...] = (),
    *,
    dossier: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReportResult:
    """Write index.html, one page per site and (``dossier``) the candidates' dossier."""
    folder = OutputFolder(Path(out or cfg.reports))
    try:
        return _write(cfg, folder, site_ids, dossier, progress)
    finally:  # what was written is on record, even if this report was cut short
        folder.save()


def _write(cfg, folder, site_ids, dossier, progress) -> ReportResult:
    env = _env()
    with open_store(cfg) as store:
        sites = store.sites(site_ids or None)
        analysed = site_statuses(cfg, store)
        ranked = candidates(cfg, store, analysed)
        by_site: dict[str, list[SiteYear]] = {}
        for r in store.site_years():  # one pass: rows come sorted by site and year
            by_site.setdefault(r.site_id, []).append(r)
        feet = {s.site_id: store.footprints(s.site_id) for s in sites}
        discoveries = store.discoveries()
    statuses = {s.site_id: s for s in analysed}
    sites = [s for s in sites if s.site_id in statuses]
    _assets(folder)
    pictures = _Pictures(cfg, folder)
    site_tpl = env.get_template("site.html")
    pages, images = [], {}
    for k, site in enumerate(sites, 1):
        st = statuses[site.site_id]
        ctx, images[site.site_id] = _site_context(
            site,
            st,
            ranked.get(site.site_id),
            by_site.get(site.site_id, []),
            feet[site.site_id],
            pictures,
        )
        html = site_tpl.render(
            title=f"{site.site_id} — {site.name}",
            subtitle=f"status {st.status}",
            up="../",
            charts=True,
            **ctx,
        )
        pages.append(folder.write_text(f"sites/{safe_name(site.site_id)}.html", html))
        if progress:
            progress(k, len(sites))
    dossier_path = None
    if dossier:
        dossier_path = _write_dossier(env, folder, sites, statuses, ranked, by_site, images)
    index = folder.write_text(
        "index.html",
        _index(
            env, cfg, sites, statuses, ranked, by_site, discoveries, pictures, folder, dossier_path
        ),
    )
    size = sum(p.stat().st_size for p in folder.root.rglob("*") if p.is_file())
    return ReportResult(index, tuple(pages), dossier_path, size)


def _index(
    env, cfg, sites, statuses, ranked, by_site, discoveries, pictures, folder, dossier
) -> str:
    counts: dict[str, int] = {}
    for s in sites:
        counts[statuses[s.site_id].status] = counts.get(statuses[s.site_id].status, 0) + 1
    rows = [r for s in sites for r in by_site.get(s.site_id, [])]
    years = sorted({r.year for r in rows})
    total = {y: 0.0 for y in years}
    for r in rows:
        total[r.year] += r.mined_area_ha or 0.0
    cands = [
        {
            "rank": c.rank,
            "site_id": c.site_id,
            "name": statuses[c.site_id].name,
            "href": f"sites/{safe_name(c.site_id)}.html",
            "status": statuses[c.site_id].status,
            "reasons": "; ".join(c.reasons),
            "peak": statuses[c.site_id].peak_area_ha,
            "since": statuses[c.site_id].years_since_activity,
            "protected": c.protected_overlap,
            "confidence": statuses[c.site_id].confidence,
        }
        for c in sorted(ranked.values(), key=lambda c: c.rank)
        if c.site_id in statuses
    ]
    site_rows = [
        {
            "site_id": s.site_id,
            "name": s.name,
            "href": f"sites/{safe_name(s.site_id)}.html",
            "status": statuses[s.site_id].status,
            "opened": statuses[s.site_id].opened_year,
            "last": statuses[s.site_id].last_detected_year,
            "latest": statuses[s.site_id].latest_area_ha,
            "confidence": statuses[s.site_id].confidence,
        }
        for s in sites
    ]
    centre = (
        np.mean([s.geometry.centroid.x for s in sites]) if sites else 0.0,
        np.mean([s.geometry.centroid.y for s in sites]) if sites else 0.0,
    )
    basemap = [
        {
            "type": "scattermap",
            "mode": "lines",
            "fill": "toself",
            "name": s.site_id,
            "lon": list(s.geometry.envelope.exterior.xy[0]),
            "lat": list(s.geometry.envelope.exterior.xy[1]),
        }
        for s in sites
    ]
    model = next((r.model_version for r in rows), "-")
    sub = (
        f"{len(sites)} sites · {years[0] if years else '-'}–{years[-1] if years else '-'} · "
        f"status as of {cfg.year_range[1]} · model {model}"
    )
    return env.get_template("index.html").render(
        title="Mine monitor — restoration candidates",
        subtitle=sub,
        up="",
        charts=True,
        counts=[(k, counts[k]) for k in STATUS_ORDER if k in counts],
        map=_site_map(sites, statuses, pictures, discoveries, folder),
        candidates=cands,
        discoveries=[rec for rec, _ in discoveries],
        sites=site_rows,
        dossier=dossier.name if dossier else None,
        data={
            "years": years,
            "total_area": [round(total[y], 2) for y in years],
            "basemap": basemap,
            "center": {"lon": float(centre[0]), "lat": float(centre[1])},
        },
    )


def _write_dossier(env, folder, sites, statuses, ranked, by_site, images) -> Path:
    """One printable page per restoration candidate: evidence first."""
    by_id = {s.site_id: s for s in sites}
    pages = []
    for c in sorted(ranked.values(), key=lambda c: c.rank):
        site, st = by_id.get(c.site_id), statuses.get(c.site_id)
        if site is None or st is None:
            continue
        rows = by_site.get(c.site_id, [])
        pics = images.get(c.site_id, {})
        detected = [r for r in rows if (r.mined_area_ha or 0) >= 1.0]
        wanted = [
            ("first detection", st.opened_year),
            ("peak", max(detected, key=lambda r: r.mined_area_ha).year if detected else None),
            ("latest", max(pics) if pics else None),
        ]
        shown = [
            {**pics[y], "src": pics[y]["src"].removeprefix("../"), "role": role}
            for role, y in wanted
            if y in pics
        ]
        cen = site.geometry.centroid
        pages.append(
            {
                "rank": c.rank,
                "site_id": c.site_id,
                "name": site.name,
                "status": st.status,
                "reasons": "; ".join(c.reasons),
                "lat": cen.y,
                "lon": cen.x,
                "area_ha": _area_ha(site.geometry),
                "peak": st.peak_area_ha,
                "latest": st.latest_area_ha,
                "opened": st.opened_year,
                "last": st.last_detected_year,
                "abandoned": st.abandoned_since,
                "confidence": st.confidence,
                "score": c.score,
                "images": shown,
                "chart": _svg_chart(rows),
                "model": rows[-1].model_version if rows else "-",
                "years_observed": sum(r.mined_area_ha is not None for r in rows),
            }
        )
    html = env.get_template("dossier.html").render(
        title="Restoration candidates — dossier",
        up="",
        charts=False,
        dossiers=pages,
        subtitle=f"{len(pages)} candidate(s), one page each",
        today=dt.date.today().isoformat(),
    )
    return folder.write_text("dossier.html", html)
