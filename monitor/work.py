"""The work of a run: one imagery group in one year, loaded once, composited once, classified
once, then measured site by site; run on local threads or as one task per group on a Dask
distributed cluster. A task is a pure function of its :class:`~monitor.plan.GroupTask`: it
reads imagery (never the store) and returns every row the store needs, so a cluster needs no
shared file system but the imagery source itself.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely

from monitor.classify import detect
from monitor.config import Config, load_config
from monitor.errors import MonitorError
from monitor.imagery import (
    LoadedScenes,
    build_composite,
    cache_for,
    composite_key,
    open_source,
    quantized,
    season_items,
)
from monitor.imagery.cog import to_dn
from monitor.measure import RingScan, measure_site_year, ring_patches
from monitor.model import MineModel, load_model
from monitor.params import DetectionParams, widened
from monitor.plan import GroupTask
from monitor.records import SiteYear

__all__ = ["GroupResult", "process_group", "execute"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupResult:
    """What a worker sends back for one group."""

    task: str
    """The task's name."""
    year: int
    """Year."""
    rows: tuple[SiteYear, ...] = ()
    """One row per site measured."""
    failures: tuple[tuple[str, int, str], ...] = field(default=())
    """(site, year, error) of the site-years that failed."""
    seconds: float = 0.0
    """Wall time of the task."""


# -- worker side: one config, model and source per process, opened on first use ------------
_OPEN: dict[tuple, object] = {}
_OPENING = threading.Lock()
_LOCKS: dict[tuple, threading.Lock] = {}  # one per thing: the model loads while configs open


def _opened(kind: str, key, make):
    """``make()``'s result, made once per process even when threads ask for it together."""
    with _OPENING:
        lock = _LOCKS.setdefault((kind, key), threading.Lock())
    with lock:
        if (kind, key) not in _OPEN:
            _OPEN[(kind, key)] = make()
        return _OPEN[(kind, key)]


def _config(path: str) -> Config:
    return _opened("config", path, lambda: load_config(path))


def _model(path: str | None) -> MineModel:
    return _opened("model", path, lambda: load_model(Path(path) if path else None))


def _source(cfg: Config):
    return _opened("source", repr(cfg.source), lambda: open_source(cfg.source))


def _season_used(season: str, planned: tuple[int, ...], used: tuple[int, ...]) -> str:
    record = json.loads(season) if season else {"months": list(planned), "how": "default"}
    if tuple(used) != tuple(planned):
        record["widened_to"] = list(used)
    return json.dumps(record)


def _short_of_looks(
    task: GroupTask, comp, target: int, fraction: float
) -> tuple[np.ndarray, list[str]]:
    """The sites with too few pixels of ``target`` clear looks, and their reach as a mask:
    what widening may fill. Per site, so a site gets the pixels it would get alone."""
    short, ids = np.zeros(comp.clear.shape, bool), []
    for site in task.sites:
        rows, cols = comp.grid.window_of(site.grid)
        if (comp.clear[rows, cols] >= target).mean() < fraction:
            rows, cols = comp.grid.window_of(site.reach)
            short[rows, cols] = True
            ids.append(site.site_id)
    return short, ids


def _group_composite(source, task: GroupTask, params, threads: int, loaded=None, items=None):
    return quantized(
        build_composite(
            source,
            task.grid,
            task.year,
            params,
            name=task.name,
            threads=threads,
            loaded=loaded,
            items=items,
        )
    )


def _fill_from(comp, wide, short: np.ndarray, target: int):
    """``comp`` with the pixels short of looks taken from ``wide`` where it has more."""
    fill = short & (comp.clear < target) & (wide.clear > comp.clear)
    return dataclasses.replace(
        comp,
        reflectance=np.where(fill[None], wide.reflectance, comp.reflectance),
        clear=np.where(fill, wide.clear, comp.clear),
        items_used=tuple(dict.fromkeys(comp.items_used + wide.items_used)),
        items_skipped=tuple(dict.fromkeys(comp.items_skipped + wide.items_skipped)),
        baselines=tuple(dict.fromkeys(comp.baselines + wide.baselines)),
    )


def widen(source, task: GroupTask, comp, cc, threads: int = 1, loaded=None):
    """When a site of the group has too few clear looks in its season, widen the season (a
    month each side, then the whole year) and fill the pixels short of looks from the wider
    window, before any year is declared a gap. Returns the composite and the months each
    site used."""
    months, used = task.params.months, {s.site_id: task.params.months for s in task.sites}
    for extra in (1, 6):
        target = cc.target_clear_observations
        short, short_ids = _short_of_looks(task, comp, target, cc.min_clear_fraction)
        if not short_ids:
            break
        wider = widened(task.params.months, extra)
        if wider == months:
            continue
        params = dataclasses.replace(task.params, months=wider)
        # a wider window without an item the composite has not seen would change nothing:
        # it is recorded, not fused again
        items = season_items(source, task.grid, task.year, params)
        seen = set(comp.items_used) | {i for i, _ in comp.items_skipped}
        if any(it.id not in seen for it in items):
            wide = _group_composite(source, task, params, threads, loaded, items)
            comp = _fill_from(comp, wide, short, target)
        months = wider
        used.update(dict.fromkeys(short_ids, wider))
        log.info(
            "group %s %d: season widened to months %s for enough clear looks",
            task.name,
            task.year,
            list(wider),
        )
    return comp, used


