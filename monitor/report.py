"""`monitor report`: interactive HTML change reports that work offline from the file system.

``index.html`` (sites per status, disturbed area per year, a map of the sites by status drawn
from their geometries without any tile server, and the ranked restoration candidates) and one
page per site (area and NDVI per year with events and gaps, yearly RGB composites with the
detected outline, provenance). plotly.js is written once to ``assets/``; pictures come from the
composite cache, so a report never reloads imagery; nothing is fetched from the network unless
the reader asks for the online basemap.
"""

from __future__ import annotations

import html
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from monitor.change import SiteStatus
from monitor.config import Config
from monitor.geo import polygon_mask
from monitor.imagery import CompositeCache, cache_for, composite_key, open_source
from monitor.params import CompositeParams
from monitor.queries import candidates, site_statuses
from monitor.quicklook import rgb_array, write_png
from monitor.rank import Candidate
from monitor.store import SiteRecord, SiteYear, Store

__all__ = ["write_report", "ReportResult", "STATUS_COLOURS"]

log = logging.getLogger(__name__)
ASSETS = Path(__file__).parent / "assets" / "report"
STATUS_COLOURS = {
    "none": "#9aa5ab", "opening": "#f2a541", "active": "#5b8e7d", "expansion": "#d1495b",
    "stagnation": "#7768ae", "likely_abandonment": "#2a9d8f",
}  # fmt: skip
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True)
class ReportResult:
    """What was written."""

    index: Path
    """The index page."""
    pages: tuple[Path, ...]
    """One page per site."""
    bytes_total: int
    """Size of everything written."""


def _badge(status: str) -> str:
    return f'<span class="badge" style="background:{STATUS_COLOURS.get(status, "#666")}">{html.escape(status)}</span>'


def _fig_html(fig: go.Figure, div_id: str) -> str:
    # plain layout keys instead of a template: applying "plotly_white" cost ~45 ms a figure
    fig.update_layout(
        template="none", margin=dict(l=50, r=20, t=40, b=40), height=340, font=dict(family="sans-serif"),
        xaxis=dict(gridcolor="#eee"), yaxis=dict(gridcolor="#eee"),
    )  # fmt: skip
    return pio.to_html(
        fig, include_plotlyjs=False, full_html=False, div_id=div_id, config=_PLOT_CONFIG
    )


