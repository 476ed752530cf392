"""The config file, loaded once into a frozen, typed object.

Relative paths resolve against the config file's folder; an unknown key is an error that
names it. Every key is documented in the README's "Configuration" section.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError

__all__ = [
    "Config",
    "SourceConfig",
    "YearsConfig",
    "CompositeConfig",
    "DetectionConfig",
    "ChangeConfig",
    "SitesConfig",
    "ComputeConfig",
    "DiscoveryConfig",
    "DemoConfig",
    "load_config",
    "last_complete_year",
    "SOURCE_KINDS",
]

SOURCE_KINDS = ("local", "planetary-computer", "stac-api")
PLANETARY_COMPUTER_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"


def last_complete_year(today: dt.date | None = None) -> int:
    """The most recent calendar year that has ended."""
    return (today or dt.date.today()).year - 1


@dataclass(frozen=True)
class SourceConfig:
    kind: str = "local"
    """`local` (static catalog.json), `planetary-computer` or `stac-api`."""
    catalog: str = "data/demo/catalog.json"
    """local: path of catalog.json; stac-api: the API URL; planetary-computer: optional URL."""
    collection: str = "sentinel-2-l2a"
    """Collection id searched for items."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra HTTP headers for a STAC API (e.g. an API key)."""
    retries: int = 5
    """Retries of an HTTP call answered 429/5xx, with exponential backoff."""


@dataclass(frozen=True)
class YearsConfig:
    first: int = 2016
    """First year of every site's history (Sentinel-2 L2A starts in 2016-2017)."""
    last: int | None = None
    """Last year; null means the last complete calendar year."""


@dataclass(frozen=True)
class CompositeConfig:
    season_months: tuple[int, ...] = (5, 6, 7, 8, 9)
    """Months whose scenes enter a year's composite, for sites whose season no registry
    column, rule or automatic choice sets (a season that wraps, e.g. [11, 12, 1, 2], crosses
    New Year and belongs to the year it ends in)."""
    seasons: tuple = ()
    """Rules by region, first match wins: a list of {bbox: [west, south, east, north],
    months: [...]} (a site whose centroid lies in the box takes those months)."""
    auto_season: bool = True
    """For sites no registry column or rule covers: choose the months with most clear looks
    from the catalog's own eo:cloud_cover over the site (as many months as season_months)."""
    max_cloud_cover: float = 70.0
    """Items with `eo:cloud_cover` above this (percent) are not loaded at all."""
    min_clear_observations: int = 1
    """Clear looks a pixel needs to be classified at all."""
    target_clear_observations: int = 2
    """Looks a pixel should have: when fewer than min_clear_fraction of a site's pixels reach
    them, the season is widened (a month each side, then the whole year) before a gap."""
    min_clear_fraction: float = 0.5
    """Share of a site's pixels that must have min_clear_observations for the year to count."""
    site_buffer_m: float = 300.0
    """Buffer around the site geometry loaded with it (context for the FCN)."""
    cache: str | None = "data/cache"
    """Folder of the on-disk composite cache; null: keep no composites (reports then show
    no imagery)."""


@dataclass(frozen=True)
class DetectionConfig:
    threshold: float | None = None
    """Mine probability above which a pixel is mine; null: the model's own (chosen on held-out
    data by `monitor train` and stored in its metadata)."""
    min_mapping_unit_ha: float = 0.5
    """Connected mine patches smaller than this are dropped (seed 000 used 41 ha)."""


@dataclass(frozen=True)
class ChangeConfig:
    stagnation_years: int = 3
    """Years of an unchanged footprint that make stagnation."""
    tolerance: float = 0.12
    """Relative area change that still counts as unchanged."""
    min_area_ha: float = 1.0
    """Mined area below this counts as no detection."""
    min_expansion_ha_per_year: float = 1.0
    """Smallest growth rate that is practically significant."""
    opening_recent_years: int = 2
    """A site first detected within this many final years has status `opening`."""
    persistence: int = 2
    """A detection (or its loss) must hold this many valid years to count (k-of-n rule)."""
    ndvi_recovery: float = 0.08
    """NDVI rise of the footprint that counts as vegetation returning."""
    wound_down_share: float = 0.5
    """A footprint that has stayed below this share of its peak for two years or more, not
    growing back, is what a wound-down mine leaves (ponds, bare scars): likely abandonment
    (0: off)."""


@dataclass(frozen=True)
class SitesConfig:
    id_field: str | None = None
    """Field holding the site id; null: the first of site_id, id, fid that the file has."""
    name_field: str | None = None
    """Field holding the site name; null: `name` when present."""
    point_buffer_m: float = 500.0
    """Radius of the concession drawn around a site given as a point."""
    max_area_km2: float = 2000.0
    """Polygons larger than this are rejected as implausible."""


@dataclass(frozen=True)
class ComputeConfig:
    scheduler: str | None = None
    """Dask distributed scheduler address (tcp://host:port); null: local threads."""
    threads: int = 2
    """Threads for loading imagery and running the model locally."""
    max_group_px: int = 2048
    """Largest side (px at 10 m) of an imagery group: sites closer than that share one load.
    A group holds ~110 MB per look at 2048 px (a quarter at 1024): lower it on a small machine
    or for a whole-year season over many looks."""


