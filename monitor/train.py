"""`monitor train`: labelled polygons or points -> composites of year Y -> a trained FCN and a
learned per-pixel baseline, both scored on data held out from training and tuning.

Method, and why:

* **Regions, then blocks.** Labels are grouped into regions (labels within ~1 km of each other);
  each region gets one composite from the configured source, exactly as the annual run makes
  them, in the region's own season chosen as a run chooses a site's (a rule by region, else
  the months with most clear looks over it; labels that span climates are not all composited
  in one region's dry season). Every region is cut into ~1 km blocks and whole blocks go to
  *train* (60 %), *validation* (20 %) or *test* (20 %), mine blocks and plain blocks apart so
  that each split holds mines; a mine's whole cluster follows its block, and a 120 m guard
  band between splits is left out of all three. A strip of the same tiles would put
  neighbours of the training pixels into the figures; blocks and clusters keep them apart.
* **Negatives as deliberate as positives.** A batch draws patches centred on mines (each mine
  cluster alike, so small ones count), on each background *kind* alike (the labels' kind
  field: sand bar, town, clear-cut ...), and, from the first evaluation on, on the background
  pixels the network currently gets wrong (hard-negative mining, refreshed every evaluation).
* **Augmentation across sensors, atmospheres and seasons**: rotations and flips; per-scene
  brightness, per-band gain and spectral tilt (sensor and correction differences); haze that
  falls off as wavelength^-2; vegetation moved towards senescence or green-up; blur; holes
  where no clear look exists; noise.
* **Selection on held-out kappa.** Every few epochs the network maps the validation blocks; the
  weights with the best validation kappa are kept (early stopping with patience), and the
  decision threshold is the one that maximises validation kappa after the minimum mapping
  unit. It is stored in the metadata and used by inference.
* **A baseline that must be beaten.** Gradient-boosted trees on bands and indices
  (:mod:`monitor.baseline`) are fitted on the same training pixels, thresholded on the same
  validation blocks, and both are scored once on the test blocks. `train` says so plainly when
  the FCN does not win.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy import ndimage
from shapely.geometry import box

from monitor.bands import BANDS
from monitor.baseline import FEATURES, baseline_path, fit_baseline, pixel_features
from monitor.classify import mask_from_probability
from monitor.config import Config
from monitor.errors import ModelError, MonitorError
from monitor.imagery import cache_for, cached_composite, open_source
from monitor.labels import LABEL_IGNORE, rasterize_kinds, rasterize_labels, read_labels
from monitor.metrics import confusion, scores
from monitor.model import (
    MineModel,
    ModelMeta,
    _keras,
    build_fcn,
    metadata_path,
    weights_digest,
)
from monitor.params import CompositeParams

__all__ = ["TrainSettings", "TrainingTile", "TrainReport", "collect_tiles", "train_model"]

log = logging.getLogger(__name__)
TRAIN, VAL, TEST, GUARD = 0, 1, 2, 255
_THRESHOLDS = np.round(np.concatenate([[0.02, 0.035], np.arange(0.05, 0.951, 0.025)]), 3)
_WAVELENGTH = np.array(
    [0.443, 0.490, 0.560, 0.665, 0.705, 0.740, 0.783, 0.842, 0.865, 0.945, 1.610, 2.190], np.float32
)
# green leaves and senescent grass (USGS splib07): the season augmentation moves between them
_GREEN = np.array(
    [0.030, 0.035, 0.065, 0.035, 0.095, 0.235, 0.300, 0.330, 0.345, 0.340, 0.185, 0.090], np.float32
)
_DRY = np.array(
    [0.055, 0.065, 0.095, 0.125, 0.165, 0.205, 0.225, 0.245, 0.260, 0.260, 0.330, 0.245], np.float32
)


@dataclass(frozen=True)
class TrainSettings:
    """How `monitor train` trains (the defaults are what the shipped model used)."""

    epochs: int = 120
    """Upper bound on epochs; early stopping usually ends sooner."""
    patches_per_epoch: int = 256
    """Patches drawn per epoch."""
    batch_size: int = 16
    """Patches per gradient step."""
    patch: int = 96
    """Patch side (px at 10 m): ~1 km of context."""
    block: int = 96
    """Side (px) of the blocks the split assigns."""
    guard: int = 12
    """Pixels left out between splits."""
    eval_every: int = 4
    """Epochs between validation passes (and hard-negative refreshes)."""
    patience: int = 7
    """Validation passes without a better kappa before training stops."""
    learning_rate: float = 2e-3
    """Initial Adam learning rate (cosine decay)."""
    seed: int = 0
    """Seed of the split, the sampling, the augmentation and the initial weights."""
    real_negatives: bool = False
    """Add the BigEarthNet example patches (real L2A, no mines) as background."""
    augment: float = 0.35
    """Strength of the radiometric augmentation: 1 spans sensors and continents; the default
    (the shipped model's) keeps the fine spectra that one region's labels teach."""
    pixel_widths: tuple[int, ...] = (16,)
    """Widths of the per-pixel (10 m) branch's 1x1 layers: wider costs inference speed."""


@dataclass
class TrainingTile:
    """One region's composite with its labels and split."""

    name: str
    """Region name."""
    reflectance: np.ndarray
    """(12, H, W) reflectance, NaN where never clear."""
    valid: np.ndarray
    """(H, W) bool: enough clear looks to be classified."""
    y: np.ndarray
    """(H, W) uint8 labels: 1 mine, 0 background, 255 unlabelled."""
    kind: np.ndarray
    """(H, W) uint8 index into the kinds list, 255 unlabelled."""
    split: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))
    """(H, W) uint8: TRAIN, VAL, TEST or GUARD."""
    pixel_area_ha: float = 0.01
    """Area of one pixel."""
    real: bool = False
    """A real-imagery patch (not from the configured source)."""
    region: int = 0
    """Region of labels: the years of one region share its grid and its split."""
    season: str = ""
    """Its composite's season (months and how they were chosen, JSON), as a run records a
    site's: labels that span climates are each composited in their own season."""


