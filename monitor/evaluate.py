"""`monitor evaluate`: the model (and an index baseline) against reference masks or polygons.

Reference GeoTIFF: 1 = mine, 0 = background, anything else (nodata, 255) = not assessed; the
composite covers the raster's extent. Reference polygons: labelled `mine` / `background` as for
`monitor train`; only labelled pixels count. Pixels without a clear observation are left out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject
from shapely.geometry import box

from monitor.baseline import load_baseline
from monitor.classify import detect, mask_from_probability, ndvi
from monitor.config import Config
from monitor.errors import MonitorError
from monitor.geo import to_crs
from monitor.imagery import cache_for, cached_composite, open_source
from monitor.labels import LABEL_IGNORE, rasterize_labels, read_labels
from monitor.metrics import confusion, scores
from monitor.model import load_model
from monitor.params import CompositeParams, DetectionParams

__all__ = ["Evaluation", "evaluate", "baseline_mask", "format_evaluation"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of the model and of the baselines on one reference."""

    year: int
    """Year evaluated."""
    model_version: str
    """The FCN's version."""
    model: dict
    """The FCN's figures."""
    baseline: dict
    """The learned per-pixel baseline's figures (the index rule's when the model has none)."""
    baseline_kind: str
    """Which baseline `baseline` is: lightgbm or index_rule."""
    index_baseline: dict
    """The index rule's figures."""

    def as_json(self) -> dict:
        return {
            "year": self.year,
            "model_version": self.model_version,
            **self.model,
            "baseline": self.baseline,
            "baseline_kind": self.baseline_kind,
            "index_baseline": self.index_baseline,
        }


def baseline_mask(reflectance: np.ndarray) -> np.ndarray:
    """Index rule after seed 001's indices: bare (NDVI < 0.2), not water (MNDWI < 0), not a
    chlorophyll-rich surface (NDCI < 0.05), and BAI above that of bright soil — i.e. dark or
    mixed bare ground. A per-pixel rule with no context, as a floor for the FCN."""
    r = np.nan_to_num(reflectance)
    nd = np.nan_to_num(ndvi(reflectance))
    with np.errstate(invalid="ignore", divide="ignore"):
        mndwi = np.nan_to_num((r[2] - r[10]) / (r[2] + r[10]))
        ndci = np.nan_to_num((r[4] - r[3]) / (r[4] + r[3]))
        bai = np.nan_to_num(1.0 / ((0.1 - r[3]) ** 2 + (0.06 - r[7]) ** 2))
    return (nd < 0.2) & (mndwi < 0) & (ndci < 0.05) & (bai > 8.0)


def _figures(pred: np.ndarray, ref: np.ndarray, pixel_ha: float) -> dict:
    c = confusion(pred, ref)
    return {
        **scores(c),
        "confusion": c,
        "area_km2": {k: round(v * pixel_ha / 100, 4) for k, v in c.items()},
    }


def _reference_area(path: Path):
    """The lon/lat extent of a reference mask, after checking it is one: one band of
    integers, 1 = mine and 0 = background, with a CRS."""
    try:
        with rasterio.open(path) as src:
            if src.count != 1 or not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
                raise MonitorError(
                    f"{path}: a reference mask has one band of integers (1 mine, 0 background); "
                    f"this one has {src.count} band(s) of {src.dtypes[0]}"
                )
            if src.crs is None:
                raise MonitorError(f"{path}: the reference mask has no CRS; set one")
            return to_crs(box(*src.bounds), src.crs, 4326)
    except rasterio.errors.RasterioIOError as exc:
        raise MonitorError(f"{path}: not a raster GDAL can read ({exc})") from None


def evaluate(cfg: Config, reference: Path, year: int) -> Evaluation:
    reference = Path(reference)
    model = load_model(cfg.model)
    source = open_source(cfg.source)
    is_raster = reference.suffix.lower() in (".tif", ".tiff", ".vrt")
    if is_raster:
        area = _reference_area(reference)
    else:
        labels = read_labels(reference)
        area = box(*labels.total_bounds)
    params = CompositeParams.from_config(cfg)
    comp, _ = cached_composite(
        source,
        cache_for(cfg),
        "evaluate",
        area,
        year,
        params,
        threads=cfg.compute.threads,
    )
    if not comp.items_used:
        raise MonitorError(f"no imagery over {reference} in {year}; check the year and the source")
    if is_raster:
        ref = np.full(comp.shape, LABEL_IGNORE, np.uint8)
        with rasterio.open(reference) as src:
            reproject(
                rasterio.band(src, 1),
                ref,
                dst_transform=comp.transform,
                dst_crs=comp.crs,
                dst_nodata=LABEL_IGNORE,
                resampling=Resampling.nearest,
            )
    else:
        ref = rasterize_labels(labels, comp.shape, comp.transform, comp.crs)
    mmu = cfg.detection.min_mapping_unit_ha
    det = detect(comp, model, DetectionParams.from_config(cfg))
    keep = (ref <= 1) & det.valid
    if not keep.any():
        raise MonitorError(f"{reference}: no assessed pixel has clear imagery in {year}")
    truth = ref[keep] == 1
    min_pixels = int(np.ceil(mmu / comp.pixel_area_ha))
    index_rule = _figures(baseline_mask(comp.reflectance)[keep], truth, comp.pixel_area_ha)
    learned = load_baseline(model.path, model.meta.baseline)
    if learned is not None:
        base = mask_from_probability(
            learned.predict(comp.reflectance), det.valid, learned.threshold, min_pixels
        )
        baseline = _figures(base[keep], truth, comp.pixel_area_ha)
    return Evaluation(
        year=year,
        model_version=model.version,
        model=_figures(det.mask[keep], truth, comp.pixel_area_ha),
        baseline=baseline if learned is not None else index_rule,
        baseline_kind="lightgbm" if learned is not None else "index_rule",
        index_baseline=index_rule,
    )


def format_evaluation(ev: Evaluation, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(ev.as_json(), indent=1)
    rows = [
        ("overall accuracy", "overall_accuracy"),
        ("kappa", "kappa"),
        ("producer's accuracy (mine)", "producers_accuracy"),
        ("user's accuracy (mine)", "users_accuracy"),
    ]
    cols = [("FCN", ev.model), (ev.baseline_kind, ev.baseline)]
    if ev.baseline_kind != "index_rule":
        cols.append(("index_rule", ev.index_baseline))
    lines = [
        f"year {ev.year}, model {ev.model_version}",
        f"{'':<28}" + "".join(f" {name:>11}" for name, _ in cols),
    ]
    for label, key in rows:
        lines.append(f"{label:<28}" + "".join(f" {fig[key]:>11.4f}" for _, fig in cols))
    for k in ("tp", "fp", "fn", "tn"):
        lines.append(
            f"{k + ' (km²)':<28}" + "".join(f" {fig['area_km2'][k]:>11.3f}" for _, fig in cols)
        )
    return "\n".join(lines)
