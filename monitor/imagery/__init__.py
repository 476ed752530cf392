"""The imagery stage, behind a small API: where scenes come from (a local static catalog, any
STAC API, Planetary Computer), how they load (odc-stac), how a year fuses into a composite,
and how composites are kept on disk. Everything that touches pixels from a STAC source lives
here, as odc-stac keeps its I/O in ``loader/``."""

from monitor.imagery.cache import (
    CompositeCache,
    cache_for,
    cached_composite,
    composite_key,
    quantized,
    safe_name,
)
from monitor.imagery.cog import write_cog
from monitor.imagery.composite import (
    Composite,
    build_composite,
    median_composite,
    season_items,
    site_composite,
)
from monitor.imagery.load import LoadedScenes, SceneStack, load_scenes
from monitor.imagery.source import (
    ItemSource,
    LocalCatalog,
    PlanetaryComputerSigner,
    SeasonQuery,
    Signer,
    StacApi,
    item_baseline,
    open_source,
)

__all__ = [
    "Composite",
    "CompositeCache",
    "ItemSource",
    "LoadedScenes",
    "LocalCatalog",
    "StacApi",
    "PlanetaryComputerSigner",
    "SceneStack",
    "SeasonQuery",
    "Signer",
    "build_composite",
    "cache_for",
    "cached_composite",
    "composite_key",
    "item_baseline",
    "load_scenes",
    "median_composite",
    "open_source",
    "quantized",
    "safe_name",
    "season_items",
    "site_composite",
    "write_cog",
]