@dataclass(frozen=True)
class TrainReport:
    """What `monitor train` made and how it did on the test blocks."""

    model: MineModel
    """The trained FCN (saved)."""
    fcn: dict
    """FCN figures on the test blocks."""
    baseline: dict
    """Baseline figures on the same test blocks."""
    seconds: float
    """Wall time."""

    @property
    def fcn_wins_by(self) -> float:
        return float(self.fcn.get("kappa", float("nan")) - self.baseline.get("kappa", float("nan")))


# -- data -----------------------------------------------------------------------------------
def _regions(labels, gap_deg: float = 0.01) -> list[list[int]]:
    """Groups of label rows whose bounding boxes lie within ``gap_deg`` of each other."""
    import shapely

    boxes = [box(*g.bounds).buffer(gap_deg) for g in labels.geometry]
    tree = shapely.STRtree(boxes)
    parent = list(range(len(boxes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, b in enumerate(boxes):
        for j in tree.query(b, predicate="intersects"):
            parent[root(int(j))] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: min(g))


def collect_tiles(
    cfg: Config, labels_path: Path, year: int, progress=None
) -> tuple[list[TrainingTile], list[str]]:
    """One composite per region of labels and year, the labels burnt onto it; and the kinds
    named. Labels carry their own year when the file has a `year` field (labels of several
    years train on several composites); ``year`` is used for the rest. Every year of a region
    is composited on the same grid, so that the split holds a place out in all its years."""
    labels = read_labels(labels_path, default_year=year)
    kinds = sorted(set(labels.kind), key=lambda k: (k != "mine", k))
    source = open_source(cfg.source)
    params = CompositeParams.from_config(cfg)
    cache = cache_for(cfg)
    groups = _regions(labels)
    jobs = [(r, y) for r, rows in enumerate(groups) for y in sorted(set(labels.year.iloc[rows]))]
    areas = [box(*labels.iloc[rows].total_bounds) for rows in groups]
    seasons = _region_seasons(cfg, source, areas, sorted({int(y) for _, y in jobs}))
    tiles: list[TrainingTile] = []
    for k, (region, yr) in enumerate(jobs, 1):
        members = labels.iloc[groups[region]]
        members = members[members.year == yr]
        x0, y0, _, _ = areas[region].bounds
        name = f"train_{x0:.4f}_{y0:.4f}"
        season = seasons[int(yr)][region]
        comp, _ = cached_composite(
            source,
            cache,
            name,
            areas[region],
            int(yr),
            replace(params, months=season.months),
            threads=cfg.compute.threads,
        )
        if progress:
            progress(k, len(jobs))
        if not comp.items_used:
            log.warning("no imagery for the labels of region %s in %d; skipped", name, yr)
            continue
        y = rasterize_labels(members, comp.shape, comp.transform, comp.crs)
        kind = rasterize_kinds(members, kinds, comp.shape, comp.transform, comp.crs)
        y[comp.clear == 0] = LABEL_IGNORE
        kind[y == LABEL_IGNORE] = LABEL_IGNORE
        if (y != LABEL_IGNORE).sum() == 0:
            continue
        valid = comp.clear >= cfg.composite.min_clear_observations
        tiles.append(
            TrainingTile(
                f"{name}/{yr}",
                comp.reflectance,
                valid,
                y,
                kind,
                pixel_area_ha=comp.pixel_area_ha,
                region=region,
                season=season.as_json(),
            )
        )
    if not tiles:
        raise MonitorError(
            f"{labels_path}: no labelled pixel has imagery in {year}; check the year and source"
        )
    if not any((t.y == 1).any() for t in tiles):
        raise MonitorError(f"{labels_path}: no `mine` label has imagery in {year}")
    return tiles, kinds


def _region_seasons(cfg: Config, source, areas: list, years: list[int]) -> dict[int, list]:
    """Per label year, each region's season, chosen as a run chooses a site's (a rule by
    region, else the months with most clear looks over it, else the config's months)."""
    from monitor.records import SiteRecord
    from monitor.season import resolve_seasons

    regions = [SiteRecord(f"region {k}", f"region {k}", a) for k, a in enumerate(areas)]
    out = {}
    for year in years:
        chosen = resolve_seasons(cfg, regions, source, range(year - 2, year + 1))
        out[year] = [chosen[r.site_id] for r in regions]
    return out


def _real_tiles(kinds: list[str], first_region: int) -> list[TrainingTile]:
    from monitor.realdata import bigearthnet_patches

    if "real_background" not in kinds:
        kinds.append("real_background")
    k = kinds.index("real_background")
    out = []
    for i, p in enumerate(bigearthnet_patches()):
        ok = ~np.isnan(p.reflectance).any(axis=0)
        y = np.where(ok, 0, LABEL_IGNORE).astype(np.uint8)
        out.append(
            TrainingTile(
                f"bigearthnet:{p.name}",
                p.reflectance,
                ok,
                y,
                np.where(ok, k, LABEL_IGNORE).astype(np.uint8),
                real=True,
                region=first_region + i,
            )
        )
    return out


def _region_split(tiles: list[TrainingTile], b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block ids of a region's grid, and where any of its years holds a label or a mine."""
    labelled = np.any([t.y != LABEL_IGNORE for t in tiles], axis=0)
    mine = np.any([t.y == 1 for t in tiles], axis=0)
    h, w = labelled.shape
    if tiles[0].real:  # a real patch is one block
        return np.zeros((h, w), np.int64), labelled, mine
    ids = (np.arange(h)[:, None] // b) * math.ceil(w / b) + (np.arange(w)[None, :] // b)
    return ids, labelled, mine


def assign_splits(tiles: list[TrainingTile], settings: TrainSettings) -> tuple[int, int]:
    """Whole blocks (and whole mine clusters) of every region, in all its years alike, to
    train / validation / test; guard bands. Returns the splits that validate and test (both
    TRAIN when too few blocks hold mines)."""
    rng = np.random.default_rng([settings.seed, 11])
    regions: dict[int, list[TrainingTile]] = {}
    for t in tiles:
        regions.setdefault(t.region, []).append(t)
    layout = {r: _region_split(ts, settings.block) for r, ts in regions.items()}
    blocks = []  # (region, block id, has mine, real)
    for r, (ids, labelled, mine) in layout.items():
        n_lab = np.bincount(ids[labelled].ravel(), minlength=ids.max() + 1)
        n_mine = np.bincount(ids[mine].ravel(), minlength=ids.max() + 1)
        blocks += [(r, i, n_mine[i] > 0, regions[r][0].real) for i in range(len(n_lab)) if n_lab[i]]
    choice: dict[tuple[int, int], int] = {}
    for group in ((True, False), (False, False), (False, True)):  # mine, plain, real blocks
        members = [blk for blk in blocks if (blk[2], blk[3]) == group]
        n = len(members)
        n_val = max(1, round(0.2 * n)) if n >= 3 else 0
        n_test = max(1, round(0.2 * n)) if n >= 3 else 0
        for rank, k in enumerate(rng.permutation(n)):
            r, bi = members[k][:2]
            choice[(r, bi)] = VAL if rank < n_val else TEST if rank < n_val + n_test else TRAIN
    for r, (ids, _, mine) in layout.items():
        lut = np.zeros(ids.max() + 1, np.uint8)
        for (rj, bi), s in choice.items():
            if rj == r:
                lut[bi] = s
        split = lut[ids]
        clusters, n = ndimage.label(ndimage.binary_dilation(mine, iterations=10))
        for c in range(1, n + 1):
            member = (clusters == c) & mine
            split[clusters == c] = np.bincount(split[member], minlength=3).argmax()
        if not regions[r][0].real:
            guard = np.zeros(split.shape, bool)
            for s in (TRAIN, VAL, TEST):
                away = ndimage.distance_transform_edt(split != s)
                guard |= (away > 0) & (away <= settings.guard)
            split[guard & (split == TRAIN)] = GUARD  # only the training side gives way
        for t in regions[r]:
            t.split = split
    held_out = all(any(((t.split == s) & (t.y == 1)).any() for t in tiles) for s in (VAL, TEST))
    if not held_out:
        log.warning(
            "too few labelled blocks to hold mines out for validation and test: thresholds and "
            "figures come from the training blocks (label more regions for honest figures)"
        )
        return TRAIN, TRAIN
    return VAL, TEST


def _stats(tiles: list[TrainingTile]) -> tuple[np.ndarray, np.ndarray]:
    px = np.concatenate(
        [t.reflectance[:, (t.split == TRAIN) & (t.y != LABEL_IGNORE)] for t in tiles], axis=1
    )
    px = px[:, ~np.isnan(px).any(axis=0)]
    return px.mean(axis=1), np.maximum(px.std(axis=1), 1e-3)


# -- sampling and augmentation --------------------------------------------------------------
class PatchSampler:
    """Draws training patches: mine clusters alike, background kinds alike, hard negatives."""

    def __init__(self, tiles: list[TrainingTile], settings: TrainSettings, rng):
        self.tiles, self.s, self.rng = tiles, settings, rng
        self.mines: list[tuple[int, np.ndarray]] = []  # (tile, flat pixel indices) per cluster
        by_kind: dict[int, list[tuple[int, np.ndarray]]] = {}
        for ti, t in enumerate(tiles):
            train = t.split == TRAIN
            self.mines += [(ti, idx) for idx in _components((t.y == 1) & train)]
            for k in np.unique(t.kind[(t.y == 0) & train]):
                idx = np.flatnonzero(((t.kind == k) & (t.y == 0) & train).ravel())
                by_kind.setdefault(int(k), []).append((ti, idx))
        self.background = list(by_kind.values())
        self.hard: list[tuple[int, np.ndarray]] = []
        if not self.mines:
            raise MonitorError("no mine label falls in the training blocks; label more mines")

    def _pixel(self, group: list[tuple[int, np.ndarray]]) -> tuple[int, int, int]:
        sizes = np.array([len(idx) for _, idx in group], float)
        ti, idx = group[self.rng.choice(len(group), p=sizes / sizes.sum())]
        flat = int(idx[self.rng.integers(len(idx))])
        w = self.tiles[ti].y.shape[1]
        return ti, flat // w, flat % w

    def centre(self) -> tuple[int, int, int]:
        u = self.rng.random()
        if u < 0.4:
            ti, idx = self.mines[self.rng.integers(len(self.mines))]
            return self._pixel([(ti, idx)])
        if u < 0.6 and self.hard:
            return self._pixel([self.hard[self.rng.integers(len(self.hard))]])
        if self.background:
            return self._pixel(self.background[self.rng.integers(len(self.background))])
        return self._pixel(self.mines)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        p = self.s.patch
        xs = np.full((n, 12, p, p), np.nan, np.float32)
        ys = np.full((n, p, p, 1), -1.0, np.float32)
        for k in range(n):
            ti, r, c = self.centre()
            t = self.tiles[ti]
            h, w = t.y.shape
            r0 = int(np.clip(r - p // 2 + self.rng.integers(-p // 4, p // 4 + 1), 0, max(0, h - p)))
            c0 = int(np.clip(c - p // 2 + self.rng.integers(-p // 4, p // 4 + 1), 0, max(0, w - p)))
            x = t.reflectance[:, r0 : r0 + p, c0 : c0 + p]
            lab = t.y[r0 : r0 + p, c0 : c0 + p].astype(np.float32)
            lab[(lab == LABEL_IGNORE) | (t.split[r0 : r0 + p, c0 : c0 + p] != TRAIN)] = -1
            xs[k, :, : x.shape[1], : x.shape[2]] = x
            ys[k, : lab.shape[0], : lab.shape[1], 0] = lab
        return xs, ys

    def refresh_hard(self, probs: list[np.ndarray], threshold: float) -> None:
        """Background training pixels the network calls mine, grouped by connected patch."""
        self.hard = []
        for ti, (t, prob) in enumerate(zip(self.tiles, probs, strict=True)):
            wrong = (t.y == 0) & (t.split == TRAIN) & (prob > threshold)
            self.hard += [(ti, idx) for idx in _components(wrong) if len(idx) >= 3]


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """Flat pixel indices of each 8-connected component of ``mask``."""
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    if n == 0:
        return []
    flat = labels.ravel()
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(1, n + 2))
    return [order[bounds[c] : bounds[c + 1]] for c in range(n)]


def augment(
    rng, xs: np.ndarray, ys: np.ndarray, strength: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Geometric, sensor, atmosphere and season changes, in reflectance (NaN kept).
    ``strength`` scales the radiometric ones: 1 spans sensors and continents (±20 % brightness,
    ±4 % per band), less keeps the fine spectral differences one region's labels teach."""
    n = len(xs)
    for k in range(n):
        rot = int(rng.integers(4))
        xs[k] = np.rot90(xs[k], rot, axes=(1, 2))
        ys[k] = np.rot90(ys[k], rot, axes=(0, 1))
        if rng.random() < 0.5:
            xs[k], ys[k] = xs[k][:, :, ::-1], ys[k][:, ::-1]
    lam = _WAVELENGTH[None, :, None, None]
    a = strength
    gain = rng.uniform(1 - 0.2 * a, 1 + 0.2 * a, (n, 1, 1, 1)) * rng.normal(
        1.0, 0.04 * a, (n, 12, 1, 1)
    )
    gain *= 1 + rng.normal(0, 0.05 * a, (n, 1, 1, 1)) * (lam - 0.9) / 1.3
    haze = rng.uniform(0, 0.025 * a, (n, 1, 1, 1)) * (rng.random((n, 1, 1, 1)) < 0.4)
    offset = rng.normal(0, 0.004 * a, (n, 12, 1, 1)) + haze * (0.49 / lam) ** 2
    red, nir = xs[:, 3:4], xs[:, 7:8]
    veg = np.clip(((nir - red) / np.maximum(nir + red, 1e-3) - 0.2) / 0.5, 0, 1)
    season = rng.uniform(-0.35 * a, 0.35 * a, (n, 1, 1, 1)) * (rng.random((n, 1, 1, 1)) < 0.5)
    shift = season * veg * (_DRY - _GREEN)[None, :, None, None]
    xs = (xs + shift) * gain + offset
    for k in np.flatnonzero(rng.random(n) < 0.2):
        filled = np.where(np.isnan(xs[k]), np.nanmean(xs[k]), xs[k])
        blurred = ndimage.gaussian_filter(filled, (0, *(2 * [rng.uniform(0.4, 0.9)])))
        xs[k] = np.where(np.isnan(xs[k]), np.nan, blurred)
    for k in np.flatnonzero(rng.random(n) < 0.15):  # holes where no look was clear
        holes = ndimage.gaussian_filter(rng.random(xs.shape[2:]), 4) > 0.54
        xs[k][:, holes] = np.nan
    xs += rng.normal(0, 0.003, xs.shape).astype(np.float32)
    return np.clip(xs, 0.0, 1.5).astype(np.float32), ys


def _masked_bce(y_true, y_pred):
    ops = _keras().ops
    weight = ops.cast(y_true >= 0, "float32")
    target = ops.clip(y_true, 0.0, 1.0)
    p = ops.clip(y_pred, 1e-6, 1 - 1e-6)
    bce = -(target * ops.log(p) + (1 - target) * ops.log(1 - p))
    return ops.sum(bce * weight) / ops.maximum(ops.sum(weight), 1.0)


# -- selection and scoring ------------------------------------------------------------------
def _confusion(tiles, probs, threshold: float, split: int, min_pixels: int) -> dict[str, int]:
    total = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for t, prob in zip(tiles, probs, strict=True):
        keep = (t.split == split) & (t.y != LABEL_IGNORE) & t.valid
        if not keep.any():
            continue
        mask = mask_from_probability(prob, t.valid, threshold, 1 if t.real else min_pixels)
        for k, v in confusion(mask[keep], t.y[keep] == 1).items():
            total[k] += v
    return total


def best_threshold(tiles, probs, min_pixels: int, split: int = VAL) -> tuple[float, float]:
    """The threshold with the best validation kappa after the minimum mapping unit."""
    best = (0.5, -1.0)
    for thr in _THRESHOLDS:
        kappa = scores(_confusion(tiles, probs, float(thr), split, min_pixels))["kappa"]
        if not math.isnan(kappa) and kappa > best[1]:
            best = (round(float(thr), 3), kappa)
    return best


def _quick_val_kappa(tiles, probs, split: int = VAL) -> tuple[float, float]:
    """Best validation kappa over thresholds, per pixel (no minimum mapping unit): cheap."""
    keep = [(t.split == split) & (t.y != LABEL_IGNORE) & t.valid for t in tiles]
    p = np.concatenate([pr[k] for pr, k in zip(probs, keep, strict=True)])
    y = np.concatenate([t.y[k] == 1 for t, k in zip(tiles, keep, strict=True)])
    best = (0.5, -1.0)
    for thr in _THRESHOLDS[::2]:
        k = scores(confusion(p > thr, y))["kappa"]
        if not math.isnan(k) and k > best[1]:
            best = (float(thr), k)
    return best


def _figures(tiles, probs, threshold: float, min_pixels: int, split: int = TEST) -> dict:
    c = _confusion(tiles, probs, threshold, split, min_pixels)
    real = [
        (t, p) for t, p in zip(tiles, probs, strict=True) if t.real and (t.split != TRAIN).any()
    ]
    out = {**scores(c), "confusion": c, "threshold": threshold}
    if real:
        flagged = sum(
            int(mask_from_probability(p, t.valid, threshold, 1)[t.valid].sum()) for t, p in real
        )
        out["real_negatives_flagged"] = round(
            flagged / max(1, sum(int(t.valid.sum()) for t, _ in real)), 6
        )
    return out


# -- training -------------------------------------------------------------------------------
def _ema_callback(net, momentum: float = 0.98):
    """Keeps an exponential moving average of the weights: it generalises better and varies
    far less from one validation pass to the next than the raw weights do."""
    keras = _keras()

    class EMA(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.average = [w.copy() for w in net.get_weights()]

        def on_train_batch_end(self, batch, logs=None):
            for avg, w in zip(self.average, net.get_weights(), strict=True):
                avg *= momentum
                avg += (1 - momentum) * w

    return EMA()


def _fit_fcn(tiles, mean, std, settings: TrainSettings, val_split: int, verbose: bool):
    keras = _keras()
    keras.utils.set_random_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    sampler = PatchSampler(tiles, settings, rng)
    net = build_fcn(mean, std, pixel=settings.pixel_widths)
    steps = max(1, settings.patches_per_epoch // settings.batch_size)
    sched = keras.optimizers.schedules.CosineDecay(
        settings.learning_rate, decay_steps=settings.epochs * steps, alpha=0.05
    )
    net.compile(optimizer=keras.optimizers.AdamW(sched, weight_decay=1e-4), loss=_masked_bce)
    model = MineModel(net, ModelMeta("training", BANDS, tuple(mean), tuple(std), settings.patch))
    best = {"kappa": -1.0, "epoch": 0, "weights": net.get_weights()}
    ema = _ema_callback(net)
    stale = 0
    epoch = 0
    for epoch in range(1, settings.epochs + 1):
        xs, ys = augment(rng, *sampler.batch(settings.patches_per_epoch), settings.augment)
        hist = net.fit(
            xs,
            ys,
            batch_size=settings.batch_size,
            epochs=epoch,
            initial_epoch=epoch - 1,
            verbose=0,
            shuffle=True,
            callbacks=[ema],
        )
        if epoch % settings.eval_every and epoch != settings.epochs:
            continue
        raw = net.get_weights()
        net.set_weights(ema.average)  # judge the averaged weights
        probs = [model.predict(t.reflectance) for t in tiles]
        net.set_weights(raw)
        thr, kappa = _quick_val_kappa(tiles, probs, val_split)
        sampler.refresh_hard(probs, thr)
        improved = kappa > best["kappa"] + 1e-4
        if improved:
            best = {"kappa": kappa, "epoch": epoch, "weights": [w.copy() for w in ema.average]}
        stale = 0 if improved else stale + 1
        log.log(
            logging.INFO if verbose else logging.DEBUG,
            "epoch %d/%d  loss %.4f  validation kappa %.3f (best %.3f at %d)  hard negatives %d",
            epoch,
            settings.epochs,
            hist.history["loss"][-1],
            kappa,
            best["kappa"],
            best["epoch"],
            len(sampler.hard),
        )
        if stale >= settings.patience:
            break
    net.set_weights(best["weights"])
    return model, {
        "epochs_run": epoch,
        "best_epoch": best["epoch"],
        "validation_kappa_per_pixel": round(best["kappa"], 5),
    }


def _baseline_pixels(tiles, split: int, rng, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of up to ``cap`` labelled pixels of a split, classes and kinds
    drawn evenly."""
    xs, ys = [], []
    groups: dict[int, list[np.ndarray]] = {}
    for t in tiles:
        keep = (t.split == split) & (t.y != LABEL_IGNORE) & t.valid
        for k in np.unique(t.kind[keep]):
            px = t.reflectance[:, keep & (t.kind == k)]
            groups.setdefault(int(k), []).append(np.vstack([px, t.y[keep & (t.kind == k)][None]]))
    per_group = max(1, cap // max(1, len(groups)))
    for parts in groups.values():
        px = np.concatenate(parts, axis=1)
        take = rng.choice(px.shape[1], size=min(per_group, px.shape[1]), replace=False)
        xs.append(pixel_features(px[:12, take]))
        ys.append(px[12, take])
    return np.concatenate(xs), np.concatenate(ys)


def train_model(
    cfg: Config,
    labels_path: Path,
    year: int,
    out: Path,
    settings: TrainSettings = TrainSettings(),
    *,
    progress: Callable[[int, int], None] | None = None,
    verbose: bool = True,
) -> TrainReport:
    """Train the FCN and the baseline on the labels over ``year`` of the configured source,
    choose both thresholds on the validation blocks, score both on the test blocks, write the
    model, its baseline and its metadata to ``out``."""
    t0 = time.perf_counter()
    out = writable_output(Path(out))
    tiles, kinds = collect_tiles(cfg, labels_path, year, progress)
    if settings.real_negatives:
        tiles += _real_tiles(kinds, max(t.region for t in tiles) + 1)
    val_split, test_split = assign_splits(tiles, settings)
    mean, std = _stats(tiles)
    min_pixels = max(1, int(math.ceil(cfg.detection.min_mapping_unit_ha / tiles[0].pixel_area_ha)))
    model, fit_info = _fit_fcn(tiles, mean, std, settings, val_split, verbose)
    probs = [model.predict(t.reflectance) for t in tiles]
    threshold, val_kappa = best_threshold(tiles, probs, min_pixels, val_split)
    fcn = _figures(tiles, probs, threshold, min_pixels, test_split)

    base, base_val, base_fig = _fit_baseline(tiles, settings, min_pixels, val_split, test_split)
    training = _provenance(cfg, labels_path, year, out, tiles, kinds, settings, test_split)
    training |= {"validation_kappa": round(val_kappa, 5), **fit_info}
    training["seconds"] = round(time.perf_counter() - t0, 1)
    base_file = baseline_path(out)
    base.save(base_file)
    model.meta = ModelMeta(
        version=f"{out.stem}-{year}-{weights_digest(model.keras_model)}",
        bands=BANDS,
        mean=tuple(map(float, mean)),
        std=tuple(map(float, std)),
        patch_size=settings.patch,
        threshold=threshold,
        training=training,
        metrics=fcn,
        baseline={
            "file": base_file.name,
            "kind": "lightgbm",
            "features": list(FEATURES),
            "threshold": base.threshold,
            "validation_kappa": round(base_val, 5),
            "metrics": base_fig,
        },
    )
    model.save(out)
    return TrainReport(model, fcn, base_fig, time.perf_counter() - t0)


def writable_output(out: Path) -> Path:
    """``out``, its folder created and proven writable now, not after half an hour of training;
    refused when replacing it would overwrite files ``monitor train`` did not write."""
    if out.suffix != ".keras":
        raise MonitorError(f"--out {out}: a model file must end in .keras")
    _refuse_foreign_files(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = out.with_name(f".{out.stem}.write-test")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise MonitorError(
            f"cannot write the model to {out} ({exc.strerror}); choose another --out"
        ) from None
    return out


def _refuse_foreign_files(out: Path) -> None:
    """A model of this tool may be replaced (retraining to the same path); anything else that
    sits where the model, its metadata or its baseline would go is left alone."""
    meta, base = metadata_path(out), baseline_path(out)
    present = [p for p in (out, meta, base) if p.exists()]
    if not present:
        return
    try:
        ModelMeta.read(meta)
    except ModelError:
        ours = False
    else:
        ours = not out.is_dir()
    if not ours:
        raise MonitorError(
            f"--out {out}: {present[0]} exists and is not part of a model `monitor train` wrote; "
            "choose another --out or move that file away"
        )


def _fit_baseline(tiles, settings: TrainSettings, min_pixels, val_split, test_split):
    """The per-pixel LightGBM baseline on the same splits: (model, validation kappa, figures)."""
    rng = np.random.default_rng([settings.seed, 3])
    x_tr, y_tr = _baseline_pixels(tiles, TRAIN, rng, 200_000)
    x_va, y_va = _baseline_pixels(tiles, val_split, rng, 80_000)
    base = fit_baseline(x_tr, y_tr, x_va, y_va, settings.seed)
    probs = [base.predict(t.reflectance) for t in tiles]
    base.threshold, val_kappa = best_threshold(tiles, probs, min_pixels, val_split)
    return base, val_kappa, _figures(tiles, probs, base.threshold, min_pixels, test_split)


def _provenance(cfg, labels_path, year, out, tiles, kinds, settings, test_split) -> dict:
    """What the model was trained on and what was held out (the metadata's ``training``)."""
    by_split = {
        name: int(sum(((t.split == s) & (t.y != LABEL_IGNORE)).sum() for t in tiles))
        for name, s in (("train", TRAIN), ("validation", VAL), ("test", TEST))
    }
    local = cfg.source.kind == "local"
    return {
        "labels": Path(labels_path).name,
        "year": year,
        "source": cfg.source.kind,
        "catalog": Path(cfg.source.catalog).name if local else cfg.source.catalog,
        "simulated_imagery": bool(cfg.uses_demo_catalog) or _is_demo_catalog(cfg),
        "regions": sum(not t.real for t in tiles),
        "real_negative_patches": sum(t.real for t in tiles),
        "kinds": kinds,
        "labelled_pixels": {
            "mine": int(sum((t.y == 1).sum() for t in tiles)),
            "background": int(sum((t.y == 0).sum() for t in tiles)),
        },
        "held_out": (
            "whole ~1 km blocks (and whole mine clusters): 20 % validation (early stopping, "
            "thresholds), 20 % test (the figures); a 120 m guard band dropped"
            if test_split == TEST
            else "nothing: too few labelled blocks, figures are on training data"
        ),
        "labelled_pixels_by_split": by_split,
        "settings": asdict(settings),
        "seasons": {t.name: json.loads(t.season) for t in tiles if t.season},
        "trained_on": dt.date.today().isoformat(),
        "command": _command(labels_path, year, out, settings),
    }


def _command(labels_path, year: int, out, settings: TrainSettings) -> str:
    """The `monitor train` line that gives these settings (the options left at their
    defaults left out), so the metadata says how to train the model again."""
    default = TrainSettings()
    line = f"monitor train --labels {labels_path} --year {year} --out {out}"
    if settings.epochs != default.epochs:
        line += f" --epochs {settings.epochs}"
    if settings.seed != default.seed:
        line += f" --seed {settings.seed}"
    if settings.real_negatives:
        line += " --real-negatives"
    if settings.augment != default.augment:
        line += f" --augment {settings.augment:g}"
    return line


def _is_demo_catalog(cfg: Config) -> bool:
    """A catalog `monitor demo` wrote (simulated imagery), wherever it lies."""
    import json

    cat = cfg.catalog_path
    try:
        return json.loads(cat.read_text()).get("id") == "mine-monitor-demo" if cat else False
    except (OSError, ValueError):
        return False
