"""RGB quicklooks of composites as PNG (written with GDAL's PNG driver, no imaging library)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from scipy import ndimage

__all__ = ["rgb_array", "png_bytes", "write_png"]


def rgb_array(
    reflectance: np.ndarray, outline: np.ndarray | None = None, gain: float = 3.5
) -> np.ndarray:
    """(3, H, W) uint8 true colour (B04, B03, B02) with an optional red outline of a mask."""
    rgb = reflectance[[3, 2, 1]]
    img = np.clip(np.nan_to_num(rgb, nan=0.0) * gain, 0, 1) ** (1 / 1.6)
    img = (img * 255).astype(np.uint8)
    if outline is not None and outline.any():
        edge = outline & ~ndimage.binary_erosion(outline)
        img[0][edge], img[1][edge], img[2][edge] = 255, 40, 40
    return img


def png_bytes(img: np.ndarray, scale: int = 1) -> bytes:
    """PNG of a (3, H, W) RGB or (4, H, W) RGBA uint8 array, pixels repeated ``scale`` times."""
    if scale > 1:
        img = img.repeat(scale, axis=1).repeat(scale, axis=2)
    _, h, w = img.shape
    with warnings.catch_warnings(), MemoryFile() as mem:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with mem.open(
            driver="PNG", width=w, height=h, count=img.shape[0], dtype="uint8", ZLEVEL=1
        ) as dst:
            dst.write(img)
        return bytes(mem.read())


def write_png(img: np.ndarray, path: Path, scale: int = 1) -> Path:
    Path(path).write_bytes(png_bytes(img, scale))
    return Path(path)
