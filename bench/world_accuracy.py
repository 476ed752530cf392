"""Run the whole tool on a demo world and score it against that world's truth.

    python bench/world_accuracy.py --seed 7 [--workdir /tmp/world7]

Builds the world (unless present), runs `monitor run` through the real CLI, then compares
`monitor status --format json` and `monitor history --all --format json` with truth/truth.json:
share of sites with the right status, opening year within ±1 (sites that opened inside the
record), and the mean absolute percentage error of mined area over site-years with >= 5 ha of
truth. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

MONITOR = [sys.executable, str(Path(__file__).resolve().parents[1] / "cli.py")]


def sh(*args: str) -> str:
    proc = subprocess.run([*MONITOR, *args], capture_output=True, text=True)
    if proc.returncode not in (0, 3):
        sys.exit(f"monitor {' '.join(args)} failed:\n{proc.stderr}")
    return proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    work = args.workdir or Path(f"/tmp/mine-monitor-world-{args.seed}")
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "config.yaml"
    cfg.write_text(
        "source: {kind: local, catalog: demo/catalog.json, collection: sentinel-2-l2a}\n"
        "sites: demo/sites.geojson\nstore: monitor.gpkg\nreports: reports\n"
        f"composite: {{cache: cache}}\ndemo: {{out: demo, seed: {args.seed}}}\n"
    )
    t0 = time.perf_counter()
    if not (work / "demo/catalog.json").exists():
        sh(
            "--config",
            str(cfg),
            "-q",
            "demo",
            "--seed",
            str(args.seed),
            "--out",
            str(work / "demo"),
        )
    t1 = time.perf_counter()
    sh("--config", str(cfg), "-q", "run")
    t2 = time.perf_counter()
    status = {
        s["site_id"]: s for s in json.loads(sh("--config", str(cfg), "status", "--format", "json"))
    }
    hist = json.loads(sh("--config", str(cfg), "history", "--all", "--format", "json"))
    truth = json.loads((work / "demo/truth/truth.json").read_text())

    right, opened_ok, opened_n, errors = 0, 0, 0, []
    print(f"{'site':<5} {'trajectory':<22} {'expected':<19} {'got':<19} {'opened t/got'}")
    for t in truth["sites"]:
        got = status[t["site_id"]]
        ok = got["status"] == t["expected_status"]
        right += ok
        if t["opened_in_record"]:
            opened_n += 1
            opened_ok += (
                got["opened_year"] is not None and abs(got["opened_year"] - t["opened_year"]) <= 1
            )
        print(
            f"{t['site_id']:<5} {t['trajectory']:<22} {t['expected_status']:<19} {got['status']:<19} "
            f"{t['opened_year']}/{got['opened_year']}{'' if ok else '  <-- wrong'}"
        )
        for h in hist:
            if h["site_id"] == t["site_id"]:
                ta = t["area_ha"][str(h["year"])]
                if ta >= 5 and h["mined_area_ha"] is not None:
                    errors.append(abs(h["mined_area_ha"] - ta) / ta)
    n = len(truth["sites"])
    print(f"\nworld seed {args.seed}: {n} sites, {len(hist)} site-years")
    print(f"status right:          {right}/{n} = {right / n:.1%}")
    if opened_n:
        print(f"opening year ±1:       {opened_ok}/{opened_n} = {opened_ok / opened_n:.1%}")
    if errors:
        print(
            f"mined-area MAPE (>=5 ha of truth, {len(errors)} site-years): {100 * sum(errors) / len(errors):.1f}%"
        )
    print(f"time: demo {t1 - t0:.0f} s, run {t2 - t1:.0f} s")


if __name__ == "__main__":
    main()
