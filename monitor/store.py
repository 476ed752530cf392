"""The history store: one GeoPackage (SQLite) that QGIS opens.

Layers: ``sites`` (concession polygons), ``footprints`` (the detected mine outline of every
site-year), and attribute tables ``site_years`` (one row per site x year, with provenance),
``failures`` (site-years that failed, retried by the next run), ``runs`` and ``meta``
(schema version). Every write of a site-year is one transaction: a run killed at any moment
leaves no half-written row.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sqlite3
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from monitor.errors import LockedError, StoreError
from monitor.records import DISCOVERY_FIELDS, SiteRecord, SiteYear, geometry_digest, now

if TYPE_CHECKING:  # shapely is imported where geometries are read or written (lookups skip it)
    from shapely.geometry.base import BaseGeometry

__all__ = [
    "Store",
    "StoreLock",
    "SiteRecord",
    "SiteYear",
    "SCHEMA_VERSION",
    "gpkg_blob",
    "geometry_from_blob",
]

SCHEMA_VERSION = 3
#: Columns each schema version added (a store of an older version is upgraded in place).
_MIGRATIONS = {
    2: [
        "ALTER TABLE sites ADD COLUMN geom_hash TEXT",
        "ALTER TABLE sites ADD COLUMN retired_at TEXT",
        "ALTER TABLE sites ADD COLUMN season_months TEXT",
        "ALTER TABLE site_years ADD COLUMN water_fraction REAL",
        "ALTER TABLE site_years ADD COLUMN ndvi_grid BLOB",
        "ALTER TABLE site_years ADD COLUMN ndvi_grid_meta TEXT",
        "ALTER TABLE site_years ADD COLUMN geometry_hash TEXT",
        "ALTER TABLE site_years ADD COLUMN season TEXT",
        "ALTER TABLE site_years ADD COLUMN ring_valid_fraction REAL",
    ],
    # the temporal filter: the detected area kept beside the filtered one (the areas stored
    # so far were all detected, none filtered)
    3: [
        "ALTER TABLE site_years ADD COLUMN detected_area_ha REAL",
        "UPDATE site_years SET detected_area_ha = mined_area_ha",
    ],
}
_GPKG_APP_ID = 0x47504B47
_GPKG_VERSION = 10300


def gpkg_blob(geom: BaseGeometry | None, srs_id: int = 4326) -> bytes | None:
    """A GeoPackage geometry blob: header with an xy envelope, then little-endian WKB."""
    import shapely

    if geom is None:
        return None
    if geom.is_empty:
        return (
            b"GP"
            + bytes([0, 0b00010001])
            + struct.pack("<i", srs_id)
            + shapely.to_wkb(geom, byte_order=1)
        )
    minx, miny, maxx, maxy = geom.bounds
    header = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i4d", srs_id, minx, maxx, miny, maxy)
    return header + shapely.to_wkb(geom, byte_order=1)


def geometry_from_blob(blob: bytes | None) -> BaseGeometry | None:
    import shapely

    if blob is None:
        return None
    flags = blob[3]
    env = (flags >> 1) & 0b111
    size = 8 + {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[env]
    return shapely.from_wkb(bytes(blob[size:]))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
CREATE TABLE IF NOT EXISTS sites (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, site_id TEXT NOT NULL UNIQUE,
  name TEXT, source_file TEXT, imported_at TEXT, updated_at TEXT, geom_hash TEXT, retired_at TEXT,
  season_months TEXT);
CREATE TABLE IF NOT EXISTS footprints (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, site_id TEXT NOT NULL,
  year INTEGER NOT NULL, area_ha REAL, UNIQUE(site_id, year));
CREATE TABLE IF NOT EXISTS site_years (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, year INTEGER NOT NULL,
  mined_area_ha REAL, mine_fraction REAL, clear_observations REAL, valid_fraction REAL,
  ndvi REAL, ndvi_surroundings REAL, mean_probability REAL, model_version TEXT, source_key TEXT,
  params_key TEXT,
  items_used TEXT, items_skipped TEXT, processing_baselines TEXT, computed_at TEXT, run_id INTEGER,
  water_fraction REAL, ndvi_grid BLOB, ndvi_grid_meta TEXT, geometry_hash TEXT, season TEXT,
  ring_valid_fraction REAL, detected_area_ha REAL, UNIQUE(site_id, year));
CREATE TABLE IF NOT EXISTS ring_patches (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, site_id TEXT NOT NULL,
  year INTEGER NOT NULL, area_ha REAL, probability REAL);
CREATE INDEX IF NOT EXISTS ring_patches_site ON ring_patches(site_id, year);
CREATE TABLE IF NOT EXISTS discoveries (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, candidate_id TEXT NOT NULL UNIQUE,
  lon REAL, lat REAL, first_year INTEGER, last_year INTEGER, latest_area_ha REAL,
  peak_area_ha REAL, status TEXT, confidence REAL, nearest_site TEXT, distance_km REAL,
  extent BLOB, updated_at TEXT);
CREATE TABLE IF NOT EXISTS discovery_years (
  candidate_id TEXT NOT NULL, year INTEGER NOT NULL, area_ha REAL,
  PRIMARY KEY (candidate_id, year));
CREATE INDEX IF NOT EXISTS site_years_site ON site_years(site_id, year);
CREATE TABLE IF NOT EXISTS failures (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, year INTEGER NOT NULL,
  error TEXT, run_id INTEGER, failed_at TEXT, UNIQUE(site_id, year));
CREATE TABLE IF NOT EXISTS runs (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT, finished_at TEXT, outcome TEXT,
  done INTEGER, skipped INTEGER, failed INTEGER, model_version TEXT, arguments TEXT, pid INTEGER);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS site_status (site_id TEXT PRIMARY KEY, payload TEXT);
"""

