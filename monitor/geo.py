"""Geometry shared by the stages: a site's UTM zone and 10 m grid, masks of polygons on a grid,
and polygons of masks. Grids snap to multiples of 10 m in their zone, so the window of a site
is a sub-window of any larger grid of the same zone: a site cropped from a mosaic sees exactly
the pixels it would see alone."""

from __future__ import annotations

import math
import threading

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry import base as shapely_base

__all__ = [
    "RESOLUTION",
    "MAX_GRID_PX",
    "NETWORK_ALIGN_M",
    "Grid",
    "utm_crs",
    "site_grid",
    "union_grid",
    "polygon_mask",
    "mask_polygon",
    "mask_window",
    "to_crs",
]

#: Pixel size (m) of every grid of this project.
RESOLUTION = 10.0
#: Largest side (px) of a site's grid: 60 km. A site larger than that is a mistake.
MAX_GRID_PX = 6000
#: The FCN's total stride (8 px = 80 m). Grids whose edges sit on this lattice give the network
#: the same pooling phase, so a site's probabilities are the same loaded alone or in a group.
NETWORK_ALIGN_M = 80.0


class Grid:
    """A north-up 10 m grid on a UTM zone: (x0, y1) upper-left corner, width and height."""

    __slots__ = ("crs", "x0", "y1", "width", "height")

    def __init__(self, crs: str, x0: float, y1: float, width: int, height: int):
        self.crs, self.x0, self.y1, self.width, self.height = crs, x0, y1, width, height

    def __repr__(self) -> str:
        return f"Grid({self.crs}, x0={self.x0}, y1={self.y1}, {self.width}x{self.height})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Grid) and self.key() == other.key()

    def key(self) -> tuple:
        return (self.crs, self.x0, self.y1, self.width, self.height)

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def transform(self) -> Affine:
        return Affine(RESOLUTION, 0, self.x0, 0, -RESOLUTION, self.y1)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (
            self.x0,
            self.y1 - self.height * RESOLUTION,
            self.x0 + self.width * RESOLUTION,
            self.y1,
        )

    def geobox(self):
        from odc.geo.geobox import GeoBox

        return GeoBox(self.shape, self.transform, self.crs)

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """The grid's extent in lon/lat (what a STAC search is given)."""
        x0, y0, x1, y1 = self.bounds
        t = _transformer(self.crs, 4326)
        xs = np.array([x0, x1, x0, x1, (x0 + x1) / 2, (x0 + x1) / 2, x0, x1])
        ys = np.array([y0, y0, y1, y1, y0, y1, (y0 + y1) / 2, (y0 + y1) / 2])
        lon, lat = t.transform(xs, ys)
        return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())

    def window_of(self, inner: Grid) -> tuple[slice, slice]:
        """Row and column slices of ``inner`` (same zone, aligned) inside this grid."""
        if inner.crs != self.crs:
            raise ValueError(f"{inner} is not on {self.crs}")
        c0 = int(round((inner.x0 - self.x0) / RESOLUTION))
        r0 = int(round((self.y1 - inner.y1) / RESOLUTION))
        if c0 < 0 or r0 < 0 or c0 + inner.width > self.width or r0 + inner.height > self.height:
            raise ValueError(f"{inner} does not lie inside {self}")
        return slice(r0, r0 + inner.height), slice(c0, c0 + inner.width)


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS that holds (lon, lat)."""
    zone = int(math.floor((lon + 180) / 6)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


_TRANSFORMERS = threading.local()


def _transformer(src, dst) -> Transformer:
    """A transformer per (src, dst) and thread: building one costs ~0.2 ms, paid thousands of
    times a run (per site, ring and patch) without this; one per thread, as pyproj advises."""
    cache = _TRANSFORMERS.__dict__.setdefault("cache", {})
    key = (str(src), str(dst))
    if key not in cache:
        cache[key] = Transformer.from_crs(src, dst, always_xy=True)
    return cache[key]


def to_crs(geometry: shapely_base.BaseGeometry, src, dst) -> shapely_base.BaseGeometry:
    """``geometry`` transformed from CRS ``src`` to ``dst``."""
    import shapely

    t = _transformer(src, dst)
    return shapely.transform(geometry, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))


def site_grid(
    geometry: shapely_base.BaseGeometry, buffer_m: float, align_m: float = RESOLUTION
) -> Grid:
    """The site's 10 m grid in its own UTM zone, covering it and ``buffer_m`` around it, its
    edges on multiples of ``align_m`` (:data:`NETWORK_ALIGN_M` for what the FCN reads)."""
    c = geometry.centroid
    crs = utm_crs(c.x, c.y)
    local = to_crs(geometry, 4326, crs).buffer(buffer_m)
    x0, y0, x1, y1 = local.bounds
    x0, y0 = math.floor(x0 / align_m) * align_m, math.floor(y0 / align_m) * align_m
    x1, y1 = math.ceil(x1 / align_m) * align_m, math.ceil(y1 / align_m) * align_m
    width, height = int(round((x1 - x0) / RESOLUTION)), int(round((y1 - y0) / RESOLUTION))
    if max(width, height) > MAX_GRID_PX:
        raise ValueError(
            f"a {width * RESOLUTION / 1000:.0f} x {height * RESOLUTION / 1000:.0f} km extent is "
            "too large for one site; split the site or fix its geometry"
        )
    return Grid(crs.to_string(), x0, y1, width, height)


def union_grid(grids: list[Grid]) -> Grid:
    """The smallest aligned grid holding all ``grids`` (one zone)."""
    crs = {g.crs for g in grids}
    if len(crs) != 1:
        raise ValueError(f"grids on several zones: {sorted(crs)}")
    x0 = min(g.x0 for g in grids)
    y1 = max(g.y1 for g in grids)
    x1 = max(g.x0 + g.width * RESOLUTION for g in grids)
    y0 = min(g.y1 - g.height * RESOLUTION for g in grids)
    return Grid(
        crs.pop(), x0, y1, int(round((x1 - x0) / RESOLUTION)), int(round((y1 - y0) / RESOLUTION))
    )


def polygon_mask(geometry, grid_shape: tuple[int, int], transform: Affine, crs: str) -> np.ndarray:
    """Pixels of a grid whose centres fall in ``geometry`` (EPSG:4326)."""
    import rasterio.features

    local = to_crs(geometry, 4326, crs)
    return rasterio.features.geometry_mask([local], grid_shape, transform, invert=True)


def mask_window(mask: np.ndarray) -> tuple[slice, slice]:
    """Rows and columns of the smallest window holding every True pixel of a 2-D mask; empty
    slices when there is none."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not rows.size:
        return slice(0, 0), slice(0, 0)
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def mask_polygon(mask: np.ndarray, transform: Affine, crs: str):
    """The (multi)polygon of a mask's pixels, in EPSG:4326; None for an empty mask."""
    import rasterio.features
    import shapely
    from shapely.geometry import shape

    if not mask.any():
        return None
    polys = [
        shape(g)
        for g, _ in rasterio.features.shapes(mask.astype(np.uint8), mask=mask, transform=transform)
    ]
    return to_crs(shapely.unary_union(polys), crs, 4326)