def _error(exc: Exception) -> str:
    return str(exc) if isinstance(exc, MonitorError) else f"{exc.__class__.__name__}: {exc}"


def process_group(task: GroupTask, threads: int = 1) -> GroupResult:
    """Composite -> FCN -> measures of every site of one group. Never raises: failures come
    back as text, one per site-year."""
    t0 = time.perf_counter()
    try:
        cfg = _config(task.config_path)
        source = _source(cfg)
        loaded = LoadedScenes(task.grid.geobox())  # a widened season reads only what it adds
        comp = _group_composite(source, task, task.params, threads, loaded)
        comp, months_used = widen(source, task, comp, cfg.composite, threads, loaded)
        del loaded  # the scenes' DNs, freed before the FCN
        model = _model(task.model_path)  # loaded once per process, while imagery loads
        det = detect(comp, model, DetectionParams.from_config(cfg))
    except Exception as exc:  # the group's imagery: every site-year of it fails alike
        log.debug("group %s failed", task.name, exc_info=True)
        failures = tuple((s.site_id, task.year, _error(exc)) for s in task.sites)
        return GroupResult(
            task.name, task.year, failures=failures, seconds=time.perf_counter() - t0
        )
    cache = cache_for(cfg)
    dn = to_dn(comp.reflectance) if cache is not None else None  # once, cropped per site
    scan = RingScan(det) if task.ring_m > 0 else None  # patches labelled once per group
    rows, failures = [], []
    for site in task.sites:
        try:
            geometry = shapely.from_wkb(site.geometry_wkb)
            crop = comp.crop(site.grid, site.site_id)
            if cache is not None:  # for reports, reruns and `monitor composite`
                win_rows, win_cols = comp.grid.window_of(site.grid)
                key = composite_key(source.key, task.params, site.geometry_wkb)
                cache.put(crop, key, dn[:, win_rows, win_cols])
            row = measure_site_year(
                site.site_id,
                geometry,
                crop,
                det.crop(site.grid),
                min_clear_fraction=cfg.composite.min_clear_fraction,
                params_key=task.params_key,
                geometry_hash=site.geometry_hash,
                season=_season_used(site.season, task.params.months, months_used[site.site_id]),
            )
            if task.ring_m > 0:
                row = ring_patches(
                    row,
                    geometry,
                    det.crop(site.reach),
                    task.ring_m,
                    cfg.detection.min_mapping_unit_ha,
                    scan,
                )
            rows.append(row)
        except Exception as exc:  # isolate: one bad site never stops its group
            log.debug("site-year %s %d failed", site.site_id, task.year, exc_info=True)
            failures.append((site.site_id, task.year, _error(exc)))
    return GroupResult(task.name, task.year, tuple(rows), tuple(failures), time.perf_counter() - t0)


# -- coordinator side -----------------------------------------------------------------------
def execute(
    tasks: list[GroupTask], threads: int = 2, scheduler: str | None = None
) -> Iterator[GroupResult]:
    """Run the tasks on local threads, or on the Dask cluster at ``scheduler``; results come
    back as they finish."""
    if not tasks:
        return iter(())
    if scheduler:
        return _on_dask(tasks, scheduler)
    return _on_threads(tasks, threads)


def _on_threads(tasks: list[GroupTask], threads: int) -> Iterator[GroupResult]:
    threads = max(1, threads)
    outer = min(threads, len(tasks))  # groups side by side
    # each group loads and fuses on every thread too: a group left alone at the end (or a
    # group widening its season) keeps both cores busy; threads mostly wait on the GIL or I/O
    with ThreadPoolExecutor(1) as loader, ThreadPoolExecutor(outer) as pool:
        # the network (TensorFlow's import is most of a run's fixed cost) loads beside the
        # first groups' imagery; a model that cannot load stops the run before a row is stored
        model = loader.submit(_model, tasks[0].model_path)
        futures = [pool.submit(process_group, t, threads) for t in tasks]
        try:
            model.result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        for fut in as_completed(futures):
            yield fut.result()


def _on_dask(tasks: list[GroupTask], address: str) -> Iterator[GroupResult]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout="20s")
    except Exception as exc:
        raise MonitorError(
            f"cannot reach the Dask scheduler at {address} ({exc.__class__.__name__}); check "
            "--scheduler or compute.scheduler, and that `dask-scheduler` is running"
        ) from None
    try:
        futures = client.map(
            process_group, tasks, pure=False, key=[f"group-{t.name}" for t in tasks]
        )
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()
