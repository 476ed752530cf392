"""Shared bits of the benchmarks: the demo world, and the bare-rasterio floor."""

from __future__ import annotations

import json
import time
from pathlib import Path

import rasterio
from pyproj import Transformer
from rasterio.windows import from_bounds
from shapely.geometry import shape

from monitor.bands import BANDS
from monitor.geo import site_grid
from monitor.imagery import SeasonQuery

ROOT = Path(__file__).resolve().parents[1]
WORKDIR = Path("/tmp/mine-monitor-heldout")
"""Where the held-out worlds are built once and kept (detection and world_accuracy share them)."""


def heldout_world(work: Path, seed: int, biome: str) -> Path:
    """The one-biome demo world of ``seed`` under ``work`` (built unless present)."""
    from monitor.demo import build_demo

    root = work / f"{biome}-{seed}"
    if not (root / "catalog.json").exists():
        t0 = time.perf_counter()
        build_demo(root, seed, biomes=(biome,))
        print(f"  built {root} in {time.perf_counter() - t0:.0f} s", flush=True)
    return root


def demo_sites(demo: Path) -> dict:
    return {
        f["properties"]["site_id"]: shape(f["geometry"])
        for f in json.loads((demo / "sites.geojson").read_text())["features"]
    }


def floor_read(source, geometry, year: int, months, buffer_m: float) -> tuple[float, int]:
    """Seconds to read, with plain rasterio, the same windows of the same files that a
    composite of this site-year reads (every band and SCL of every item), and the items."""
    grid = site_grid(geometry, buffer_m)
    geobox = grid.geobox()
    items = source.search(SeasonQuery(grid.lonlat_bounds(), year, tuple(months), 70.0))
    return decode_items(items, str(geobox.crs), tuple(geobox.boundingbox)), len(items)


def decode_items(items, crs: str, bounds: tuple[float, float, float, float]) -> float:
    """Seconds to decode, with plain rasterio, the window over ``bounds`` of every band and
    SCL of every item: what a composite of those items reads."""
    t0 = time.perf_counter()
    for item in items:
        for band in (*BANDS, "SCL"):
            read_window(item.assets[band].href, crs, bounds)
    return time.perf_counter() - t0


def read_window(href: str, crs: str, bounds: tuple[float, float, float, float]) -> None:
    """Decode, with plain rasterio, the window of one file that covers ``bounds`` in ``crs``."""
    with rasterio.open(href) as src:
        to_src = Transformer.from_crs(crs, src.crs, always_xy=True)
        x0, y0, x1, y1 = bounds
        xs, ys = to_src.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
        win = from_bounds(min(xs), min(ys), max(xs), max(ys), src.transform)
        src.read(1, window=win.round_offsets().round_lengths(), boundless=True, fill_value=0)


def synthetic_store(path: Path, n_sites: int, years: range = range(2016, 2026)) -> None:
    """A store of ``n_sites`` small square sites in a row with a seeded history each: none,
    expanding, stagnant, abandoned and newly opened, in turn; 5 % of the years are gaps."""
    import numpy as np
    from shapely.geometry import box

    from monitor.store import SiteRecord, Store

    rng = np.random.default_rng(0)
    with Store(path) as store:
        store.upsert_sites(
            SiteRecord(
                f"S{i:05d}", f"site {i}", box(29 + i * 1e-3, -26, 29 + i * 1e-3 + 5e-4, -25.9995)
            )
            for i in range(n_sites)
        )
        rows = []
        for i in range(n_sites):
            kind = i % 5
            a0, rate = rng.uniform(5, 20), rng.uniform(1, 4)
            for k, year in enumerate(years):
                area = {
                    0: 0.0,
                    1: a0 + rate * k,
                    2: a0 + rate * min(k, 4),
                    3: max(0.0, a0 + rate * 4 - 8 * max(0, k - 5)),
                    4: (a0 if k >= len(years) - 2 else 0.0),
                }[kind] * rng.normal(1, 0.03)
                area = None if rng.random() < 0.05 else max(0.0, area)
                rows.append(
                    (f"S{i:05d}", year, area, 0.1, 5.0, 1.0, 0.2 + 0.01 * k, 0.35, 0.8)
                    + ("m1", "src", "p", "[]", "[]", "[]", "2026-01-01T00:00:00Z", 1)
                )
        with store.transaction() as c:
            c.executemany(
                "INSERT INTO site_years (site_id, year, mined_area_ha, mine_fraction,"
                " clear_observations, valid_fraction, ndvi, ndvi_surroundings, mean_probability,"
                " model_version, source_key, params_key, items_used, items_skipped,"
                " processing_baselines, computed_at, run_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
