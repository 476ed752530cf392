"""From a composite to a mine mask: FCN probability, threshold, minimum mapping unit, nodata."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from affine import Affine
from scipy import ndimage

from monitor.composite import Composite
from monitor.model import MineModel

__all__ = ["Detection", "detect", "mask_from_probability", "ndvi"]


@dataclass(frozen=True)
class Detection:
    """One site-year's mine mask on the composite's grid."""

    probability: np.ndarray = field(repr=False)
    """(H, W) float32 mine probability (NaN where there was no clear observation)."""
    mask: np.ndarray = field(repr=False)
    """(H, W) bool: mine, after threshold and minimum mapping unit."""
    valid: np.ndarray = field(repr=False)
    """(H, W) bool: enough clear observations to say mine or not."""
    crs: str
    """CRS of the grid."""
    transform: Affine
    """Transform of the grid."""
    model_version: str
    """Version of the model that made it."""


def ndvi(reflectance: np.ndarray) -> np.ndarray:
    nir, red = reflectance[7], reflectance[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (nir - red) / (nir + red)


def mask_from_probability(
    prob: np.ndarray, valid: np.ndarray, threshold: float, min_pixels: int
) -> np.ndarray:
    """Threshold, then drop connected patches (8-neighbour) smaller than ``min_pixels``."""
    mask = (prob > threshold) & valid
    if min_pixels > 1 and mask.any():
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        small = sizes < min_pixels
        small[0] = False
        mask[small[labels]] = False
    return mask


def detect(
    composite: Composite,
    model: MineModel,
    *,
    threshold: float | None = None,
    min_mapping_unit_ha: float = 0.5,
    min_clear: int = 2,
) -> Detection:
    """The FCN over a composite, thresholded (None: the model's own threshold, chosen on
    held-out data), small patches dropped, pixels without enough clear looks never mine."""
    threshold = model.threshold if threshold is None else threshold
    valid = composite.clear >= min_clear
    prob = model.predict(composite.reflectance)
    prob = np.where(composite.clear > 0, prob, np.nan).astype(np.float32)
    min_pixels = int(np.ceil(min_mapping_unit_ha / composite.pixel_area_ha))
    mask = mask_from_probability(np.nan_to_num(prob, nan=0.0), valid, threshold, min_pixels)
    return Detection(prob, mask, valid, composite.crs, composite.transform, model.version)
