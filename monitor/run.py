"""`monitor run`: sites x years -> composite -> FCN -> store -> change analysis.

The work of a site-year (:func:`process_site_year`) is a pure function of its task: it reads
imagery (or the composite cache) and returns a row; it never touches the store. Only the
coordinating process writes the store, one transaction per site-year, so the same code runs on
local threads or as one task per site-year on a Dask distributed cluster.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import rasterio.features
import shapely
from pyproj import Transformer
from shapely.geometry import shape
from shapely.ops import transform as shp_transform

from monitor.classify import detect, ndvi
from monitor.composite import Composite, CompositeCache, CompositeParams, cached_composite
from monitor.config import Config
from monitor.errors import LockedError, MonitorError
from monitor.model import MineModel, load_model
from monitor.source import open_source
from monitor.store import SiteRecord, SiteYear, Store, now

__all__ = [
    "SiteYearTask",
    "SiteYearResult",
    "RunSummary",
    "run",
    "process_site_year",
    "run_lock",
    "get_composite",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SiteYearTask:
    """Everything a worker needs for one site-year (picklable)."""

    site_id: str
    """Site."""
    geometry_wkb: bytes
    """Site polygon, EPSG:4326, as WKB."""
    year: int
    """Year."""
    config_path: str
    """Config file (workers load the same config)."""
    params_key: str
    """Hash of everything that changes the row."""
    model_path: str | None
    """Model file (None: shipped)."""


@dataclass(frozen=True)
class SiteYearResult:
    """What a worker sends back."""

    site_id: str
    year: int
    row: SiteYear | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class RunSummary:
    """The end of a run."""

    run_id: int
    done: int = 0
    skipped: int = 0
    failed: list[tuple[str, int, str]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    log_file: Path | None = None

    @property
    def exit_code(self) -> int:
        return 3 if self.failed else 0


# -- the lock -------------------------------------------------------------------------------
class run_lock:
    """An exclusive flock beside the store; the kernel drops it when the process dies."""

    def __init__(self, store_path: Path):
        self.path = Path(store_path).with_suffix(".lock")
        self.fd: int | None = None

    def __enter__(self) -> run_lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise LockedError(
                f"another run holds {self.path} ({holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {now()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


# -- worker side ----------------------------------------------------------------------------
_MODELS: dict[str | None, MineModel] = {}
_CONFIGS: dict[str, Config] = {}


def _worker_config(path: str) -> Config:
    from monitor.config import load_config

    if path not in _CONFIGS:
        _CONFIGS[path] = load_config(path)
    return _CONFIGS[path]


def _worker_model(path: str | None) -> MineModel:
    if path not in _MODELS:
        _MODELS[path] = load_model(Path(path) if path else None)
    return _MODELS[path]


_SOURCES: dict[str, object] = {}


def _worker_source(cfg: Config):
    """One source per process: a local catalog is read once, an API client opened once."""
    key = repr(cfg.source)
    if key not in _SOURCES:
        _SOURCES[key] = open_source(cfg.source)
    return _SOURCES[key]


def get_composite(
    cfg: Config, site_id: str, geometry, year: int, source=None, threads: int = 1
) -> tuple[Composite, str]:
    """The site-year composite from the cache, or built and cached."""
    return cached_composite(
        source or _worker_source(cfg), CompositeCache(cfg.cache_dir), site_id, geometry, year,
        CompositeParams.from_config(cfg), threads=threads,
    )  # fmt: skip


def site_mask(geometry, comp: Composite) -> np.ndarray:
    to_grid = Transformer.from_crs(4326, comp.crs, always_xy=True)
    local = shp_transform(to_grid.transform, geometry)
    return rasterio.features.geometry_mask([local], comp.shape, comp.transform, invert=True)


def footprint_polygon(mask: np.ndarray, comp: Composite):
    if not mask.any():
        return None
    to_ll = Transformer.from_crs(comp.crs, 4326, always_xy=True)
    polys = [
        shape(g)
        for g, _ in rasterio.features.shapes(
            mask.astype(np.uint8), mask=mask, transform=comp.transform
        )
    ]
    merged = shapely.unary_union(polys)
    return shp_transform(to_ll.transform, merged)


def process_site_year(task: SiteYearTask) -> SiteYearResult:
    """Composite -> FCN -> measures of one site-year. Never raises: errors come back as text."""
    t0 = time.perf_counter()
    try:
        cfg = _worker_config(task.config_path)
        model = _worker_model(task.model_path)
        geometry = shapely.from_wkb(task.geometry_wkb)
        comp, _ = get_composite(cfg, task.site_id, geometry, task.year, threads=1)
        det = detect(
            comp, model, threshold=cfg.detection.threshold,
            min_mapping_unit_ha=cfg.detection.min_mapping_unit_ha,
            min_clear=cfg.composite.min_clear_observations,
        )  # fmt: skip
        inside = site_mask(geometry, comp)
        n_site = int(inside.sum())
        valid_fraction = float(det.valid[inside].mean()) if n_site else 0.0
        clear_obs = float(np.median(comp.clear[inside])) if n_site else 0.0
        mine = det.mask & inside
        enough = bool(comp.items_used) and valid_fraction >= cfg.composite.min_clear_fraction
        area = float(mine.sum() * comp.pixel_area_ha) if enough else None
        nd = ndvi(comp.reflectance)
        row = SiteYear(
            site_id=task.site_id, year=task.year, mined_area_ha=area,
            mine_fraction=(area / (n_site * comp.pixel_area_ha)) if enough and n_site else None,
            clear_observations=clear_obs, valid_fraction=valid_fraction,
            ndvi=float(np.nanmean(nd[mine])) if enough and mine.any() else None,
            model_version=model.version, source_key=comp.source_key, params_key=task.params_key,
            items_used=comp.items_used, items_skipped=comp.items_skipped, baselines=comp.baselines,
            footprint=footprint_polygon(mine, comp) if enough else None,
            mean_probability=float(np.nanmean(det.probability[mine])) if mine.any() else None,
            computed_at=now(),
        )  # fmt: skip
        return SiteYearResult(task.site_id, task.year, row=row, seconds=time.perf_counter() - t0)
    except MonitorError as exc:
        return SiteYearResult(
            task.site_id, task.year, error=str(exc), seconds=time.perf_counter() - t0
        )
    except Exception as exc:  # isolate: one bad site-year never stops the run
        log.debug("site-year %s %d failed", task.site_id, task.year, exc_info=True)
        return SiteYearResult(task.site_id, task.year, error=f"{exc.__class__.__name__}: {exc}",
                              seconds=time.perf_counter() - t0)  # fmt: skip


# -- coordinator side -----------------------------------------------------------------------
def params_key(cfg: Config) -> str:
    blob = json.dumps(
        {
            "months": list(cfg.composite.season_months), "cloud": cfg.composite.max_cloud_cover,
            "buffer": cfg.composite.site_buffer_m, "min_clear": cfg.composite.min_clear_observations,
            "min_clear_fraction": cfg.composite.min_clear_fraction, "threshold": cfg.detection.threshold,
            "mmu": cfg.detection.min_mapping_unit_ha,
        },
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def plan(cfg: Config, store: Store, sites: list[SiteRecord], years: range, model_version: str,
         force: bool, model_path: str | None) -> tuple[list[SiteYearTask], int]:  # fmt: skip
    source = open_source(cfg.source)
    pkey = params_key(cfg)
    done = store.done_keys()
    tasks, skipped = [], 0
    for site in sites:
        wkb = shapely.to_wkb(site.geometry)
        for year in years:
            if not force and done.get((site.site_id, year)) == (model_version, source.key, pkey):
                skipped += 1
                continue
            tasks.append(SiteYearTask(site.site_id, wkb, year, str(cfg.path), pkey, model_path))
    return tasks, skipped


def _execute_local(tasks: list[SiteYearTask], threads: int) -> Iterator[SiteYearResult]:
    with ThreadPoolExecutor(max(1, threads)) as pool:
        futures = [pool.submit(process_site_year, t) for t in tasks]
        for fut in as_completed(futures):
            yield fut.result()


def _execute_dask(tasks: list[SiteYearTask], address: str) -> Iterator[SiteYearResult]:
    from distributed import Client
    from distributed import as_completed as dask_completed

    try:
        client = Client(address, timeout="20s")
    except Exception as exc:
        raise MonitorError(
            f"cannot reach the Dask scheduler at {address} ({exc}); check --scheduler"
        ) from None
    try:
        futures = client.map(
            process_site_year,
            tasks,
            pure=False,
            key=[f"site-year-{t.site_id}-{t.year}" for t in tasks],
        )
        for fut in dask_completed(futures):
            yield fut.result()
    finally:
        client.close()


def refresh_footprint_ndvi(cfg: Config, store: Store, site: SiteRecord) -> None:
    """NDVI of the site's largest footprint (union over years) and of its undisturbed land,
    per year, from the composite cache: revegetation shows where mining once was."""
    rows = store.site_years(site.site_id)
    feet = store.footprints(site.site_id)
    if not rows or not feet:
        return
    union = shapely.unary_union(list(feet.values()))
    updates = []
    for row in rows:
        if row.mined_area_ha is None:
            continue
        comp, _ = get_composite(cfg, site.site_id, site.geometry, row.year)
        inside = site_mask(site.geometry, comp)
        fp = site_mask(union, comp) & inside
        nd = ndvi(comp.reflectance)
        fp_nd = float(np.nanmean(nd[fp])) if fp.any() else None
        rest = inside & ~fp
        sur = float(np.nanmean(nd[rest])) if rest.any() else None
        updates.append((fp_nd, sur, site.site_id, row.year))
    with store.transaction() as c:
        c.executemany(
            "UPDATE site_years SET ndvi=?, ndvi_surroundings=? WHERE site_id=? AND year=?", updates
        )
        store.bump(c)


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
    from monitor.sites import sync_config_sites

    years = years or range(cfg.year_range[0], cfg.year_range[1] + 1)
    scheduler = scheduler or cfg.compute.scheduler
    t0 = time.perf_counter()
    with run_lock(cfg.store), Store(cfg.store) as store:
        sync_config_sites(store, cfg)
        sites = store.sites(site_ids or None)
        if not sites:
            raise MonitorError(
                "no sites in the store; `monitor sites import PATH` or set `sites` in the config"
            )
        model = load_model(cfg.model)
        store.conn.execute("UPDATE runs SET outcome='killed' WHERE outcome='running'")
        run_id = store.start_run(
            {"years": [years.start, years.stop - 1], "sites": list(site_ids), "force": force,
             "scheduler": scheduler}, model.version, os.getpid(),
        )  # fmt: skip
        log_file = _attach_log(cfg, run_id)
        summary = RunSummary(run_id, log_file=log_file)
        try:
            model_path = str(cfg.model) if cfg.model else None
            tasks, summary.skipped = plan(
                cfg, store, sites, years, model.version, force, model_path
            )
            log.info(
                "run %d: %d site-year(s) to do, %d already stored",
                run_id,
                len(tasks),
                summary.skipped,
            )
            results = (
                _execute_dask(tasks, scheduler)
                if scheduler and tasks
                else _execute_local(tasks, cfg.compute.threads)
            )
            touched: set[str] = set()
            for k, res in enumerate(results, 1):
                if res.row is not None:
                    store.put_site_year(_with_run(res.row, run_id))
                    summary.done += 1
                    touched.add(res.site_id)
                else:
                    store.record_failure(
                        res.site_id, res.year, res.error or "unknown error", run_id
                    )
                    summary.failed.append((res.site_id, res.year, res.error or ""))
                    log.warning("site %s year %d failed: %s", res.site_id, res.year, res.error)
                if progress:
                    progress(k, len(tasks))
            for site in sites:
                if site.site_id in touched:
                    refresh_footprint_ndvi(cfg, store, site)
            from monitor.history import site_statuses

            for st in site_statuses(cfg, store):
                summary.statuses[st.status] = summary.statuses.get(st.status, 0) + 1
            outcome = "failures" if summary.failed else "ok"
            store.finish_run(run_id, outcome, summary.done, summary.skipped, len(summary.failed))
        except BaseException:
            store.finish_run(run_id, "aborted", summary.done, summary.skipped, len(summary.failed))
            raise
        finally:
            _detach_log()
    summary.seconds = time.perf_counter() - t0
    return summary


def _with_run(row: SiteYear, run_id: int) -> SiteYear:
    import dataclasses

    return dataclasses.replace(row, run_id=run_id)


_LOG_HANDLER: logging.Handler | None = None


def _attach_log(cfg: Config, run_id: int) -> Path:
    global _LOG_HANDLER
    folder = cfg.store.parent / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"run-{run_id:04d}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("monitor")
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    _LOG_HANDLER = handler
    return path


def _detach_log() -> None:
    global _LOG_HANDLER
    if _LOG_HANDLER is not None:
        logging.getLogger("monitor").removeHandler(_LOG_HANDLER)
        _LOG_HANDLER.close()
        _LOG_HANDLER = None
