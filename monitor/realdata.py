"""Real Sentinel-2 L2A that packages ship: the BigEarthNet example patches as real negatives.

The PyPI package ``bigearthnet_common`` carries six BigEarthNet-S2 patches (1.2 km, 12 L2A
bands at 10/20/60 m, 2017-2018, Austria, Ireland, Portugal, Finland: farmland, pasture,
forest, peat bog, lakes; no mines) as a tarball. They are read straight from that file (the
package is never imported: importing it writes to the user's data folder). Bands at 20 and 60
m are repeated onto the 10 m grid, as odc-stac's nearest resampling does; snow is screened the
way SCL class 11 would be (NDSI > 0.4 and bright green), since the pipeline never classifies
snow.
"""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.bands import BANDS
from monitor.errors import MonitorError

__all__ = ["RealPatch", "bigearthnet_patches"]

_ARCHIVE = "BigEarthNet-S2-Example.tar.bz2"


@dataclass(frozen=True)
class RealPatch:
    """One real L2A patch on a 10 m grid."""

    name: str
    """Patch name (tile, date, row, column)."""
    reflectance: np.ndarray
    """(12, H, W) surface reflectance; NaN where snow-covered."""
    crs: str
    """Its UTM CRS."""
    labels: tuple[str, ...]
    """CORINE land-cover labels of the patch."""


def _archive() -> Path:
    spec = importlib.util.find_spec("bigearthnet_common")
    if spec is None or not spec.submodule_search_locations:
        raise MonitorError(
            "the real negatives need the package bigearthnet_common: "
            "pip install -e '.[train]' (or pip install bigearthnet_common)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _ARCHIVE
    if not path.is_file():
        raise MonitorError(f"{path} is missing; reinstall bigearthnet_common")
    return path


def _read_band(data: bytes) -> np.ndarray:
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    with warnings.catch_warnings(), MemoryFile(data) as mem:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with mem.open() as src:
            return src.read(1), src.crs.to_string() if src.crs else ""


def bigearthnet_patches() -> list[RealPatch]:
    """The six example patches, harmonized reflectance at 10 m (baseline 02.xx: no offset)."""
    members: dict[str, dict[str, bytes]] = {}
    with tarfile.open(_archive()) as tar:
        for m in tar.getmembers():
            if not m.isfile():
                continue
            folder, name = Path(m.name).parent.name, Path(m.name).name
            members.setdefault(folder, {})[name] = tar.extractfile(m).read()
    out = []
    for folder in sorted(members):
        files = members[folder]
        bands, crs = [], ""
        for band in BANDS:
            dn, crs = _read_band(files[f"{folder}_{band}.tif"])
            factor = 120 // dn.shape[0]
            bands.append(np.repeat(np.repeat(dn, factor, 0), factor, 1))
        refl = np.stack(bands).astype(np.float32) / 10000.0
        green, swir = refl[BANDS.index("B03")], refl[BANDS.index("B11")]
        snow = ((green - swir) / np.maximum(green + swir, 1e-3) > 0.4) & (green > 0.1)
        refl[:, snow] = np.nan
        refl[:, (refl == 0).any(axis=0)] = np.nan
        meta = json.load(io.BytesIO(files[f"{folder}_labels_metadata.json"]))
        out.append(RealPatch(folder, refl, crs, tuple(meta.get("labels", ()))))
    return out
