"""Composites as files: the contract's 12-band COG, and the DN encoding the cache shares."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio

from monitor.bands import BANDS, SCALE
from monitor.imagery.composite import Composite

__all__ = ["write_cog", "to_dn"]


def to_dn(reflectance: np.ndarray) -> np.ndarray:
    """Reflectance x 10000 as uint16, 0 (nodata) wherever any band is NaN."""
    # in place on one float copy: this runs on every group mosaic of a run
    dn = reflectance * SCALE
    np.rint(dn, out=dn)
    np.clip(dn, 0, 65535, out=dn)
    dn[:, np.isnan(dn).any(axis=0)] = 0
    return dn.astype(np.uint16)


def write_cog(composite: Composite, path: Path) -> Path:
    """The contract's 12-band COG: reflectance x 10000 as uint16, nodata 0, band names;
    written beside its target and renamed, so a killed write leaves nothing behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dn = to_dn(composite.reflectance)
    h, w = composite.shape
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with rasterio.open(
            tmp,
            "w",
            driver="COG",
            width=w,
            height=h,
            count=12,
            dtype="uint16",
            nodata=0,
            crs=composite.crs,
            transform=composite.transform,
            compress="deflate",
            predictor=2,
            blocksize=256,
            overview_resampling="average",
        ) as dst:
            dst.write(dn)
            for i, name in enumerate(BANDS, 1):
                dst.set_band_description(i, name)
            dst.update_tags(
                site_id=composite.name,
                year=str(composite.year),
                items=",".join(composite.items_used),
                scale="0.0001",
                units="surface reflectance x 10000 (harmonized)",
            )
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