@dataclass(frozen=True)
class DiscoveryConfig:
    ring_km: float = 2.0
    """Width of the ring around every site that `monitor run` scans for unregistered mines
    (loaded with the site's imagery; 0 turns discovery off)."""
    persistence: int = 2
    """Years a patch must be detected in before it is a candidate (k-of-n)."""
    min_probability: float = 0.6
    """Mean mine probability a candidate's footprint needs in its best year."""


@dataclass(frozen=True)
class DemoConfig:
    seed: int = 0
    """Seed of the demo world built when the configured catalog is the demo's and missing."""
    out: str = "data/demo"
    """Folder of the demo world."""
    biomes: tuple[str, ...] = ("savanna",)
    """Biomes of the demo world built on demand (savanna, rainforest, arid, temperate)."""


@dataclass(frozen=True)
class Config:
    """The whole configuration, paths already resolved."""

    path: Path
    """The config file this came from (None-like for the embedded defaults)."""
    source: SourceConfig
    """Where imagery comes from."""
    sites: Path | None
    """Sites file synced into the store by every command that needs sites."""
    store: Path
    """The history store (GeoPackage)."""
    reports: Path
    """Default output folder of `monitor report`."""
    model: Path | None
    """A .keras model; None means the shipped one."""
    protected_areas: Path | None
    """Optional protected-areas layer used to rank restoration candidates."""
    years: YearsConfig
    composite: CompositeConfig
    detection: DetectionConfig
    change: ChangeConfig
    site_import: SitesConfig
    compute: ComputeConfig
    discovery: DiscoveryConfig
    demo: DemoConfig

    @property
    def base(self) -> Path:
        return self.path.parent

    @property
    def year_range(self) -> tuple[int, int]:
        last = self.years.last if self.years.last is not None else last_complete_year()
        return self.years.first, last

    @property
    def catalog_path(self) -> Path | None:
        """The local catalog file, when the source is a local catalog."""
        return Path(self.source.catalog) if self.source.kind == "local" else None

    @property
    def demo_dir(self) -> Path:
        return self.base / self.demo.out

    @property
    def uses_demo_catalog(self) -> bool:
        """True when the configured catalog is the demo world's (and so may be built on demand)."""
        cat = self.catalog_path
        return cat is not None and cat.resolve() == (self.demo_dir / "catalog.json").resolve()

    @property
    def cache_dir(self) -> Path | None:
        return self.base / self.composite.cache if self.composite.cache else None


_SECTIONS = {
    "source": SourceConfig,
    "years": YearsConfig,
    "composite": CompositeConfig,
    "detection": DetectionConfig,
    "change": ChangeConfig,
    "site_import": SitesConfig,
    "compute": ComputeConfig,
    "discovery": DiscoveryConfig,
    "demo": DemoConfig,
}
_TOP_PATHS = ("sites", "store", "reports", "model", "protected_areas")
_TOP_DEFAULTS: dict[str, Any] = {
    "sites": "data/demo/sites.geojson",
    "store": "data/monitor.gpkg",
    "reports": "reports",
    "model": None,
    "protected_areas": None,
}


