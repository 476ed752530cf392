"""`monitor train`: labelled polygons or points -> composites of year Y -> a trained FCN.

Labels are grouped into tiles of about 5 km; each tile gets a composite from the configured
source, exactly as the annual run makes them, and its labels are burnt onto that grid. Patches
are drawn at random (half of them centred on mine pixels, since mines are rare), augmented with
flips, 90° rotations and radiometric jitter, and a spatial hold-out (the eastern fifth of every
tile) gives validation figures that are not patch neighbours of the training data.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from shapely.geometry import box

from monitor.bands import BANDS
from monitor.composite import CompositeCache, CompositeParams, cached_composite
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.labels import LABEL_IGNORE, rasterize_labels, read_labels
from monitor.metrics import confusion, scores
from monitor.model import MineModel, ModelMeta, _keras, build_fcn, weights_digest
from monitor.source import open_source

__all__ = ["TrainingTile", "collect_tiles", "train_model"]

log = logging.getLogger(__name__)
TILE_DEG = 0.05
PATCH = 64


@dataclass
class TrainingTile:
    """A composite and the labels burnt onto its grid."""

    x: np.ndarray
    """(H, W, 12) normalised input (filled in once the statistics are known)."""
    reflectance: np.ndarray
    """(12, H, W) reflectance."""
    y: np.ndarray
    """(H, W) uint8 labels: 1 mine, 0 background, 255 unlabelled."""
    split: int
    """Column from which the tile is held out for validation."""


def collect_tiles(cfg: Config, labels_path: Path, year: int, progress=None) -> list[TrainingTile]:
    labels = read_labels(labels_path)
    source = open_source(cfg.source)
    params = CompositeParams.from_config(cfg)
    params = CompositeParams(params.months, params.max_cloud_cover, 0.0)
    cache = CompositeCache(cfg.cache_dir)
    cent = labels.geometry.representative_point()
    keys = sorted({(math.floor(p.x / TILE_DEG), math.floor(p.y / TILE_DEG)) for p in cent})
    tiles: list[TrainingTile] = []
    for k, (i, j) in enumerate(keys, 1):
        members = labels[
            [(math.floor(p.x / TILE_DEG), math.floor(p.y / TILE_DEG)) == (i, j) for p in cent]
        ]
        area = box(*members.total_bounds)
        tile_id = f"train_{i}_{j}"
        comp, _ = cached_composite(
            source, cache, tile_id, area, year, params, threads=cfg.compute.threads
        )
        if progress:
            progress(k, len(keys))
        if not comp.items_used:
            log.warning("no imagery for labels around tile %s in %d; skipped", tile_id, year)
            continue
        y = rasterize_labels(labels, comp.shape, comp.transform, comp.crs)
        y[comp.clear == 0] = LABEL_IGNORE
        if (y != LABEL_IGNORE).sum() == 0:
            continue
        split = int(comp.shape[1] * 0.8)
        tiles.append(TrainingTile(np.empty(0), comp.reflectance, y, split))
    if not tiles:
        raise MonitorError(
            f"{labels_path}: no labelled pixel has imagery in {year}; check the year and source"
        )
    if not any((t.y == 1).any() for t in tiles):
        raise MonitorError(f"{labels_path}: no `mine` label has imagery in {year}")
    return tiles


def _stats(tiles: list[TrainingTile]) -> tuple[np.ndarray, np.ndarray]:
    px = np.concatenate([t.reflectance[:, t.y != LABEL_IGNORE] for t in tiles], axis=1)
    px = px[:, ~np.isnan(px).any(axis=0)]
    return px.mean(axis=1), np.maximum(px.std(axis=1), 1e-3)


def _sample(rng, tiles, n, train: bool):
    """n random patches (x, y) from the training part of the tiles, half centred on mines."""
    xs = np.zeros((n, PATCH, PATCH, 12), np.float32)
    ys = np.full((n, PATCH, PATCH, 1), -1.0, np.float32)
    for k in range(n):
        t = tiles[rng.integers(len(tiles))]
        h, w = t.y.shape
        wmax = t.split if train else w
        want_mine = rng.random() < 0.5
        rows, cols = np.nonzero(t.y[:, :wmax] == 1) if want_mine else (None, None)
        if rows is not None and len(rows):
            q = rng.integers(len(rows))
            r0, c0 = (
                rows[q] - PATCH // 2 + rng.integers(-16, 17),
                cols[q] - PATCH // 2 + rng.integers(-16, 17),
            )
        else:
            r0, c0 = rng.integers(0, max(1, h - PATCH)), rng.integers(0, max(1, wmax - PATCH))
        r0 = int(np.clip(r0, 0, max(0, h - PATCH)))
        c0 = int(np.clip(c0, 0, max(0, wmax - PATCH)))
        xp = t.x[r0 : r0 + PATCH, c0 : c0 + PATCH]
        yp = t.y[r0 : r0 + PATCH, c0 : c0 + PATCH].astype(np.float32)
        yp[yp == LABEL_IGNORE] = -1
        ph, pw = PATCH - xp.shape[0], PATCH - xp.shape[1]
        if ph or pw:
            xp = np.pad(xp, ((0, ph), (0, pw), (0, 0)))
            yp = np.pad(yp, ((0, ph), (0, pw)), constant_values=-1)
        xs[k], ys[k, ..., 0] = xp, yp
    return xs, ys


def _augment(rng, xs, ys, mean, std):
    """Flips, 90° rotations, and radiometric jitter applied in reflectance space."""
    for k in range(len(xs)):
        rot = rng.integers(4)
        xs[k], ys[k] = np.rot90(xs[k], rot), np.rot90(ys[k], rot)
        if rng.random() < 0.5:
            xs[k], ys[k] = xs[k][:, ::-1], ys[k][:, ::-1]
        # brightness and per-band gain, as between sensors, dates and atmospheric corrections
        gain = rng.uniform(0.85, 1.15) * rng.normal(1.0, 0.04, 12)
        offset = rng.normal(0.0, 0.008, 12)
        refl = xs[k] * std + mean
        xs[k] = (refl * gain + offset - mean) / std
        xs[k] += rng.normal(0, 0.02, xs[k].shape).astype(np.float32)
    return xs, ys


def _masked_bce(y_true, y_pred):
    keras = _keras()
    ops = keras.ops
    weight = ops.cast(y_true >= 0, "float32")
    target = ops.clip(y_true, 0.0, 1.0)
    p = ops.clip(y_pred, 1e-6, 1 - 1e-6)
    bce = -(target * ops.log(p) + (1 - target) * ops.log(1 - p))
    return ops.sum(bce * weight) / ops.maximum(ops.sum(weight), 1.0)


def _validate(model: MineModel, tiles: list[TrainingTile], threshold: float) -> dict:
    pred, ref = [], []
    for t in tiles:
        if t.split >= t.y.shape[1] - 8:
            continue
        refl = t.reflectance[:, :, t.split :]
        prob = model.predict(refl)
        lab = t.y[:, t.split :]
        keep = lab != LABEL_IGNORE
        pred.append(prob[keep] > threshold)
        ref.append(lab[keep] == 1)
    if not pred:
        return {}
    return scores(confusion(np.concatenate(pred), np.concatenate(ref)))


def train_model(
    cfg: Config,
    labels_path: Path,
    year: int,
    out: Path,
    *,
    epochs: int = 150,
    patches_per_epoch: int = 384,
    batch_size: int = 16,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    verbose: int = 2,
) -> MineModel:
    """Train an FCN on the labels over year ``year`` of the configured source; write it to ``out``."""
    keras = _keras()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    tiles = collect_tiles(cfg, labels_path, year, progress)
    mean, std = _stats(tiles)
    for t in tiles:
        t.x = np.nan_to_num(
            np.moveaxis((t.reflectance - mean[:, None, None]) / std[:, None, None], 0, -1), nan=0.0
        )
        t.x = t.x.astype(np.float32)
    net = build_fcn(len(BANDS))
    steps = max(1, patches_per_epoch // batch_size)
    sched = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=epochs * steps, alpha=0.05)
    net.compile(optimizer=keras.optimizers.Adam(sched), loss=_masked_bce)
    for epoch in range(epochs):
        xs, ys = _sample(rng, tiles, patches_per_epoch, train=True)
        xs, ys = _augment(rng, xs, ys, mean, std)
        hist = net.fit(
            xs,
            ys,
            batch_size=batch_size,
            epochs=epoch + 1,
            initial_epoch=epoch,
            verbose=0,
            shuffle=True,
        )
        if verbose:
            log.info("epoch %d/%d  loss %.4f", epoch + 1, epochs, hist.history["loss"][-1])
    n_mine = int(sum((t.y == 1).sum() for t in tiles))
    n_bg = int(sum((t.y == 0).sum() for t in tiles))
    meta = ModelMeta(
        version="pending", bands=BANDS, mean=tuple(map(float, mean)), std=tuple(map(float, std)),
        patch_size=PATCH, threshold=0.5,
        training={
            "labels": str(Path(labels_path).name), "year": year, "source": cfg.source.kind,
            "catalog": str(cfg.source.catalog) if cfg.source.kind != "local" else Path(cfg.source.catalog).name,
            "simulated_imagery": bool(cfg.uses_demo_catalog),
            "tiles": len(tiles), "labelled_pixels": {"mine": n_mine, "background": n_bg},
            "epochs": epochs, "patches_per_epoch": patches_per_epoch, "seed": seed,
            "trained_on": dt.date.today().isoformat(),
            "command": f"monitor train --labels {labels_path} --year {year} --out {out}",
        },
    )  # fmt: skip
    model = MineModel(net, meta)
    metrics = _validate(model, tiles, meta.threshold)
    version = f"{Path(out).stem}-{year}-{weights_digest(net)}"
    model.meta = ModelMeta(**{**meta.__dict__, "version": version, "metrics": metrics})
    model.save(out)
    return model