def _page(title: str, subtitle: str, body: str, depth: int) -> str:
    up = "../" * depth
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{up}assets/report.css">
<script src="{up}assets/plotly.min.js"></script>
</head><body>
<header><h1>{html.escape(title)}</h1><p>{subtitle}</p></header>
<main>{body}</main>
<script src="{up}assets/report.js"></script>
</body></html>
"""


def _map_figure(sites: list[SiteRecord], statuses: dict[str, SiteStatus]) -> go.Figure:
    """Site outlines by status on plain lon/lat axes: no tile server, no network."""
    fig = go.Figure()
    for status, colour in STATUS_COLOURS.items():
        xs, ys, text = [], [], []
        for s in sites:
            if statuses[s.site_id].status != status:
                continue
            for poly in getattr(s.geometry, "geoms", [s.geometry]):
                x, y = poly.exterior.xy
                xs += [*x, None]
                ys += [*y, None]
                text += [f"{s.site_id} {s.name}: {status}"] * (len(x) + 1)
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, fill="toself", mode="lines", name=status, text=text,
                                     hoverinfo="text", line=dict(color=colour, width=1.5),
                                     fillcolor=colour, opacity=0.75))  # fmt: skip
    fig.update_layout(title="Sites by status (lon/lat)", legend=dict(orientation="h"))
    if sites:
        import shapely

        x0, y0, x1, y1 = shapely.GeometryCollection([s.geometry for s in sites]).bounds
        pad = 0.05 * max(x1 - x0, y1 - y0, 1e-3)
        fig.update_xaxes(range=[x0 - pad, x1 + pad], constrain="domain")
        fig.update_yaxes(range=[y0 - pad, y1 + pad], constrain="domain", scaleanchor="x",
                         scaleratio=1.0 / max(0.2, np.cos(np.radians(_mid_lat(sites)))))  # fmt: skip
    return fig


def _mid_lat(sites: list[SiteRecord]) -> float:
    return float(np.mean([s.geometry.centroid.y for s in sites])) if sites else 0.0


def _index(cfg: Config, sites, statuses: dict[str, SiteStatus], rows: list[SiteYear],
           ranked: dict[str, Candidate]) -> str:  # fmt: skip
    counts: dict[str, int] = {}
    for st in statuses.values():
        counts[st.status] = counts.get(st.status, 0) + 1
    count_html = "".join(
        f'<div class="count" style="background:{STATUS_COLOURS[k]}">{k.replace("_", " ")}: {counts[k]}</div>'
        for k in STATUS_COLOURS
        if k in counts
    )
    years = sorted({r.year for r in rows})
    total = [sum(r.mined_area_ha or 0 for r in rows if r.year == y) for y in years]
    area_fig = go.Figure(go.Bar(x=years, y=total, marker_color="#d1495b", name="disturbed area"))
    area_fig.update_layout(title="Total disturbed area per year (ha)", xaxis=dict(dtick=1))
    cands = sorted(ranked.values(), key=lambda c: c.rank)
    cand_rows = "".join(
        f"<tr><td class='num'>{c.rank}</td><td><a href='sites/{html.escape(s.site_id)}.html'>"
        f"{html.escape(s.site_id)}</a></td><td>{html.escape(s.name)}</td><td>{_badge(s.status)}</td>"
        f"<td>{html.escape('; '.join(c.reasons))}</td><td class='num'>{s.peak_area_ha:.1f}</td>"
        f"<td class='num' data-sort='{s.years_since_activity if s.years_since_activity is not None else ''}'>"
        f"{s.years_since_activity if s.years_since_activity is not None else '-'}</td>"
        f"<td class='num'>{c.protected_overlap:.0%}</td><td class='num'>{s.confidence:.2f}</td></tr>"
        for c in cands
        for s in [statuses[c.site_id]]
    )
    all_rows = "".join(
        f"<tr><td><a href='sites/{html.escape(s.site_id)}.html'>{html.escape(s.site_id)}</a></td>"
        f"<td>{html.escape(s.name)}</td><td>{_badge(s.status)}</td><td class='num'>{s.opened_year or '-'}</td>"
        f"<td class='num'>{s.last_detected_year or '-'}</td>"
        f"<td class='num'>{'-' if s.latest_area_ha is None else f'{s.latest_area_ha:.1f}'}</td>"
        f"<td class='num'>{s.confidence:.2f}</td></tr>"
        for s in statuses.values()
    )
    basemap = json.dumps(_basemap_traces(sites, statuses))
    body = f"""
