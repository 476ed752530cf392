"""Surface-reflectance endmembers of the demo world, in the 12-band L2A order.

Values are bottom-of-atmosphere reflectances read off published spectra convolved to the
Sentinel-2A bands: vegetation, soils, sand, rock, urban and asphalt from the USGS Spectral
Library v7 (Kokaly et al. 2017, doi:10.3133/ds1035) and the ECOSTRESS library (Meerdink et
al. 2019, doi:10.1016/j.rse.2019.05.015); tropical and boreal canopies after the Sentinel-2
forest reflectances of Hościło & Lewandowska 2019 (doi:10.3390/rs11080929) and Amazon L2A
surveys; burnt ground after Roy et al. 2019 (doi:10.1016/j.rse.2019.111254); clear, turbid,
sediment-laden and algal water after Pahlevan et al. 2017 (doi:10.1016/j.rse.2017.08.033)
and Dogliotti et al. 2015; limestone (calcite), salt crust (gypsum/halite), laterite
(goethite/hematite soils), coal and lignite from splib07; spoil and tailings after the
Sentinel-2 mine studies in ../shared/seeds (seed 000 fig. 3, seed 001 fig. 4).

They are approximate on purpose: the demo is a test bed, not a radiative-transfer model. Every
world perturbs them (:func:`world_spectra`) so that no model can learn one table by heart.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ENDMEMBERS", "SPECTRA", "CLOUD", "index_of", "world_spectra", "WAVELENGTH_UM"]

#: Central wavelengths (µm) of Sentinel-2A (ESA's Sentinel-2 User Handbook).
WAVELENGTH_UM = np.array(
    [0.443, 0.490, 0.560, 0.665, 0.705, 0.740, 0.783, 0.842, 0.865, 0.945, 1.610, 2.190],
    dtype=np.float32,
)

#                       B01    B02    B03    B04    B05    B06    B07    B08    B8A    B09    B11    B12
_TABLE: dict[str, tuple[float, ...]] = {
    # green leaves: red trough, red edge, NIR plateau, water absorption in SWIR
    "veg_green":      (0.030, 0.035, 0.065, 0.035, 0.095, 0.235, 0.300, 0.330, 0.345, 0.340, 0.185, 0.090),
    # senescent dry-season grass: flat visible rise, no red edge to speak of, bright SWIR-1
    "veg_dry":        (0.055, 0.065, 0.095, 0.125, 0.165, 0.205, 0.225, 0.245, 0.260, 0.260, 0.330, 0.245),
    # closed broadleaf canopy: dark visible, high NIR, low SWIR (leaf water)
    "forest":         (0.020, 0.022, 0.045, 0.024, 0.075, 0.215, 0.275, 0.300, 0.315, 0.300, 0.150, 0.065),
    # conifer canopy: darker still, lower NIR plateau
    "conifer":        (0.018, 0.020, 0.038, 0.020, 0.060, 0.160, 0.200, 0.220, 0.230, 0.220, 0.105, 0.045),
    # bright, dry, iron-stained soil (Highveld / Kalahari-type)
    "soil_bright":    (0.090, 0.110, 0.160, 0.220, 0.250, 0.270, 0.285, 0.300, 0.310, 0.310, 0.380, 0.305),
    # dark, moist or freshly ploughed clay soil
    "soil_dark":      (0.050, 0.060, 0.080, 0.100, 0.120, 0.138, 0.150, 0.160, 0.170, 0.170, 0.220, 0.170),
    # lateritic soil: goethite/hematite, orange-red, ferric absorption near 0.9 µm
    "laterite":       (0.055, 0.065, 0.095, 0.175, 0.225, 0.255, 0.270, 0.280, 0.290, 0.285, 0.360, 0.290),
    # quartz-rich river sand: the brightest natural surface in most scenes
    "sand":           (0.120, 0.150, 0.210, 0.260, 0.290, 0.310, 0.320, 0.330, 0.340, 0.340, 0.400, 0.330),
    # wet sediment, mud flats and slurry: sand darkened by water, SWIR absorbed
    "mud":            (0.070, 0.085, 0.115, 0.140, 0.150, 0.155, 0.160, 0.162, 0.165, 0.150, 0.120, 0.090),
    "water_clear":    (0.050, 0.048, 0.045, 0.025, 0.020, 0.012, 0.010, 0.009, 0.008, 0.006, 0.004, 0.003),
    # sediment-laden water: tailings ponds and pit lakes with suspended fines
    "water_turbid":   (0.070, 0.080, 0.110, 0.120, 0.110, 0.070, 0.060, 0.055, 0.045, 0.030, 0.015, 0.010),
    # very high sediment load (Amazon white-water rivers, dredge ponds): red above green
    "water_brown":    (0.075, 0.090, 0.130, 0.165, 0.160, 0.110, 0.095, 0.085, 0.070, 0.040, 0.020, 0.012),
    # algal or turquoise water: green peak, chlorophyll trough in red
    "water_green":    (0.050, 0.060, 0.105, 0.060, 0.065, 0.040, 0.032, 0.028, 0.024, 0.012, 0.006, 0.004),
    "urban":          (0.100, 0.120, 0.140, 0.160, 0.180, 0.190, 0.200, 0.210, 0.220, 0.220, 0.250, 0.220),
    "asphalt":        (0.060, 0.070, 0.080, 0.090, 0.100, 0.103, 0.108, 0.112, 0.118, 0.118, 0.130, 0.120),
    # terracotta roofs of temperate villages
    "roof_red":       (0.060, 0.070, 0.095, 0.170, 0.200, 0.215, 0.225, 0.235, 0.245, 0.245, 0.290, 0.250),
    # concrete pads, warehouses, fresh construction: bright and flat
    "concrete":       (0.200, 0.230, 0.260, 0.280, 0.290, 0.300, 0.305, 0.310, 0.315, 0.315, 0.340, 0.300),
    # exposed coal / carbonaceous shale on pit floors: very dark and spectrally flat
    "pit_dark":       (0.040, 0.045, 0.050, 0.055, 0.060, 0.062, 0.065, 0.068, 0.070, 0.070, 0.075, 0.070),
    # lignite (brown coal) seams: dark, slightly brown, a little brighter in SWIR
    "lignite":        (0.045, 0.050, 0.060, 0.075, 0.085, 0.092, 0.098, 0.105, 0.110, 0.110, 0.130, 0.115),
    # fresh sandstone bench faces and highwalls
    "rock_bench":     (0.140, 0.160, 0.200, 0.230, 0.250, 0.260, 0.270, 0.280, 0.290, 0.290, 0.340, 0.290),
    # mixed overburden spoil on waste dumps: grey-brown, high SWIR-2 from clays
    "spoil":          (0.110, 0.130, 0.170, 0.200, 0.220, 0.230, 0.240, 0.250, 0.258, 0.258, 0.310, 0.285),
    # dried fine tailings on pond beaches: bright and pale
    "tailings_beach": (0.180, 0.210, 0.260, 0.300, 0.320, 0.330, 0.340, 0.350, 0.360, 0.360, 0.400, 0.340),
    # hematite-rich ore and haul-road gravel: strong red, ferric absorption near 0.9 µm
    "ore_red":        (0.060, 0.070, 0.100, 0.160, 0.200, 0.220, 0.220, 0.210, 0.210, 0.210, 0.280, 0.220),
    # limestone quarry faces (calcite): very bright, carbonate absorption lowers B12
    "limestone":      (0.280, 0.310, 0.350, 0.380, 0.395, 0.405, 0.415, 0.425, 0.430, 0.430, 0.450, 0.360),
    # dark rock outcrops and desert varnish on steep slopes
    "rock_dark":      (0.060, 0.068, 0.080, 0.090, 0.097, 0.103, 0.108, 0.112, 0.116, 0.118, 0.135, 0.120),
    # salt crust of playas: the brightest surface of arid scenes, gypsum lowers the SWIR
    "playa":          (0.380, 0.420, 0.450, 0.470, 0.480, 0.485, 0.490, 0.495, 0.495, 0.490, 0.440, 0.360),
    # burnt ground: char and ash, NIR collapsed, SWIR above NIR (negative NBR)
    "char":           (0.035, 0.038, 0.045, 0.050, 0.058, 0.068, 0.075, 0.080, 0.085, 0.085, 0.120, 0.105),
    # clear-cut slash: dead wood, litter and exposed soil
    "slash":          (0.045, 0.050, 0.070, 0.085, 0.120, 0.165, 0.190, 0.205, 0.215, 0.215, 0.265, 0.185),
}  # fmt: skip

ENDMEMBERS: tuple[str, ...] = tuple(_TABLE)
SPECTRA: np.ndarray = np.array([_TABLE[k] for k in ENDMEMBERS], dtype=np.float32)  # (E, 12)

#: Optically thick cloud top: bright and flat, lower in the SWIR (ice/water absorption).
CLOUD = np.array(
    [0.52, 0.52, 0.51, 0.50, 0.50, 0.50, 0.50, 0.50, 0.49, 0.45, 0.38, 0.28], dtype=np.float32
)


def index_of(name: str) -> int:
    """Position of an endmember in :data:`ENDMEMBERS`."""
    return ENDMEMBERS.index(name)


def world_spectra(rng: np.random.Generator, spread: float = 1.0) -> np.ndarray:
    """The endmember table as one world sees it: each material's brightness (±7 %) and
    spectral tilt (±6 % across the range) and each band (±2 %) drawn anew, as soils, rock
    and water differ from one region to the next. ``spread`` 0 gives the table itself."""
    e = len(ENDMEMBERS)
    gain = rng.normal(1.0, 0.07 * spread, (e, 1))
    tilt = rng.normal(0.0, 0.06 * spread, (e, 1)) * (WAVELENGTH_UM[None] - 0.9) / 1.3
    jitter = rng.normal(1.0, 0.02 * spread, (e, 12))
    return np.clip(SPECTRA * gain * (1 + tilt) * jitter, 0.002, 0.9).astype(np.float32)
