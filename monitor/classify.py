"""From a composite to a mine mask: FCN probability, threshold, minimum mapping unit, nodata.

Run once over a whole group's mosaic; every site is then cropped from the detection
(:meth:`Detection.crop`), so the network sees the same context whatever the site's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from monitor.geo import Grid
from monitor.imagery import Composite
from monitor.model import MineModel
from monitor.params import DetectionParams

__all__ = ["Detection", "DetectionParams", "detect", "mask_from_probability", "ndvi", "mndwi"]


@dataclass(frozen=True)
class Detection:
    """A mine mask on a composite's grid."""

    probability: np.ndarray = field(repr=False)
    """(H, W) float32 mine probability (NaN where there was no clear observation)."""
    mask: np.ndarray = field(repr=False)
    """(H, W) bool: mine, after threshold and minimum mapping unit."""
    valid: np.ndarray = field(repr=False)
    """(H, W) bool: enough clear observations to say mine or not."""
    grid: Grid
    """The grid."""
    model_version: str
    """Version of the model that made it."""

    def crop(self, grid: Grid) -> Detection:
        rows, cols = self.grid.window_of(grid)
        return replace(
            self,
            grid=grid,
            probability=self.probability[rows, cols],
            mask=self.mask[rows, cols],
            valid=self.valid[rows, cols],
        )


def _nd(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a - b) / (a + b)


def ndvi(reflectance: np.ndarray) -> np.ndarray:
    """NDVI (B08, B04) of a (12, H, W) composite."""
    return _nd(reflectance[7], reflectance[3])


def mndwi(reflectance: np.ndarray) -> np.ndarray:
    """MNDWI (B03, B11): above 0 over open water, turbid or not."""
    return _nd(reflectance[2], reflectance[10])


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


def detect(composite: Composite, model: MineModel, params: DetectionParams) -> Detection:
    """The FCN over a composite, thresholded (the model's own threshold, chosen on held-out
    data, unless the config sets one), small patches dropped, pixels without enough clear
    looks never mine."""
    threshold = model.threshold if params.threshold is None else params.threshold
    valid = composite.clear >= params.min_clear
    prob = model.predict(composite.reflectance)
    prob = np.where(composite.clear > 0, prob, np.nan).astype(np.float32)
    min_pixels = int(np.ceil(params.min_mapping_unit_ha / composite.pixel_area_ha))
    mask = mask_from_probability(np.nan_to_num(prob, nan=0.0), valid, threshold, min_pixels)
    return Detection(prob, mask, valid, composite.grid, model.version)