<section><h2>Sites per status</h2><div class="counts">{count_html}</div></section>
<div class="grid">
<section>{_fig_html(_map_figure(sites, statuses), "site-map")}
<button id="basemap-toggle" type="button">Show OpenStreetMap basemap (needs internet)</button>
<p class="note">The map draws site geometries only; nothing is fetched unless you press the button.</p></section>
<section>{_fig_html(area_fig, "area-per-year")}</section>
</div>
<section><h2>Restoration candidates ({len(cands)})</h2>
<input type="search" placeholder="filter candidates…" data-filter="candidates">
<table id="candidates" class="sortable"><thead><tr><th>rank</th><th>site</th><th>name</th><th>status</th>
<th>why</th><th>peak ha</th><th>years since activity</th><th>protected</th><th>confidence</th></tr></thead>
<tbody>{cand_rows}</tbody></table></section>
<section><h2>All sites</h2>
<input type="search" placeholder="filter sites…" data-filter="all-sites">
<table id="all-sites" class="sortable"><thead><tr><th>site</th><th>name</th><th>status</th><th>opened</th>
<th>last detected</th><th>latest ha</th><th>confidence</th></tr></thead><tbody>{all_rows}</tbody></table></section>
<script>
document.getElementById("basemap-toggle").addEventListener("click", function () {{
  var traces = {basemap};
  Plotly.newPlot("site-map", traces, {{map: {{style: "open-street-map", zoom: 10,
    center: {{lon: {np.mean([s.geometry.centroid.x for s in sites]) if sites else 0:.5f},
              lat: {_mid_lat(sites):.5f}}}}}, margin: {{l: 0, r: 0, t: 30, b: 0}}, height: 340,
    title: "Sites by status (OpenStreetMap)"}});
}});
</script>"""
    last = cfg.year_range[1]
    sub = (f"{len(sites)} sites · {years[0] if years else '-'}–{years[-1] if years else '-'} · "
           f"status as of {last} · model {html.escape(rows[0].model_version) if rows else '-'}")  # fmt: skip
    return _page("Mine monitor — restoration candidates", sub, body, 0)


def _basemap_traces(sites, statuses) -> list[dict]:
    traces = []
    for status, colour in STATUS_COLOURS.items():
        lon, lat = [], []
        for s in sites:
            if statuses[s.site_id].status == status:
                for poly in getattr(s.geometry, "geoms", [s.geometry]):
                    x, y = poly.exterior.xy
                    lon += [*map(float, x), None]
                    lat += [*map(float, y), None]
        if lon:
            traces.append({"type": "scattermap", "lon": lon, "lat": lat, "mode": "lines", "fill": "toself",
                           "name": status, "line": {"color": colour}})  # fmt: skip
    return traces


def _site_page(cfg: Config, site: SiteRecord, st: SiteStatus, rows: list[SiteYear], feet, img_dir: Path,
               cache: CompositeCache | None, params: CompositeParams, source_key: str) -> str:  # fmt: skip
    import shapely

    years = [r.year for r in rows]
    area = [r.mined_area_ha for r in rows]
    fig = go.Figure(go.Scatter(x=years, y=area, mode="lines+markers", connectgaps=False, name="mined area",
                               line=dict(color="#d1495b")))  # fmt: skip
    gaps = [r.year for r in rows if r.mined_area_ha is None]
    for y in gaps:
        fig.add_vrect(x0=y - 0.5, x1=y + 0.5, fillcolor="#bbb", opacity=0.35, line_width=0)
    for e in st.events:
        fig.add_vrect(x0=e.start - 0.45, x1=e.end + 0.45, fillcolor=STATUS_COLOURS.get(e.flag, "#888"),
                      opacity=0.12, line_width=0, annotation_text=e.flag.replace("_", " "),
                      annotation_position="top left")  # fmt: skip
    fig.update_layout(title="Mined area (ha); grey: no clear data", xaxis=dict(dtick=1))
    nd = go.Figure()
    nd.add_trace(go.Scatter(x=years, y=[r.ndvi for r in rows], mode="lines+markers", name="footprint",
                            connectgaps=False, line=dict(color="#2a9d8f")))  # fmt: skip
    nd.add_trace(go.Scatter(x=years, y=[r.ndvi_surroundings for r in rows], mode="lines+markers",
                            name="surroundings", connectgaps=False, line=dict(color="#8ab17d", dash="dot")))  # fmt: skip
    nd.update_layout(title="NDVI: footprint vs surroundings", xaxis=dict(dtick=1))

    wkb = shapely.to_wkb(site.geometry)
    key = composite_key(source_key, params, wkb)
    thumbs = []
    for r in rows:
        comp = cache.get(site.site_id, r.year, key) if cache is not None else None
        if comp is None:
            continue
        fp = feet.get(r.year)
        outline = polygon_mask(fp, comp.shape, comp.transform, comp.crs) if fp is not None else None
        name = f"{site.site_id}_{r.year}.png"
        write_png(rgb_array(comp.reflectance, outline), img_dir / name, scale=1)
        label = "no clear data" if r.mined_area_ha is None else f"{r.mined_area_ha:.1f} ha"
        thumbs.append(f'<figure><img src="../img/{html.escape(name)}" alt="{site.site_id} {r.year}" loading="lazy">'
                      f"<figcaption>{r.year} · {label}</figcaption></figure>")  # fmt: skip
    prov = "".join(
        f"<tr><td>{r.year}</td><td class='num'>{len(r.items_used)}</td><td class='num'>{len(r.items_skipped)}</td>"
        f"<td class='num'>{r.clear_observations:.0f}</td><td class='num'>{r.valid_fraction:.0%}</td>"
        f"<td>{html.escape(', '.join(sorted(set(r.baselines))))}</td><td>{html.escape(r.model_version)}</td>"
        f"<td>{html.escape('; '.join(f'{i}: {why}' for i, why in r.items_skipped)) or '-'}</td></tr>"
        for r in rows
    )
    events = "".join(f"<li><b>{e.flag.replace('_', ' ')}</b> {e.start}–{e.end} (confidence {e.confidence:.2f}):"
                     f" {html.escape(e.reason)}</li>" for e in st.events) or "<li>none</li>"  # fmt: skip
    body = f"""
