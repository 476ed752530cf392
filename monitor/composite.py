"""Yearly composites of a site: search, load (odc-stac), harmonize, cloud-mask, median.

The phases pass small typed objects: :class:`SeasonQuery` to the source, a list of items to
:func:`load_scenes`, a :class:`SceneStack` to :func:`median_composite`, and a
:class:`Composite` out. Loading is where the time goes; everything after it is numpy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pystac
import rasterio
from affine import Affine
from odc.geo.geobox import GeoBox
from pyproj import CRS, Transformer
from rasterio.errors import NotGeoreferencedWarning
from shapely.geometry import base as shapely_base
from shapely.ops import transform as shp_transform

from monitor.bands import BANDS, HARMONIZE_BASELINE, HARMONIZE_OFFSET, SCALE, SCL_DROP
from monitor.config import Config
from monitor.source import ItemSource, SeasonQuery, item_baseline, unique_ids

__all__ = [
    "CompositeParams",
    "Composite",
    "SceneStack",
    "utm_crs",
    "site_geobox",
    "load_scenes",
    "median_composite",
    "build_composite",
    "CompositeCache",
    "cached_composite",
    "write_cog",
]

log = logging.getLogger(__name__)
RESOLUTION = 10.0


@dataclass(frozen=True)
class CompositeParams:
    """Everything that changes a composite's pixels (and so its cache key)."""

    months: tuple[int, ...]
    """Season months."""
    max_cloud_cover: float
    """eo:cloud_cover prefilter (percent)."""
    buffer_m: float
    """Buffer around the site."""

    @classmethod
    def from_config(cls, cfg: Config) -> CompositeParams:
        c = cfg.composite
        return cls(
            months=tuple(c.season_months),
            max_cloud_cover=c.max_cloud_cover,
            buffer_m=c.site_buffer_m,
        )

    def key(self, source_key: str, geometry_wkb: bytes) -> str:
        blob = json.dumps([source_key, list(self.months), self.max_cloud_cover, self.buffer_m, 3])
        return hashlib.sha1(blob.encode() + geometry_wkb).hexdigest()[:16]


@dataclass(frozen=True)
class Composite:
    """One site-year's median composite on the site's 10 m UTM grid."""

    site_id: str
    """Site the composite is of."""
    year: int
    """Calendar year."""
    reflectance: np.ndarray = field(repr=False)
    """(12, H, W) float32 surface reflectance, band order of BANDS; NaN where never clear."""
    clear: np.ndarray = field(repr=False)
    """(H, W) uint8 count of clear observations per pixel."""
    crs: str
    """CRS of the grid (the site's UTM zone), as 'EPSG:nnnnn'."""
    transform: Affine
    """Affine transform of the grid."""
    items_used: tuple[str, ...] = ()
    """Ids of the STAC items that went in."""
    items_skipped: tuple[tuple[str, str], ...] = ()
    """(id, reason) of items that could not be read."""
    baselines: tuple[str, ...] = ()
    """Processing baselines of the items used (e.g. '02.12', '05.10')."""
    source_key: str = ""
    """The source the items came from."""

    @property
    def shape(self) -> tuple[int, int]:
        return self.clear.shape

    @property
    def pixel_area_ha(self) -> float:
        return abs(self.transform.a * self.transform.e) / 1e4


@dataclass
class SceneStack:
    """Loaded scenes of one site-year, not yet fused."""

    dn: np.ndarray
    """(T, 12, H, W) uint16 DNs as stored (nodata 0)."""
    scl: np.ndarray
    """(T, H, W) uint8 scene classification."""
    items: list[pystac.Item]
    """The items of the T slices, in order."""
    geobox: GeoBox
    """The grid."""
    skipped: list[tuple[str, str]]
    """(id, reason) of items that failed to load."""


