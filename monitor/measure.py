"""One site-year measured from its crop of a group's composite and detection: the row the
store keeps, with everything later stages need, so that nothing re-reads imagery.

The mined area is the detected mine surface inside the concession (pits, pit lakes, dumps,
tailings, haul roads, pads), in hectares; None when too few of the site's pixels had enough
clear looks. Beside it travels a small NDVI raster of the concession (int8, compressed): the
NDVI of the site's *largest footprint so far* is what shows vegetation returning, and that
footprint is only known once later years are in, so the coordinator computes it from the
stored rasters (:func:`union_ndvi`), never from imagery.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine

from monitor.classify import Detection, mndwi, ndvi
from monitor.geo import Grid, mask_polygon, polygon_mask, to_crs
from monitor.imagery import Composite
from monitor.records import SiteYear, now

__all__ = ["NdviGrid", "RingScan", "measure_site_year", "ring_patches", "union_ndvi"]


@dataclass(frozen=True)
class NdviGrid:
    """A site's NDVI of one year on its concession's 10 m grid, as stored."""

    grid: Grid
    """The grid (the concession's bounding box)."""
    values: np.ndarray
    """(H, W) float32 NDVI, NaN where never clear."""

    def encode(self) -> tuple[bytes, str]:
        q = np.where(np.isnan(self.values), -128, np.clip(np.round(self.values * 100), -100, 100))
        meta = {
            "crs": self.grid.crs,
            "x0": self.grid.x0,
            "y1": self.grid.y1,
            "width": self.grid.width,
            "height": self.grid.height,
            "scale": 0.01,
        }
        return zlib.compress(q.astype(np.int8).tobytes(), 6), json.dumps(meta)

    @classmethod
    def decode(cls, blob: bytes, meta: str) -> NdviGrid:
        m = json.loads(meta)
        grid = Grid(m["crs"], m["x0"], m["y1"], m["width"], m["height"])
        q = np.frombuffer(zlib.decompress(blob), np.int8).reshape(grid.shape).astype(np.float32)
        return cls(grid, np.where(q == -128, np.nan, q * m["scale"]).astype(np.float32))


def _concession_grid(geometry, grid: Grid) -> Grid:
    """The part of a site's grid that holds its concession polygon."""
    x0, y0, x1, y1 = to_crs(geometry, 4326, grid.crs).bounds
    c0 = max(0, int((x0 - grid.x0) // 10))
    r0 = max(0, int((grid.y1 - y1) // 10))
    c1 = min(grid.width, int(np.ceil((x1 - grid.x0) / 10)))
    r1 = min(grid.height, int(np.ceil((grid.y1 - y0) / 10)))
    return Grid(grid.crs, grid.x0 + 10 * c0, grid.y1 - 10 * r0, max(1, c1 - c0), max(1, r1 - r0))


def _mean(values: np.ndarray, where: np.ndarray) -> float | None:
    v = values[where]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def measure_site_year(
    site_id: str,
    geometry,
    comp: Composite,
    det: Detection,
    *,
    min_clear_fraction: float,
    params_key: str,
    geometry_hash: str = "",
    season: str = "",
) -> SiteYear:
    """The store's row for one site-year, from the site's crop of composite and detection."""
    inside = polygon_mask(geometry, comp.shape, comp.transform, comp.crs)
    n_site = int(inside.sum())
    valid_fraction = float(det.valid[inside].mean()) if n_site else 0.0
    clear_obs = float(np.median(comp.clear[inside])) if n_site else 0.0
    mine = det.mask & inside
    enough = bool(comp.items_used) and valid_fraction >= min_clear_fraction
    area = float(mine.sum() * comp.pixel_area_ha) if enough else None
    nd = ndvi(comp.reflectance)
    water = mndwi(comp.reflectance) > 0
    cgrid = _concession_grid(geometry, comp.grid)
    rows, cols = comp.grid.window_of(cgrid)
    blob, meta = NdviGrid(cgrid, np.where(inside, nd, np.nan)[rows, cols]).encode()
    return SiteYear(
        site_id=site_id,
        year=comp.year,
        mined_area_ha=area,
        detected_area_ha=area,
        mine_fraction=(area / (n_site * comp.pixel_area_ha)) if enough and n_site else None,
        clear_observations=clear_obs,
        valid_fraction=valid_fraction,
        ndvi=_mean(nd, mine) if enough else None,
        ndvi_surroundings=_mean(nd, inside & ~mine) if enough else None,
        water_fraction=float(water[mine].mean()) if enough and mine.any() else None,
        model_version=det.model_version,
        source_key=comp.source_key,
        params_key=params_key,
        items_used=comp.items_used,
        items_skipped=comp.items_skipped,
        baselines=comp.baselines,
        footprint=mask_polygon(mine, comp.transform, comp.crs) if enough else None,
        mean_probability=_mean(det.probability, mine) if mine.any() else None,
        ndvi_grid=blob,
        ndvi_grid_meta=meta,
        geometry_hash=geometry_hash,
        season=season,
        computed_at=now(),
    )


def union_ndvi(
    rows: list[SiteYear], footprints: dict[int, object]
) -> dict[int, tuple[float | None, float | None]]:
    """Per year: NDVI of the site's union of footprints over all its years, and of the rest
    of the concession, from the rows' stored NDVI rasters (rows without one keep theirs)."""
    feet = [g for g in footprints.values() if g is not None and not g.is_empty]
    if not feet:
        return {}
    union = shapely.unary_union(feet)
    out = {}
    for r in rows:
        if r.mined_area_ha is None or not r.ndvi_grid:
            continue
        g = NdviGrid.decode(r.ndvi_grid, r.ndvi_grid_meta)
        fp = polygon_mask(union, g.grid.shape, g.grid.transform, g.grid.crs)
        site = np.isfinite(g.values)
        out[r.year] = (_mean(g.values, fp & site), _mean(g.values, ~fp & site))
    return out


class RingScan:
    """A group's mine mask labelled once, its patches polygonized once: every site of a
    group sees the same patches in its ring (about a ring's area over a site's, ~17 sites
    each on a dense registry), and a patch wholly inside a ring is the same patch for each."""

    def __init__(self, det: Detection):
        from scipy import ndimage

        self.det = det
        self.labels, _ = ndimage.label(det.mask, structure=_EIGHT)
        self.sizes = np.bincount(self.labels.ravel())
        self.slices = ndimage.find_objects(self.labels)
        self._patches: dict[int, tuple] = {}

    def patch(self, k: int) -> tuple[tuple[int, int], tuple]:
        """Component ``k``'s first pixel (row, col) on the group grid and its patch."""
        if k not in self._patches:
            sl = self.slices[k - 1]
            part = self.labels[sl] == k
            self._patches[k] = (_first_pixel(sl, part), _patch(self.det, sl, part))
        return self._patches[k]


_EIGHT = np.ones((3, 3), bool)


def _patch(det: Detection, sl, part: np.ndarray) -> tuple:
    """(polygon EPSG:4326, area ha, mean probability) of the pixels ``part`` of window ``sl``."""
    transform = det.grid.transform @ Affine.translation(sl[1].start, sl[0].start)
    return (
        mask_polygon(part, transform, det.grid.crs),
        float(part.sum() * _pixel_ha(det.grid)),
        _mean(det.probability[sl], part) or 0.0,
    )


def _first_pixel(sl, part: np.ndarray) -> tuple[int, int]:
    """(row, col) of the first pixel of ``part`` (window ``sl``) in raster order: the order in
    which labelling numbers components."""
    return sl[0].start, sl[1].start + int(np.flatnonzero(part[0])[0])


def _pixel_ha(grid: Grid) -> float:
    return abs(grid.transform.a * grid.transform.e) / 1e4


def _local_patches(det: Detection, pixels: np.ndarray, inside: np.ndarray, mmu_ha: float):
    """(first pixel, patch) of the components of ``pixels`` that do not touch ``inside``."""
    from scipy import ndimage

    labels, _ = ndimage.label(pixels, structure=_EIGHT)
    own = np.unique(labels[inside & (labels > 0)])
    out = []
    for k, sl in enumerate(ndimage.find_objects(labels), 1):
        if sl is None or k in own:
            continue
        part = labels[sl] == k
        if part.sum() * _pixel_ha(det.grid) < mmu_ha:
            continue
        out.append((_first_pixel(sl, part), _patch(det, sl, part)))
    return out


def _scanned_patches(scan: RingScan, det: Detection, reach, inside, mmu_ha: float):
    """The ring's patches from the group's labelling: a component wholly inside the ring is
    the group's patch; one cut by the ring's edge is labelled again within it, as alone."""
    rows, cols = scan.det.grid.window_of(det.grid)
    glab = scan.labels[rows, cols]
    in_reach = np.bincount(glab[reach], minlength=len(scan.sizes))
    in_reach[0] = 0  # background
    own = set(np.unique(glab[inside]).tolist())
    out = []
    for k in np.flatnonzero((in_reach > 0) & (in_reach == scan.sizes)).tolist():
        if k in own or scan.sizes[k] * _pixel_ha(det.grid) < mmu_ha:
            continue
        (r, c), patch = scan.patch(k)
        out.append(((r - rows.start, c - cols.start), patch))
    cut = (in_reach > 0) & (in_reach < scan.sizes)
    if cut.any():
        out += _local_patches(det, reach & cut[glab], inside, mmu_ha)
    return out


def ring_patches(
    row: SiteYear,
    geometry,
    det: Detection,
    ring_m: float,
    mmu_ha: float,
    scan: RingScan | None = None,
) -> SiteYear:
    """The row with the mine patches detected in the ring around the site, each (polygon
    EPSG:4326, area ha, mean probability): what `monitor discover` groups into candidate mines.
    A detection that reaches into the concession is the site's own mine spilling over its edge,
    not another mine: it is left out; so are patches under the minimum mapping unit. With
    ``scan`` (the group's labelling, ``det`` a crop of it) the same patches, each polygonized
    once per group; in the order of their first pixel, as labelling the ring alone gives."""
    from dataclasses import replace

    local = to_crs(geometry, 4326, det.grid.crs)
    ring_geom = to_crs(local.buffer(ring_m), det.grid.crs, 4326)
    reach = polygon_mask(ring_geom, det.grid.shape, det.grid.transform, det.grid.crs)
    inside = polygon_mask(geometry, det.grid.shape, det.grid.transform, det.grid.crs)
    if scan is None:
        found = _local_patches(det, det.mask & reach, inside, mmu_ha)
    else:
        found = _scanned_patches(scan, det, reach, inside, mmu_ha)
    patches = tuple(patch for _, patch in sorted(found, key=lambda f: f[0]))
    ring = reach & ~inside
    valid = float(det.valid[ring].mean()) if ring.any() else None
    return replace(row, ring_patches=patches, ring_valid_fraction=valid)
