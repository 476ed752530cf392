"""Restoration candidates: the likely-abandoned sites, ranked, with the reasons in words.

The score weighs what a restoration programme asks first: how long the site has been idle
(35 %), how much land it disturbed (30 %), how far its vegetation lags its surroundings (20 %)
and whether it lies in a protected area (15 %); it is scaled by the analysis' confidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.change import SiteStatus
from monitor.errors import StoreError

__all__ = ["Candidate", "rank_candidates", "protected_overlap"]


@dataclass(frozen=True)
class Candidate:
    """One restoration candidate."""

    site_id: str
    """Site."""
    rank: int
    """1 = first to restore."""
    score: float
    """0-1 ranking score (weights in the module docstring, times the confidence)."""
    protected_overlap: float
    """Share of the site inside protected areas."""
    reasons: tuple[str, ...]
    """The analysis' reasons, then what the rank weighed, in words."""

    def as_json(self) -> dict:
        return {
            "rank": self.rank,
            "score": self.score,
            "protected_overlap": round(self.protected_overlap, 3),
            "reasons": "; ".join(self.reasons),
        }


def _score(s: SiteStatus, overlap: float) -> float:
    since = min((s.years_since_activity or 0) / 5, 1.0)
    size = min(s.peak_area_ha / 50.0, 1.0)
    deficit = float(np.clip((s.ndvi_deficit or 0.0) / 0.3, 0, 1))
    return 0.35 * since + 0.3 * size + 0.2 * deficit + 0.15 * overlap


def _words(s: SiteStatus, overlap: float) -> tuple[str, ...]:
    words = list(s.reasons)
    if s.years_since_activity:
        words.append(f"{s.years_since_activity} year(s) since last activity")
    words.append(f"{s.peak_area_ha:.1f} ha disturbed at peak")
    if s.ndvi_deficit is not None:
        side = "below" if s.ndvi_deficit >= 0 else "above"
        words.append(f"NDVI {abs(s.ndvi_deficit):.2f} {side} its surroundings")
    if overlap > 0:
        words.append(f"{overlap:.0%} inside protected areas")
    return tuple(words)


def rank_candidates(
    statuses: Iterable[SiteStatus], overlap: dict[str, float] | None = None
) -> dict[str, Candidate]:
    """The restoration candidates among ``statuses``, by site id, numbered by rank."""
    overlap = overlap or {}
    scored = [
        (round(_score(s, overlap.get(s.site_id, 0.0)) * s.confidence, 4), s)
        for s in statuses
        if s.restoration_candidate
    ]
    scored.sort(key=lambda pair: (-pair[0], pair[1].site_id))
    return {
        s.site_id: Candidate(
            s.site_id,
            rank,
            score,
            overlap.get(s.site_id, 0.0),
            _words(s, overlap.get(s.site_id, 0.0)),
        )
        for rank, (score, s) in enumerate(scored, 1)
    }


def protected_overlap(path: Path | None, sites) -> dict[str, float]:
    """Share of each site's area inside the protected-areas layer (empty without one)."""
    if path is None:
        return {}
    import geopandas as gpd
    import shapely

    try:
        pa = gpd.read_file(path).to_crs(4326)
    except Exception as exc:
        raise StoreError(
            f"cannot read protected areas {path} ({exc.__class__.__name__}); fix the file or set "
            "`protected_areas` to null"
        ) from None
    union = shapely.unary_union(pa.geometry.make_valid().values)
    return {
        s.site_id: float(s.geometry.intersection(union).area / s.geometry.area)
        if s.geometry.area
        else 0.0
        for s in sites
    }
