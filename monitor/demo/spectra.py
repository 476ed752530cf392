"""Surface-reflectance endmembers of the demo world, in the 12-band L2A order.

Values are bottom-of-atmosphere reflectances read off published spectra convolved to the
Sentinel-2A bands: vegetation, soils, sand, rock, urban and asphalt from the USGS Spectral
Library v7 (Kokaly et al. 2017, doi:10.3133/ds1035) and the ECOSTRESS library (Meerdink et
al. 2019, doi:10.1016/j.rse.2019.05.015); clear and turbid water after Pahlevan et al. 2017
(doi:10.1016/j.rse.2017.08.033); coal, spoil and tailings after the Sentinel-2 mine studies
in ../shared/seeds (seed 000 fig. 3, seed 001 fig. 4) and Mukherjee et al. 2019 for coal.
They are approximate on purpose: the demo is a test bed, not a radiative-transfer model.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ENDMEMBERS", "SPECTRA", "CLOUD", "index_of"]

#                       B01    B02    B03    B04    B05    B06    B07    B08    B8A    B09    B11    B12
_TABLE: dict[str, tuple[float, ...]] = {
    # green leaves: red trough, red edge, NIR plateau, water absorption in SWIR
    "veg_green":      (0.030, 0.035, 0.065, 0.035, 0.095, 0.235, 0.300, 0.330, 0.345, 0.340, 0.185, 0.090),
    # senescent dry-season grass: flat visible rise, no red edge to speak of, bright SWIR-1
    "veg_dry":        (0.055, 0.065, 0.095, 0.125, 0.165, 0.205, 0.225, 0.245, 0.260, 0.260, 0.330, 0.245),
    # bright, dry, iron-stained soil (Highveld / Kalahari-type)
    "soil_bright":    (0.090, 0.110, 0.160, 0.220, 0.250, 0.270, 0.285, 0.300, 0.310, 0.310, 0.380, 0.305),
    # dark, moist or freshly ploughed clay soil
    "soil_dark":      (0.050, 0.060, 0.080, 0.100, 0.120, 0.138, 0.150, 0.160, 0.170, 0.170, 0.220, 0.170),
    # quartz-rich river sand: the brightest natural surface in the scene
    "sand":           (0.120, 0.150, 0.210, 0.260, 0.290, 0.310, 0.320, 0.330, 0.340, 0.340, 0.400, 0.330),
    "water_clear":    (0.050, 0.048, 0.045, 0.025, 0.020, 0.012, 0.010, 0.009, 0.008, 0.006, 0.004, 0.003),
    # sediment-laden water: tailings ponds and pit lakes with suspended fines
    "water_turbid":   (0.070, 0.080, 0.110, 0.120, 0.110, 0.070, 0.060, 0.055, 0.045, 0.030, 0.015, 0.010),
    "urban":          (0.100, 0.120, 0.140, 0.160, 0.180, 0.190, 0.200, 0.210, 0.220, 0.220, 0.250, 0.220),
    "asphalt":        (0.060, 0.070, 0.080, 0.090, 0.100, 0.103, 0.108, 0.112, 0.118, 0.118, 0.130, 0.120),
    # exposed coal / carbonaceous shale on pit floors: very dark and spectrally flat
    "pit_dark":       (0.040, 0.045, 0.050, 0.055, 0.060, 0.062, 0.065, 0.068, 0.070, 0.070, 0.075, 0.070),
    # fresh sandstone bench faces and highwalls
    "rock_bench":     (0.140, 0.160, 0.200, 0.230, 0.250, 0.260, 0.270, 0.280, 0.290, 0.290, 0.340, 0.290),
    # mixed overburden spoil on waste dumps: grey-brown, high SWIR-2 from clays
    "spoil":          (0.110, 0.130, 0.170, 0.200, 0.220, 0.230, 0.240, 0.250, 0.258, 0.258, 0.310, 0.285),
    # dried fine tailings on pond beaches: bright and pale
    "tailings_beach": (0.180, 0.210, 0.260, 0.300, 0.320, 0.330, 0.340, 0.350, 0.360, 0.360, 0.400, 0.340),
    # hematite-rich ore and haul-road gravel: strong red, ferric absorption near 0.9 µm
    "ore_red":        (0.060, 0.070, 0.100, 0.160, 0.200, 0.220, 0.220, 0.210, 0.210, 0.210, 0.280, 0.220),
}  # fmt: skip

ENDMEMBERS: tuple[str, ...] = tuple(_TABLE)
SPECTRA: np.ndarray = np.array([_TABLE[k] for k in ENDMEMBERS], dtype=np.float32)  # (E, 12)

#: Optically thick cloud top: bright and flat, lower in the SWIR (ice/water absorption).
CLOUD = np.array(
    [0.52, 0.52, 0.51, 0.50, 0.50, 0.50, 0.50, 0.50, 0.49, 0.45, 0.38, 0.28], dtype=np.float32
)


def index_of(name: str) -> int:
    return ENDMEMBERS.index(name)
