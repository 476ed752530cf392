"""One renderer for every command's output: JSON, CSV (one header line) or a table that fits
80 columns. Library records in, text out; nothing here reads the store."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence

from monitor.change import SiteStatus, sparkline

__all__ = [
    "render",
    "HISTORY_FIELDS",
    "STATUS_FIELDS",
    "SITE_FIELDS",
    "history_table",
    "status_table",
    "sites_table",
]

#: Keys of `history --format json|csv` (DESIGN.md contract).
HISTORY_FIELDS = (
    "site_id",
    "year",
    "mined_area_ha",
    "mine_fraction",
    "clear_observations",
    "ndvi",
    "model_version",
)
#: Keys of `status --format json|csv` (DESIGN.md contract).
STATUS_FIELDS = (
    "site_id",
    "name",
    "status",
    "opened_year",
    "stagnant_since",
    "abandoned_since",
    "last_detected_year",
    "latest_area_ha",
    "restoration_candidate",
    "confidence",
    "events",
)
SITE_FIELDS = ("site_id", "name", "area_ha", "lon", "lat", "source_file")


def _csv(fields: Sequence[str], records: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for rec in records:
        w.writerow(
            {
                k: json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else v)
                for k, v in rec.items()
            }
        )
    return buf.getvalue().rstrip("\n")


def render(
    records: list[dict], fields: Sequence[str], fmt: str, table: Callable[[list[dict]], str]
) -> str:
    """``records`` as JSON (a list), CSV (``fields`` as columns) or ``table(records)``."""
    if fmt == "json":
        return json.dumps(records, indent=1)
    if fmt == "csv":
        return _csv(fields, records)
    return table(records)


def _num(v, nd: int = 1) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


def history_table(records: list[dict], statuses: dict[str, SiteStatus] | None = None) -> str:
    """Per site: the area series as a sparkline with its status and events, then one line a
    year. ``records`` are grouped by site (as the store returns them)."""
    statuses = statuses or {}
    lines: list[str] = []
    groups: dict[str, list[dict]] = {}
    for r in records:  # one pass: rows come sorted by site and year
        groups.setdefault(r["site_id"], []).append(r)
    for site_id, rows in groups.items():
        head = (
            f"{site_id}  {rows[0]['year']}-{rows[-1]['year']}  "
            f"area {sparkline([r['mined_area_ha'] for r in rows])}"
        )
        st = statuses.get(site_id)
        if st is not None:
            head += f"  {st.status}"
        lines.append(head[:80])
        for e in st.events if st is not None else ():
            lines.append(f"  {e.flag} {e.start}-{e.end}: {e.reason}"[:80])
        lines.append(
            f"  {'year':>4} {'area ha':>8} {'fraction':>8} {'clear':>5} {'ndvi':>6}  model"
        )
        for r in rows:
            lines.append(
                f"  {r['year']:>4} {_num(r['mined_area_ha']):>8} {_num(r['mine_fraction'], 3):>8} "
                f"{_num(r['clear_observations'], 0):>5} {_num(r['ndvi'], 2):>6}  "
                f"{r['model_version'][:28]}"
            )
    return "\n".join(lines)


def status_table(records: list[dict], statuses: dict[str, SiteStatus]) -> str:
    """One line a site (with the rank and the reasons when the records carry them)."""
    ranked = any("rank" in r for r in records)
    lines = [f"{'site':<10} {'status':<18} {'opened':>6} {'last':>5} {'ha':>6} {'conf':>4}  series"]
    for r in records:
        st = statuses[r["site_id"]]
        spark = sparkline([p.area_ha for p in st.series])[-16:]
        prefix = f"{r['rank']:>2}. " if ranked else ""
        lines.append(
            f"{prefix}{r['site_id'][:10]:<10} {r['status']:<18} {r['opened_year'] or '-':>6} "
            f"{r['last_detected_year'] or '-':>5} {_num(r['latest_area_ha']):>6} "
            f"{r['confidence']:>4.2f}  {spark}"
        )
        if ranked and r.get("reasons"):
            lines.append(f"    {r['reasons']}"[:80])
    return "\n".join(lines)


def sites_table(records: list[dict]) -> str:
    lines = [f"{'site':<12} {'name':<28} {'area ha':>9} {'lon':>10} {'lat':>9}"]
    for r in records:
        lines.append(
            f"{r['site_id'][:12]:<12} {r['name'][:28]:<28} {r['area_ha']:>9.1f} "
            f"{r['lon']:>10.4f} {r['lat']:>9.4f}"
        )
    return "\n".join(lines)
