"""Yearly composites: search, load (odc-stac), harmonize, cloud-mask, median.

The phases pass small typed objects: :class:`~monitor.imagery.source.SeasonQuery` to the
source, a list of items to :func:`~monitor.imagery.load.load_scenes`, a
:class:`~monitor.imagery.load.SceneStack` to :func:`median_composite`, and a
:class:`Composite` out. A composite is made on any aligned 10 m grid: a site's own, or the
union of a group of sites that share their scenes (`monitor run` loads each group once and
crops every site from it, :meth:`Composite.crop`). Loading is where the time goes;
everything after it is numpy, done in row strips so that memory stays flat.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import numpy as np

from monitor.bands import HARMONIZE_BASELINE, HARMONIZE_OFFSET, SCALE, SCL_DROP
from monitor.geo import Grid, mask_window
from monitor.imagery.load import LoadedScenes, SceneStack, load_scenes
from monitor.imagery.source import ItemSource, SeasonQuery, item_baseline
from monitor.params import CompositeParams

__all__ = [
    "Composite",
    "median_composite",
    "build_composite",
    "season_items",
    "site_composite",
    "nan_quantile",
]

log = logging.getLogger(__name__)
# rows are fused in strips of about this many bytes of float32 looks: small enough for
# malloc to reuse its heap (a larger temporary is a fresh mmap, page-faulted in each time,
# which costs 2x in a run, and more with threads side by side)
_STRIP_BYTES = 8 << 20


@dataclass(frozen=True)
class Composite:
    """One year's median composite on a 10 m UTM grid."""

    name: str
    """What it is of: a site id, a group, a training region."""
    year: int
    """Calendar year."""
    reflectance: np.ndarray = field(repr=False)
    """(12, H, W) float32 surface reflectance, band order of BANDS; NaN where never clear."""
    clear: np.ndarray = field(repr=False)
    """(H, W) uint8 count of clear observations per pixel."""
    grid: Grid
    """The grid."""
    items_used: tuple[str, ...] = ()
    """Ids of the STAC items that went in."""
    items_skipped: tuple[tuple[str, str], ...] = ()
    """(id, reason) of items that could not be read."""
    baselines: tuple[str, ...] = ()
    """Processing baselines of the items used (e.g. '02.12', '05.10')."""
    source_key: str = ""
    """The source the items came from."""

    @property
    def crs(self) -> str:
        return self.grid.crs

    @property
    def transform(self):
        return self.grid.transform

    @property
    def shape(self) -> tuple[int, int]:
        return self.clear.shape

    @property
    def pixel_area_ha(self) -> float:
        return abs(self.transform.a * self.transform.e) / 1e4

    def crop(self, grid: Grid, name: str) -> Composite:
        """The part of this composite on ``grid`` (aligned, inside): what that site alone
        would have given, pixel for pixel."""
        rows, cols = self.grid.window_of(grid)
        return replace(
            self,
            name=name,
            grid=grid,
            reflectance=self.reflectance[:, rows, cols].copy(),
            clear=self.clear[rows, cols].copy(),
        )


#: Up to this many looks a sorting network sorts them faster than np.sort (1.5-2x for 3-6
#: looks, a draw from 10 on: numpy sorts each pixel's short column one at a time).
_NETWORK_MAX_LOOKS = 8


@functools.cache
def _sorting_network(n: int) -> tuple[tuple[int, int], ...]:
    """Comparators (i, j), i < j, of Batcher's odd-even merge sort on ``n`` inputs: the
    network for the next power of two, without the comparators that reach past ``n`` (as if
    the inputs beyond sorted last, which they would)."""
    pairs, p = [], 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return tuple(pairs)


def _sort_looks(stack: np.ndarray) -> np.ndarray:
    """``np.sort(stack, axis=0)`` but for NaN, which sort last as +inf (callers read only the
    first n finite places of each pixel). Few looks go through a sorting network of
    whole-image minimum and maximum, which numpy runs at memory speed."""
    t = stack.shape[0]
    if not 2 <= t <= _NETWORK_MAX_LOOKS:
        return np.sort(stack, axis=0)
    looks = [np.where(np.isnan(x), np.inf, x) for x in stack]
    spare = np.empty_like(looks[0])
    for i, j in _sorting_network(t):
        np.minimum(looks[i], looks[j], out=spare)
        np.maximum(looks[i], looks[j], out=looks[j])
        looks[i], spare = spare, looks[i]
    return np.stack(looks)


