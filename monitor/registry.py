"""The site registry in the store: import a sites file, keep the config's file in sync.

Reading and checking a file is `monitor.sites`' job (nothing written); this module writes what
it read, in one transaction, so a bad file loses nothing already stored.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import SiteError
from monitor.store import Store

if TYPE_CHECKING:
    from monitor.sites import ImportReport

__all__ = ["import_sites", "sync_config_sites"]

log = logging.getLogger(__name__)


def import_sites(
    store: Store, path: Path, *, skip_invalid: bool = False, **options
) -> ImportReport:
    """Check a sites file and upsert its sites by id in one transaction (all or nothing)."""
    from monitor.sites import read_sites  # geopandas and pyproj: only when a file is read

    report = read_sites(path, **options)
    for line in report.repaired:
        log.warning("%s", line)
    if report.rejected and not skip_invalid:
        lines = "\n".join(report.rejected)
        raise SiteError(
            f"{len(report.rejected)} bad record(s) in {path}, nothing imported:\n{lines}\n"
            "fix them, or pass --skip-invalid to import the others"
        )
    for line in report.rejected:
        log.warning("skipped %s", line)
    if not report.sites:
        raise SiteError(f"{path}: no usable site")
    report.added, report.updated, report.invalidated = store.upsert_sites(report.sites)
    for site_id in report.invalidated:
        log.warning(
            "%s: site %s changed its geometry; its stored years were dropped and the "
            "next run recomputes them",
            path,
            site_id,
        )
    return report


def _digest(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sync_config_sites(store: Store, cfg) -> None:
    """Import the config's sites file when it changed since the last sync."""
    path = cfg.sites
    if path is None:
        return
    if not Path(path).exists():
        raise SiteError(
            f"sites file {path} (config key `sites`) not found; fix the path or set it to null"
        )
    digest = _digest(path)
    key = f"sites_sync:{Path(path).resolve()}"
    if store.get_meta(key) == digest:
        return
    si = cfg.site_import
    rep = import_sites(
        store,
        path,
        id_field=si.id_field,
        name_field=si.name_field,
        point_buffer_m=si.point_buffer_m,
        max_area_km2=si.max_area_km2,
    )
    gone = store.retire_sites(str(path), {s.site_id for s in rep.sites})
    for site_id in gone:
        log.warning(
            "%s no longer lists site %s: it is retired (its history stays in the "
            "store; it returns when the file lists it again)",
            path,
            site_id,
        )
    log.info("synced %s: %d added, %d updated", path, rep.added, rep.updated)
    store.set_meta(key, digest)
