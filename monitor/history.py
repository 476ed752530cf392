"""`history` and `status`: the store read back, analysed and formatted (table, JSON, CSV)."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

from monitor.change import SiteStatus, YearPoint, analyse, rank_candidates, sparkline
from monitor.config import Config
from monitor.errors import StoreError
from monitor.store import SiteYear, Store

__all__ = [
    "history_records",
    "site_statuses",
    "format_history",
    "format_status",
    "HISTORY_FIELDS",
    "STATUS_FIELDS",
]

HISTORY_FIELDS = (
    "site_id",
    "year",
    "mined_area_ha",
    "mine_fraction",
    "clear_observations",
    "ndvi",
    "model_version",
)
STATUS_FIELDS = (
    "site_id", "name", "status", "opened_year", "stagnant_since", "abandoned_since", "last_detected_year",
    "latest_area_ha", "restoration_candidate", "confidence", "events",
)  # fmt: skip


def _r(v, nd=3):
    return None if v is None else round(float(v), nd)


def history_records(rows: list[SiteYear]) -> list[dict]:
    return [
        {
            "site_id": r.site_id,
            "year": r.year,
            "mined_area_ha": _r(r.mined_area_ha, 2),
            "mine_fraction": _r(r.mine_fraction, 4),
            "clear_observations": _r(r.clear_observations, 1),
            "ndvi": _r(r.ndvi),
            "model_version": r.model_version,
        }  # fmt: skip
        for r in rows
    ]


def _points(rows: list[SiteYear]) -> list[YearPoint]:
    return [YearPoint(r.year, r.mined_area_ha, r.ndvi, r.ndvi_surroundings) for r in rows]


def protected_overlap(cfg: Config, sites) -> dict[str, float]:
    if cfg.protected_areas is None:
        return {}
    import geopandas as gpd
    import shapely

    try:
        pa = gpd.read_file(cfg.protected_areas).to_crs(4326)
    except Exception as exc:
        raise StoreError(f"cannot read protected areas {cfg.protected_areas}: {exc}") from None
    union = shapely.unary_union(pa.geometry.make_valid().values)
    return {
        s.site_id: float(s.geometry.intersection(union).area / s.geometry.area)
        if s.geometry.area
        else 0.0
        for s in sites
    }


def _status_basis(cfg: Config, store: Store, last: int) -> str:
    pa = cfg.protected_areas
    pa_stamp = f"{pa}:{pa.stat().st_mtime_ns}" if pa is not None and pa.exists() else str(pa)
    from monitor.change import ANALYSIS_VERSION

    return json.dumps([store.generation(), repr(cfg.change), last, pa_stamp, ANALYSIS_VERSION])


def _to_payload(s: SiteStatus) -> str:
    import dataclasses

    return json.dumps(dataclasses.asdict(s))


def _from_payload(text: str) -> SiteStatus:
    from monitor.change import Event

    d = json.loads(text)
    d["events"] = tuple(Event(**e) for e in d["events"])
    d["series"] = tuple(YearPoint(**p) for p in d["series"])
    d["reasons"] = tuple(d["reasons"])
    return SiteStatus(**d)


def site_statuses(cfg: Config, store: Store, *, last_year: int | None = None) -> list[SiteStatus]:
    """Every site's analysis (ranked candidates numbered). Cached in the store and recomputed
    only when the history, the change settings or the protected areas changed."""
    last = last_year if last_year is not None else cfg.year_range[1]
    basis = _status_basis(cfg, store, last)
    cached = store.cached_statuses(basis)
    if cached is not None:
        return [_from_payload(p) for p in cached]
    out = _analyse_all(cfg, store, last)
    store.cache_statuses(basis, [(s.site_id, _to_payload(s)) for s in out])
    return out


def _analyse_all(cfg: Config, store: Store, last: int) -> list[SiteStatus]:
    import dataclasses

    by_site: dict[str, list[SiteYear]] = defaultdict(list)
    for r in store.site_years():
        by_site[r.site_id].append(r)
    sites = store.sites()
    overlap = protected_overlap(cfg, sites)
    out = []
    for s in sites:
        st = analyse(s.site_id, s.name, _points(by_site.get(s.site_id, [])), cfg.change, last)
        if overlap:
            st = dataclasses.replace(st, protected_overlap=overlap.get(s.site_id, 0.0))
        out.append(st)
    return rank_candidates(out)


# -- formatting -----------------------------------------------------------------------------
def _csv(fields, records) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    w.writeheader()
    for rec in records:
        w.writerow(
            {
                k: (json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else v))
                for k, v in rec.items()
            }
        )
    return buf.getvalue().rstrip("\n")


def _fmt(v, nd=1) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def format_history(rows: list[SiteYear], fmt: str, status: SiteStatus | None = None) -> str:
    records = history_records(rows)
    if fmt == "json":
        return json.dumps(records, indent=1)
    if fmt == "csv":
        return _csv(HISTORY_FIELDS, records)
    # table: fits 80 columns; the area series as a sparkline with the events beside it
    lines = []
    for site_id in dict.fromkeys(r.site_id for r in rows):
        srows = [r for r in rows if r.site_id == site_id]
        areas = [r.mined_area_ha for r in srows]
        head = f"{site_id}  {srows[0].year}-{srows[-1].year}  area {sparkline(areas)}"
        if status is not None and status.site_id == site_id:
            head += f"  {status.status}"
        lines.append(head)
        if status is not None and status.site_id == site_id:
            for e in status.events:
                lines.append(f"  {e.flag} {e.start}-{e.end}: {e.reason}"[:80])
        lines.append(
            f"  {'year':>4} {'area ha':>8} {'fraction':>8} {'clear':>5} {'ndvi':>6}  model"
        )
        for r in srows:
            lines.append(
                f"  {r.year:>4} {_fmt(r.mined_area_ha):>8} {_fmt(r.mine_fraction, 3):>8} "
                f"{_fmt(r.clear_observations, 0):>5} {_fmt(r.ndvi, 2):>6}  {r.model_version[:28]}"
            )
    return "\n".join(lines)


def format_status(statuses: list[SiteStatus], fmt: str, candidates: bool = False) -> str:
    if candidates:
        statuses = sorted(
            (s for s in statuses if s.restoration_candidate), key=lambda s: s.rank or 0
        )
    records = [
        s.as_json() | ({"rank": s.rank, "reasons": "; ".join(s.reasons)} if candidates else {})
        for s in statuses
    ]
    if fmt == "json":
        return json.dumps(records, indent=1)
    if fmt == "csv":
        fields = STATUS_FIELDS + (("rank", "reasons") if candidates else ())
        return _csv(fields, records)
    lines = [f"{'site':<10} {'status':<18} {'opened':>6} {'last':>5} {'ha':>6} {'conf':>4}  series"]
    for s in statuses:
        spark = sparkline([p.area_ha for p in s.series])
        prefix = f"{s.rank:>2}. " if candidates else ""
        lines.append(
            f"{prefix}{s.site_id[:10]:<10} {s.status:<18} {s.opened_year or '-':>6} "
            f"{s.last_detected_year or '-':>5} {_fmt(s.latest_area_ha):>6} {s.confidence:>4.2f}  {spark[-16:]}"
        )
        if candidates and s.reasons:
            lines.append(f"    {'; '.join(s.reasons)}"[:80])
    return "\n".join(lines)


def _open_synced(cfg: Config) -> Store:
    from monitor.sites import sync_config_sites

    store = Store(cfg.store)
    try:
        sync_config_sites(store, cfg)
    except Exception:
        store.close()
        raise
    return store


def show_history(cfg: Config, site_id: str | None, fmt: str) -> str:
    with _open_synced(cfg) as store:
        if site_id is None:
            return format_history(store.site_years(), fmt)
        site = store.sites([site_id])[0]
        rows = store.site_years(site_id)
        if not rows:
            raise StoreError(
                f"site {site_id} has no history yet; run `monitor run --site {site_id}`"
            )
        status = analyse(site.site_id, site.name, _points(rows), cfg.change, cfg.year_range[1])
        return format_history(rows, fmt, status)


def show_status(cfg: Config, fmt: str, candidates: bool) -> str:
    with _open_synced(cfg) as store:
        return format_status(site_statuses(cfg, store), fmt, candidates)


def sites_table(cfg: Config, fmt: str) -> str:
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    with _open_synced(cfg) as store:
        sites = store.sites()
    records = [
        {"site_id": s.site_id, "name": s.name, "area_ha": round(abs(geod.geometry_area_perimeter(s.geometry)[0]) / 1e4, 1),
         "lon": round(s.geometry.centroid.x, 5), "lat": round(s.geometry.centroid.y, 5), "source_file": s.source_file}
        for s in sites
    ]  # fmt: skip
    if fmt == "json":
        return json.dumps(records, indent=1)
    if fmt == "csv":
        return _csv(("site_id", "name", "area_ha", "lon", "lat", "source_file"), records)
    lines = [f"{'site':<12} {'name':<28} {'area ha':>9} {'lon':>10} {'lat':>9}"]
    for r in records:
        lines.append(
            f"{r['site_id'][:12]:<12} {r['name'][:28]:<28} {r['area_ha']:>9.1f} {r['lon']:>10.4f} {r['lat']:>9.4f}"
        )
    return "\n".join(lines)
