"""`status` over 10,000 synthetic sites x 10 years, and one `history` lookup.

python bench/store.py [--sites 10000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from shapely.geometry import box

from monitor.config import load_config
from monitor.queries import show_history, site_statuses
from monitor.store import SiteRecord, Store, gpkg_blob

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=10_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    cfg_path = work / "config.yaml"
    cfg_path.write_text("sites: null\nstore: h.gpkg\nyears: {first: 2016, last: 2025}\n")
    cfg = load_config(cfg_path)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    with Store(cfg.store) as store:
        store.upsert_sites(
            SiteRecord(
                f"S{i:05d}", f"site {i}", box(29 + i * 1e-3, -26, 29 + i * 1e-3 + 5e-4, -25.9995)
            )
            for i in range(args.sites)
        )
        rows = []
        for i in range(args.sites):
            kind = i % 5
            a0, rate = rng.uniform(5, 20), rng.uniform(1, 4)
            for k, year in enumerate(range(2016, 2026)):
                area = {
                    0: 0.0,
                    1: a0 + rate * k,
                    2: a0 + rate * min(k, 4),
                    3: max(0.0, a0 + rate * 4 - 8 * max(0, k - 5)),
                    4: (a0 if k >= 8 else 0.0),
                }[kind] * rng.normal(1, 0.03)
                area = None if rng.random() < 0.05 else max(0.0, area)
                rows.append(
                    (
                        f"S{i:05d}",
                        year,
                        area,
                        0.1,
                        5.0,
                        1.0,
                        0.2 + 0.01 * k,
                        0.35,
                        0.8,
                        "m1",
                        "src",
                        "p",
                        "[]",
                        "[]",
                        "[]",
                        "2026-01-01T00:00:00Z",
                        1,
                    )
                )
        with store.transaction() as c:
            c.executemany(
                "INSERT INTO site_years (site_id, year, mined_area_ha, mine_fraction, clear_observations,"
                " valid_fraction, ndvi, ndvi_surroundings, mean_probability, model_version, source_key, params_key,"
                " items_used, items_skipped, processing_baselines, computed_at, run_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
    print(
        f"built {args.sites} sites x 10 years in {time.perf_counter() - t0:.1f} s ({gpkg_blob is not None})"
    )
    with Store(cfg.store) as store:
        t0 = time.perf_counter()
        statuses = site_statuses(cfg, store)
        t_status = time.perf_counter() - t0
    counts = {}
    for s in statuses:
        counts[s.status] = counts.get(s.status, 0) + 1
    print(
        f"status, cold (library, all {len(statuses)} sites analysed): {t_status:.2f} s  {json.dumps(counts)}"
    )
    with Store(cfg.store) as store:
        t0 = time.perf_counter()
        site_statuses(cfg, store)
        print(
            f"status, warm (library, analyses cached in the store): {time.perf_counter() - t0:.2f} s"
        )
    show_history(cfg, "S00001", "json")  # first call pays the imports
    t0 = time.perf_counter()
    show_history(cfg, "S04321", "json")
    print(f"history lookup (library, imports done): {(time.perf_counter() - t0) * 1000:.0f} ms")
    for args_ in (["status", "--format", "json"], ["history", "S04321", "--format", "json"]):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--config", str(cfg_path), *args_],
            check=True,
            capture_output=True,
        )
        print(
            f"monitor {' '.join(args_)} (CLI, process start included): {time.perf_counter() - t0:.2f} s"
        )


if __name__ == "__main__":
    main()
