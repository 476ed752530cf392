"""Dense FCN inference throughput: megapixels per second for 12 bands at 10 m.

python bench/fcn.py [--size 1024] [--repeats 5]

The first call at a new shape traces the graph (about half a second): it is timed and
printed apart, then the warm calls give the throughput, best and median, since a shared
machine is noisy.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from monitor.model import load_model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    model = load_model(None)
    rng = np.random.default_rng(0)
    refl = (
        np.asarray(model.meta.mean)[:, None, None]
        * rng.uniform(0.7, 1.3, (12, args.size, args.size))
    ).astype(np.float32)
    t0 = time.perf_counter()
    model.predict(refl)  # traces the graph
    first = time.perf_counter() - t0
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.predict(refl)
        times.append(time.perf_counter() - t0)
    mpx = args.size * args.size / 1e6
    print(
        f"model {model.version}: {mpx:.2f} Mpx warm -> {mpx / min(times):.2f} Mpx/s best, "
        f"{mpx / float(np.median(times)):.2f} Mpx/s median of {args.repeats}; "
        f"first call (traces the graph) {first:.2f} s"
    )
    site = refl[:, :240, :240]
    model.predict(site)  # its own shape (padded to 256)
    t0 = time.perf_counter()
    for _ in range(10):
        model.predict(site)
    print(f"a 240x240 site: {(time.perf_counter() - t0) / 10 * 1000:.0f} ms per prediction")


if __name__ == "__main__":
    main()
