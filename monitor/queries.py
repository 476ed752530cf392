"""Reads of the history store for `history`, `status`, `sites list` and the reports: the
store opened (and the config's sites synced), every site analysed once and the analyses
cached in the store, rows turned into the contract's records.

Nothing here imports TensorFlow or the imagery stack: a lookup pays for SQLite and numpy.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING

from monitor.change import ANALYSIS_VERSION, Event, SiteStatus, YearPoint, analyse
from monitor.config import Config
from monitor.errors import StoreError
from monitor.formats import (
    HISTORY_FIELDS,
    SITE_FIELDS,
    STATUS_FIELDS,
    history_table,
    render,
    sites_table,
    status_table,
)
from monitor.store import SiteYear, Store

if TYPE_CHECKING:
    from monitor.rank import Candidate

__all__ = [
    "open_store",
    "history_records",
    "site_statuses",
    "candidates",
    "show_history",
    "show_status",
    "show_sites",
    "status_counts",
]


def open_store(cfg: Config, *, sync: bool = True) -> Store:
    """The config's store, with the config's sites file synced into it first."""
    from monitor.registry import sync_config_sites

    store = Store(cfg.store)
    try:
        if sync:
            sync_config_sites(store, cfg)
    except BaseException:
        store.close()
        raise
    return store


def _r(v, nd: int = 3):
    return None if v is None else round(float(v), nd)


def history_records(rows: list[SiteYear]) -> list[dict]:
    """The contract's history objects (DESIGN.md)."""
    return [
        {
            "site_id": r.site_id,
            "year": r.year,
            "mined_area_ha": _r(r.mined_area_ha, 2),
            "mine_fraction": _r(r.mine_fraction, 4),
            "clear_observations": _r(r.clear_observations, 1),
            "ndvi": _r(r.ndvi),
            "model_version": r.model_version,
        }
        for r in rows
    ]


# -- analyses, cached -----------------------------------------------------------------------
def _basis(cfg: Config, store: Store, last: int) -> str:
    """What the cached analyses depend on: the history, the change settings, the year."""
    return json.dumps([store.generation(), repr(cfg.change), last, ANALYSIS_VERSION])


_FIELDS = tuple(f.name for f in dataclasses.fields(SiteStatus))


def _to_payload(s: SiteStatus) -> str:
    """A status as a compact JSON array (field order of `SiteStatus`; events and years are
    named tuples, so arrays too): 10,000 of them per `status` over a big registry."""
    return json.dumps([getattr(s, f) for f in _FIELDS])


_EVENTS, _SERIES, _REASONS = (_FIELDS.index(f) for f in ("events", "series", "reasons"))


def _from_payload(text: str) -> SiteStatus:
    row = json.loads(text)
    row[_EVENTS] = tuple(Event(*e) for e in row[_EVENTS])
    row[_SERIES] = tuple(YearPoint(*p) for p in row[_SERIES])
    row[_REASONS] = tuple(row[_REASONS])
    return SiteStatus(*row)


def site_statuses(cfg: Config, store: Store, *, last_year: int | None = None) -> list[SiteStatus]:
    """Every site's analysis, by site id. Cached in the store; recomputed only when the
    history, the change settings or the analysis itself changed."""
    last = last_year if last_year is not None else cfg.year_range[1]
    basis = _basis(cfg, store, last)
    cached = store.cached_statuses(basis)
    if cached is not None:
        return [_from_payload(p) for p in cached]
    series = store.series()
    jobs = [(sid, name, series.get(sid, ())) for sid, name in store.site_names()]
    statuses, payloads = _analyse_all(jobs, cfg.change, last)
    store.cache_statuses(basis, [(job[0], p) for job, p in zip(jobs, payloads, strict=True)])
    return statuses


#: Registries at least this big are analysed on every core (a fork costs ~10 ms).
PARALLEL_SITES = 2000


def _analyse_chunk(jobs: list, change, last: int) -> list[SiteStatus]:
    return [
        analyse(sid, name, [YearPoint(*v) for v in rows], change, last) for sid, name, rows in jobs
    ]


