"""Temporal filter of a site's yearly mine masks: a pixel counts as mined in a year when at
least two of that year and its two neighbouring valid years detect it.

Why: one composite can go wrong as a whole. A season of three looks with shadows the scene
classification half missed, or an atmosphere the model never saw, flags plain ground over a
whole scene in one year and in no other; a cloudy year can drop part of a working pit. Both are
single-year flips that the years around them contradict. MapBiomas filters its yearly land-cover
maps the same way (a moving window over consecutive years that removes transitions which revert
the next year; the first and last year stay as classified) before it reports areas (MapBiomas
Brazil, ATBD, "temporal filter"). Growth and shrinking survive it: in a footprint that only ever
grows (or only ever shrinks) every pixel agrees with one of its neighbours, so the filter leaves
a monotonic history unchanged. What it removes is a detection that comes and goes within one
year, and what it fills is a one-year hole inside a mine.

Gaps (years with too few clear looks) are skipped: the neighbours are the nearest valid years.
The filter works on the stored footprints, after the run, so a year is filtered again whenever a
neighbour is (re)computed; the detected area stays stored beside the filtered one.
"""

from __future__ import annotations

import numpy as np

from monitor.geo import polygon_mask, site_grid
from monitor.records import SiteYear

__all__ = ["FILTER_VERSION", "majority_of_three", "filtered_areas"]

#: Bump when the filter changes: a run then filters every site of a store again.
FILTER_VERSION = 1


def majority_of_three(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Each inner mask kept where at least two of (previous, itself, next) are set; the first
    and the last as they are."""
    out = list(masks)
    for i in range(1, len(masks) - 1):
        votes = masks[i - 1].astype(np.uint8) + masks[i] + masks[i + 1]
        out[i] = votes >= 2
    return out


def filtered_areas(geometry, rows: list[SiteYear], footprints: dict) -> dict[int, tuple]:
    """{year: (mined area ha, mine fraction)} of the site's valid years after the filter. A
    year the filter does not change keeps its detected area exactly; a changed year moves by
    the pixels the filter added or removed."""
    detected_of = {r.year: r.area_as_detected for r in rows}
    valid = sorted(y for y, a in detected_of.items() if a is not None)
    if not valid:
        return {}
    grid = site_grid(geometry, 0.0)
    inside = polygon_mask(geometry, grid.shape, grid.transform, grid.crs)
    pixel_ha = abs(grid.transform.a * grid.transform.e) / 1e4
    site_ha = float(inside.sum()) * pixel_ha

    def mask(year: int) -> np.ndarray:
        g = footprints.get(year)
        if g is None or g.is_empty:
            return np.zeros(grid.shape, bool)
        return polygon_mask(g, grid.shape, grid.transform, grid.crs) & inside

    detected = [mask(year) for year in valid]
    kept = majority_of_three(detected)
    out = {}
    for year, before, after in zip(valid, detected, kept, strict=True):
        change = (int(after.sum()) - int(before.sum())) * pixel_ha
        area = detected_of[year]
        area = max(0.0, float(area) + change) if change else area
        out[year] = (area, area / site_ha if site_ha else None)
    return out
