"""`monitor report` over 1,000 synthetic sites x 10 years (no imagery: pages, charts, tables).

python bench/report.py [--sites 1000]

The issue's bar: under a minute, and an index that stays responsive (its tables paginate).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, synthetic_store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sites", type=int, default=1000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp())
    cfg = work / "config.yaml"
    cfg.write_text(
        "sites: null\nstore: r.gpkg\nreports: reports\nyears: {first: 2016, last: 2025}\n"
    )
    t0 = time.perf_counter()
    synthetic_store(work / "r.gpkg", args.sites)
    print(f"built {args.sites} sites x 10 years in {time.perf_counter() - t0:.1f} s")
    for extra in ([], ["--candidates"]):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--config", str(cfg), "report", *extra],
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - t0
        if proc.returncode:
            sys.exit(proc.stderr)
        pages = len(list((work / "reports" / "sites").glob("*.html")))
        index_kb = (work / "reports" / "index.html").stat().st_size / 1024
        print(
            f"monitor report {' '.join(extra)}: {took:.1f} s for {pages} site pages "
            f"(index {index_kb:.0f} KiB); {proc.stdout.strip().splitlines()[-1]}"
        )


if __name__ == "__main__":
    main()
