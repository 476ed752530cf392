"""Detection accuracy of a model on demo worlds it was not trained on, and on real negatives.

    python bench/detection.py [--model PATH] [--seeds 101,202] [--biomes savanna,rainforest,arid]
                              [--years 2019,2023] [--workdir /tmp/mine-monitor-detection]

Builds each (seed, biome) demo world once (kept in the workdir), then, for every year, runs
`monitor evaluate` (the library call) of the model against that world's reference mask: kappa,
producer's and user's accuracy of the FCN, of the learned baseline beside it and of the index
rule. Then the share of the BigEarthNet real patches (no mines) the model flags. The shipped
model was trained on seed 0 of savanna, rainforest and arid: any other seed, and the temperate
biome, are held out. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import WORKDIR, heldout_world

from monitor.classify import mask_from_probability
from monitor.config import load_config
from monitor.demo import BIOMES
from monitor.evaluate import evaluate
from monitor.model import load_model
from monitor.realdata import bigearthnet_patches


def world(work: Path, seed: int, biome: str) -> Path:
    root = heldout_world(work, seed, biome)
    cfg = root / "evaluate.yaml"
    months = list(BIOMES[biome].season)
    cfg.write_text(
        "source: {kind: local, catalog: catalog.json, collection: sentinel-2-l2a}\n"
        f"sites: null\nstore: evaluate.gpkg\ncomposite: {{cache: cache, season_months: {months}}}\n"
    )
    return cfg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="a .keras model [default: shipped]")
    ap.add_argument("--seeds", default="101,202")
    ap.add_argument("--biomes", default=",".join(BIOMES))
    ap.add_argument("--years", default="2019,2023")
    ap.add_argument("--workdir", type=Path, default=WORKDIR)
    args = ap.parse_args()
    model = load_model(args.model)
    print(f"model {model.version} (threshold {model.threshold})")
    print(
        f"{'world':<16} {'year':>4} {'FCN kappa':>9} {'PA':>6} {'UA':>6} "
        f"{'baseline':>8} {'index':>6}"
    )
    for seed in (int(s) for s in args.seeds.split(",")):
        for biome in args.biomes.split(","):
            cfg_path = world(args.workdir, seed, biome)
            text = cfg_path.read_text()
            if args.model:
                cfg_path.write_text(text + f"model: {args.model.resolve()}\n")
            cfg = load_config(cfg_path)
            for year in (int(y) for y in args.years.split(",")):
                ref = cfg.base / "truth" / biome / f"mine_{year}.tif"
                ev = evaluate(cfg, ref, year)
                m, b, i = ev.model, ev.baseline, ev.index_baseline
                print(
                    f"{biome + '-' + str(seed):<16} {year:>4} {m['kappa']:>9.3f} "
                    f"{m['producers_accuracy']:>6.3f} {m['users_accuracy']:>6.3f} "
                    f"{b['kappa']:>8.3f} {i['kappa']:>6.3f}",
                    flush=True,
                )
            cfg_path.write_text(text)
    flagged = total = 0
    for patch in bigearthnet_patches():
        valid = ~np.isnan(patch.reflectance).any(axis=0)
        mask = mask_from_probability(model.predict(patch.reflectance), valid, model.threshold, 50)
        flagged += int(mask.sum())
        total += int(valid.sum())
        print(f"real negative {patch.name}: {mask.sum()} of {valid.sum()} px flagged")
    print(f"real negatives (BigEarthNet, 6 patches): {100 * flagged / max(total, 1):.3f} % flagged")


if __name__ == "__main__":
    main()
