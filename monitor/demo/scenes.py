"""Acquisitions of the demo world: schedule, rendering to L2A DNs and the SCL layer.

What a real L2A archive does to a user, this does too: residual atmosphere per scene, sensor
noise, clouds and their shadows that SCL flags mostly but not always, thin cirrus, partial
swath coverage (nodata 0), dark pit floors classed "dark area" (2), and from processing
baseline 04.00 (25 January 2022) the +1000 DN offset on every valid reflectance.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from monitor.bands import BAND_RESOLUTION, BANDS, HARMONIZE_OFFSET
from monitor.demo.biomes import Biome
from monitor.demo.mines import smooth_noise
from monitor.demo.spectra import CLOUD, WAVELENGTH_UM, index_of
from monitor.demo.world import World

__all__ = ["Acquisition", "schedule", "render"]

BASELINE_SWITCH = dt.date(2022, 1, 25)


@dataclass(frozen=True)
class Acquisition:
    """One overpass of the world."""

    date: dt.date
    """Acquisition date."""
    platform: str
    """Sentinel-2A or Sentinel-2B."""
    relative_orbit: int
    """Relative orbit number."""
    cloud_target: float
    """Share of the scene to cover with cloud (0-1)."""
    coverage: float
    """Share of the world's width inside the swath (1 = full)."""
    seed: int
    """Seed of this acquisition's clouds and noise."""

    @property
    def baseline(self) -> str:
        """Processing baseline of the L2A product, as ESA's history has them."""
        if self.date >= dt.date(2024, 2, 1):
            return "05.10"
        if self.date >= dt.date(2023, 6, 1):
            return "05.09"
        if self.date >= BASELINE_SWITCH:
            return "04.00"
        if self.date >= dt.date(2021, 3, 30):
            return "03.00"
        return "02.12" if self.date.year < 2019 else "02.14"

    @property
    def offset(self) -> int:
        return HARMONIZE_OFFSET if self.date >= BASELINE_SWITCH else 0


