"""Sentinel-2 L2A band facts shared by the source, the composite and the demo world."""

from __future__ import annotations

__all__ = [
    "BANDS",
    "BAND_RESOLUTION",
    "BAND_WAVELENGTH_UM",
    "SCL",
    "SCL_DROP",
    "HARMONIZE_OFFSET",
    "HARMONIZE_BASELINE",
    "SCALE",
]

#: The 12 L2A reflectance bands in the order every array of this project uses (no B10 in L2A).
BANDS: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12",
)  # fmt: skip

#: Native ground sampling distance of each band in metres.
BAND_RESOLUTION: dict[str, int] = {
    "B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20,
    "B07": 20, "B08": 10, "B8A": 20, "B09": 60, "B11": 20, "B12": 20, "SCL": 20,
}  # fmt: skip

#: Central wavelengths (µm) of Sentinel-2A, from ESA's Sentinel-2 User Handbook.
BAND_WAVELENGTH_UM: dict[str, float] = {
    "B01": 0.443, "B02": 0.490, "B03": 0.560, "B04": 0.665, "B05": 0.705, "B06": 0.740,
    "B07": 0.783, "B08": 0.842, "B8A": 0.865, "B09": 0.945, "B11": 1.610, "B12": 2.190,
}  # fmt: skip

#: ESA's scene classification (SCL) classes.
SCL: dict[int, str] = {
    0: "no_data",
    1: "saturated_or_defective",
    2: "dark_area_pixels",
    3: "cloud_shadows",
    4: "vegetation",
    5: "not_vegetated",
    6: "water",
    7: "unclassified",
    8: "cloud_medium_probability",
    9: "cloud_high_probability",
    10: "thin_cirrus",
    11: "snow",
}

#: SCL classes that never count as a clear observation. Class 2 (dark area) is kept on
#: purpose: dark pit floors and fresh coal land there, and dropping it erases mines.
SCL_DROP: frozenset[int] = frozenset({0, 1, 3, 8, 9, 10, 11})

#: DN offset added by ESA from processing baseline 04.00 (25 January 2022) on.
HARMONIZE_OFFSET = 1000
HARMONIZE_BASELINE = (4, 0)

#: Reflectance = DN / SCALE (after removing the offset).
SCALE = 10000.0