def utm_crs(lon: float, lat: float) -> CRS:
    """The WGS 84 / UTM zone CRS that holds (lon, lat)."""
    zone = int(math.floor((lon + 180) / 6)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def site_geobox(geometry: shapely_base.BaseGeometry, buffer_m: float) -> tuple[GeoBox, tuple]:
    """The site's 10 m grid in its own UTM zone, and the lon/lat bbox to search with."""
    c = geometry.centroid
    crs = utm_crs(c.x, c.y)
    fwd = Transformer.from_crs(4326, crs, always_xy=True)
    inv = Transformer.from_crs(crs, 4326, always_xy=True)
    local = shp_transform(fwd.transform, geometry).buffer(buffer_m)
    x0, y0, x1, y1 = local.bounds
    x0, y0 = math.floor(x0 / RESOLUTION) * RESOLUTION, math.floor(y0 / RESOLUTION) * RESOLUTION
    x1, y1 = math.ceil(x1 / RESOLUTION) * RESOLUTION, math.ceil(y1 / RESOLUTION) * RESOLUTION
    width, height = int(round((x1 - x0) / RESOLUTION)), int(round((y1 - y0) / RESOLUTION))
    gbox = GeoBox((height, width), Affine(RESOLUTION, 0, x0, 0, -RESOLUTION, y1), crs)
    lonlat = shp_transform(inv.transform, local)
    return gbox, lonlat.bounds


def _load(items: Sequence[pystac.Item], geobox: GeoBox, signer, threads: int):
    import odc.stac

    with warnings.catch_warnings():
        # odc-stac warps in-memory arrays that carry no geotransform of their own
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return odc.stac.load(
            items,
            bands=[*BANDS, "SCL"],
            geobox=geobox,
            groupby="id",  # never fuse two items before each is harmonized
            dtype="uint16",
            nodata=0,
            resampling="nearest",
            pool=threads,
            patch_url=signer,
            preserve_original_order=True,
            fail_on_error=True,
        )


def _is_auth_error(exc: Exception) -> bool:
    text = str(exc)
    return "403" in text or "Forbidden" in text or "AuthenticationFailed" in text


def load_scenes(
    items: Sequence[pystac.Item], geobox: GeoBox, *, signer=None, threads: int = 2
) -> SceneStack:
    """Load items onto ``geobox``; unreadable items are skipped and reported, not fatal."""
    items = sorted(unique_ids(items), key=lambda it: (it.datetime, it.id))
    skipped: list[tuple[str, str]] = []
    if not items:
        return _stack(None, [], geobox, skipped)
    try:
        ds = _load_with_resign(items, geobox, signer, threads)
        return _stack(ds, items, geobox, skipped)
    except Exception as exc:
        log.info("a scene failed to load (%s); isolating it", _short(exc))
    good: list[pystac.Item] = []

    def probe(it: pystac.Item):
        try:
            _load_with_resign([it], geobox, signer, 1)
            return it, None
        except Exception as exc:  # any read failure: skip the scene, keep the year
            return it, _short(exc)

    # one at a time: this is the rare path, and warning filters are process-global
    for it, err in map(probe, items):
        if err is None:
            good.append(it)
        else:
            log.warning("skipped scene %s: %s", it.id, err)
            skipped.append((it.id, err))
    ds = _load_with_resign(good, geobox, signer, threads) if good else None
    return _stack(ds, good, geobox, skipped)


def _load_with_resign(items, geobox, signer, threads):
    try:
        return _load(items, geobox, signer, threads)
    except Exception as exc:
        refresh = getattr(signer, "refresh", None)
        if signer is None or not _is_auth_error(exc) or refresh is None:
            raise
        log.info("asset read refused (expired token?); signing again")
        refresh()
        return _load(items, geobox, signer, threads)


def _short(exc: Exception) -> str:
    return (
        f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
        if str(exc)
        else exc.__class__.__name__
    )


def _stack(ds, items, geobox, skipped) -> SceneStack:
    h, w = geobox.shape
    if ds is None or not items:
        return SceneStack(
            np.zeros((0, 12, h, w), np.uint16), np.zeros((0, h, w), np.uint8), [], geobox, skipped
        )
    dn = np.stack([ds[b].values for b in BANDS], axis=1)
    scl = ds["SCL"].values.astype(np.uint8)
    return SceneStack(dn=dn, scl=scl, items=list(items), geobox=geobox, skipped=skipped)


def median_composite(stack: SceneStack, site_id: str, year: int, source_key: str = "") -> Composite:
    """Harmonize each scene, drop what SCL calls cloud, shadow, snow or nodata, take the median."""
    t, _, h, w = stack.dn.shape
    refl = np.full((t, 12, h, w), np.nan, np.float32)
    clear_any = np.zeros((h, w), np.uint8)
    for k, item in enumerate(stack.items):
        dn = stack.dn[k].astype(np.float32)
        valid = stack.dn[k].min(axis=0) > 0
        if item_baseline(item) >= HARMONIZE_BASELINE:
            dn = np.maximum(dn - HARMONIZE_OFFSET, 1.0)
        clear = valid & ~np.isin(stack.scl[k], list(SCL_DROP))
        r = dn / SCALE
        # a cloud the mask missed is far brighter in blue than anything on the ground
        clear &= r[1] < 0.3
        refl[k][:, clear] = r[:, clear]
        clear_any += clear
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
        if t >= 3:
            refl, clear_any = _screen_missed_clouds(refl)
        med = nan_quantile(refl, 0.5) if t else np.full((12, h, w), np.nan, np.float32)
    gb = stack.geobox
    return Composite(
        site_id=site_id,
        year=year,
        reflectance=med.astype(np.float32),
        clear=clear_any,
        crs=str(gb.crs),
        transform=gb.transform,
        items_used=tuple(it.id for it in stack.items),
        items_skipped=tuple(stack.skipped),
        baselines=tuple(str(it.properties.get("s2:processing_baseline", "")) for it in stack.items),
        source_key=source_key,
    )


def nan_quantile(stack: np.ndarray, q: float) -> np.ndarray:
    """Quantile along axis 0 ignoring NaN (linear interpolation, as numpy's); NaN where all
    are NaN. Sorting once beats np.nanpercentile/nanmedian by ~20x on short time axes."""
    srt = np.sort(stack, axis=0)  # NaN sort last
    n = np.sum(~np.isnan(stack), axis=0)
    pos = np.clip(q * (n - 1), 0, None)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
    a = np.take_along_axis(srt, lo[None], 0)[0]
    b = np.take_along_axis(srt, hi[None], 0)[0]
    out = a + (b - a) * (pos - lo)
    return np.where(n > 0, out, np.nan).astype(stack.dtype)


def _screen_missed_clouds(refl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop looks that SCL called clear but that are hazier or darker than the pixel's own
    other looks: missed cloud edges and cirrus brighten the blue band, missed shadows darken
    every band. Ground changes within one season rarely do either (phenology moves NIR and
    SWIR, not blue), so this removes almost only what the mask missed."""
    blue, nir, swir = refl[:, 1], refl[:, 7], refl[:, 10]
    n_obs = np.sum(~np.isnan(blue), axis=0)
    low_blue = nan_quantile(blue, 0.25)
    med_nir, med_swir = nan_quantile(nir, 0.5), nan_quantile(swir, 0.5)
    hazy = blue > low_blue + 0.025
    shadowed = (nir < 0.75 * med_nir) & (swir < 0.75 * med_swir)
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


def build_composite(
    source: ItemSource,
    site_id: str,
    geometry: shapely_base.BaseGeometry,
    year: int,
    params: CompositeParams,
    *,
    threads: int = 2,
) -> Composite:
    """Search, load and fuse one site-year."""
    geobox, bbox = site_geobox(geometry, params.buffer_m)
    query = SeasonQuery(
        bbox=bbox, year=year, months=params.months, max_cloud_cover=params.max_cloud_cover
    )
    items = source.search(query)
    log.debug("%s %d: %d items", site_id, year, len(items))
    stack = load_scenes(items, geobox, signer=source.signer, threads=threads)
    return median_composite(stack, site_id, year, source.key)


# -- files ----------------------------------------------------------------------------------
def _to_dn(reflectance: np.ndarray) -> np.ndarray:
    dn = np.round(np.nan_to_num(reflectance, nan=0.0) * SCALE)
    dn = np.clip(dn, 0, 65535).astype(np.uint16)
    dn[:, np.isnan(reflectance).any(axis=0)] = 0
    return dn


def write_cog(composite: Composite, path: Path) -> Path:
    """The contract's 12-band COG: reflectance x 10000 as uint16, nodata 0, band names."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dn = _to_dn(composite.reflectance)
    h, w = composite.shape
    tmp = path.with_name(path.name + ".partial")
    with rasterio.open(
        tmp, "w", driver="COG", width=w, height=h, count=12, dtype="uint16", nodata=0,
        crs=composite.crs, transform=composite.transform, compress="deflate", predictor=2,
        blocksize=256, overview_resampling="average",
    ) as dst:  # fmt: skip
        dst.write(dn)
        for i, name in enumerate(BANDS, 1):
            dst.set_band_description(i, name)
        dst.update_tags(
            site_id=composite.site_id, year=str(composite.year), items=",".join(composite.items_used),
            scale="0.0001", units="surface reflectance x 10000 (harmonized)",
        )  # fmt: skip
    tmp.replace(path)
    return path


class CompositeCache:
    """Composites on disk, keyed by site, year, source and parameters, so nothing reloads."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, site_id: str, year: int, key: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in site_id)
        return self.folder / safe / f"{year}-{key}.tif"

    def get(self, site_id: str, year: int, key: str) -> Composite | None:
        path = self.path(site_id, year, key)
        if not path.exists():
            return None
        try:
            with rasterio.open(path) as src:
                data = src.read()
                meta = json.loads(src.tags()["provenance"])
                crs, transform = src.crs.to_string(), src.transform
        except Exception as exc:  # a torn or foreign file: rebuild it
            log.warning("ignoring unreadable cache file %s (%s)", path, exc)
            return None
        refl = data[:12].astype(np.float32) / SCALE
        refl[:, data[:12].min(axis=0) == 0] = np.nan
        return Composite(
            site_id=site_id, year=year, reflectance=refl, clear=data[12].astype(np.uint8), crs=crs,
            transform=transform, items_used=tuple(meta["items_used"]),
            items_skipped=tuple(tuple(x) for x in meta["items_skipped"]),
            baselines=tuple(meta["baselines"]), source_key=meta["source_key"],
        )  # fmt: skip

    def put(self, composite: Composite, key: str) -> Path:
        path = self.path(composite.site_id, composite.year, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        h, w = composite.shape
        data = np.concatenate(
            [_to_dn(composite.reflectance), composite.clear[None].astype(np.uint16)]
        )
        meta = {
            "items_used": list(composite.items_used),
            "items_skipped": [list(x) for x in composite.items_skipped],
            "baselines": list(composite.baselines),
            "source_key": composite.source_key,
        }
        with rasterio.open(
            tmp, "w", driver="GTiff", width=w, height=h, count=13, dtype="uint16", crs=composite.crs,
            transform=composite.transform, compress="deflate", predictor=2, tiled=True,
        ) as dst:  # fmt: skip
            dst.write(data)
            dst.update_tags(provenance=json.dumps(meta))
            for i, name in enumerate([*BANDS, "clear_count"], 1):
                dst.set_band_description(i, name)
        tmp.replace(path)  # atomic: a killed run never leaves a torn cache file
        return path


def cached_composite(
    source: ItemSource,
    cache: CompositeCache,
    site_id: str,
    geometry: shapely_base.BaseGeometry,
    year: int,
    params: CompositeParams,
    *,
    threads: int = 2,
) -> tuple[Composite, str]:
    """The composite from the cache, or built from imagery and cached; and its cache key."""
    key = params.key(source.key, geometry.wkb)
    comp = cache.get(site_id, year, key)
    if comp is None:
        comp = build_composite(source, site_id, geometry, year, params, threads=threads)
        cache.put(comp, key)
    return comp, key
