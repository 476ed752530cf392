"""The demo world's biomes: where each lies, its seasons, its clouds, its land and its mines.

Four landscapes the field works in, each with the mine types and look-alikes the seeds report:

* ``savanna`` — Highveld-type dry savanna (UTM 35S): benched coal/iron pits, strip coal, tailings
  dams; fields and pivots, sandy river beds, reservoirs, burn scars, rocky koppies.
* ``rainforest`` — Amazon-type humid forest (UTM 21S): alluvial/artisanal gold scars with pond
  chains along streams and a few industrial pits; heavy cloud with 2-4 usable looks a season,
  white-water rivers with sand bars, pasture, clear-cuts, burn scars, landslide scars.
* ``arid`` — Sonoran-type desert (UTM 12N, northern hemisphere): copper pits, tailings dams,
  sand and gravel quarries; playas, bright washes, rock slopes, irrigated pivots.
* ``temperate`` — Rhineland-type farmland (UTM 32N): open-cast lignite strips, wet gravel
  pits, limestone quarries; crop patchwork, forests with clear-cuts, villages, old
  flooded pits turned lakes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Biome", "BIOMES", "biome"]


@dataclass(frozen=True)
class Biome:
    """One landscape: placement, calendar, sky, land cover and the mines it holds."""

    name: str
    """Biome name (the `--biome` of `monitor demo`)."""
    code: str
    """Prefix of its site and mine ids ("" for the default savanna)."""
    epsg: int
    """UTM CRS of its worlds."""
    mgrs_tile: str
    """MGRS tile of the main world."""
    training_tile: str
    """MGRS tile of the training region."""
    origin: tuple[float, float]
    """Upper-left corner (x, y) of the main world in ``epsg``."""
    training_origin: tuple[float, float]
    """Upper-left corner of the training region."""
    season: tuple[int, ...]
    """Months of its clear season: the demo's in-season scenes fall in them."""
    scenes_per_year: tuple[int, int]
    """Range of in-season acquisitions per year (inclusive)."""
    cloud_beta: tuple[float, float]
    """Beta distribution of each in-season scene's cloud share."""
    cloud_scale: float
    """Smoothing (px) of the cloud field: large for frontal decks, small for cumulus."""
    green_doy: int
    """Day of year of peak greenness."""
    base: str
    """Base land cover: savanna, forest, desert or farmland."""
    mine_kinds: tuple[tuple[str, float], ...]
    """Mine types and their shares."""
    confusers: tuple[str, ...]
    """Look-alike painters used in confuser cells and scattered over the land."""
    burn_rate: float
    """Burn scars per km² per year."""
    clearcut_rate: float
    """Clear-cuts per km² per year."""


BIOMES: dict[str, Biome] = {
    "savanna": Biome(
        name="savanna", code="", epsg=32735, mgrs_tile="35JNM", training_tile="35JPM",
        origin=(699960.0, 7100020.0), training_origin=(759960.0, 7100020.0),
        season=(5, 6, 7, 8, 9), scenes_per_year=(5, 8), cloud_beta=(0.8, 3.0), cloud_scale=28.0,
        green_doy=30, base="savanna",
        mine_kinds=(("benched_pit", 0.5), ("strip_coal", 0.25), ("tailings_dam", 0.25)),
        confusers=("bare", "fields", "reservoir", "river_sand", "scarp", "industrial", "lake"),
        burn_rate=0.12, clearcut_rate=0.0,
    ),
    "rainforest": Biome(
        name="rainforest", code="RF-", epsg=32721, mgrs_tile="21MXS", training_tile="21MYS",
        origin=(600000.0, 9450000.0), training_origin=(660000.0, 9450000.0),
        season=(6, 7, 8, 9, 10), scenes_per_year=(7, 11), cloud_beta=(2.0, 2.6), cloud_scale=9.0,
        green_doy=60, base="forest",
        mine_kinds=(("alluvial", 0.8), ("benched_pit", 0.2)),
        confusers=("clearcut", "pasture", "river_sand", "scarp", "lake", "bare", "industrial"),
        burn_rate=0.06, clearcut_rate=0.10,
    ),
    "arid": Biome(
        name="arid", code="AR-", epsg=32612, mgrs_tile="12RWR", training_tile="12RXR",
        origin=(560000.0, 3440000.0), training_origin=(620000.0, 3440000.0),
        season=(3, 4, 5, 6, 10, 11), scenes_per_year=(6, 9), cloud_beta=(0.5, 6.0),
        cloud_scale=20.0, green_doy=240, base="desert",
        mine_kinds=(("benched_pit", 0.45), ("tailings_dam", 0.3), ("quarry", 0.25)),
        confusers=("playa", "wash", "scarp", "fields", "bare", "industrial", "reservoir"),
        burn_rate=0.0, clearcut_rate=0.0,
    ),
    "temperate": Biome(
        name="temperate", code="TE-", epsg=32632, mgrs_tile="32ULB", training_tile="32UMB",
        origin=(320000.0, 5660000.0), training_origin=(380000.0, 5660000.0),
        season=(4, 5, 6, 7, 8, 9), scenes_per_year=(6, 10), cloud_beta=(1.0, 2.2),
        cloud_scale=24.0, green_doy=175, base="farmland",
        mine_kinds=(("strip_coal", 0.35), ("quarry", 0.45), ("benched_pit", 0.2)),
        confusers=("fields", "clearcut", "pit_lake", "town", "industrial", "lake", "river_sand"),
        burn_rate=0.0, clearcut_rate=0.05,
    ),
}  # fmt: skip


def biome(name: str) -> Biome:
    """The biome of that name (ValueError names the known ones)."""
    try:
        return BIOMES[name]
    except KeyError:
        raise ValueError(f"unknown biome {name!r}; known: {', '.join(BIOMES)}") from None