_WGS84 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],'
    'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433],AUTHORITY["EPSG","4326"]]'
)


class Store:
    """The history store; open with ``Store(path)``, close with ``close()`` or a with-block."""

    def __init__(self, path: Path, *, create: bool = True):
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise StoreError(f"history store {self.path} not found; run `monitor run` first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA foreign_keys=ON")
            self._init()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"the history store {self.path} is damaged or unreadable ({exc}); "
                "restore it from a "
                "backup or move it away (nothing was written)"
            ) from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write: all of it lands, or none of it."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # SQLite may have rolled back itself (disk full)
                    self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if "full" in str(exc):
                raise StoreError(
                    f"the disk holding {self.path} is full; free space and rerun "
                    "(nothing half-written was kept)"
                ) from None
            raise

    # -- schema -------------------------------------------------------------------------
    def _init(self) -> None:
        c = self.conn
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables - {"sqlite_sequence"}:
            self._check_ours(tables)
            return
        self._create()

    def _check_ours(self, tables: set[str]) -> None:
        """Refuse, without writing a byte, a file another program made; upgrade an older
        store of ours in place."""
        c = self.conn
        if not {"meta", "site_years", "sites"} <= tables:
            raise StoreError(
                f"{self.path} is an SQLite/GeoPackage file that this tool did not write; "
                "nothing was changed: point `store` at a new file"
            )
        row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            version = int(row[0]) if row else None
        except (TypeError, ValueError):
            version = None
        if version is None or version > SCHEMA_VERSION or version < 1:
            raise StoreError(
                f"{self.path} has schema version {row[0] if row else 'none'}, this tool writes "
                f"{SCHEMA_VERSION}; nothing was changed: upgrade the tool or use a new store"
            )
        if version < SCHEMA_VERSION:
            with self.transaction():
                for v in range(version + 1, SCHEMA_VERSION + 1):
                    for sql in _MIGRATIONS[v]:
                        c.execute(sql)
                c.execute(
                    "UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),)
                )
            self._tables()  # the layers a newer schema added

    def _create(self) -> None:
        c = self.conn
        c.execute(f"PRAGMA application_id={_GPKG_APP_ID}")
        c.execute(f"PRAGMA user_version={_GPKG_VERSION}")
        self._tables()
        with self.transaction():
            c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            c.execute("INSERT INTO meta VALUES ('created_at', ?)", (now(),))

    def _tables(self) -> None:
        """Idempotent DDL and GeoPackage registration of every table (the meta row written
        after it marks a new store complete)."""
        c = self.conn
        c.executescript(_SCHEMA)
        with self.transaction():
            c.executemany(
                "INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
                [
                    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", None),
                    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", None),
                    ("WGS 84 geodetic", 4326, "EPSG", 4326, _WGS84, "longitude/latitude on WGS 84"),
                ],
            )
            for table, kind, desc in [
                ("sites", "features", "Registered mine sites (concessions)"),
                ("footprints", "features", "Detected mine footprint per site and year"),
                ("ring_patches", "features", "Mine patches detected around sites, outside them"),
                ("discoveries", "features", "Candidate unregistered mines (monitor discover)"),
                ("site_years", "attributes", "One row per site x year"),
                ("failures", "attributes", "Site-years that failed; retried by the next run"),
                ("runs", "attributes", "Runs of monitor run"),
            ]:
                c.execute(
                    "INSERT OR IGNORE INTO gpkg_contents"
                    " (table_name, data_type, identifier, description, srs_id)"
                    " VALUES (?,?,?,?,?)",
                    (table, kind, table, desc, 4326 if kind == "features" else None),
                )
                if kind == "features":
                    c.execute(
                        "INSERT OR IGNORE INTO gpkg_geometry_columns VALUES (?,?,?,?,0,0)",
                        (table, "geom", "MULTIPOLYGON", 4326),
                    )

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))

    # -- sites --------------------------------------------------------------------------
    def upsert_sites(self, sites: Iterable[SiteRecord]) -> tuple[int, int, list[str]]:
        """Insert or update sites by id in one transaction: (added, updated, invalidated).
        A site whose geometry changed loses its stored years (they describe another
        concession; the next run recomputes them); a site that returns is active again."""
        added = updated = 0
        invalidated: list[str] = []
        stamp = now()
        with self.transaction() as c:
            for s in sites:
                geom = _as_multipolygon(s.geometry)
                digest = geometry_digest(s.geometry)
                old = c.execute(
                    "SELECT geom_hash FROM sites WHERE site_id=?", (s.site_id,)
                ).fetchone()
                season = json.dumps(list(s.season)) if s.season else None
                if old is None:
                    c.execute(
                        "INSERT INTO sites (geom, site_id, name, source_file, imported_at,"
                        " updated_at,"
                        " geom_hash, season_months) VALUES (?,?,?,?,?,?,?,?)",
                        (
                            gpkg_blob(geom),
                            s.site_id,
                            s.name,
                            s.source_file,
                            stamp,
                            stamp,
                            digest,
                            season,
                        ),
                    )
                    added += 1
                    continue
                c.execute(
                    "UPDATE sites SET geom=?, name=?, source_file=?, updated_at=?, geom_hash=?,"
                    " retired_at=NULL, season_months=? WHERE site_id=?",
                    (gpkg_blob(geom), s.name, s.source_file, stamp, digest, season, s.site_id),
                )
                updated += 1
                if old[0] is not None and old[0] != digest:
                    for table in ("site_years", "footprints", "failures"):
                        c.execute(f"DELETE FROM {table} WHERE site_id=?", (s.site_id,))
                    invalidated.append(s.site_id)
            self._update_extent(c, "sites")
            self.bump(c)
        return added, updated, invalidated

    def retire_sites(self, source_file: str, keep: set[str]) -> list[str]:
        """Sites synced from ``source_file`` that it no longer lists: kept with their history
        but left out of runs, statuses and reports until they come back."""
        rows = self.conn.execute(
            "SELECT site_id FROM sites WHERE source_file=? AND retired_at IS NULL", (source_file,)
        ).fetchall()
        gone = [r[0] for r in rows if r[0] not in keep]
        if gone:
            with self.transaction() as c:
                c.executemany(
                    "UPDATE sites SET retired_at=? WHERE site_id=?", [(now(), g) for g in gone]
                )
                self.bump(c)
        return gone

    def sites(self, ids: Iterable[str] | None = None, *, retired: bool = False) -> list[SiteRecord]:
        """Sites by id (all active ones, by id, when ``ids`` is empty; ``retired`` adds those
        the registry dropped). An unknown id is an error that says where to look."""
        ids = list(dict.fromkeys(ids)) if ids else None
        sql = "SELECT site_id, name, geom, source_file, retired_at, season_months FROM sites"
        if ids:
            rows = [
                r
                for chunk in range(0, len(ids), 500)
                for r in self.conn.execute(
                    f"{sql} WHERE site_id IN ({','.join('?' * len(ids[chunk : chunk + 500]))})",
                    ids[chunk : chunk + 500],
                )
            ]
        else:
            where = "" if retired else " WHERE retired_at IS NULL"
            rows = self.conn.execute(f"{sql}{where} ORDER BY site_id").fetchall()
        out = [
            SiteRecord(
                r[0],
                r[1] or r[0],
                geometry_from_blob(r[2]),
                r[3] or "",
                tuple(json.loads(r[5])) if r[5] else (),
            )
            for r in rows
        ]
        if ids:
            known = {s.site_id: s for s in out}
            missing = [i for i in ids if i not in known]
            if missing:
                raise StoreError(
                    f"unknown site id {missing[0]!r}; `monitor sites list` shows the ids"
                )
            out = [known[i] for i in ids]
        return out

    def site_names(self) -> list[tuple[str, str]]:
        """(site id, name) of every active site, by id."""
        rows = self.conn.execute(
            "SELECT site_id, name FROM sites WHERE retired_at IS NULL ORDER BY site_id"
        )
        return [(r[0], r[1] or r[0]) for r in rows]

    # -- site-years ---------------------------------------------------------------------
    def put_site_year(self, row: SiteYear) -> None:
        """Write one site-year (row, footprint, failure cleared) atomically."""
        self.put_site_years([row])

    def put_site_years(self, rows: Iterable[SiteYear]) -> None:
        """Write site-years (rows, footprints, failures cleared) in one transaction: a run
        stores a group at a time, one commit (and one disk sync) for all its sites."""
        rows = list(rows)
        if not rows:
            return
        with self.transaction() as c:
            for row in rows:
                self._write_row(c, row)
            self.bump(c)

    @staticmethod
    def _write_row(c: sqlite3.Connection, row: SiteYear) -> None:
        values = [_encode(f, getattr(row, f)) for f in _ROW_FIELDS]
        values[_ROW_FIELDS.index("computed_at")] = row.computed_at or now()
        values[_ROW_FIELDS.index("detected_area_ha")] = row.area_as_detected
        c.execute(
            f"INSERT OR REPLACE INTO site_years ({', '.join(_ROW_COLUMNS)})"
            f" VALUES ({', '.join('?' * len(_ROW_COLUMNS))})",
            values,
        )
        c.execute("DELETE FROM footprints WHERE site_id=? AND year=?", (row.site_id, row.year))
        if row.footprint is not None and not row.footprint.is_empty:
            c.execute(
                "INSERT INTO footprints (geom, site_id, year, area_ha) VALUES (?,?,?,?)",
                (
                    gpkg_blob(_as_multipolygon(row.footprint)),
                    row.site_id,
                    row.year,
                    row.mined_area_ha,
                ),
            )
        c.execute("DELETE FROM ring_patches WHERE site_id=? AND year=?", (row.site_id, row.year))
        c.executemany(
            "INSERT INTO ring_patches (geom, site_id, year, area_ha, probability)"
            " VALUES (?,?,?,?,?)",
            [
                (gpkg_blob(_as_multipolygon(g)), row.site_id, row.year, a, p)
                for g, a, p in row.ring_patches
            ],
        )
        c.execute("DELETE FROM failures WHERE site_id=? AND year=?", (row.site_id, row.year))

    def update_ndvi_of(
        self, per_site: dict[str, dict[int, tuple[float | None, float | None]]]
    ) -> None:
        """Set the footprint and surroundings NDVI of the sites' years, {site: {year: (footprint,
        surroundings)}}, in one transaction."""
        self._update_years(("ndvi", "ndvi_surroundings"), per_site)

    def update_areas_of(self, per_site: dict[str, dict[int, tuple]]) -> None:
        """Set the mined area and fraction of the sites' years after the temporal filter,
        {site: {year: (area ha, fraction)}}, in one transaction."""
        self._update_years(("mined_area_ha", "mine_fraction"), per_site)

    def _update_years(self, columns: tuple[str, ...], per_site: dict[str, dict[int, tuple]]):
        if not per_site:
            return
        assigned = ", ".join(f"{name}=?" for name in columns)
        with self.transaction() as c:
            c.executemany(
                f"UPDATE site_years SET {assigned} WHERE site_id=? AND year=?",
                [
                    (*values, site_id, year)
                    for site_id, by_year in per_site.items()
                    for year, values in by_year.items()
                ],
            )
            self.bump(c)

    @staticmethod
    def bump(c: sqlite3.Connection) -> None:
        """Count a change of the history, so cached analyses know they are stale."""
        c.execute(
            "INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(key) DO UPDATE "
            "SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"
        )

    def generation(self) -> int:
        return int(self.get_meta("generation") or 0)

    def cached_statuses(self, basis: str) -> list[str] | None:
        if self.get_meta("status_basis") != basis:
            return None
        return [r[0] for r in self.conn.execute("SELECT payload FROM site_status ORDER BY site_id")]

    def cache_statuses(self, basis: str, payloads: list[tuple[str, str]]) -> None:
        with self.transaction() as c:
            c.execute("DELETE FROM site_status")
            c.executemany("INSERT INTO site_status VALUES (?, ?)", payloads)
            c.execute("INSERT OR REPLACE INTO meta VALUES ('status_basis', ?)", (basis,))

    def site_years(self, site_id: str | None = None, *, grids: bool = False) -> list[SiteYear]:
        """Rows by site and year (one site's, or every site's); the NDVI rasters only when
        asked for."""
        fields = [f for f in _ROW_FIELDS if grids or f not in ("ndvi_grid", "ndvi_grid_meta")]
        sql = f"SELECT {', '.join(_COLUMN_OF.get(f, f) for f in fields)} FROM site_years"
        args: tuple = ()
        if site_id is not None:
            sql += " WHERE site_id=?"
            args = (site_id,)
        rows = self.conn.execute(sql + " ORDER BY site_id, year", args).fetchall()
        return [
            SiteYear(**{f: _decode(f, v) for f, v in zip(fields, r, strict=True)}) for r in rows
        ]

    def series(self) -> dict[str, list[tuple]]:
        """Each site's (year, area, footprint NDVI, surroundings NDVI, water share), by year:
        what the change analysis reads, in one lean query."""
        out: dict[str, list[tuple]] = {}
        rows = self.conn.execute(
            "SELECT site_id, year, mined_area_ha, ndvi, ndvi_surroundings, water_fraction"
            " FROM site_years ORDER BY site_id, year"
        )
        for sid, *values in rows:
            out.setdefault(sid, []).append(tuple(values))
        return out

    def done_keys(self) -> dict[tuple[str, int], tuple[str, str, str, str]]:
        """(site, year) -> (model version, source, parameters, geometry hash) of every row."""
        rows = self.conn.execute(
            "SELECT site_id, year, model_version, source_key, params_key, geometry_hash"
            " FROM site_years"
        )
        return {(r[0], r[1]): (r[2], r[3], r[4], r[5] or "") for r in rows}

    # -- discovery ----------------------------------------------------------------------
    def ring_patches(self) -> list[tuple[str, int, BaseGeometry, float, float]]:
        """(site, year, polygon, area ha, probability) of every patch around active sites."""
        rows = self.conn.execute(
            "SELECT p.site_id, p.year, p.geom, p.area_ha, p.probability FROM ring_patches p"
            " LEFT JOIN sites s USING (site_id)"
            " WHERE (s.site_id IS NOT NULL AND s.retired_at IS NULL) OR p.site_id LIKE 'aoi:%'"
            " ORDER BY p.site_id, p.year"
        )
        return [(r[0], r[1], geometry_from_blob(r[2]), r[3], r[4]) for r in rows]

    def put_aoi_patches(self, aoi: str, year: int, patches: list[tuple]) -> None:
        """Replace the patches an area-of-interest scan found in ``year``."""
        with self.transaction() as c:
            c.execute("DELETE FROM ring_patches WHERE site_id=? AND year=?", (aoi, year))
            c.executemany(
                "INSERT INTO ring_patches (geom, site_id, year, area_ha, probability)"
                " VALUES (?,?,?,?,?)",
                [(gpkg_blob(_as_multipolygon(g)), aoi, year, a, p) for g, a, p in patches],
            )

    def scanned_years(self) -> list[int]:
        """Years whose rings were scanned (with enough clear looks somewhere)."""
        rows = self.conn.execute(
            "SELECT DISTINCT year FROM site_years WHERE ring_valid_fraction > 0 ORDER BY year"
        )
        return [r[0] for r in rows]

    def discovery_extents(self) -> dict[str, BaseGeometry]:
        """Known candidates' extents, by id: a new grouping that overlaps one keeps its id."""
        rows = self.conn.execute("SELECT candidate_id, extent FROM discoveries")
        return {r[0]: geometry_from_blob(r[1]) for r in rows}

    def put_discoveries(self, found: list[tuple[dict, BaseGeometry, BaseGeometry, dict]]) -> None:
        """Replace the candidates and their yearly areas in one transaction."""
        cols = DISCOVERY_FIELDS
        with self.transaction() as c:
            c.execute("DELETE FROM discoveries")
            c.execute("DELETE FROM discovery_years")
            for rec, footprint, extent, areas in found:
                c.execute(
                    f"INSERT INTO discoveries (geom, extent, updated_at, {', '.join(cols)})"
                    f" VALUES (?, ?, ?, {', '.join('?' * len(cols))})",
                    (
                        gpkg_blob(_as_multipolygon(footprint)),
                        gpkg_blob(_as_multipolygon(extent)),
                        now(),
                        *(rec[k] for k in cols),
                    ),
                )
                c.executemany(
                    "INSERT INTO discovery_years VALUES (?,?,?)",
                    [(rec["candidate_id"], y, a) for y, a in areas.items()],
                )
            self._update_extent(c, "discoveries")

    def discoveries(self) -> list[tuple[dict, BaseGeometry]]:
        """Stored candidates (their contract record and latest footprint), by confidence."""
        cols = DISCOVERY_FIELDS
        rows = self.conn.execute(
            f"SELECT geom, {', '.join(cols)} FROM discoveries"
            " ORDER BY confidence DESC, candidate_id"
        )
        return [(dict(zip(cols, r[1:], strict=True)), geometry_from_blob(r[0])) for r in rows]

    def discovery_years(self, candidate_id: str) -> dict[int, float]:
        rows = self.conn.execute(
            "SELECT year, area_ha FROM discovery_years WHERE candidate_id=? ORDER BY year",
            (candidate_id,),
        )
        return dict(rows.fetchall())

    def all_footprints(self) -> dict[tuple[str, int], BaseGeometry]:
        """Every active site's footprint of every year."""
        rows = self.conn.execute(
            "SELECT f.site_id, f.year, f.geom FROM footprints f JOIN sites s USING (site_id)"
            " WHERE s.retired_at IS NULL ORDER BY f.site_id, f.year"
        )
        return {(r[0], r[1]): geometry_from_blob(r[2]) for r in rows}

    def footprints(self, site_id: str) -> dict[int, BaseGeometry]:
        rows = self.conn.execute(
            "SELECT year, geom FROM footprints WHERE site_id=? ORDER BY year", (site_id,)
        )
        return {r[0]: geometry_from_blob(r[1]) for r in rows}

    # -- failures and runs --------------------------------------------------------------
    def record_failure(self, site_id: str, year: int, error: str, run_id: int | None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO failures (site_id, year, error, run_id, failed_at)"
                " VALUES (?,?,?,?,?)",
                (site_id, year, error, run_id, now()),
            )

    def failures(self) -> list[tuple[str, int, str]]:
        return [
            tuple(r)
            for r in self.conn.execute(
                "SELECT site_id, year, error FROM failures ORDER BY site_id, year"
            )
        ]

    def start_run(self, arguments: dict, model_version: str, pid: int) -> int:
        with self.transaction() as c:
            cur = c.execute(
                "INSERT INTO runs (started_at, outcome, model_version, arguments, pid)"
                " VALUES (?,?,?,?,?)",
                (now(), "running", model_version, json.dumps(arguments), pid),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, outcome: str, done: int, skipped: int, failed: int) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE runs SET finished_at=?, outcome=?, done=?, skipped=?, failed=? WHERE fid=?",
                (now(), outcome, done, skipped, failed, run_id),
            )

    def mark_killed_runs(self) -> None:
        """Runs still marked running hold no lock any more: they were killed."""
        with self.transaction() as c:
            c.execute("UPDATE runs SET outcome='killed' WHERE outcome='running'")

    def _update_extent(self, c: sqlite3.Connection, table: str) -> None:
        import shapely

        rows = c.execute(f"SELECT geom FROM {table}").fetchall()
        geoms = [geometry_from_blob(r[0]) for r in rows if r[0]]
        if not geoms:
            return
        minx, miny, maxx, maxy = shapely.GeometryCollection(geoms).bounds
        c.execute(
            "UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?, last_change=?"
            " WHERE table_name=?",
            (minx, miny, maxx, maxy, now(), table),
        )


