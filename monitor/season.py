"""Each site's season: the months whose scenes make its yearly composite.

One season for a registry that spans hemispheres and climates is wrong for half of it. A
site's season comes, in order, from: its registry column (``season_months``), the config's
rules by region (``composite.seasons``), an automatic choice from the catalog's own
``eo:cloud_cover`` over the site (``composite.auto_season``: the run of months with the most
expected clear looks, wrapping round New Year where that is the dry season), and last the
config's ``season_months``. How it was chosen is recorded with every row.

The automatic choice reads item metadata only (no pixel), once per 0.5-degree cell of sites.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass

from monitor.config import Config
from monitor.imagery import ItemSource, SeasonQuery
from monitor.params import parse_months
from monitor.records import SiteRecord

__all__ = ["Season", "resolve_seasons", "best_months", "parse_months"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Season:
    """A site's season and where it came from."""

    months: tuple[int, ...]
    """Months, in order (a wrapping run crosses New Year)."""
    how: str
    """registry, rule, auto or default."""

    def as_json(self) -> str:
        return json.dumps({"months": list(self.months), "how": self.how})


def best_months(clear_looks: dict[int, float], n: int, default: tuple[int, ...]) -> tuple[int, ...]:
    """The run of ``n`` consecutive months (round New Year too) with the most expected clear
    looks; on a tie the one closest to ``default``."""
    best, best_key = default, None
    for start in range(1, 13):
        months = tuple((start - 1 + k) % 12 + 1 for k in range(n))
        key = (
            round(sum(clear_looks.get(m, 0.0) for m in months), 6),
            len(set(months) & set(default)),
        )
        if best_key is None or key > best_key:
            best, best_key = months, key
    return best


def _auto(source: ItemSource, site: SiteRecord, years: list[int], n: int, default, max_cloud):
    x0, y0, x1, y1 = site.geometry.bounds
    looks: dict[int, float] = {}
    found = 0
    for year in years:
        query = SeasonQuery((x0, y0, x1, y1), year, tuple(range(1, 13)), 100.0)
        for item in source.search(query):
            try:
                cloud = float(item.properties.get("eo:cloud_cover", 0.0))
            except (TypeError, ValueError):
                continue
            if cloud > max_cloud:
                continue
            found += 1
            month = item.datetime.month if item.datetime else 0
            looks[month] = looks.get(month, 0.0) + (1 - cloud / 100)
    return best_months(looks, n, default) if found else None


def resolve_seasons(
    cfg: Config, sites: list[SiteRecord], source: ItemSource, years: range
) -> dict[str, Season]:
    """Every site's season (see the module docstring for the order)."""
    default = tuple(cfg.composite.season_months)
    ref_years = list(years)[-3:]
    by_cell: dict[tuple, Season] = {}
    out = {}
    for site in sites:
        c = site.geometry.centroid
        if site.season:
            out[site.site_id] = Season(tuple(site.season), "registry")
            continue
        rule = next(
            (m for (w, s, e, n), m in cfg.composite.seasons if w <= c.x <= e and s <= c.y <= n),
            None,
        )
        if rule:
            out[site.site_id] = Season(tuple(rule), "rule")
            continue
        if not cfg.composite.auto_season:
            out[site.site_id] = Season(default, "default")
            continue
        cell = (math.floor(c.x * 2), math.floor(c.y * 2))
        if cell not in by_cell:
            months = _auto(
                source, site, ref_years, len(default), default, cfg.composite.max_cloud_cover
            )
            by_cell[cell] = Season(months, "auto") if months else Season(default, "default")
            log.info(
                "season near %.2f, %.2f: months %s (%s)",
                c.x,
                c.y,
                list(by_cell[cell].months),
                by_cell[cell].how,
            )
        out[site.site_id] = by_cell[cell]
    return out
