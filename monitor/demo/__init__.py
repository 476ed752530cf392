"""`monitor demo`: the demo world, a static STAC catalog of simulated Sentinel-2 L2A scenes
laid out like Planetary Computer's `sentinel-2-l2a`, with sites and ground truth beside it.

Layout of the output folder::

    catalog.json                          root catalog
    sentinel-2-l2a/collection.json        the collection
    sentinel-2-l2a/<item id>/<item id>.json and its 13 COG assets
    sites.geojson                         registered sites (concession polygons, EPSG:4326)
    truth/truth.json                      per site: trajectory, expected status, area per year
    truth/<biome>/mine_<year>.tif         reference mine masks of each biome's main world
    training/labels.geojson               labelled polygons (mine / background, and the kind of
                                          each look-alike) of every biome's training region
    training/<biome>/mine_<year>.tif      each training region's reference mask

One main world and one training region per biome (``biomes``); a biome's worlds are the same
whichever other biomes are built beside them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
import rasterio.features
from affine import Affine
from pyproj import Transformer
from shapely.geometry import Polygon, mapping, shape
from shapely.ops import transform as shp_transform

from monitor.bands import BAND_RESOLUTION, BANDS
from monitor.config import last_complete_year
from monitor.demo.biomes import BIOMES
from monitor.demo.scenes import Acquisition, render, schedule, sun_angles
from monitor.demo.world import TRAJECTORIES, World, make_world
from monitor.errors import MonitorError

__all__ = ["build_demo", "DemoWorld", "TRAINING_YEAR", "DEFAULT_SEASON", "BIOMES"]

log = logging.getLogger(__name__)

COLLECTION = "sentinel-2-l2a"
DEFAULT_SEASON = (5, 6, 7, 8, 9)
TRAINING_YEAR = 2021
#: Years the training regions are imaged and labelled in (those inside the record).
TRAINING_YEARS = (2021, 2024)
_BAND_TITLES = {
    "B01": "Band 1 - Coastal aerosol", "B02": "Band 2 - Blue", "B03": "Band 3 - Green",
    "B04": "Band 4 - Red", "B05": "Band 5 - Vegetation red edge 1",
    "B06": "Band 6 - Vegetation red edge 2", "B07": "Band 7 - Vegetation red edge 3",
    "B08": "Band 8 - NIR", "B8A": "Band 8A - Vegetation red edge 4", "B09": "Band 9 - Water vapor",
    "B11": "Band 11 - SWIR (1.6)", "B12": "Band 12 - SWIR (2.2)",
}  # fmt: skip
_COMMON = {
    "B02": "blue",
    "B03": "green",
    "B04": "red",
    "B08": "nir",
    "B11": "swir16",
    "B12": "swir22",
}
_COG = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass(frozen=True)
class DemoWorld:
    """Where a built demo world lies."""

    root: Path
    """The demo folder."""
    catalog: Path
    """Its catalog.json."""
    sites: Path
    """Its sites.geojson."""
    truth: Path
    """Its truth/truth.json."""
    labels: Path
    """The training region's labels.geojson."""
    items: int
    """Number of STAC items written."""


# -- workers --------------------------------------------------------------------------------
_WORLDS: dict[str, World] = {}


def _init_worker(specs: dict[str, dict]) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name, kw in specs.items():
        _WORLDS[name] = make_world(**kw)