<p><a href="../index.html">← all sites</a></p>
<section><h2>{_badge(st.status)} confidence {st.confidence:.2f}</h2>
<p>{html.escape("; ".join(st.reasons))}</p><ul>{events}</ul></section>
<div class="grid"><section>{_fig_html(fig, "area-chart")}</section><section>{_fig_html(nd, "ndvi-chart")}</section></div>
<section><h2>Yearly composites (true colour, detected outline in red)</h2><div class="thumbs">{"".join(thumbs)}</div></section>
<section><h2>Provenance</h2><table class="sortable"><thead><tr><th>year</th><th>scenes used</th><th>skipped</th>
<th>clear obs (median)</th><th>valid</th><th>baselines</th><th>model</th><th>skipped scenes</th></tr></thead>
<tbody>{prov}</tbody></table></section>"""
    return _page(f"{site.site_id} — {site.name}", f"status {html.escape(st.status)}", body, 1)


def write_report(
    cfg: Config, out: Path | None = None, site_ids: tuple[str, ...] = (),
    progress: Callable[[int, int], None] | None = None,
) -> ReportResult:  # fmt: skip
    """Write index.html and one page per site into ``out`` (default: the config's reports)."""
    from monitor.sites import sync_config_sites

    out = Path(out or cfg.reports)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    (out / "sites").mkdir(exist_ok=True)
    (out / "img").mkdir(exist_ok=True)
    plotly_js = out / "assets" / "plotly.min.js"
    if not plotly_js.exists():
        from plotly.offline import get_plotlyjs

        plotly_js.write_text(get_plotlyjs(), encoding="utf-8")
    for name in ("report.css", "report.js"):
        shutil.copyfile(ASSETS / name, out / "assets" / name)
    with Store(cfg.store) as store:
        sync_config_sites(store, cfg)
        sites = store.sites(site_ids or None)
        analysed = site_statuses(cfg, store)
        ranked = candidates(cfg, store, analysed)
        statuses = {s.site_id: s for s in analysed}
        rows = store.site_years()
        feet = {s.site_id: store.footprints(s.site_id) for s in sites}
    wanted = {s.site_id for s in sites}
    rows = [r for r in rows if r.site_id in wanted]
    statuses = {k: v for k, v in statuses.items() if k in wanted}
    params = CompositeParams.from_config(cfg)
    source_key = open_source(cfg.source).key
    cache = cache_for(cfg)
    pages = []
    for k, site in enumerate(sites, 1):
        srows = [r for r in rows if r.site_id == site.site_id]
        page = out / "sites" / f"{site.site_id}.html"
        page.write_text(_site_page(cfg, site, statuses[site.site_id], srows, feet[site.site_id], out / "img",
                                   cache, params, source_key), encoding="utf-8")  # fmt: skip
        pages.append(page)
        if progress:
            progress(k, len(sites))
    index = out / "index.html"
    index.write_text(_index(cfg, sites, statuses, rows, ranked), encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return ReportResult(index, tuple(pages), size)
