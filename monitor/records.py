"""The records the stages hand each other and the store keeps: a registered site and one
site-year of its history. Plain data, no I/O: every stage, read-only ones included, can
import them without pulling in imagery or TensorFlow."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # shapely is imported by whoever makes geometries, not by a lookup
    from shapely.geometry.base import BaseGeometry

__all__ = ["SiteRecord", "SiteYear", "DISCOVERY_FIELDS", "geometry_digest", "now"]

#: Keys of `discover --format json|csv` (DESIGN.md contract).
DISCOVERY_FIELDS = (
    "candidate_id",
    "lon",
    "lat",
    "first_year",
    "last_year",
    "latest_area_ha",
    "peak_area_ha",
    "status",
    "confidence",
    "nearest_site",
    "distance_km",
)


def geometry_digest(geometry: BaseGeometry) -> str:
    """Short hash of a site geometry (little-endian WKB): a changed concession is redone."""
    import hashlib

    import shapely

    return hashlib.sha1(shapely.to_wkb(geometry, byte_order=1)).hexdigest()[:12]


def now() -> str:
    """UTC now as the store writes timestamps."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SiteRecord:
    """A registered site."""

    site_id: str
    """Unique id."""
    name: str
    """Display name."""
    geometry: BaseGeometry
    """Concession polygon (EPSG:4326)."""
    source_file: str = ""
    """File it was imported from."""
    season: tuple[int, ...] = ()
    """Its season from the registry (``season_months`` column); empty: chosen by the tool."""


@dataclass(frozen=True)
class SiteYear:
    """One site x year of the history."""

    site_id: str
    """Site."""
    year: int
    """Year."""
    mined_area_ha: float | None
    """Mine area inside the site after the temporal filter (:mod:`monitor.temporal`; the
    detected area until the run's last pass); None when the year had too few clear
    observations."""
    mine_fraction: float | None
    """Mined share of the site's area."""
    clear_observations: float
    """Median count of clear observations over the site's pixels."""
    valid_fraction: float
    """Share of the site's pixels with enough clear observations."""
    ndvi: float | None
    """Mean NDVI over the site's largest footprint so far (revegetation shows here)."""
    model_version: str
    """Model that classified the year."""
    source_key: str
    """Imagery source."""
    params_key: str
    """Hash of the compositing and detection parameters."""
    items_used: tuple[str, ...] = ()
    """STAC item ids in the composite."""
    items_skipped: tuple[tuple[str, str], ...] = ()
    """(id, reason) of scenes that could not be read."""
    baselines: tuple[str, ...] = ()
    """Processing baselines of the items used."""
    footprint: BaseGeometry | None = None
    """Detected mine outline (EPSG:4326)."""
    mean_probability: float | None = None
    """Mean mine probability over the detected footprint (a confidence ingredient)."""
    ndvi_surroundings: float | None = None
    """Mean NDVI of the site's land outside its largest footprint."""
    water_fraction: float | None = None
    """Share of the footprint that is open water (MNDWI > 0): lakes and rivers look alike."""
    ndvi_grid: bytes = b""
    """The concession's NDVI this year (zlib int8, see monitor.measure.NdviGrid)."""
    ndvi_grid_meta: str = ""
    """Grid and scale of ``ndvi_grid`` (JSON)."""
    geometry_hash: str = ""
    """Hash of the site geometry the row was computed for: a changed concession is redone."""
    season: str = ""
    """Months (and how they were chosen) of the composite (JSON)."""
    ring_patches: tuple = ()
    """Mine patches detected in the ring around the site, outside it: (polygon EPSG:4326,
    area ha, mean probability) each; raw material for `monitor discover`."""
    ring_valid_fraction: float | None = None
    """Share of the ring with enough clear looks this year."""
    computed_at: str = ""
    """UTC timestamp of the computation."""
    run_id: int | None = None
    """Run that wrote the row."""
    detected_area_ha: float | None = None
    """Mine area the model detected inside the site this year, before the temporal filter
    (None: as ``mined_area_ha``)."""

    @property
    def area_as_detected(self) -> float | None:
        """The area before the temporal filter (a row made before the filter ran, or by
        hand, has only ``mined_area_ha``)."""
        return self.mined_area_ha if self.detected_area_ha is None else self.detected_area_ha