def _write_item(args: tuple[str, Acquisition, str]) -> dict:
    world_name, acq, coll_dir = args
    world = _WORLDS[world_name]
    rendered = render(world, acq)
    item = _item_dict(world, acq, rendered)
    folder = Path(coll_dir) / item["id"]
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"T{world.mgrs_tile}_{acq.date:%Y%m%d}T{_overpass(world)}"
    x0, y0 = world.origin
    for name in (*BANDS, "SCL"):
        res = BAND_RESOLUTION[name]
        data = rendered.scl if name == "SCL" else rendered.dn[name]
        href = f"{stem}_{name}_{res}m.tif"
        profile = dict(
            driver="COG",
            width=data.shape[1],
            height=data.shape[0],
            count=1,
            dtype=data.dtype,
            crs=f"EPSG:{world.epsg}",
            transform=Affine(res, 0, x0, 0, -res, y0),
            nodata=0,
            compress="deflate",
            predictor=2,
            blocksize=256,
            overview_resampling="nearest" if name == "SCL" else "average",
        )
        with rasterio.open(folder / href, "w", **profile) as dst:
            dst.write(data, 1)
        asset = {
            "href": f"./{href}",
            "type": _COG,
            "title": _BAND_TITLES.get(name, "Scene classfication map (SCL)")
            + (f" - {res}m" if name != "SCL" else ""),
            "gsd": float(res),
            "proj:bbox": [x0, y0 - res * data.shape[0], x0 + res * data.shape[1], y0],
            "proj:shape": [data.shape[0], data.shape[1]],
            "proj:transform": [res, 0.0, x0, 0.0, -res, y0],
            "roles": ["data"],
        }
        if name != "SCL":
            band = {"name": name, "description": _BAND_TITLES[name].split(" - ")[1]}
            if name in _COMMON:
                band["common_name"] = _COMMON[name]
            asset["eo:bands"] = [band]
            asset["raster:bands"] = [{"nodata": 0, "data_type": "uint16", "scale": 0.0001}]
        else:
            asset["raster:bands"] = [{"nodata": 0, "data_type": "uint8"}]
        item["assets"][name] = asset
    (folder / f"{item['id']}.json").write_text(json.dumps(item, indent=1))
    return {"id": item["id"], "world": world_name, "date": acq.date.isoformat()}


def _overpass(world: World) -> str:
    """UTC time (HHMMSS) of Sentinel-2's 10:30 local solar overpass at the world's longitude."""
    lon, _ = _to_lonlat(world)(world.size / 2, world.size / 2)
    seconds = int(((10.5 - float(lon) / 15.0) % 24) * 3600)
    return f"{seconds // 3600:02d}{seconds % 3600 // 60:02d}{seconds % 60:02d}"


def _item_dict(world: World, acq: Acquisition, rendered) -> dict:
    hms = _overpass(world)
    t = Transformer.from_crs(world.epsg, 4326, always_xy=True)
    x0, y0 = world.origin
    # footprint: the valid part of the world, a quadrilateral like real tile footprints
    n = world.size
    top_right = int(np.nonzero(rendered.valid[0])[0].max()) + 1
    bottom_right = int(np.nonzero(rendered.valid[-1])[0].max()) + 1
    ring = [
        (x0, y0),
        (x0 + top_right * 10, y0),
        (x0 + bottom_right * 10, y0 - n * 10),
        (x0, y0 - n * 10),
        (x0, y0),
    ]
    lonlat = shp_transform(lambda x, y: t.transform(x, y), Polygon(ring))
    proc = dt.datetime.combine(acq.date + dt.timedelta(days=2), dt.time(11, 24, 40))
    sat = "S2A" if acq.platform.endswith("A") else "S2B"
    item_id = (
        f"{sat}_MSIL2A_{acq.date:%Y%m%d}T{hms}_R{acq.relative_orbit:03d}"
        f"_T{world.mgrs_tile}_{proc:%Y%m%dT%H%M%S}"
    )
    zen, azi = sun_angles(acq.date, float(lonlat.centroid.y))
    baseline = acq.baseline
    props = {
        "datetime": f"{acq.date.isoformat()}T{hms[:2]}:{hms[2:4]}:{hms[4:]}.024000Z",
        "platform": acq.platform,
        "proj:epsg": world.epsg,
        "instruments": ["msi"],
        "s2:mgrs_tile": world.mgrs_tile,
        "constellation": "Sentinel 2",
        "s2:granule_id": f"{sat}_OPER_MSI_L2A_TL_ESRI_{proc:%Y%m%dT%H%M%S}_N{baseline}",
        "s2:datatake_id": f"G{sat}_{acq.date:%Y%m%d}T{hms}_N{baseline}",
        "s2:datastrip_id": (
            f"{sat}_OPER_MSI_L2A_DS_ESRI_{proc:%Y%m%dT%H%M%S}_S{acq.date:%Y%m%d}T{hms}_N{baseline}"
        ),
        "s2:product_uri": f"{sat}_MSIL2A_{acq.date:%Y%m%d}T{hms}_N{baseline.replace('.', '')}"
        f"_R{acq.relative_orbit:03d}_T{world.mgrs_tile}_{proc:%Y%m%dT%H%M%S}.SAFE",
        "s2:product_type": "S2MSI2A",
        "sat:orbit_state": "descending",
        "s2:datatake_type": "INS-NOBS",
        "s2:generation_time": f"{proc.isoformat()}.000Z",
        "sat:relative_orbit": acq.relative_orbit,
        "s2:mean_solar_zenith": zen,
        "s2:mean_solar_azimuth": azi,
        "s2:processing_baseline": baseline,
        "s2:degraded_msi_data_percentage": 0.0,
        "s2:reflectance_conversion_factor": 1.0,
        **rendered.stats,
    }
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "properties": props,
        "geometry": mapping(lonlat),
        "links": [
            {"rel": "collection", "href": "../collection.json", "type": "application/json"},
            {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
        ],
        "assets": {},
        "bbox": list(lonlat.bounds),
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.0.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
        ],
        "collection": COLLECTION,
    }


