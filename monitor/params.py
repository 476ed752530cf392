"""The one owner of the parameters that change what the pipeline computes, and of the keys
that say whether a cached composite or a stored row is still good. Stage-free: config in,
small frozen records out, imported by every stage that needs them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from monitor.config import Config

__all__ = [
    "CACHE_VERSION",
    "MEASURE_VERSION",
    "CompositeParams",
    "DetectionParams",
    "params_key",
]

#: Bump when compositing changes: every cached composite is then rebuilt.
CACHE_VERSION = 4
#: Bump when a row's measures change meaning: every site-year is then recomputed.
MEASURE_VERSION = 2


@dataclass(frozen=True)
class CompositeParams:
    """Everything that changes a composite's pixels (and so its cache key)."""

    months: tuple[int, ...]
    """Season months."""
    max_cloud_cover: float
    """eo:cloud_cover prefilter (percent)."""
    buffer_m: float
    """Buffer loaded around each site (context for the FCN)."""

    @classmethod
    def from_config(cls, cfg: Config) -> CompositeParams:
        c = cfg.composite
        return cls(tuple(c.season_months), c.max_cloud_cover, c.site_buffer_m)


@dataclass(frozen=True)
class DetectionParams:
    """Everything that turns probabilities into a mask (and so changes a row)."""

    threshold: float | None
    """Probability above which a pixel is mine; None: the model's own."""
    min_mapping_unit_ha: float
    """Connected patches smaller than this are dropped."""
    min_clear: int
    """Clear looks a pixel needs to be classified at all."""

    @classmethod
    def from_config(cls, cfg: Config) -> DetectionParams:
        d = cfg.detection
        return cls(d.threshold, d.min_mapping_unit_ha, cfg.composite.min_clear_observations)


def params_key(cfg: Config) -> str:
    """The one hash of every parameter that changes a stored row."""
    blob = json.dumps(
        [asdict(CompositeParams.from_config(cfg)), asdict(DetectionParams.from_config(cfg)),
         cfg.composite.min_clear_fraction, cfg.discovery.ring_km, CACHE_VERSION, MEASURE_VERSION],
        sort_keys=True,
    )  # fmt: skip
    return hashlib.sha1(blob.encode()).hexdigest()[:12]