def _season_rules(raw: Any) -> tuple:
    """`composite.seasons` as ((west, south, east, north), months) pairs, checked."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("config key `composite.seasons` must be a list of {bbox, months}")
    rules = []
    for k, rule in enumerate(raw):
        where = f"composite.seasons[{k}]"
        if not isinstance(rule, dict) or set(rule) != {"bbox", "months"}:
            raise ConfigError(f"config key `{where}` must have exactly `bbox` and `months`")
        bbox, months = rule["bbox"], rule["months"]
        ok_box = (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)
        )
        if not ok_box or not (-180 <= bbox[0] < bbox[2] <= 180 and -90 <= bbox[1] < bbox[3] <= 90):
            raise ConfigError(
                f"config key `{where}.bbox` must be [west, south, east, north] in degrees"
            )
        if (
            not isinstance(months, list)
            or not months
            or not all(isinstance(m, int) and 1 <= m <= 12 for m in months)
        ):
            raise ConfigError(f"config key `{where}.months` must list months 1-12")
        rules.append((tuple(float(v) for v in bbox), tuple(months)))
    return tuple(rules)


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check one YAML value against a field's type and coerce lists to tuples."""
    hint = annotation
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        hint, origin = args[0], typing.get_origin(args[0])
    if value is None:
        raise ConfigError(f"config key `{where}` may not be null")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"config key `{where}` must be a list, got {value!r}")
        item_type = typing.get_args(hint)[0]
        return tuple(_coerce(v, item_type, where) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key `{where}` must be a mapping, got {value!r}")
        return {str(k): str(v) for k, v in value.items()}
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    raise ConfigError(f"config key `{where}` must be {hint.__name__}, got {value!r}")


def _section(cls: type, raw: Any, name: str) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config section `{name}` must be a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise ConfigError(
            f"unknown config key `{name}.{unknown[0]}`; known keys of `{name}`: "
            f"{', '.join(sorted(names))}"
        )
    checked = {
        k: v if k == "seasons" and name == "composite" else _coerce(v, hints[k], f"{name}.{k}")
        for k, v in raw.items()
    }
    return cls(**checked)


#: Allowed ranges of the numeric keys (inclusive): a value outside is a typo or a mistake.
_RANGES: dict[str, tuple[float, float]] = {
    "source.retries": (0, 20),
    "composite.max_cloud_cover": (0, 100),
    "composite.min_clear_observations": (1, 50),
    "composite.target_clear_observations": (1, 50),
    "composite.min_clear_fraction": (0, 1),
    "composite.site_buffer_m": (0, 5000),
    "detection.min_mapping_unit_ha": (0, 1000),
    "change.stagnation_years": (2, 20),
    "change.tolerance": (0, 1),
    "change.min_area_ha": (0, 10_000),
    "change.min_expansion_ha_per_year": (0, 10_000),
    "change.opening_recent_years": (1, 10),
    "change.persistence": (1, 5),
    "change.ndvi_recovery": (0, 1),
    "change.wound_down_share": (0, 1),
    "site_import.point_buffer_m": (1, 50_000),
    "site_import.max_area_km2": (0.001, 100_000),
    "compute.threads": (1, 256),
    "compute.max_group_px": (1, 8192),
    "demo.seed": (0, 2**31 - 1),
    "discovery.ring_km": (0, 20),
    "discovery.persistence": (1, 10),
    "discovery.min_probability": (0, 1),
}


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases: a config needs none, and an alias "bomb"
    would expand to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", mark)
        return super().compose_node(parent, index)


def _validate(cfg: Config) -> None:
    for key, (lo, hi) in _RANGES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if not lo <= value <= hi:
            raise ConfigError(f"config key `{key}` is {value}; use a value from {lo} to {hi}")
    if cfg.demo.biomes and not set(cfg.demo.biomes) <= {
        "savanna",
        "rainforest",
        "arid",
        "temperate",
    }:
        raise ConfigError("config key `demo.biomes` lists savanna, rainforest, arid or temperate")
    if cfg.source.kind not in SOURCE_KINDS:
        raise ConfigError(
            f"config key `source.kind` is {cfg.source.kind!r}; use one of {', '.join(SOURCE_KINDS)}"
        )
    if cfg.source.kind == "stac-api" and not cfg.source.catalog.startswith(("http://", "https://")):
        raise ConfigError("config key `source.catalog` must be the API URL when kind is stac-api")
    if (
        not all(1 <= m <= 12 for m in cfg.composite.season_months)
        or not cfg.composite.season_months
    ):
        raise ConfigError("config key `composite.season_months` must list months 1-12")
    first, last = cfg.year_range
    if first < 2015 or last < first or last > last_complete_year():
        raise ConfigError(
            f"config `years` gives {first}-{last}; use years from 2015 to the last complete "
            f"year ({last_complete_year()}), first before last"
        )
    if cfg.detection.threshold is not None and not 0 < cfg.detection.threshold < 1:
        raise ConfigError("config key `detection.threshold` must be between 0 and 1")


def load_config(path: str | Path) -> Config:
    """Read and validate a config file."""
    path = Path(path).absolute()
    try:
        if path.stat().st_size > 1_000_000:
            raise ConfigError(f"{path} is over 1 MB: that is not a config file")
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        raise ConfigError(
            f"config file {path} not found; pass --config PATH or run from the project folder"
        ) from None
    except (UnicodeDecodeError, IsADirectoryError, PermissionError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.__class__.__name__})") from None
    try:
        raw = yaml.load(text, Loader=_NoAliasLoader) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise ConfigError(
            f"{path}: not valid YAML{line} "
            f"({getattr(exc, 'problem', None) or exc.__class__.__name__});"
            " fix the file"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a YAML mapping")
    known = set(_SECTIONS) | set(_TOP_PATHS)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"{path}: unknown config key `{unknown[0]}`; known keys: {', '.join(sorted(known))}"
        )
    if isinstance(raw.get("composite"), dict) and "seasons" in raw["composite"]:
        raw["composite"] = dict(raw["composite"])
        raw["composite"]["seasons"] = _season_rules(raw["composite"]["seasons"])
    sections = {name: _section(cls, raw.get(name), name) for name, cls in _SECTIONS.items()}
    base = path.parent

    def resolve(key: str) -> Path | None:
        value = raw.get(key, _TOP_DEFAULTS[key])
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{path}: config key `{key}` must be a path")
        return base / value

    source = sections["source"]
    if source.kind == "local":
        source = dataclasses.replace(source, catalog=str(base / source.catalog))
    cfg = Config(
        path=path,
        source=source,
        sites=resolve("sites"),
        store=resolve("store") or base / "data/monitor.gpkg",
        reports=resolve("reports") or base / "reports",
        model=resolve("model"),
        protected_areas=resolve("protected_areas"),
        **{k: v for k, v in sections.items() if k != "source"},
    )
    _validate(cfg)
    return cfg
