"""The one owner of the parameters that change what the pipeline computes, and of the keys
that say whether a cached composite or a stored row is still good. Stage-free: config in,
small frozen records out, imported by every stage that needs them."""

from __future__ import annotations

import datetime as dt
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
    "season_span",
    "season_months_of",
    "widened",
    "parse_months",
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


def season_months_of(months: tuple[int, ...], year: int) -> set[tuple[int, int]]:
    """The (year, month) pairs of a season of ``year``. A season whose months wrap (11, 12,
    1, 2) crosses New Year and belongs to the year it ends in: Nov-Dec of the year before."""
    out, y = set(), year
    for k in range(len(months) - 1, -1, -1):  # walk back from the last month
        if k < len(months) - 1 and months[k] > months[k + 1]:
            y -= 1
        out.add((y, months[k]))
    return out


def season_span(months: tuple[int, ...], year: int) -> tuple[dt.date, dt.date]:
    """First and last day of a season of ``year`` (see :func:`season_months_of`)."""
    pairs = sorted(season_months_of(months, year))
    (y0, m0), (y1, m1) = pairs[0], pairs[-1]
    end = dt.date(y1 + (m1 == 12), m1 % 12 + 1, 1) - dt.timedelta(days=1)
    return dt.date(y0, m0, 1), end


def widened(months: tuple[int, ...], extra: int) -> tuple[int, ...]:
    """The season with ``extra`` months added at each end (12 at most), still in order."""
    if len(months) + 2 * extra >= 12:
        last = months[-1]
        return tuple((last + k) % 12 + 1 for k in range(12))  # the 12 months ending with it
    before = tuple((months[0] - 1 - k - 1) % 12 + 1 for k in range(extra))[::-1]
    after = tuple((months[-1] + k) % 12 + 1 for k in range(extra))
    return before + tuple(months) + after


def parse_months(text: str) -> tuple[int, ...]:
    """A registry's season: "5,6,7,8,9", "5-9" or "11-2" (crossing New Year)."""
    text = str(text).strip()
    if "-" in text and "," not in text:
        a, b = (int(v) for v in text.split("-"))
        months = tuple((a - 1 + k) % 12 + 1 for k in range((b - a) % 12 + 1))
    else:
        months = tuple(int(v) for v in text.replace(";", ",").split(",") if v.strip())
    if not months or not all(1 <= m <= 12 for m in months) or len(set(months)) != len(months):
        raise ValueError(f"{text!r} is not a season; give months like 5,6,7,8,9 or 11-2")
    return months


def params_key(cfg: Config, months: tuple[int, ...] | None = None) -> str:
    """The one hash of every parameter that changes a stored row (``months``: the site's
    season, when it is not the config's)."""
    comp = CompositeParams.from_config(cfg)
    if months is not None:
        comp = CompositeParams(tuple(months), comp.max_cloud_cover, comp.buffer_m)
    c = cfg.composite
    blob = json.dumps(
        [
            asdict(comp),
            asdict(DetectionParams.from_config(cfg)),
            c.min_clear_fraction,
            c.target_clear_observations,
            cfg.discovery.ring_km,
            CACHE_VERSION,
            MEASURE_VERSION,
        ],
        sort_keys=True,
    )
    return hashlib.sha1(blob.encode()).hexdigest()[:12]
