"""`monitor run`: lock, plan, execute, write, summarise.

The plan groups the site-years still to do by imagery (:mod:`monitor.plan`); each group is
loaded, composited and classified once and measured site by site (:mod:`monitor.work`), on
local threads or on a Dask cluster; only this, the coordinating process, writes the store, one
transaction per site-year, so a run killed at any moment leaves no half-written row and the
next run picks up where it stopped. Last, every touched site's areas are filtered over its
years (:mod:`monitor.temporal`) and its footprint NDVI is computed over its union of footprints
from the stored NDVI rasters (no imagery is read again).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from monitor.config import Config, last_complete_year
from monitor.errors import MonitorError
from monitor.imagery import open_source
from monitor.logfile import run_log
from monitor.measure import union_ndvi
from monitor.model import model_meta
from monitor.plan import plan_run
from monitor.queries import open_store
from monitor.season import resolve_seasons
from monitor.store import StoreLock
from monitor.temporal import FILTER_VERSION, filtered_areas
from monitor.work import execute

__all__ = ["RunSummary", "run", "check_years", "composite_to_cog", "FIRST_S2_YEAR"]

log = logging.getLogger(__name__)
#: Sentinel-2A began delivering in mid-2015; L2A archives start in 2016-2017.
FIRST_S2_YEAR = 2015


@dataclass
class RunSummary:
    """The end of a run."""

    run_id: int
    """Run number (in the store's runs table)."""
    done: int = 0
    """Site-years computed and stored."""
    skipped: int = 0
    """Site-years already stored with the same model, source, parameters and geometry."""
    groups: int = 0
    """Imagery groups loaded."""
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    """(site, year, error) of the site-years that failed (recorded; retried next run)."""
    seconds: float = 0.0
    """Wall time."""
    log_file: Path | None = None
    """The run's log file."""


def check_years(years: range, today: dt.date | None = None) -> None:
    """Refuse years before Sentinel-2 or not yet complete: they would be stored as permanent
    "no data" rows that later runs skip."""
    last = last_complete_year(today)
    if years.start < FIRST_S2_YEAR or years.stop - 1 > last:
        raise MonitorError(
            f"years {years.start}-{years.stop - 1} leave Sentinel-2's complete years "
            f"{FIRST_S2_YEAR}-{last}; choose years in that span"
        )


def run(
    cfg: Config,
    *,
    years: range | None = None,
    site_ids: tuple[str, ...] = (),
    force: bool = False,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """The annual run. Exclusive (flock), resumable, idempotent."""
    years = years or range(cfg.year_range[0], cfg.year_range[1] + 1)
    check_years(years)
    scheduler = scheduler or cfg.compute.scheduler
    t0 = time.perf_counter()
    with StoreLock(cfg.store), open_store(cfg) as store:
        sites = store.sites(site_ids or None)
        if not sites:
            raise MonitorError(
                "no sites in the store; `monitor sites import PATH` or set `sites` in the config"
            )
        # the version is what plans a run; the network loads on the workers, beside the
        # first imagery (a run with nothing to do never imports TensorFlow)
        _, model = model_meta(cfg.model)
        store.mark_killed_runs()
        options = {"years": [years.start, years.stop - 1], "sites": list(site_ids)}
        options |= {"force": force, "scheduler": scheduler}
        summary = RunSummary(store.start_run(options, model.version, os.getpid()))
        with run_log(cfg.store.parent / "logs", summary.run_id) as summary.log_file:
            try:
                source = open_source(cfg.source)
                seasons = resolve_seasons(cfg, sites, source, years)
                tasks, summary.skipped = plan_run(
                    cfg,
                    sites,
                    years,
                    store.done_keys(),
                    model.version,
                    source.key,
                    seasons,
                    force=force,
                )
                _execute_and_store(cfg, store, tasks, summary, scheduler, progress)
                outcome = "failures" if summary.failed else "ok"
            except BaseException:
                outcome = "aborted"
                raise
            finally:
                store.finish_run(
                    summary.run_id, outcome, summary.done, summary.skipped, len(summary.failed)
                )
    summary.seconds = time.perf_counter() - t0
    return summary


def _execute_and_store(cfg, store, tasks, summary: RunSummary, scheduler, progress) -> None:
    """Run the planned groups; store each row as it arrives (a kill loses only work in flight)."""
    total = sum(len(t.sites) for t in tasks)
    summary.groups = len(tasks)
    log.info(
        "run %d: %d site-year(s) to do in %d imagery group(s), %d already stored",
        summary.run_id,
        total,
        len(tasks),
        summary.skipped,
    )
    touched: set[str] = set()
    for res in execute(tasks, cfg.compute.threads, scheduler):
        # one transaction per group: a kill loses at most the group in flight
        store.put_site_years(dataclasses.replace(row, run_id=summary.run_id) for row in res.rows)
        touched.update(row.site_id for row in res.rows)
        for site_id, year, error in res.failures:
            store.record_failure(site_id, year, error, summary.run_id)
            log.warning("site %s year %d failed: %s", site_id, year, error)
        summary.done += len(res.rows)
        summary.failed += list(res.failures)
        if progress:
            progress(summary.done + len(summary.failed), total)
    refilter = store.get_meta("temporal_filter") != str(FILTER_VERSION)
    if refilter:  # a store whose areas were filtered otherwise, or never: every site once
        touched.update(site_id for site_id, _ in store.site_names())
    _post_pass(store, sorted(touched))
    if refilter:
        store.set_meta("temporal_filter", str(FILTER_VERSION))


def _post_pass(store, site_ids: list[str]) -> None:
    """What needs a site's other years: the temporal filter of its areas, then the NDVI of
    its union of footprints (both from the stored footprints and rasters, no imagery; the
    filter changes no year's validity, so one read of each site serves both)."""
    geometries = {s.site_id: s.geometry for s in store.sites(site_ids)} if site_ids else {}
    areas, ndvi = {}, {}
    for site_id in site_ids:
        rows, feet = store.site_years(site_id, grids=True), store.footprints(site_id)
        areas[site_id] = filtered_areas(geometries[site_id], rows, feet)
        ndvi[site_id] = union_ndvi(rows, feet)
    store.update_areas_of(areas)
    store.update_ndvi_of(ndvi)


def composite_to_cog(cfg: Config, site_id: str, year: int, out: Path, threads: int = 2):
    """`monitor composite`: one site-year's composite (from the cache when a run made it) as
    the contract's 12-band COG. Returns the composite."""
    from monitor.imagery import cache_for, cached_composite, write_cog
    from monitor.params import CompositeParams

    with open_store(cfg) as store:
        site = store.sites([site_id])[0]
    comp, _ = cached_composite(
        open_source(cfg.source),
        cache_for(cfg),
        site.site_id,
        site.geometry,
        year,
        CompositeParams.from_config(cfg),
        threads=threads,
    )
    if not comp.items_used:
        raise MonitorError(
            f"no usable scene for site {site_id} in {year}; check the years and season months"
        )
    write_cog(comp, out)
    return comp
