"""The history store: one GeoPackage (SQLite) that QGIS opens.

Layers: ``sites`` (concession polygons), ``footprints`` (the detected mine outline of every
site-year), and attribute tables ``site_years`` (one row per site x year, with provenance),
``failures`` (site-years that failed, retried by the next run), ``runs`` and ``meta``
(schema version). Every write of a site-year is one transaction: a run killed at any moment
leaves no half-written row.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry

from monitor.errors import StoreError

__all__ = ["Store", "SiteRecord", "SiteYear", "SCHEMA_VERSION", "gpkg_blob", "geometry_from_blob"]

SCHEMA_VERSION = 1
_GPKG_APP_ID = 0x47504B47
_GPKG_VERSION = 10300


def gpkg_blob(geom: BaseGeometry | None, srs_id: int = 4326) -> bytes | None:
    """A GeoPackage geometry blob: header with an xy envelope, then little-endian WKB."""
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
    if blob is None:
        return None
    flags = blob[3]
    env = (flags >> 1) & 0b111
    size = 8 + {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}[env]
    return shapely.from_wkb(bytes(blob[size:]))


@dataclass(frozen=True)
class SiteRecord:
    """A registered site."""

    site_id: str
    """Unique id."""
    name: str
    """Display name."""
    geometry: BaseGeometry
    """Concession polygon (EPSG:4326)."""
    source_file: str = ""
    """File it was imported from."""


@dataclass(frozen=True)
class SiteYear:
    """One site x year of the history."""

    site_id: str
    """Site."""
    year: int
    """Year."""
    mined_area_ha: float | None
    """Detected mine area inside the site; None when the year had too few clear observations."""
    mine_fraction: float | None
    """Mined share of the site's area."""
    clear_observations: float
    """Median count of clear observations over the site's pixels."""
    valid_fraction: float
    """Share of the site's pixels with enough clear observations."""
    ndvi: float | None
    """Mean NDVI over the site's largest footprint so far (revegetation shows here)."""
    model_version: str
    """Model that classified the year."""
    source_key: str
    """Imagery source."""
    params_key: str
    """Hash of the compositing and detection parameters."""
    items_used: tuple[str, ...] = ()
    """STAC item ids in the composite."""
    items_skipped: tuple[tuple[str, str], ...] = ()
    """(id, reason) of scenes that could not be read."""
    baselines: tuple[str, ...] = ()
    """Processing baselines of the items used."""
    footprint: BaseGeometry | None = None
    """Detected mine outline (EPSG:4326)."""
    mean_probability: float | None = None
    """Mean mine probability over the detected footprint (a confidence ingredient)."""
    ndvi_surroundings: float | None = None
    """Mean NDVI of the site's land outside its largest footprint."""
    computed_at: str = ""
    """UTC timestamp of the computation."""
    run_id: int | None = None
    """Run that wrote the row."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name));
CREATE TABLE IF NOT EXISTS sites (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, site_id TEXT NOT NULL UNIQUE,
  name TEXT, source_file TEXT, imported_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS footprints (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, site_id TEXT NOT NULL,
  year INTEGER NOT NULL, area_ha REAL, UNIQUE(site_id, year));
CREATE TABLE IF NOT EXISTS site_years (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL, year INTEGER NOT NULL,
  mined_area_ha REAL, mine_fraction REAL, clear_observations REAL, valid_fraction REAL,
  ndvi REAL, ndvi_surroundings REAL, mean_probability REAL, model_version TEXT, source_key TEXT, params_key TEXT,
  items_used TEXT, items_skipped TEXT, processing_baselines TEXT, computed_at TEXT, run_id INTEGER,
  UNIQUE(site_id, year));
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


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
                f"{self.path} is not a readable history store ({exc}); move it away or fix the path"
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
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # -- schema -------------------------------------------------------------------------
    def _init(self) -> None:
        c = self.conn
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" in tables:
            row = c.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else None
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, this tool writes {SCHEMA_VERSION}; "
                    "point `store` at a new file or upgrade the tool"
                )
            # a derived cache, not history: safe to add to a store written before it existed
            c.execute(
                "CREATE TABLE IF NOT EXISTS site_status (site_id TEXT PRIMARY KEY, payload TEXT)"
            )
            return
        if tables - {"sqlite_sequence"} and "gpkg_contents" not in tables and "meta" not in tables:
            raise StoreError(
                f"{self.path} is an SQLite file but not a mine monitor store; choose another path"
            )
        c.execute(f"PRAGMA application_id={_GPKG_APP_ID}")
        c.execute(f"PRAGMA user_version={_GPKG_VERSION}")
        # idempotent DDL; the meta row written last marks the store complete
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
                ("site_years", "attributes", "One row per site x year"),
                ("failures", "attributes", "Site-years that failed; retried by the next run"),
                ("runs", "attributes", "Runs of monitor run"),
            ]:
                c.execute(
                    "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)"
                    " VALUES (?,?,?,?,?)",
                    (table, kind, table, desc, 4326 if kind == "features" else None),
                )
                if kind == "features":
                    c.execute(
                        "INSERT OR IGNORE INTO gpkg_geometry_columns VALUES (?,?,?,?,0,0)",
                        (table, "geom", "MULTIPOLYGON", 4326),
                    )
            c.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            c.execute("INSERT INTO meta VALUES ('created_at', ?)", (now(),))

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?)", (key, value))

    # -- sites --------------------------------------------------------------------------
    def upsert_sites(self, sites: Iterable[SiteRecord]) -> tuple[int, int]:
        """Insert or update sites by id in one transaction; histories stay. (added, updated)."""
        added = updated = 0
        stamp = now()
        with self.transaction() as c:
            for s in sites:
                geom = _as_multipolygon(s.geometry)
                cur = c.execute(
                    "UPDATE sites SET geom=?, name=?, source_file=?, updated_at=? WHERE site_id=?",
                    (gpkg_blob(geom), s.name, s.source_file, stamp, s.site_id),
                )
                if cur.rowcount:
                    updated += 1
                else:
                    c.execute(
                        "INSERT INTO sites (geom, site_id, name, source_file, imported_at, updated_at)"
                        " VALUES (?,?,?,?,?,?)",
                        (gpkg_blob(geom), s.site_id, s.name, s.source_file, stamp, stamp),
                    )
                    added += 1
            self._update_extent(c, "sites")
            self.bump(c)
        return added, updated

    def sites(self, ids: Iterable[str] | None = None) -> list[SiteRecord]:
        ids = list(dict.fromkeys(ids)) if ids else None
        sql = "SELECT site_id, name, geom, source_file FROM sites"
        if ids and len(ids) < 500:
            rows = self.conn.execute(
                f"{sql} WHERE site_id IN ({','.join('?' * len(ids))})", ids
            ).fetchall()
        else:
            rows = self.conn.execute(f"{sql} ORDER BY site_id").fetchall()
        out = [SiteRecord(r[0], r[1] or r[0], geometry_from_blob(r[2]), r[3] or "") for r in rows]
        if ids:
            wanted = list(dict.fromkeys(ids))
            known = {s.site_id: s for s in out}
            missing = [i for i in wanted if i not in known]
            if missing:
                raise StoreError(
                    f"unknown site id {missing[0]!r}; `monitor sites list` shows the ids"
                )
            out = [known[i] for i in wanted]
        return out

    # -- site-years ---------------------------------------------------------------------
    def put_site_year(self, row: SiteYear) -> None:
        """Write one site-year (row, footprint, failure cleared) atomically."""
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO site_years (site_id, year, mined_area_ha, mine_fraction,"
                " clear_observations, valid_fraction, ndvi, mean_probability, model_version, source_key,"
                " params_key, items_used, items_skipped, processing_baselines, computed_at, run_id)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    row.site_id, row.year, row.mined_area_ha, row.mine_fraction, row.clear_observations,
                    row.valid_fraction, row.ndvi, row.mean_probability, row.model_version, row.source_key,
                    row.params_key, json.dumps(list(row.items_used)),
                    json.dumps([list(x) for x in row.items_skipped]), json.dumps(list(row.baselines)),
                    row.computed_at or now(), row.run_id,
                ),
            )  # fmt: skip
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
            c.execute("DELETE FROM failures WHERE site_id=? AND year=?", (row.site_id, row.year))
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

    def site_years(self, site_id: str | None = None) -> list[SiteYear]:
        sql = (
            "SELECT site_id, year, mined_area_ha, mine_fraction, clear_observations, valid_fraction, ndvi,"
            " model_version, source_key, params_key, items_used, items_skipped, processing_baselines,"
            " mean_probability, computed_at, run_id, ndvi_surroundings FROM site_years"
        )
        args: tuple = ()
        if site_id is not None:
            sql += " WHERE site_id=?"
            args = (site_id,)
        rows = self.conn.execute(sql + " ORDER BY site_id, year", args).fetchall()
        return [
            SiteYear(
                site_id=r[0],
                year=r[1],
                mined_area_ha=r[2],
                mine_fraction=r[3],
                clear_observations=r[4],
                valid_fraction=r[5],
                ndvi=r[6],
                model_version=r[7],
                source_key=r[8],
                params_key=r[9],
                items_used=tuple(json.loads(r[10] or "[]")),
                items_skipped=tuple(tuple(x) for x in json.loads(r[11] or "[]")),
                baselines=tuple(json.loads(r[12] or "[]")),
                mean_probability=r[13],
                computed_at=r[14],
                run_id=r[15],
                ndvi_surroundings=r[16],
            )  # fmt: skip
            for r in rows
        ]

    def done_keys(self) -> dict[tuple[str, int], tuple[str, str, str]]:
        """(site, year) -> (model_version, source_key, params_key) of every stored row."""
        rows = self.conn.execute(
            "SELECT site_id, year, model_version, source_key, params_key FROM site_years"
        )
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}

    def footprints(self, site_id: str) -> dict[int, BaseGeometry]:
        rows = self.conn.execute(
            "SELECT year, geom FROM footprints WHERE site_id=? ORDER BY year", (site_id,)
        )
        return {r[0]: geometry_from_blob(r[1]) for r in rows}

    # -- failures and runs --------------------------------------------------------------
    def record_failure(self, site_id: str, year: int, error: str, run_id: int | None) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT OR REPLACE INTO failures (site_id, year, error, run_id, failed_at) VALUES (?,?,?,?,?)",
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
                "INSERT INTO runs (started_at, outcome, model_version, arguments, pid) VALUES (?,?,?,?,?)",
                (now(), "running", model_version, json.dumps(arguments), pid),
            )
            return int(cur.lastrowid)

    def finish_run(self, run_id: int, outcome: str, done: int, skipped: int, failed: int) -> None:
        with self.transaction() as c:
            c.execute(
                "UPDATE runs SET finished_at=?, outcome=?, done=?, skipped=?, failed=? WHERE fid=?",
                (now(), outcome, done, skipped, failed, run_id),
            )

    def runs(self) -> list[dict]:
        cur = self.conn.execute("SELECT * FROM runs ORDER BY fid")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def _update_extent(self, c: sqlite3.Connection, table: str) -> None:
        rows = c.execute(f"SELECT geom FROM {table}").fetchall()
        geoms = [geometry_from_blob(r[0]) for r in rows if r[0]]
        if not geoms:
            return
        minx, miny, maxx, maxy = shapely.GeometryCollection(geoms).bounds
        c.execute(
            "UPDATE gpkg_contents SET min_x=?, min_y=?, max_x=?, max_y=?, last_change=? WHERE table_name=?",
            (minx, miny, maxx, maxy, now(), table),
        )


def _as_multipolygon(geom: BaseGeometry) -> BaseGeometry:
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.MultiPolygon([p for g in polys for p in getattr(g, "geoms", [g])])
    return geom
