"""Composite time per site-year and its ratio to the floor (bare rasterio reads of the same
windows of the same files), in one run. Prints figures; asserts nothing.

    python bench/composite.py [--demo data/demo] [--site-years 20]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import ROOT, demo_sites, floor_read

from monitor.imagery import LocalCatalog, site_composite
from monitor.params import CompositeParams


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", type=Path, default=ROOT / "data/demo")
    ap.add_argument("--site-years", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    sites = demo_sites(args.demo)
    params = CompositeParams((5, 6, 7, 8, 9), 70.0, 300.0)
    pairs = [(s, y) for y in (2018, 2021, 2024) for s in sites][: args.site_years]
    t_comp = t_floor = 0.0
    n_items = 0
    # one source, read once, as in a run (its item index is not part of either side)
    source = LocalCatalog(args.demo / "catalog.json", "sentinel-2-l2a")
    _ = source._items
    for k, (sid, year) in enumerate(pairs):
        order = k % 2 == 0  # alternate which goes first, so the OS page cache favours neither
        for which in ("composite", "floor") if order else ("floor", "composite"):
            if which == "composite":
                t0 = time.perf_counter()
                site_composite(source, sid, sites[sid], year, params, threads=args.threads)
                t_comp += time.perf_counter() - t0
            else:
                dt_, n = floor_read(source, sites[sid], year, params.months, params.buffer_m)
                t_floor += dt_
                n_items += n
    n = len(pairs)
    print(f"site-years: {n}, scenes read: {n_items} (13 assets each)")
    print(
        f"composite: {t_comp / n:.3f} s per site-year (search + odc-stac load + harmonize + mask + median)"
    )
    print(
        f"floor:     {t_floor / n:.3f} s per site-year (bare rasterio windowed reads, same files)"
    )
    print(f"ratio composite/floor: {t_comp / t_floor:.2f}")


if __name__ == "__main__":
    main()
