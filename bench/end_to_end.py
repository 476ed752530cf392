"""End-to-end site-years per minute of `monitor run` on the demo world (fresh store and cache,
so every composite is loaded from the COGs), and that time as a ratio to the floor: bare
rasterio reads of the same windows of the same files. Prints figures; asserts nothing.

    python bench/end_to_end.py [--demo data/demo] [--sites 6]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, demo_sites, floor_read
from monitor.imagery import LocalCatalog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--demo", type=Path, default=ROOT / "data/demo")
    ap.add_argument("--sites", type=int, default=6)
    args = ap.parse_args()
    demo = args.demo.resolve()
    sites = demo_sites(demo)
    chosen = sorted(sites)[: args.sites]
    work = Path(tempfile.mkdtemp())
    cfg = work / "config.yaml"
    cfg.write_text(
        f"source: {{kind: local, catalog: {demo / 'catalog.json'}, collection: sentinel-2-l2a}}\n"
        f"sites: {demo / 'sites.geojson'}\nstore: store.gpkg\nreports: reports\ncomposite: {{cache: cache}}\n"
    )
    site_args = [a for s in chosen for a in ("--site", s)]
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--config", str(cfg), "-q", "run", *site_args],
                          capture_output=True, text=True)  # fmt: skip
    t_run = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        sys.exit(proc.stderr)
    done = int(proc.stdout.split(" site-year(s) done")[0].split()[-1])
    source = LocalCatalog(demo / "catalog.json", "sentinel-2-l2a")
    _ = source._items
    t_floor = 0.0
    from monitor.config import load_config

    c = load_config(cfg)
    first, last = c.year_range
    for sid in chosen:
        for year in range(first, last + 1):
            dt_, _ = floor_read(
                source, sites[sid], year, c.composite.season_months, c.composite.site_buffer_m
            )
            t_floor += dt_
    t0 = time.perf_counter()
    again = subprocess.run([sys.executable, str(ROOT / "cli.py"), "--config", str(cfg), "-q", "run", *site_args],
                           capture_output=True, text=True)  # fmt: skip
    t_again = time.perf_counter() - t0
    print(f"site-years: {done} ({len(chosen)} sites x {last - first + 1} years)")
    print(
        f"monitor run (process start, model load, composites, FCN, store, change analysis): {t_run:.1f} s"
    )
    print(f"  -> {60 * done / t_run:.1f} site-years per minute")
    print(f"floor (bare rasterio reads of the same windows): {t_floor:.1f} s")
    print(f"ratio run/floor: {t_run / t_floor:.2f}")
    print(
        f"second run right after (nothing to do): {t_again:.1f} s; {again.stdout.strip().splitlines()[0]}"
    )


if __name__ == "__main__":
    main()