def schedule(
    rng: np.random.Generator, years: range, biome: Biome, sparse_first: bool = True
) -> list[Acquisition]:
    """Overpasses per year: a few in 2016 (one satellite), the biome's count in its season
    later, and one or two cloudy off-season scenes that a season filter must drop."""
    out: list[Acquisition] = []
    months = biome.season
    lo, hi = biome.scenes_per_year
    for year in years:
        days = [dt.date(year, 1, 3) + dt.timedelta(days=5 * k) for k in range(73)]
        in_season = [d for d in days if d.month in months and d.year == year]
        n = 3 if (sparse_first and year == 2016) else int(rng.integers(lo, hi + 1))
        picks = sorted(rng.choice(len(in_season), size=min(n, len(in_season)), replace=False))
        dates = [in_season[k] for k in picks]
        off = [m for m in range(1, 13) if m not in months]
        if year > 2016 and off:
            for m in rng.choice(off, size=int(rng.integers(1, 3)), replace=False):
                dates.append(dt.date(year, int(m), 15))
        for k, d in enumerate(sorted(dates)):
            platform = (
                "Sentinel-2A" if (year == 2016 or (d.toordinal() // 5) % 2 == 0) else "Sentinel-2B"
            )
            if d.month in months:
                cloud = float(rng.beta(*biome.cloud_beta))
            else:
                cloud = float(rng.uniform(0.4, 0.95))
            coverage = 1.0
            if (year == 2016 and k == 0) or rng.random() < 0.1:
                coverage = float(rng.uniform(0.45, 0.8))
            out.append(
                Acquisition(
                    date=d,
                    platform=platform,
                    relative_orbit=64 if k % 2 == 0 else 21,
                    cloud_target=cloud,
                    coverage=coverage,
                    seed=int(rng.integers(2**31)),
                )
            )
    return out


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    h, w = a.shape[-2] // f, a.shape[-1] // f
    return a[..., : h * f, : w * f].reshape(*a.shape[:-2], h, f, w, f).mean(axis=(-3, -1))


@dataclass
class Rendered:
    """One acquisition as files want it."""

    dn: dict[str, np.ndarray]
    """Band name -> uint16 array at the band's native resolution (nodata 0)."""
    scl: np.ndarray
    """uint8 SCL at 20 m."""
    valid: np.ndarray
    """bool at 10 m: inside the swath."""
    stats: dict[str, float]
    """SCL class percentages as the s2:* properties give them."""


def render(world: World, acq: Acquisition) -> Rendered:
    rng = np.random.default_rng(acq.seed)
    n = world.size
    doy = acq.date.timetuple().tm_yday
    ab = world.abundances(acq.date.year, doy)  # (E, n, n)
    surface = np.tensordot(world.spectra.T, ab, axes=1)  # (12, n, n)
    # residual atmosphere after sen2cor: small per-band gain and offset per scene
    gain = rng.normal(1.0, 0.012, size=(12, 1, 1)).astype(np.float32)
    bias = rng.normal(0.0, 0.002, size=(12, 1, 1)).astype(np.float32)
    surface = surface * gain + bias

    # clouds: thick cores with thin edges; shadows cast away from the sun
    scale = world.biome.cloud_scale
    cloud_field = 0.7 * smooth_noise(rng, (n, n), scale) + 0.3 * smooth_noise(
        rng, (n, n), scale / 4
    )
    thr = np.quantile(cloud_field, 1 - acq.cloud_target) if acq.cloud_target > 0.005 else 2.0
    tau = np.clip((cloud_field - thr) / 0.12, 0, 1) ** 0.8
    tau = tau.astype(np.float32)
    shift = (int(rng.integers(15, 40)), int(rng.integers(15, 40)))
    shadow = np.roll(tau, shift, axis=(0, 1)) * (tau < 0.05)
    cirrus_amp = 0.04 * rng.random() if rng.random() < 0.35 else 0.0
    cirrus = (cirrus_amp * smooth_noise(rng, (n, n), 40)).astype(np.float32)

    toa = surface * (1 - 0.6 * shadow)[None]
    toa = toa * (1 - tau)[None] + CLOUD[:, None, None] * tau[None] * rng.uniform(0.9, 1.1)
    toa = toa + cirrus[None] * np.linspace(1.0, 0.5, 12, dtype=np.float32)[:, None, None]
    # thin haze sen2cor leaves behind: path radiance falling off as wavelength^-2
    haze_amp = 0.015 * rng.random() if rng.random() < 0.3 else 0.0
    haze = (haze_amp * smooth_noise(rng, (n, n), 60)).astype(np.float32)
    toa = toa + haze[None] * ((0.49 / WAVELENGTH_UM) ** 2)[:, None, None]
    toa = toa + rng.normal(0, 0.0012, size=toa.shape).astype(np.float32)

    # swath edge: a slanted cut, nodata beyond it
    yy, xx = np.mgrid[0:n, 0:n]
    valid = (
        xx < (acq.coverage * n + 0.15 * (yy - n / 2)) if acq.coverage < 1 else np.ones((n, n), bool)
    )

    # SCL: what sen2cor would say — mostly right, wrong in coherent patches
    b = {name: toa[i] for i, name in enumerate(BANDS)}
    ndvi = (b["B08"] - b["B04"]) / np.maximum(b["B08"] + b["B04"], 1e-3)
    water = (
        sum(ab[index_of(w)] for w in ("water_clear", "water_turbid", "water_brown", "water_green"))
        > 0.5
    )
    scl = np.full((n, n), 5, np.uint8)
    scl[ndvi > 0.4] = 4
    scl[(b["B08"] < 0.085) & ~water] = 2
    scl[water] = 6
    scl[rng.random((n, n)) < 0.003] = 7
    miss = smooth_noise(rng, (n, n), 10)
    scl[(shadow > 0.5) | ((shadow > 0.2) & (miss > 0.5))] = 3
    scl[(tau > 0.12) & ((tau > 0.3) | (miss > 0.45))] = 8
    scl[tau > 0.6] = 9
    scl[(cirrus > 0.015) & (miss > 0.25) & (tau < 0.3)] = 10
    # sen2cor's commission error: the brightest bare surfaces (salt, limestone, tailings,
    # white sand) are called cloud in some scenes
    if rng.random() < 0.3:
        scl[(b["B02"] > 0.27) & (miss > 0.4) & (tau < 0.05)] = 8
    scl[~valid] = 0

    dn: dict[str, np.ndarray] = {}
    for i, name in enumerate(BANDS):
        f = BAND_RESOLUTION[name] // 10
        band = toa[i] if f == 1 else _block_mean(toa[i], f)
        ok = valid if f == 1 else _block_mean(valid.astype(np.float32), f) > 0.999
        v = np.clip(np.round(band * 10000) + acq.offset, 1, 65535).astype(np.uint16)
        v[~ok] = 0
        dn[name] = v
    scl20 = scl[::2, ::2].copy()
    scl20[_block_mean(valid.astype(np.float32), 2) < 0.999] = 0
    counts = np.bincount(scl20.ravel(), minlength=12).astype(float)
    valid_px = max(counts[1:].sum(), 1.0)
    stats = {
        "eo:cloud_cover": 100 * (counts[8] + counts[9] + counts[10]) / valid_px,
        "s2:high_proba_clouds_percentage": 100 * counts[9] / valid_px,
        "s2:medium_proba_clouds_percentage": 100 * counts[8] / valid_px,
        "s2:thin_cirrus_percentage": 100 * counts[10] / valid_px,
        "s2:cloud_shadow_percentage": 100 * counts[3] / valid_px,
        "s2:vegetation_percentage": 100 * counts[4] / valid_px,
        "s2:not_vegetated_percentage": 100 * counts[5] / valid_px,
        "s2:water_percentage": 100 * counts[6] / valid_px,
        "s2:unclassified_percentage": 100 * counts[7] / valid_px,
        "s2:dark_features_percentage": 100 * counts[2] / valid_px,
        "s2:snow_ice_percentage": 0.0,
        "s2:saturated_defective_pixel_percentage": 0.0,
        "s2:nodata_pixel_percentage": 100 * counts[0] / counts.sum(),
    }
    return Rendered(dn=dn, scl=scl20, valid=valid, stats={k: round(v, 6) for k, v in stats.items()})


def sun_angles(d: dt.date, lat: float = -26.0) -> tuple[float, float]:
    """Rough solar zenith/azimuth near 10:30 local time: enough for plausible metadata."""
    decl = 23.44 * math.sin(2 * math.pi * (d.timetuple().tm_yday - 81) / 365)
    zenith = abs(lat - decl) + 20.0
    return round(min(zenith, 85.0), 4), round(
        40.0 + 0.2 * decl if lat < 0 else 140.0 + 0.2 * decl, 4
    )