def nan_quantile(stack: np.ndarray, q: float) -> np.ndarray:
    """Quantile along axis 0 ignoring NaN (linear interpolation, as numpy's); NaN where all
    are NaN. Sorting once beats np.nanpercentile/nanmedian by ~20x on short time axes."""
    srt = _sort_looks(stack)  # NaN (or +inf) sort last, past the n values read
    n = np.sum(~np.isnan(stack), axis=0)
    pos = np.clip(q * (n - 1), 0, None)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    a = np.take_along_axis(srt, lo[None], 0)[0]
    b = np.take_along_axis(srt, hi[None], 0)[0]
    with np.errstate(invalid="ignore"):  # inf - inf where no look: replaced below
        out = a + (b - a) * (pos - lo)
    return np.where(n > 0, out, np.nan).astype(stack.dtype)


def _screen_missed_clouds(refl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop looks that SCL called clear but that are hazier or darker than the pixel's own
    other looks: missed cloud edges and cirrus brighten the blue band, missed shadows darken
    every band. Ground changes within one season rarely do either (phenology moves NIR and
    SWIR, not blue), so this removes almost only what the mask missed."""
    blue, green, nir, swir = refl[:, 1], refl[:, 2], refl[:, 7], refl[:, 10]
    n_obs = np.sum(~np.isnan(blue), axis=0)
    low_blue = nan_quantile(blue, 0.25)
    med_nir, med_swir = nan_quantile(nir, 0.5), nan_quantile(swir, 0.5)
    # relative to the pixel's own clearest looks, so that bright tailings and turbid water,
    # whose blue moves with moisture and sediment, keep their looks
    hazy = blue > 1.1 * low_blue + 0.02
    # water is dark in NIR and SWIR in every look: never a missed shadow
    water = (green - swir) / np.maximum(green + swir, 1e-3) > 0.1
    shadowed = (nir < 0.75 * med_nir) & (swir < 0.75 * med_swir) & ~water
    drop = (hazy | shadowed) & (n_obs >= 3)[None]
    # with two looks a median is their mean: keep the clearer one (lower blue) unless it is
    # the darker one in NIR and SWIR too, which is what a missed shadow looks like
    two = n_obs == 2
    if two.any():
        b = np.where(np.isnan(blue), np.inf, blue)
        first = np.argmin(b, axis=0)
        other_blue = np.where(np.isnan(blue), -np.inf, blue).max(axis=0)
        best_blue = np.take_along_axis(b, first[None], 0)[0]
        hazier = two & (other_blue > best_blue + 0.01)
        t_idx = np.arange(refl.shape[0])[:, None, None]
        drop |= hazier[None] & ~np.isnan(blue) & (t_idx != first[None])
    refl = refl.copy()
    refl[np.broadcast_to(drop[:, None], refl.shape)] = np.nan
    return refl, np.sum(~np.isnan(refl[:, 1]), axis=0).astype(np.uint8)


def _fuse(dn: np.ndarray, scl: np.ndarray, harmonize: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median reflectance and clear count of a strip of scenes (T, 12, h, w)."""
    t, _, h, w = dn.shape
    refl = dn.astype(np.float32)
    valid = dn.min(axis=1) > 0
    refl[harmonize] = np.maximum(refl[harmonize] - HARMONIZE_OFFSET, 1.0)
    refl /= SCALE
    clear = valid & ~np.isin(scl, list(SCL_DROP))
    # a cloud the mask missed is far brighter in blue than the ground it hides: a bright look
    # goes when the same pixel has a much darker one (salt, limestone and tailings stay)
    blue = np.where(clear, refl[:, 1], np.inf)
    clear &= ~((refl[:, 1] > 0.3) & (blue.min(axis=0)[None] < 0.7 * refl[:, 1]))
    refl[np.broadcast_to(~clear[:, None], refl.shape)] = np.nan
    count = clear.sum(axis=0).astype(np.uint8)
    # all-NaN pixels stay NaN; errstate, unlike catch_warnings, is safe across threads
    with np.errstate(invalid="ignore", divide="ignore"):
        if t >= 3:
            refl, count = _screen_missed_clouds(refl)
        return nan_quantile(refl, 0.5), count


def _data_window(dn: np.ndarray) -> tuple[int, int, slice]:
    """First and last+1 row, and the columns, of the smallest window holding every pixel that
    some look has data for: outside it every pixel is NaN with no clear look, nothing to fuse
    (a group reaching past its scenes' edge, a ring beyond the imagery)."""
    rows, cols = mask_window((dn[:, 0] > 0).any(axis=0))
    return rows.start, rows.stop, cols


def median_composite(
    stack: SceneStack,
    grid: Grid,
    name: str,
    year: int,
    source_key: str = "",
    threads: int = 1,
) -> Composite:
    """Harmonize each scene, drop what SCL calls cloud, shadow, snow or nodata, take the
    median; row strips on ``threads`` threads (numpy's sorts and arithmetic free the GIL)."""
    t, _, h, w = stack.dn.shape
    med = np.full((12, h, w), np.nan, np.float32)
    clear = np.zeros((h, w), np.uint8)
    harmonize = np.array([item_baseline(it) >= HARMONIZE_BASELINE for it in stack.items], bool)

    top, bottom, cols = _data_window(stack.dn)
    rows_per_strip = int(
        np.clip(_STRIP_BYTES // max(1, t * 12 * (cols.stop - cols.start) * 4), 8, 256)
    )

    def fuse_strip(r0: int) -> None:
        rows = slice(r0, min(bottom, r0 + rows_per_strip))
        med[:, rows, cols], clear[rows, cols] = _fuse(
            stack.dn[:, :, rows, cols], stack.scl[:, rows, cols], harmonize
        )

    strips = range(top, bottom, rows_per_strip)
    if threads > 1 and len(strips) > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(fuse_strip, strips))
    else:
        for r0 in strips:
            fuse_strip(r0)
    return Composite(
        name=name,
        year=year,
        reflectance=med,
        clear=clear,
        grid=grid,
        items_used=tuple(it.id for it in stack.items),
        items_skipped=tuple(stack.skipped),
        baselines=tuple(str(it.properties.get("s2:processing_baseline", "")) for it in stack.items),
        source_key=source_key,
    )


def season_items(source: ItemSource, grid: Grid, year: int, params: CompositeParams) -> list:
    """The items of ``params``' season of ``year`` over ``grid``."""
    return source.search(
        SeasonQuery(
            bbox=grid.lonlat_bounds(),
            year=year,
            months=params.months,
            max_cloud_cover=params.max_cloud_cover,
        )
    )


def build_composite(
    source: ItemSource,
    grid: Grid,
    year: int,
    params: CompositeParams,
    *,
    name: str = "",
    threads: int = 2,
    loaded: LoadedScenes | None = None,
    items: list | None = None,
) -> Composite:
    """Search, load and fuse one year on ``grid``: the orchestrator of the phases. With
    ``loaded`` (scenes of this grid read before), only new items are read; with ``items``
    (the season's, searched already), no search."""
    items = season_items(source, grid, year, params) if items is None else items
    log.debug("%s %d: %d items", name, year, len(items))
    if loaded is None:
        stack = load_scenes(items, grid.geobox(), signer=source.signer, threads=threads)
    else:
        stack = loaded.load(items, signer=source.signer, threads=threads)
    return median_composite(stack, grid, name, year, source.key, threads)


def site_composite(
    source: ItemSource,
    site_id: str,
    geometry,
    year: int,
    params: CompositeParams,
    *,
    threads: int = 2,
) -> Composite:
    """One site's composite on its own buffered grid."""
    from monitor.geo import site_grid

    grid = site_grid(geometry, params.buffer_m)
    return build_composite(source, grid, year, params, name=site_id, threads=threads)
