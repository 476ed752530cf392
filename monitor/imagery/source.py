"""Imagery sources: where the STAC items of a site-year come from, and how their assets are read.

Three kinds share one interface (:class:`ItemSource`):

* ``local`` — a static catalog.json read with pystac (the demo world, or any static catalog);
* ``stac-api`` — any STAC API, searched with pystac-client;
* ``planetary-computer`` — the same, plus asset signing with ``planetary_computer``.

Signing is injected (``signer=``) and applied as late as possible: odc-stac calls it for each
asset URL at read time (``patch_url``), so a run that lasts hours never reads with a token it
got at search time. HTTP calls are retried with backoff on 429 and 5xx, POST included.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import pystac
from shapely.geometry import box, shape
from urllib3.util.retry import Retry

from monitor.config import PLANETARY_COMPUTER_URL, SourceConfig
from monitor.errors import SourceError
from monitor.params import season_months_of, season_span

__all__ = [
    "SeasonQuery",
    "ItemSource",
    "Signer",
    "PlanetaryComputerSigner",
    "LocalCatalog",
    "StacApi",
    "open_source",
    "item_baseline",
    "http_retry",
]

log = logging.getLogger(__name__)


class Signer:
    """Signs an asset URL just before it is read (odc-stac's ``patch_url``); ``refresh`` drops
    cached tokens so that the next signature is fresh. Called once when a read is refused:
    tokens can expire within 45 minutes, runs last hours. This one signs nothing."""

    def __call__(self, url: str) -> str:
        return url

    def refresh(self) -> None:
        """Forget cached tokens."""


class PlanetaryComputerSigner(Signer):
    """Planetary Computer's SAS signing (``planetary_computer.sign_url``); its token cache is
    the package's own, cleared on ``refresh``."""

    def __call__(self, url: str) -> str:
        import planetary_computer

        return planetary_computer.sign_url(url)

    def refresh(self) -> None:
        from planetary_computer import sas

        sas.TOKEN_CACHE.clear()


@dataclass(frozen=True)
class SeasonQuery:
    """What to search for: one site-year."""

    bbox: tuple[float, float, float, float]
    """lon/lat bounding box (west, south, east, north) of the buffered site."""
    year: int
    """Calendar year."""
    months: tuple[int, ...]
    """Months of the season."""
    max_cloud_cover: float
    """Upper bound on `eo:cloud_cover` (percent)."""

    @property
    def datetime_range(self) -> str:
        """The tightest datetime interval that holds the season (a season crossing New Year
        starts in the year before: see :func:`monitor.params.season_months_of`)."""
        start, end = season_span(self.months, self.year)
        return f"{start.isoformat()}T00:00:00Z/{end.isoformat()}T23:59:59Z"

    def accepts(self, item: pystac.Item) -> bool:
        when = item_time(item)
        if when is None or (when.year, when.month) not in season_months_of(self.months, self.year):
            return False
        cloud = item.properties.get("eo:cloud_cover")
        try:
            return cloud is None or float(cloud) <= self.max_cloud_cover
        except (TypeError, ValueError):  # unreadable: let the per-pixel cloud mask decide
            log.debug("item %s: eo:cloud_cover %r is not a number", item.id, cloud)
            return True


def item_time(item: pystac.Item) -> dt.datetime | None:
    """An item's datetime (or start_datetime); None when it has neither."""
    if item.datetime is not None:
        return item.datetime
    try:
        return dt.datetime.fromisoformat(
            str(item.properties["start_datetime"]).replace("Z", "+00:00")
        )
    except (KeyError, ValueError):
        return None


class ItemSource(Protocol):
    """Finds the items of a site-year and says how their asset URLs are to be read."""

    key: str
    """Identifies the source in cache keys and the store's provenance."""
    signer: Signer | None
    """Applied to each asset URL just before it is read (None: read as is)."""

    def search(self, query: SeasonQuery) -> list[pystac.Item]: ...


def item_baseline(item: pystac.Item) -> tuple[int, int]:
    """`s2:processing_baseline` as (major, minor); (0, 0) when absent."""
    raw = str(item.properties.get("s2:processing_baseline", "0.0"))
    try:
        major, minor = raw.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return 0, 0


def http_retry(retries: int) -> Retry:
    """Retry 429 and 5xx answers with exponential backoff, for every method (POST included)."""
    return Retry(
        total=retries,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


class LocalCatalog:
    """A static STAC catalog on disk, read once and searched in memory."""

    def __init__(self, catalog: Path, collection: str):
        self.catalog = Path(catalog)
        self.collection = collection
        self.key = f"local:{self.catalog.resolve()}:{collection}"
        self.signer = None

    @cached_property
    def _items(self) -> list[tuple[pystac.Item, object]]:
        if not self.catalog.is_file():
            raise SourceError(
                f"catalog {self.catalog} not found; build the demo world with `monitor demo` "
                "or set source.catalog in the config"
            )
        try:
            root = pystac.Catalog.from_file(str(self.catalog))
            coll = root.get_child(self.collection)
        except Exception as exc:  # the root or the collection JSON itself is broken
            raise SourceError(
                f"cannot read catalog {self.catalog} ({exc.__class__.__name__}: {exc}); fix or "
                "rebuild it"
            ) from None
        if coll is None:
            raise SourceError(
                f"catalog {self.catalog} has no collection {self.collection!r}; "
                "set source.collection in the config"
            )
        out = [
            (it, shape(it.geometry) if it.geometry else box(*it.bbox)) for it in self._walk(coll)
        ]
        log.debug("local catalog %s: %d items", self.catalog, len(out))
        return out

    def _walk(self, container: pystac.Catalog):
        """Every readable item under ``container``; a broken item is skipped and named, so one
        bad file never makes the whole catalog unreadable."""
        for link in container.links:
            if link.rel not in ("item", "child"):
                continue
            href = link.get_absolute_href()
            try:
                if link.rel == "child":
                    yield from self._walk(pystac.read_file(href))
                    continue
                item = pystac.Item.from_file(href)
                item.make_asset_hrefs_absolute()
                self._check_local(item)
                if item_time(item) is None:
                    raise ValueError("it has no datetime")
                if item.geometry is None and item.bbox is None:
                    raise ValueError("it has no geometry")
            except Exception as exc:
                log.warning(
                    "skipped %s of catalog %s: %s",
                    href,
                    self.catalog,
                    f"{exc.__class__.__name__}: {exc}"[:200],
                )
                continue
            yield item

    def _check_local(self, item: pystac.Item) -> None:
        """A local catalog never leaves its own folder: no URL, no path outside it."""
        root = os.path.normpath(os.path.abspath(self.catalog.parent))
        for key, asset in item.assets.items():
            href = asset.href
            if "://" in href and not href.startswith("file://"):
                raise ValueError(
                    f"asset {key} is a URL ({href[:80]}); a local catalog reads only its own files"
                )
            # lexically: no `..` out of the folder (links the user made inside it are theirs)
            path = os.path.normpath(os.path.abspath(href.removeprefix("file://")))
            if os.path.commonpath([root, path]) != root:
                raise ValueError(f"asset {key} lies outside the catalog folder ({path})")

    def search(self, query: SeasonQuery) -> list[pystac.Item]:
        area = box(*query.bbox)
        return [it for it, geom in self._items if geom.intersects(area) and query.accepts(it)]


class StacApi:
    """Any STAC API (and Planetary Computer's, with a signer)."""

    def __init__(
        self,
        url: str,
        collection: str,
        *,
        headers: dict[str, str] | None = None,
        retries: int = 5,
        signer: Signer | None = None,
        timeout: float = 60.0,
    ):
        self.url = url
        self.collection = collection
        self.headers = dict(headers or {})
        self.retries = retries
        self.signer = signer
        self.timeout = timeout
        self.key = f"stac-api:{url}:{collection}"

    @cached_property
    def client(self):
        from pystac_client import Client
        from pystac_client.stac_api_io import StacApiIO

        io = StacApiIO(
            headers=self.headers, max_retries=http_retry(self.retries), timeout=self.timeout
        )
        try:
            return Client.open(self.url, stac_io=io)
        except Exception as exc:
            raise SourceError(
                f"cannot open STAC API {self.url}: {exc}; check source.catalog"
            ) from exc

    def search(self, query: SeasonQuery) -> list[pystac.Item]:
        try:
            search = self.client.search(
                collections=[self.collection],
                bbox=query.bbox,
                datetime=query.datetime_range,
                query={"eo:cloud_cover": {"lte": query.max_cloud_cover}},
                method="POST",
                limit=100,
            )
            items = list(search.items())
        except Exception as exc:
            raise SourceError(f"STAC search at {self.url} failed: {exc}") from exc
        return [it for it in items if query.accepts(it)]


def open_source(cfg: SourceConfig, signer: Signer | None = None) -> ItemSource:
    """The source a config names; ``signer`` overrides Planetary Computer's (for tests)."""
    if cfg.kind == "local":
        return LocalCatalog(Path(cfg.catalog), cfg.collection)
    if cfg.kind == "stac-api":
        return StacApi(
            cfg.catalog, cfg.collection, headers=cfg.headers, retries=cfg.retries, signer=signer
        )
    url = cfg.catalog if cfg.catalog.startswith(("http://", "https://")) else PLANETARY_COMPUTER_URL
    source = StacApi(
        url,
        cfg.collection,
        headers=cfg.headers,
        retries=cfg.retries,
        signer=signer or PlanetaryComputerSigner(),
    )
    source.key = f"planetary-computer:{url}:{cfg.collection}"
    return source


def unique_ids(items: Sequence[pystac.Item]) -> list[pystac.Item]:
    seen: set[str] = set()
    out = []
    for it in items:
        if it.id not in seen:
            seen.add(it.id)
            out.append(it)
    return out