# -- truth ----------------------------------------------------------------------------------
def _grid(world: World) -> Affine:
    x0, y0 = world.origin
    return Affine(10, 0, x0, 0, -10, y0)


def _write_mask(path: Path, world: World, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=world.size,
        height=world.size,
        count=1,
        dtype="uint8",
        crs=f"EPSG:{world.epsg}",
        transform=_grid(world),
        nodata=255,
        compress="deflate",
        blocksize=256,
    ) as dst:
        dst.write(mask.astype(np.uint8), 1)
        dst.update_tags(1, values="1=mine 0=background")


def _to_lonlat(world: World):
    t = Transformer.from_crs(world.epsg, 4326, always_xy=True)
    x0, y0 = world.origin
    return lambda c, r: t.transform(x0 + np.asarray(c) * 10, y0 - np.asarray(r) * 10)


def _site_features(world: World) -> list[dict]:
    to_ll = _to_lonlat(world)
    feats = []
    for s in world.sites:
        poly = shp_transform(lambda c, r: to_ll(c, r), Polygon(s["ring"]))
        feats.append(
            {
                "type": "Feature",
                "properties": {"site_id": s["site_id"], "name": s["name"]},
                "geometry": mapping(poly),
            }
        )
    return feats


def _truth(world: World, years: range, truth_dir: Path) -> dict:
    """Reference masks of every year, and per site its trajectory and area per year."""
    x0, y0 = world.origin
    site_masks = {
        s["site_id"]: rasterio.features.geometry_mask(
            [Polygon([(x0 + c * 10, y0 - r * 10) for c, r in s["ring"]])],
            (world.size, world.size),
            _grid(world),
            invert=True,
        )
        for s in world.sites
    }
    area: dict[str, dict[int, float]] = {s["site_id"]: {} for s in world.sites}
    masks = {}
    for year in years:
        _, _, mask = world.mine_layers(year)
        masks[year] = f"{world.biome.name}/mine_{year}.tif"
        _write_mask(truth_dir / masks[year], world, mask)
        for sid, sm in site_masks.items():
            area[sid][year] = round(float((mask & sm).sum()) * 0.01, 2)
    mines = {m.mine_id: m for m in world.mines}
    sites = []
    for s in world.sites:
        series = area[s["site_id"]]
        opened = next((y for y in years if series[y] >= 1.0), None)
        mine = mines.get(s["mine_id"]) if s["mine_id"] else None
        sites.append(
            {
                "site_id": s["site_id"],
                "name": s["name"],
                "biome": world.biome.name,
                "trajectory": s["kind"],
                "expected_status": TRAJECTORIES[s["kind"]],
                "mine_kind": mine.kind if mine else None,
                "opened_year": opened,
                "opened_in_record": bool(mine and mine.start > years.start),
                "growth_stopped_after": mine.stop if mine else None,
                "revegetation_from": mine.reveg_start if mine else None,
                "area_ha": {str(y): series[y] for y in years},
            }
        )
    unregistered = [
        {
            "mine_id": m.mine_id,
            "kind": m.kind,
            "column": m.cx,
            "row": m.cy,
            "start": m.start,
            "lon_lat": list(_to_lonlat(world)(m.cx, m.cy)),
        }
        for m in world.mines
        if m.mine_id.split("-")[-1].startswith("U")
    ]
    world_info = {
        "biome": world.biome.name,
        "seed": world.seed,
        "crs": f"EPSG:{world.epsg}",
        "mgrs_tile": world.mgrs_tile,
        "masks": masks,
    }
    return {"world": world_info, "sites": sites, "unregistered_mines": unregistered}


