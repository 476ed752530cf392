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

from _common import ROOT, synthetic_store

from monitor.config import load_config
from monitor.queries import show_history, site_statuses
from monitor.store import Store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=10_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    cfg_path = work / "config.yaml"
    cfg_path.write_text("sites: null\nstore: h.gpkg\nyears: {first: 2016, last: 2025}\n")
    cfg = load_config(cfg_path)
    t0 = time.perf_counter()
    synthetic_store(cfg.store, args.sites)
    print(f"built {args.sites} sites x 10 years in {time.perf_counter() - t0:.1f} s")
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