def _analyse_all(jobs: list, change, last: int) -> tuple[list[SiteStatus], list[str]]:
    """The analyses and their payloads, in ``jobs`` order. A big registry is split over the
    cores: this process analyses the first share while forked children (which inherit the
    series, nothing is pickled) send theirs back as payload lines; a child that fails has its
    share analysed here."""
    import os
    import sys
    import threading

    workers = min(os.cpu_count() or 1, 8)
    # fork only a single-threaded process: a child must not inherit a lock held elsewhere
    forkable = sys.platform == "linux" and threading.active_count() == 1
    if len(jobs) < PARALLEL_SITES or workers < 2 or not forkable:
        statuses = _analyse_chunk(jobs, change, last)
        return statuses, [_to_payload(s) for s in statuses]
    step = -(-len(jobs) // workers)
    shares = [jobs[i : i + step] for i in range(0, len(jobs), step)]
    children = [_fork_share(share, change, last) for share in shares[1:]]
    statuses = _analyse_chunk(shares[0], change, last)
    payloads = [_to_payload(s) for s in statuses]
    for share, child in zip(shares[1:], children, strict=True):
        lines = _collect(child)
        if lines is None or len(lines) != len(share):
            theirs = _analyse_chunk(share, change, last)
            lines = [_to_payload(s) for s in theirs]
        else:
            theirs = [_from_payload(line) for line in lines]
        statuses += theirs
        payloads += lines
    return statuses, payloads


def _fork_share(share: list, change, last: int) -> tuple[int, int] | None:
    """A forked child analysing ``share``; (pid, read end of its pipe), None if no fork."""
    import os

    try:
        read, write = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: analyse, write, leave without running any cleanup
        code = 1
        try:
            os.close(read)
            data = "\n".join(_to_payload(s) for s in _analyse_chunk(share, change, last))
            with os.fdopen(write, "wb") as out:
                out.write(data.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    return pid, read


def _collect(child: tuple[int, int] | None) -> list[str] | None:
    """A child's payload lines, None if it failed."""
    import os

    if child is None:
        return None
    pid, read = child
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    return data.decode().split("\n") if data else []


def candidates(cfg: Config, store: Store, statuses: list[SiteStatus]) -> dict[str, Candidate]:
    """The restoration candidates, ranked (protected areas read only when configured)."""
    from monitor.rank import protected_overlap, rank_candidates

    flagged = [s for s in statuses if s.restoration_candidate]
    if not flagged:
        return {}
    overlap = (
        protected_overlap(cfg.protected_areas, store.sites([s.site_id for s in flagged]))
        if cfg.protected_areas
        else {}
    )
    return rank_candidates(flagged, overlap)


def status_counts(cfg: Config) -> dict[str, int]:
    """Sites per status."""
    with open_store(cfg, sync=False) as store:
        counts: dict[str, int] = {}
        for s in site_statuses(cfg, store):
            counts[s.status] = counts.get(s.status, 0) + 1
    return counts


# -- the commands' text ---------------------------------------------------------------------
def show_history(cfg: Config, site_id: str | None, fmt: str) -> str:
    """`monitor history SITE_ID` or (``site_id`` None) `monitor history --all`."""
    with open_store(cfg) as store:
        if site_id is None:
            rows = store.site_years()
            statuses = None
        else:
            name = dict(store.site_names()).get(site_id)
            if name is None:  # retired, or unknown (then the store says so)
                name = store.sites([site_id])[0].name
            rows = store.site_years(site_id)
            if not rows:
                raise StoreError(
                    f"site {site_id} has no history yet; run `monitor run --site {site_id}`"
                )
            points = [
                YearPoint(r.year, r.mined_area_ha, r.ndvi, r.ndvi_surroundings, r.water_fraction)
                for r in rows
            ]
            statuses = {site_id: analyse(site_id, name, points, cfg.change, cfg.year_range[1])}
    records = history_records(rows)
    return render(records, HISTORY_FIELDS, fmt, lambda recs: history_table(recs, statuses))


def show_status(cfg: Config, fmt: str, candidates_only: bool = False) -> str:
    """`monitor status [--candidates]`."""
    with open_store(cfg) as store:
        statuses = site_statuses(cfg, store)
        ranked = candidates(cfg, store, statuses) if candidates_only else {}
    by_id = {s.site_id: s for s in statuses}
    if candidates_only:
        order = sorted(ranked.values(), key=lambda c: c.rank)
        records = [by_id[c.site_id].as_json() | c.as_json() for c in order]
        fields = STATUS_FIELDS + ("rank", "score", "protected_overlap", "reasons")
    else:
        records = [s.as_json() for s in statuses]
        fields = STATUS_FIELDS
    return render(records, fields, fmt, lambda recs: status_table(recs, by_id))


def show_sites(cfg: Config, fmt: str) -> str:
    """`monitor sites list`."""
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    with open_store(cfg) as store:
        sites = store.sites()
    records = [
        {
            "site_id": s.site_id,
            "name": s.name,
            "area_ha": round(abs(geod.geometry_area_perimeter(s.geometry)[0]) / 1e4, 1),
            "lon": round(s.geometry.centroid.x, 5),
            "lat": round(s.geometry.centroid.y, 5),
            "source_file": s.source_file,
        }
        for s in sites
    ]
    return render(records, SITE_FIELDS, fmt, sites_table)