def _shapes(mask: np.ndarray, world: World, values: np.ndarray | None = None):
    """Polygons (EPSG:4326) of a mask's connected parts, with the value of each part."""
    t = Transformer.from_crs(world.epsg, 4326, always_xy=True)
    src = (values if values is not None else mask).astype(np.int32)
    for geom, value in rasterio.features.shapes(src, mask=mask, transform=_grid(world)):
        yield shp_transform(lambda x, y: t.transform(x, y), shape(geom)), int(value)


def _labels(world: World, year: int) -> list[dict]:
    """Labelled polygons as a user would draw them: every mine of the year, every look-alike
    by its kind, and about half of the plain land in 400 m squares; a 30 m gap around mines."""
    from scipy import ndimage

    from monitor.demo.land import KINDS

    _, _, mask = world.mine_layers(year)
    doy = int(np.mean([m * 30.4 - 15 for m in world.biome.season]))
    kinds = world.kinds_on(year, doy)
    near = ndimage.binary_dilation(mask, iterations=3)
    rng = np.random.default_rng([world.seed, year, 5])
    plain = np.isin(kinds, [KINDS.index("land"), KINDS.index("forest")])
    tiles = (np.arange(world.size)[:, None] // 40) * 1000 + (np.arange(world.size)[None, :] // 40)
    chosen = rng.random(tiles.max() + 1) < 0.5
    background = ~near & (~plain | chosen[tiles])
    values = np.where(plain, 1000 + tiles, kinds)  # one polygon per plain square
    feats = []
    props = {"biome": world.biome.name, "year": year}
    for poly, _ in _shapes(mask, world):
        feats.append(
            {
                "type": "Feature",
                "properties": {"label": "mine", "kind": "mine", **props},
                "geometry": mapping(poly),
            }
        )
    for poly, value in _shapes(background, world, values):
        kind = "land" if value >= 1000 else KINDS[value]
        feats.append(
            {
                "type": "Feature",
                "properties": {"label": "background", "kind": kind, **props},
                "geometry": mapping(poly),
            }
        )
    return feats


def _collection(items: list[dict], extent_bbox: list[float], years: range) -> dict:
    item_assets = {
        b: {"title": _BAND_TITLES[b], "type": _COG, "roles": ["data"], "gsd": BAND_RESOLUTION[b],
            "eo:bands": [{"name": b}]}
        for b in BANDS
    }  # fmt: skip
    item_assets["SCL"] = {
        "title": "Scene classfication map (SCL)",
        "type": _COG,
        "roles": ["data"],
        "gsd": 20,
    }
    return {
        "type": "Collection",
        "id": COLLECTION,
        "stac_version": "1.0.0",
        "description": "Simulated Sentinel-2 Level-2A scenes of the mine monitor's demo world "
        "(not real imagery); laid out as Planetary Computer's sentinel-2-l2a.",
        "license": "proprietary",
        "extent": {
            "spatial": {"bbox": [extent_bbox]},
            "temporal": {
                "interval": [
                    [f"{years.start}-01-01T00:00:00Z", f"{years.stop - 1}-12-31T23:59:59Z"]
                ]
            },
        },
        "item_assets": item_assets,
        "summaries": {"platform": ["Sentinel-2A", "Sentinel-2B"], "constellation": ["Sentinel 2"]},
        "links": [
            {"rel": "root", "href": "../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
            *[
                {
                    "rel": "item",
                    "href": f"./{it['id']}/{it['id']}.json",
                    "type": "application/geo+json",
                }
                for it in sorted(items, key=lambda i: i["id"])
            ],
        ],
        "stac_extensions": ["https://stac-extensions.github.io/item-assets/v1.0.0/schema.json"],
    }


MARKER = ".mine-monitor-demo"


def _check_replaceable(folder: Path) -> None:
    """Only an empty folder or a demo world this tool built may be replaced."""
    if not folder.exists():
        return
    if not folder.is_dir():
        raise MonitorError(f"{folder} exists and is not a folder; choose another --out")
    if (folder / MARKER).is_file() or not any(folder.iterdir()) or _is_old_demo(folder):
        return
    raise MonitorError(
        f"refusing to replace {folder}: it is not a demo world this tool built (no {MARKER} in "
        "it) and is not empty; choose another --out"
    )


def _is_old_demo(folder: Path) -> bool:
    """A demo world of an earlier version (before the marker): its catalog says so."""
    try:
        return json.loads((folder / "catalog.json").read_text()).get("id") == "mine-monitor-demo"
    except (OSError, ValueError):
        return False


def _world_specs(
    biomes: tuple[str, ...],
    seed: int,
    first: int,
    last: int,
    size: int,
    training_size: int,
    regions: int,
    training_spread: float = 1.0,
) -> dict[str, dict]:
    """Keyword arguments of every world to draw: a main world and ``regions`` training regions
    per biome. The first region shares the main world's materials (one region, one geology);
    further ones lie 15 km apart and see them a little differently. A biome's worlds do not
    depend on which other biomes are built beside them."""
    specs = {}
    for name in biomes:
        k = list(BIOMES).index(name)
        bio = BIOMES[name]
        specs[f"{name}/main"] = dict(
            seed=seed + 20_011 * k, biome=name, size=size, first_year=first, last_year=last
        )
        for r in range(regions):
            x0, y0 = bio.training_origin
            specs[f"{name}/training{r}"] = dict(
                seed=seed + 1_000_003 * (r + 1) + 20_011 * k,
                biome=name,
                name=f"training{r}",
                size=training_size,
                first_year=first,
                last_year=last,
                training=True,
                spectra_seed=seed + 20_011 * k + 7_919 * r,
                spectra_spread=training_spread,
                origin=(x0 + 15_000 * r, y0),
            )
    return specs


def build_demo(
    out: Path,
    seed: int = 0,
    *,
    biomes: tuple[str, ...] = ("savanna",),
    first_year: int = 2016,
    last_year: int | None = None,
    size: int = 768,
    training_size: int = 1152,
    training_regions: int = 1,
    training_spread: float = 1.0,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> DemoWorld:
    """Build the demo world of ``biomes`` into ``out`` (replaced atomically when done).
    ``training_spread`` scales how far each training region's materials stray from the
    reference spectra (1: as far as any world's; more: a wider draw to train on)."""
    out = Path(out)
    last_year = last_year if last_year is not None else last_complete_year()
    years = range(first_year, last_year + 1)
    train_years = sorted({min(max(y, first_year), last_year) for y in TRAINING_YEARS})
    biomes = tuple(biomes)
    specs = _world_specs(
        biomes, seed, first_year, last_year, size, training_size, training_regions, training_spread
    )
    jobs = _scene_jobs(
        np.random.default_rng([seed, 1]), biomes, years, train_years, training_regions
    )

    _check_replaceable(out)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        _check_replaceable(tmp)
        shutil.rmtree(tmp)
    coll_dir = tmp / COLLECTION
    coll_dir.mkdir(parents=True)
    (tmp / MARKER).write_text("built by `monitor demo`; safe to delete\n")
    (tmp / "truth").mkdir()
    (tmp / "training").mkdir()

    items: list[dict] = []
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(specs,)
    ) as pool:
        for k, rec in enumerate(pool.map(_write_item, [(w, a, str(coll_dir)) for w, a in jobs]), 1):
            items.append(rec)
            if progress:
                progress(k, len(jobs))

    truth = {
        "seed": seed,
        "years": [first_year, last_year],
        "training_year": min(max(TRAINING_YEAR, first_year), last_year),
        "training_years": train_years,
    }
    bboxes = _write_answers(tmp, specs, biomes, years, train_years, training_regions, truth)
    _write_catalog(tmp, items, bboxes, years, f"seed {seed}, {', '.join(biomes)}")
    (tmp / "README.txt").write_text(
        f"Demo world of the mine monitor, seed {seed}, biomes {', '.join(biomes)}, "
        f"years {first_year}-{last_year}.\n"
        "Simulated imagery: not real Sentinel-2 data. See truth/ for the answers.\n"
    )
    if out.exists():
        _check_replaceable(out)
        shutil.rmtree(out)
    tmp.rename(out)
    return DemoWorld(
        root=out,
        catalog=out / "catalog.json",
        sites=out / "sites.geojson",
        truth=out / "truth" / "truth.json",
        labels=out / "training" / "labels.geojson",
        items=len(items),
    )


def _scene_jobs(rng, biomes, years: range, train_years, training_regions: int) -> list:
    """(world name, acquisition) of every scene: the main worlds over every year, the training
    regions over their label years."""
    jobs = []
    for name in biomes:
        bio = BIOMES[name]
        jobs += [(f"{name}/main", a) for a in schedule(rng, years, bio)]
        for r in range(training_regions):
            for ty in train_years:
                scenes = schedule(rng, range(ty, ty + 1), bio, False)
                jobs += [(f"{name}/training{r}", a) for a in scenes]
    return jobs


def _write_answers(tmp: Path, specs, biomes, years, train_years, regions: int, truth: dict):
    """Truth (masks, truth.json), training labels and masks, sites.geojson; returns the
    lon/lat boxes of every world."""
    truth |= {"worlds": [], "sites": [], "unregistered_mines": []}
    labels, site_feats, bboxes = [], [], []
    for name in biomes:
        main = make_world(**specs[f"{name}/main"])
        t = _truth(main, years, tmp / "truth")
        truth["worlds"].append(t["world"])
        truth["sites"] += t["sites"]
        truth["unregistered_mines"] += t["unregistered_mines"]
        site_feats += _site_features(main)
        training = [make_world(**specs[f"{name}/training{r}"]) for r in range(regions)]
        for r, region in enumerate(training):
            for ty in train_years:
                _, _, tmask = region.mine_layers(ty)
                suffix = "" if r == 0 else f"_{r}"
                _write_mask(tmp / "training" / name / f"mine_{ty}{suffix}.tif", region, tmask)
                labels += _labels(region, ty)
        for w in (main, *training):
            lon, lat = _to_lonlat(w)([0, w.size], [w.size, 0])
            bboxes.append([min(lon), min(lat), max(lon), max(lat)])
    (tmp / "truth" / "truth.json").write_text(json.dumps(truth, indent=1))
    (tmp / "training" / "labels.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": labels})
    )
    sites = {"type": "FeatureCollection", "features": site_feats}
    (tmp / "sites.geojson").write_text(json.dumps(sites, indent=1))
    return bboxes


def _write_catalog(tmp: Path, items: list[dict], bboxes, years: range, what: str) -> None:
    """collection.json and catalog.json, shaped like Planetary Computer's."""
    bbox = [
        min(b[0] for b in bboxes),
        min(b[1] for b in bboxes),
        max(b[2] for b in bboxes),
        max(b[3] for b in bboxes),
    ]
    coll_dir = tmp / COLLECTION
    (coll_dir / "collection.json").write_text(json.dumps(_collection(items, bbox, years), indent=1))
    catalog = {
        "type": "Catalog",
        "id": "mine-monitor-demo",
        "stac_version": "1.0.0",
        "description": f"Mine monitor demo world ({what}): simulated Sentinel-2 L2A.",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": "application/json"},
            {"rel": "child", "href": f"./{COLLECTION}/collection.json", "type": "application/json"},
        ],
    }
    (tmp / "catalog.json").write_text(json.dumps(catalog, indent=1))