#: SiteYear fields kept in site_years (the footprint lives in its own layer).
_ROW_FIELDS = (
    "site_id",
    "year",
    "mined_area_ha",
    "mine_fraction",
    "clear_observations",
    "valid_fraction",
    "ndvi",
    "ndvi_surroundings",
    "mean_probability",
    "water_fraction",
    "model_version",
    "source_key",
    "params_key",
    "items_used",
    "items_skipped",
    "baselines",
    "ndvi_grid",
    "ndvi_grid_meta",
    "geometry_hash",
    "season",
    "ring_valid_fraction",
    "computed_at",
    "run_id",
    "detected_area_ha",
)
_COLUMN_OF = {"baselines": "processing_baselines"}
_ROW_COLUMNS = tuple(_COLUMN_OF.get(f, f) for f in _ROW_FIELDS)
_JSON_FIELDS = {"items_used", "items_skipped", "baselines"}


def _encode(name: str, value):
    if name == "items_skipped":
        return json.dumps([list(x) for x in value])
    if name in _JSON_FIELDS:
        return json.dumps(list(value))
    return value


def _decode(name: str, value):
    if name == "items_skipped":
        return tuple(tuple(x) for x in json.loads(value or "[]"))
    if name in _JSON_FIELDS:
        return tuple(json.loads(value or "[]"))
    if name in ("ndvi_grid", "ndvi_grid_meta", "geometry_hash", "season"):
        return value if value is not None else (b"" if name == "ndvi_grid" else "")
    return value


class StoreLock:
    """An exclusive flock beside the store (``<store>.lock``); the kernel drops it when the
    process dies, so a killed run never blocks the next."""

    def __init__(self, store_path: Path):
        self.path = Path(store_path).with_name(Path(store_path).name + ".lock")
        self.fd: int | None = None

    def __enter__(self) -> StoreLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown process"
            os.close(fd)
            raise LockedError(
                f"another run holds {self.path} ({holder}); wait for it to finish"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {now()}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _as_multipolygon(geom: BaseGeometry) -> BaseGeometry:
    import shapely

    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.MultiPolygon([p for g in polys for p in getattr(g, "geoms", [g])])
    return geom
