"""Dense FCN inference throughput: megapixels per second for 12 bands at 10 m.

python bench/fcn.py [--size 1024] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from monitor.model import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    model = load_model(None)
    rng = np.random.default_rng(0)
    refl = (
        np.asarray(model.meta.mean)[:, None, None]
        * rng.uniform(0.7, 1.3, (12, args.size, args.size))
    ).astype(np.float32)
    model.predict(refl[:, :256, :256])  # warm up (graph tracing)
    best = float("inf")
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.predict(refl)
        best = min(best, time.perf_counter() - t0)
    mpx = args.size * args.size / 1e6
    print(
        f"model {model.version}: {mpx:.2f} Mpx in {best:.2f} s -> {mpx / best:.2f} Mpx/s (best of {args.repeats})"
    )
    site = refl[:, :240, :240]
    t0 = time.perf_counter()
    for _ in range(10):
        model.predict(site)
    print(f"a 240x240 site: {(time.perf_counter() - t0) / 10 * 1000:.0f} ms per prediction")


if __name__ == "__main__":
    main()
