"""Composites on disk, so that reruns, reports, `composite`, `train` and `evaluate` never load
the same imagery twice. One file per (name, year, key): 12 bands as DNs plus the clear count,
provenance in a tag. The key is the one owner of what changes a composite: source, season,
cloud limit, buffer, geometry, and :data:`CACHE_VERSION`."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import rasterio

from monitor.bands import BANDS, SCALE
from monitor.geo import Grid
from monitor.imagery.cog import to_dn
from monitor.imagery.composite import Composite, site_composite
from monitor.imagery.source import ItemSource
from monitor.params import CACHE_VERSION, CompositeParams

__all__ = ["CompositeCache", "cache_for", "composite_key", "cached_composite", "safe_name"]

log = logging.getLogger(__name__)


def composite_key(source_key: str, params: CompositeParams, geometry_wkb: bytes) -> str:
    """The cache key of a composite."""
    blob = json.dumps(
        [source_key, list(params.months), params.max_cloud_cover, params.buffer_m, CACHE_VERSION]
    )
    return hashlib.sha1(blob.encode() + geometry_wkb).hexdigest()[:16]


def safe_name(name: str) -> str:
    """A file name made from any id: only letters, digits, '-', '_' and '.', never empty or a
    dot-name, at most 80 characters plus a hash of the whole id when anything was changed."""
    clean = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)[:80].lstrip(".")
    if clean != name or not clean:
        clean = f"{clean or 'id'}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"
    return clean


def quantized(composite: Composite) -> Composite:
    """The composite as the cache stores it (reflectance in steps of 1e-4): warm and cold
    runs see the very same numbers."""
    from dataclasses import replace

    dn = to_dn(composite.reflectance)
    refl = dn.astype(np.float32)
    refl /= SCALE
    refl[:, dn.min(axis=0) == 0] = np.nan
    return replace(composite, reflectance=refl)


class CompositeCache:
    """Composites on disk, keyed by name, year and :func:`composite_key`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, name: str, year: int, key: str) -> Path:
        return self.folder / safe_name(name) / f"{year}-{key}.tif"

    def get(self, name: str, year: int, key: str) -> Composite | None:
        """The cached composite, or None (also for a torn or foreign file: it is rebuilt)."""
        path = self.path(name, year, key)
        if not path.is_file():
            return None
        try:
            with rasterio.open(path) as src:
                data = src.read()
                meta = json.loads(src.tags()["provenance"])
                grid = Grid(
                    src.crs.to_string(), src.transform.c, src.transform.f, src.width, src.height
                )
            refl = data[:12].astype(np.float32) / SCALE
            refl[:, data[:12].min(axis=0) == 0] = np.nan
            return Composite(
                name=name,
                year=year,
                reflectance=refl,
                clear=data[12].astype(np.uint8),
                grid=grid,
                items_used=tuple(meta["items_used"]),
                items_skipped=tuple(tuple(x) for x in meta["items_skipped"]),
                baselines=tuple(meta["baselines"]),
                source_key=meta["source_key"],
            )
        except Exception as exc:
            log.warning("ignoring unreadable cache file %s (%s)", path, exc.__class__.__name__)
            return None

    def put(self, composite: Composite, key: str, dn: np.ndarray | None = None) -> Path:
        """Write atomically (temporary file, then rename): a killed run never leaves a torn
        or a stray partial file. ``dn``: the composite's DNs when the caller has them (a crop
        of its group's), ``to_dn`` of its reflectance."""
        path = self.path(composite.name, composite.year, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial")
        h, w = composite.shape
        dn = to_dn(composite.reflectance) if dn is None else dn
        data = np.concatenate([dn, composite.clear[None].astype(np.uint16)])
        meta = {
            "items_used": list(composite.items_used),
            "items_skipped": [list(x) for x in composite.items_skipped],
            "baselines": list(composite.baselines),
            "source_key": composite.source_key,
        }
        try:
            with rasterio.open(
                tmp,
                "w",
                driver="GTiff",
                width=w,
                height=h,
                count=13,
                dtype="uint16",
                crs=composite.crs,
                transform=composite.transform,
                # ZSTD at level 1 writes 3x faster than DEFLATE at the same size; 128 px
                # blocks, not 256, for site-sized files (QGIS and GDAL >= 2.3 read both)
                compress="zstd",
                zstd_level=1,
                predictor=2,
                tiled=True,
                blockxsize=128,
                blockysize=128,
            ) as dst:
                dst.write(data)
                dst.update_tags(provenance=json.dumps(meta))
                for i, band in enumerate([*BANDS, "clear_count"], 1):
                    dst.set_band_description(i, band)
            tmp.replace(path)
        finally:
            tmp.unlink(missing_ok=True)
        return path


def cache_for(cfg) -> CompositeCache | None:
    """The config's composite cache (None when `composite.cache` is null)."""
    return CompositeCache(cfg.cache_dir) if cfg.cache_dir else None


def cached_composite(
    source: ItemSource,
    cache: CompositeCache | None,
    name: str,
    geometry,
    year: int,
    params: CompositeParams,
    *,
    threads: int = 2,
) -> tuple[Composite, str]:
    """The composite of ``geometry``'s buffered grid from the cache, or built from imagery
    and cached; and its cache key."""
    key = composite_key(source.key, params, geometry.wkb)
    comp = cache.get(name, year, key) if cache is not None else None
    if comp is None:
        comp = quantized(site_composite(source, name, geometry, year, params, threads=threads))
        if cache is not None:
            cache.put(comp, key)
    return comp, key
