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
    t0 = time.perf_counter()
    for item in items:
        for band in (*BANDS, "SCL"):
            href = item.assets[band].href
            with rasterio.open(href) as src:
                to_src = Transformer.from_crs(geobox.crs, src.crs, always_xy=True)
                x0, y0, x1, y1 = geobox.boundingbox
                xs, ys = to_src.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
                win = from_bounds(min(xs), min(ys), max(xs), max(ys), src.transform)
                src.read(
                    1, window=win.round_offsets().round_lengths(), boundless=True, fill_value=0
                )
    return time.perf_counter() - t0, len(items)
