"""Plan a run by imagery, not by site: the site-years still to do, grouped so that sites
sharing their scenes in a year are loaded, composited and classified once.

A group is a set of sites of one UTM zone and one season whose 10 m grids lie close together;
its grid is their union (every site's own grid is an aligned sub-window of it, so a site cropped
from the group sees exactly the pixels it would alone). Groups stop growing at ``max_px`` a side
and when their union would be mostly empty land between far-apart sites: decoding that land
would cost more than opening the same scenes twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely

from monitor.config import Config
from monitor.geo import NETWORK_ALIGN_M, Grid, site_grid, union_grid
from monitor.params import CompositeParams, params_key
from monitor.records import SiteRecord, geometry_digest

__all__ = ["SiteWindow", "GroupTask", "plan_run", "group_windows"]


@dataclass(frozen=True)
class SiteWindow:
    """A site as a task carries it: id, geometry and its own grid."""

    site_id: str
    """Site."""
    geometry_wkb: bytes
    """Concession polygon, EPSG:4326, as WKB."""
    grid: Grid
    """The site's 10 m grid (its buffer included): what it is cropped to."""
    reach: Grid
    """The grid of the site and its discovery ring: what its group loads."""
    geometry_hash: str
    """Hash of the geometry (a changed concession is recomputed)."""
    season: str = ""
    """The site's season and how it was chosen (JSON), recorded with its rows."""
    params_key: str = ""
    """Hash of everything that changes the site's rows (its season included)."""


@dataclass(frozen=True)
class GroupTask:
    """One imagery group in one year: what a worker needs (picklable)."""

    name: str
    """Group name (logs, Dask keys)."""
    year: int
    """Year."""
    grid: Grid
    """Union grid of the group's sites."""
    params: CompositeParams
    """Season, cloud limit, buffer."""
    sites: tuple[SiteWindow, ...]
    """The sites to measure."""
    config_path: str
    """Config file (workers load the same config)."""
    model_path: str | None
    """Model file (None: shipped)."""
    params_key: str
    """Hash of everything that changes a row."""
    ring_m: float = 0.0
    """Width of the ring scanned for unregistered mines around each site."""


def _area(g: Grid) -> int:
    return g.width * g.height


def group_windows(
    windows: list[SiteWindow], max_px: int = 1024, min_fill: float = 0.35
) -> list[list[SiteWindow]]:
    """Greedy clusters of windows of one zone and one season whose union stays within
    ``max_px`` a side and is at least ``min_fill`` covered by the windows themselves."""
    groups: list[tuple[Grid, list[SiteWindow], int]] = []  # union, members, summed area
    for w in sorted(windows, key=lambda w: (w.reach.crs, w.season, w.reach.x0, -w.reach.y1)):
        for k, (union, members, total) in enumerate(groups):
            if union.crs != w.reach.crs or members[0].season != w.season:
                continue
            grown = union_grid([union, w.reach])
            if max(grown.width, grown.height) > max_px:
                continue
            if (total + _area(w.reach)) / _area(grown) < min_fill:
                continue
            groups[k] = (grown, [*members, w], total + _area(w.reach))
            break
        else:
            groups.append((w.reach, [w], _area(w.reach)))
    return [members for _, members, _ in groups]


def plan_run(
    cfg: Config,
    sites: list[SiteRecord],
    years: range,
    done: dict[tuple[str, int], tuple],
    model_version: str,
    source_key: str,
    seasons: dict,
    *,
    force: bool = False,
) -> tuple[list[GroupTask], int]:
    """The group tasks of the site-years not yet stored with this model, source, parameters
    (the site's season among them) and geometry; and how many were skipped as done."""
    buffer_m = cfg.composite.site_buffer_m
    ring_m = cfg.discovery.ring_km * 1000
    windows = {}
    for s in sites:
        season = seasons[s.site_id]
        windows[s.site_id] = SiteWindow(
            s.site_id,
            shapely.to_wkb(s.geometry),
            site_grid(s.geometry, buffer_m),
            site_grid(s.geometry, max(buffer_m, ring_m), NETWORK_ALIGN_M),
            geometry_digest(s.geometry),
            season.as_json(),
            params_key(cfg, season.months),
        )
    tasks, skipped = [], 0
    model_path = str(cfg.model) if cfg.model else None
    for year in years:
        todo = []
        for w in windows.values():
            if not force and done.get((w.site_id, year)) == (
                model_version,
                source_key,
                w.params_key,
                w.geometry_hash,
            ):
                skipped += 1
            else:
                todo.append(w)
        for k, members in enumerate(group_windows(todo, cfg.compute.max_group_px)):
            grid = union_grid([m.reach for m in members])
            months = tuple(seasons[members[0].site_id].months)
            params = CompositeParams(months, cfg.composite.max_cloud_cover, buffer_m)
            tasks.append(
                GroupTask(
                    f"{year}-g{k:03d}",
                    year,
                    grid,
                    params,
                    tuple(members),
                    str(cfg.path),
                    model_path,
                    members[0].params_key,
                    ring_m,
                )
            )
    return tasks, skipped
