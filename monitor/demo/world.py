"""The demo world's layout: land cover, confusers and mines, and how they change by year.

A world is a square of ``size`` pixels at 10 m on one UTM grid. It holds a 4 x 4 grid of cells;
each cell is a registered site (of a known trajectory), an unregistered mine, or open land.
Everything is drawn from one seed, so two seeds give two different worlds.
"""

from __future__ import annotations

import dataclasses
import math
import zlib
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from monitor.demo.spectra import ENDMEMBERS, index_of

__all__ = ["Mine", "World", "make_world", "TRAJECTORIES", "PIXEL"]

PIXEL = 10.0
E = len(ENDMEMBERS)
_I = {name: index_of(name) for name in ENDMEMBERS}

#: Site trajectories of the main world; each appears at least twice. Status as DESIGN.md names it.
TRAJECTORIES = {
    "never_opened": "none",
    "confuser": "none",
    "opening": "opening",
    "expansion": "expansion",
    "stagnation": "stagnation",
    "abandonment": "likely_abandonment",
    "stagnant_revegetating": "likely_abandonment",
}


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to [0, 1] (by rank-free min-max)."""
    field_ = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    lo, hi = field_.min(), field_.max()
    return (field_ - lo) / max(hi - lo, 1e-6)


@dataclass(frozen=True)
class Mine:
    """One open-pit mine and its life."""

    mine_id: str
    """Id of the mine (the site id for registered ones)."""
    cx: float
    """Centre column (px)."""
    cy: float
    """Centre row (px)."""
    kind: str
    """Trajectory: opening, expansion, stagnation, abandonment, stagnant_revegetating."""
    start: int
    """First year with a footprint."""
    stop: int | None
    """Last year of growth (None: still growing)."""
    reveg_start: int | None
    """First year vegetation returns (None: never)."""
    area0_ha: float
    """Pit+ring area in the first year."""
    rate_ha: float
    """Pit+ring area added per year while growing."""
    aspect: float
    """Ellipse aspect ratio."""
    angle: float
    """Ellipse orientation (radians)."""
    ore: str
    """coal, iron or hardrock: sets the pit floor material."""
    has_pond: bool
    """A turbid tailings pond beside the pit."""
    pit_lake: bool
    """A lake forms at the pit bottom once mining stops."""
    dump_angle: float
    """Direction of the waste dump from the pit centre."""
    phase: tuple[float, float]
    """Phases of the outline's wobble."""

    def radius(self, year: int) -> float:
        if year < self.start:
            return 0.0
        grow_until = year if self.stop is None else min(year, self.stop)
        area_ha = self.area0_ha + self.rate_ha * max(0, grow_until - self.start)
        return math.sqrt(area_ha * 1e4 / math.pi) / PIXEL


@dataclass
class World:
    """Static layers of a world plus its mines; ``abundances`` draws any year."""

    name: str
    size: int
    origin: tuple[float, float]
    """Upper-left corner (x, y) in the world's CRS (metres)."""
    epsg: int
    mgrs_tile: str
    seed: int
    base: np.ndarray
    """(E, size, size) abundances of the land without mines, vegetation in `veg_green`."""
    evergreen: np.ndarray
    """(size, size) share of the vegetation that stays green in the dry season."""
    fields: np.ndarray
    """(size, size) crop-field id, 0 outside fields."""
    field_kind: dict[int, str]
    reservoir_depth: np.ndarray
    """(size, size) normalised depth of the reservoir basin (0 outside)."""
    river_dist: np.ndarray
    """(size, size) distance to the river centre line (px)."""
    mines: list[Mine]
    sites: list[dict]
    """Registered sites: {site_id, name, kind, polygon (px ring), mine_id or None}."""
    year_wetness: dict[int, float] = field(default_factory=dict)
    water_level: dict[int, float] = field(default_factory=dict)

    def transform(self) -> tuple[float, float, float, float, float, float]:
        x0, y0 = self.origin
        return (PIXEL, 0.0, x0, 0.0, -PIXEL, y0)

    # -- per year ------------------------------------------------------------------
    def mine_layers(self, year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mine material abundances (E, n, n), their weight (n, n) and the truth mask."""
        n = self.size
        material = np.zeros((E, n, n), np.float32)
        weight = np.zeros((n, n), np.float32)
        for mine in self.mines:
            r = mine.radius(year)
            if r <= 0:
                continue
            _draw_mine(mine, year, r, material, weight, self.seed)
        truth = weight >= 0.5
        return material, weight, truth

    def abundances(self, year: int, doy: int) -> np.ndarray:
        """Per-pixel endmember abundances on day-of-year ``doy`` of ``year``."""
        a = self.base.copy()
        wet = self.year_wetness.get(year, 1.0)
        # austral phenology: green in summer (DOY ~30), brown by the end of the dry season
        season = 0.5 + 0.5 * math.cos(2 * math.pi * (doy - 30) / 365.0)
        green_share = np.clip(self.evergreen + (1 - self.evergreen) * season * wet, 0, 1)
        veg = a[_I["veg_green"]].copy()
        a[_I["veg_green"]] = veg * green_share
        a[_I["veg_dry"]] += veg * (1 - green_share)
        self._crops(a, doy)
        self._water(a, year, doy)
        material, weight, _ = self.mine_layers(year)
        a = a * (1 - weight)[None] + material
        return a

    def _crops(self, a: np.ndarray, doy: int) -> None:
        if not self.field_kind:
            return
        for fid, kind in self.field_kind.items():
            m = self.fields == fid
            if kind == "pivot":  # irrigated winter wheat: green through the dry season
                state = "green"
            elif kind == "maize":  # summer crop: stubble after harvest, ploughed in spring
                state = "green" if doy < 110 or doy > 330 else ("stubble" if doy < 220 else "bare")
            else:  # fallow or late-planted: bare most of the dry season
                state = "bare" if 120 < doy < 300 else "green"
            a[:, m] = 0
            if state == "green":
                a[_I["veg_green"], m] = 0.85
                a[_I["soil_dark"], m] = 0.15
            elif state == "stubble":
                a[_I["veg_dry"], m] = 0.55
                a[_I["soil_bright"], m] = 0.45
            else:
                a[_I["soil_dark"], m] = 0.6
                a[_I["soil_bright"], m] = 0.4

    def _water(self, a: np.ndarray, year: int, doy: int) -> None:
        level = self.water_level.get(year, 1.0)
        # the dry season draws the reservoir down and exposes a bare, bright shore
        draw = 0.25 * (1 - level) + 0.15 * max(0.0, math.sin(2 * math.pi * (doy - 120) / 365.0))
        basin = self.reservoir_depth > 0
        wet = self.reservoir_depth > draw
        shore = basin & ~wet
        a[:, wet] = 0
        a[_I["water_clear"], wet] = 1.0
        a[:, shore] = 0
        a[_I["soil_dark"], shore] = 0.5
        a[_I["sand"], shore] = 0.5
        # river: a narrow channel in sandy beds; narrower in dry years
        half_width = 1.0 + 1.5 * level
        channel = self.river_dist < half_width
        a[:, channel] = 0
        a[_I["water_clear"], channel] = 0.8
        a[_I["water_turbid"], channel] = 0.2


def _wobble(theta: np.ndarray, phase: tuple[float, float]) -> np.ndarray:
    return 1 + 0.12 * np.sin(3 * theta + phase[0]) + 0.07 * np.sin(5 * theta + phase[1])


def _ellipse_rho(xx, yy, cx, cy, aspect, angle, phase=None):
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    u = (dx * c + dy * s) / math.sqrt(aspect)
    v = (-dx * s + dy * c) * math.sqrt(aspect)
    rho = np.hypot(u, v)
    if phase is not None:
        rho = rho / _wobble(np.arctan2(v, u), phase)
    return rho


def _draw_mine(mine: Mine, year: int, r: float, material, weight, world_seed: int) -> None:
    """Paint one mine's parts for ``year`` into ``material``/``weight`` (in place)."""
    n = weight.shape[0]
    ext = int(r * 2.6) + 6
    y0, y1 = max(0, int(mine.cy) - ext), min(n, int(mine.cy) + ext)
    x0, x1 = max(0, int(mine.cx) - ext), min(n, int(mine.cx) + ext)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    mat = np.zeros((E, y1 - y0, x1 - x0), np.float32)
    w = np.zeros((y1 - y0, x1 - x0), np.float32)

    rho = _ellipse_rho(xx, yy, mine.cx, mine.cy, mine.aspect, mine.angle, mine.phase)
    stopped = mine.stop is not None and year > mine.stop
    # disturbed ring around the pit: cleared ground, stockpiles, plant area
    ring = rho < r
    mat[_I["spoil"], ring] = 0.5
    mat[_I["soil_bright"], ring] = 0.3
    mat[_I["soil_dark"], ring] = 0.2
    # the pit with benches: alternating bright highwall faces and dark floors
    pit_r = 0.68 * r
    pit = rho < pit_r
    d = rho / max(pit_r, 1e-3)
    n_bench = max(2, int(pit_r / 5))
    tex = np.random.default_rng(zlib.crc32(f"{mine.mine_id}/{world_seed}".encode())).random(
        rho.shape
    )
    wall = 0.5 + 0.5 * np.sin(2 * math.pi * d * n_bench + 3 * tex * (d > 0.3))
    wall = np.clip(wall * (0.4 + 0.6 * d) + 0.15 * (tex - 0.5), 0, 1).astype(np.float32)
    floor_mat = {"coal": "pit_dark", "iron": "ore_red", "hardrock": "soil_dark"}[mine.ore]
    mat[:, pit] = 0
    mat[_I["rock_bench"], pit] = wall[pit]
    mat[_I[floor_mat], pit] = 0.8 * (1 - wall[pit])
    mat[_I["pit_dark"], pit] += 0.2 * (1 - wall[pit])
    # a pit lake fills the bottom once pumping stops
    if mine.pit_lake and stopped:
        lake_r = min(0.55, 0.2 + 0.1 * (year - mine.stop))
        lake = d < lake_r
        mat[:, lake] = 0
        mat[_I["water_clear"], lake] = 0.7
        mat[_I["water_turbid"], lake] = 0.3
    # waste dump: a bright terraced lobe beside the pit
    dx, dy = math.cos(mine.dump_angle), math.sin(mine.dump_angle)
    dcx, dcy = mine.cx + dx * 0.95 * r, mine.cy + dy * 0.95 * r
    drho = _ellipse_rho(xx, yy, dcx, dcy, 1.4, mine.dump_angle, mine.phase[::-1])
    dump = (drho < 0.62 * r) & ~pit
    terrace = np.sin(2 * math.pi * drho / 3.0) > 0.6
    mat[:, dump] = 0
    mat[_I["spoil"], dump] = np.where(terrace[dump], 0.6, 0.85)
    mat[_I["rock_bench"], dump] = np.where(terrace[dump], 0.4, 0.15)
    parts = ring | pit | dump
    # tailings pond: turbid water inside a pale beach
    if mine.has_pond and r > 12:
        pa = mine.dump_angle + 2.3
        pcx, pcy = mine.cx + math.cos(pa) * 1.05 * r, mine.cy + math.sin(pa) * 1.05 * r
        prho = np.maximum(np.abs(xx - pcx), np.abs(yy - pcy)) / (0.5 * r)
        pond = (prho < 1) & ~pit
        water = prho < 0.78
        mat[:, pond] = 0
        mat[_I["tailings_beach"], pond & ~water] = 1.0
        mat[_I["water_turbid"], pond & water] = 1.0
        parts |= pond
    # haul road from the pit rim to the dump
    t = np.clip(((xx - mine.cx) * dx + (yy - mine.cy) * dy) / max(r * 1.6, 1), 0, 1)
    road_d = np.hypot(xx - (mine.cx + t * dx * r * 1.6), yy - (mine.cy + t * dy * r * 1.6))
    road = (road_d < 1.2) & ~pit & ~parts
    mat[:, road] = 0
    mat[_I["ore_red" if mine.ore == "iron" else "spoil"], road] = 1.0
    parts |= road
    w[parts] = 1.0

    # revegetation: dumps and the ring green up first, pit walls later, lakes never
    if mine.reveg_start is not None and year >= mine.reveg_start:
        progress = (year - mine.reveg_start + 1) / 5.0
        rng = np.random.default_rng([world_seed, zlib.crc32(mine.mine_id.encode())])
        u = smooth_noise(rng, w.shape, 3.0)
        order = 0.55 * u + 0.45 * np.clip(1.2 - rho / r, 0, 1)  # outer parts first
        order = np.where(pit, order + 0.25, order)
        if mine.pit_lake and stopped:
            order = np.where(d < min(0.55, 0.2 + 0.1 * (year - mine.stop)), 9.0, order)
        cover = np.clip((progress - order) / 0.25 + 0.5, 0, 1) * 0.9
        w = w * (1 - cover)
    sl = (slice(None), slice(y0, y1), slice(x0, x1))
    keep = w > weight[y0:y1, x0:x1]
    # materials are per unit of mine weight: abundance = weight * material
    material[sl] = np.where(keep[None], mat * w[None], material[sl])
    weight[y0:y1, x0:x1] = np.where(keep, w, weight[y0:y1, x0:x1])


def _base_land(rng: np.random.Generator, n: int):
    base = np.zeros((E, n, n), np.float32)
    veg = 0.45 + 0.45 * smooth_noise(rng, (n, n), 18)
    bright = smooth_noise(rng, (n, n), 30)
    base[_I["veg_green"]] = veg
    base[_I["soil_bright"]] = (1 - veg) * bright
    base[_I["soil_dark"]] = (1 - veg) * (1 - bright)
    evergreen = np.where(smooth_noise(rng, (n, n), 12) > 0.78, 0.85, 0.15).astype(np.float32)
    return base, evergreen


def _paint(base: np.ndarray, mask: np.ndarray, **shares: float) -> None:
    base[:, mask] = 0
    for name, share in shares.items():
        base[_I[name], mask] = share


def make_world(
    seed: int,
    *,
    name: str = "main",
    size: int = 768,
    origin: tuple[float, float] = (699960.0, 7100020.0),
    epsg: int = 32735,
    mgrs_tile: str = "35JNM",
    first_year: int = 2016,
    last_year: int = 2025,
    training: bool = False,
) -> World:
    """Draw a world from ``seed``: the main demo world, or (``training``) the training region."""
    rng = np.random.default_rng(seed)
    n = size
    base, evergreen = _base_land(rng, n)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    margin = 40  # keep concessions and their load buffer inside the imaged area
    cell = (n - 2 * margin) // 4

    # river: a meander across the world with wide dry sandy beds and bars
    a0, slope = rng.uniform(0.25, 0.75) * n, rng.uniform(-0.3, 0.3)
    amp, wl, ph = rng.uniform(15, 35), rng.uniform(180, 320), rng.uniform(0, 6.28)
    centre = a0 + slope * (xx - n / 2) + amp * np.sin(2 * np.pi * xx / wl + ph)
    river_dist = np.abs(yy - centre) / math.sqrt(1 + slope**2)
    bed_half = 5 + 4 * smooth_noise(rng, (n, n), 20)
    bed = river_dist < bed_half
    _paint(base, bed, sand=0.8, soil_bright=0.1, veg_green=0.1)
    riparian = (river_dist >= bed_half) & (river_dist < bed_half + 4)
    evergreen[riparian] = 0.9
    base[_I["veg_green"], riparian] = 0.9
    base[_I["soil_dark"], riparian] = 0.1
    base[_I["soil_bright"], riparian] = 0.0

    # cells: choose roles
    cells = [(i, j) for i in range(4) for j in range(4)]
    order = rng.permutation(len(cells))
    cells = [cells[k] for k in order]
    if training:
        roles = (
            ["expansion"] * 3 + ["stagnation"] * 2 + ["abandonment"] * 2 + ["opening"]
            + ["stagnant_revegetating"] + ["unregistered"] * 2
            + ["town", "reservoir", "bare", "fields", "lake"]
        )  # fmt: skip
    else:
        roles = (
            ["never_opened"] * 2 + ["confuser"] * 2 + ["opening"] * 2 + ["expansion"] * 2
            + ["stagnation"] * 2 + ["abandonment"] * 2 + ["stagnant_revegetating"] * 2
            + ["unregistered", "town"]
        )  # fmt: skip
    field_kind: dict[int, str] = {}
    fields = np.zeros((n, n), np.int32)
    reservoir_depth = np.zeros((n, n), np.float32)
    mines: list[Mine] = []
    sites: list[dict] = []
    confuser_count = 0

    def cell_centre(i: int, j: int) -> tuple[float, float]:
        jitter = rng.uniform(-12, 12, size=2)
        return margin + (j + 0.5) * cell + jitter[0], margin + (i + 0.5) * cell + jitter[1]

    def add_fields(cx: float, cy: float, count: int) -> None:
        for _ in range(count):
            w, h = rng.integers(25, 55, size=2)
            fx = int(cx + rng.uniform(-0.4, 0.4) * cell - w / 2)
            fy = int(cy + rng.uniform(-0.4, 0.4) * cell - h / 2)
            fid = len(field_kind) + 1
            kind = rng.choice(["maize", "maize", "fallow", "pivot"])
            if kind == "pivot":
                rad = min(w, h) / 2
                m = np.hypot(xx - fx - rad, yy - fy - rad) < rad
            else:
                m = (xx >= fx) & (xx < fx + w) & (yy >= fy) & (yy < fy + h)
            m &= ~bed & (fields == 0)
            fields[m] = fid
            field_kind[fid] = str(kind)

    def add_bare(cx: float, cy: float, radius: float) -> None:
        blob = _ellipse_rho(xx, yy, cx, cy, rng.uniform(1, 2.5), rng.uniform(0, 3.14),
                            (rng.uniform(0, 6), rng.uniform(0, 6))) < radius  # fmt: skip
        _paint(base, blob & ~bed, soil_bright=0.75, sand=0.15, veg_dry=0.1)

    def add_reservoir(cx: float, cy: float) -> None:
        rad = rng.uniform(28, 42)
        rho = _ellipse_rho(xx, yy, cx, cy, 1.6, rng.uniform(0, 3.14), (1.0, 2.0))
        # a straight dam wall cuts the basin: sharp, man-made shore
        dam = (xx - cx) * 0.6 + (yy - cy) * 0.8 < rad * 0.55
        basin = (rho < rad) & dam
        depth = np.where(basin, np.clip(1 - rho / rad, 0, 1) ** 0.6, 0)
        reservoir_depth[:] = np.maximum(reservoir_depth, depth)
        wall = (np.abs((xx - cx) * 0.6 + (yy - cy) * 0.8 - rad * 0.55) < 1.5) & (rho < rad * 1.1)
        _paint(base, wall, urban=0.7, soil_bright=0.3)

    def add_lake(cx: float, cy: float) -> None:
        rad = rng.uniform(18, 30)
        rho = _ellipse_rho(xx, yy, cx, cy, 1.3, rng.uniform(0, 3.14), (0.5, 1.5))
        _paint(base, rho < rad, water_clear=0.9, water_turbid=0.1)
        shore = (rho >= rad) & (rho < rad + 3)
        _paint(base, shore, veg_green=0.6, soil_dark=0.4)

    def add_town(cx: float, cy: float) -> None:
        half = rng.uniform(45, 65)
        block = (np.abs(xx - cx) < half) & (np.abs(yy - cy) < half * 0.8)
        u = rng.random((n, n))
        _paint(base, block & (u < 0.55), urban=0.85, soil_bright=0.15)
        _paint(base, block & (u >= 0.55) & (u < 0.8), veg_green=0.7, soil_dark=0.3)
        _paint(base, block & (u >= 0.8), soil_bright=0.6, asphalt=0.4)
        streets = block & (((xx - cx) % 9 < 1.2) | ((yy - cy) % 11 < 1.2))
        _paint(base, streets, asphalt=0.9, urban=0.1)

    def new_mine(mid: str, cx: float, cy: float, kind: str) -> Mine:
        span = last_year - first_year
        if kind == "opening":
            start = last_year - int(rng.integers(0, 2))
            stop = reveg = None
        elif kind == "expansion" or kind == "unregistered":
            start = first_year - int(rng.integers(0, 3)) if rng.random() < 0.6 else first_year + 2
            stop = reveg = None
        elif kind == "stagnation":
            start = first_year - 2
            stop = last_year - int(rng.integers(4, 6))
            reveg = None
        elif kind == "abandonment":
            start = first_year - 3
            stop = first_year + int(rng.integers(2, 4))
            reveg = stop + 1
        else:  # stagnant_revegetating: frozen first, then grass creeps back in
            start = first_year - 3
            stop = first_year + int(rng.integers(1, 3))
            reveg = last_year - int(rng.integers(3, 5))
        start = min(start, last_year)
        if training and kind != "opening" and stop is None:
            start = min(start, first_year + span // 2)
        return Mine(
            mine_id=mid, cx=cx, cy=cy, kind=kind, start=start, stop=stop, reveg_start=reveg,
            area0_ha=float(rng.uniform(5, 10)), rate_ha=float(rng.uniform(1.5, 3.5)),
            aspect=float(rng.uniform(1.0, 1.8)), angle=float(rng.uniform(0, math.pi)),
            ore=str(rng.choice(["coal", "coal", "iron", "hardrock"])),
            has_pond=bool(rng.random() < 0.5), pit_lake=bool(rng.random() < 0.6),
            dump_angle=float(rng.uniform(0, 2 * math.pi)),
            phase=(float(rng.uniform(0, 6.28)), float(rng.uniform(0, 6.28))),
        )  # fmt: skip

    n_site = 0
    for (i, j), role in zip(cells, roles, strict=False):
        cx, cy = cell_centre(i, j)
        if role in ("town", "reservoir", "bare", "fields", "lake"):
            {"town": add_town, "reservoir": add_reservoir, "lake": add_lake}.get(
                role, lambda x, y: None
            )(cx, cy)
            if role == "bare":
                add_bare(cx, cy, 35)
            if role in ("fields", "town"):
                add_fields(cx + 60, cy + 60, 3)
            continue
        mine = None
        if role == "confuser":
            # a concession that holds look-alikes but no mine
            if confuser_count % 2 == 0:
                add_bare(cx - 30, cy, 32)
                add_fields(cx + 20, cy + 30, 3)
            else:
                add_reservoir(cx, cy)
                add_bare(cx + 55, cy - 50, 18)
            confuser_count += 1
        elif role == "never_opened":
            add_fields(cx, cy, 2)
        else:
            mid = f"S{n_site + 1:02d}" if role != "unregistered" else f"U{len(mines) + 1:02d}"
            mine = new_mine(mid, cx, cy, role)
            mines.append(mine)
            # a confuser next to some mines: the model must not lean on "bare means mine"
            if rng.random() < 0.5:
                add_bare(cx + rng.choice([-1, 1]) * 75, cy + rng.choice([-1, 1]) * 75, 14)
        if role == "unregistered" or training:
            continue
        n_site += 1
        half_w, half_h = rng.uniform(0.40, 0.45, size=2) * cell
        rot = rng.uniform(-0.25, 0.25)
        corners = [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)]
        ring = [
            (cx + u * math.cos(rot) - v * math.sin(rot), cy + u * math.sin(rot) + v * math.cos(rot))
            for u, v in corners
        ]
        sites.append(
            {
                "site_id": f"S{n_site:02d}",
                "name": _NAMES[(n_site - 1) % len(_NAMES)],
                "kind": role,
                "ring": ring,
                "mine_id": mine.mine_id if mine else None,
            }
        )
    # mines were numbered by order of creation; align registered ids with their site ids
    renamed = {}
    for s in sites:
        if s["mine_id"]:
            renamed[s["mine_id"]] = s["site_id"]
            s["mine_id"] = s["site_id"]
    mines = [dataclasses.replace(m, mine_id=renamed.get(m.mine_id, m.mine_id)) for m in mines]

    # straight gravel and tar roads cross the world
    for _ in range(2):
        p, q = rng.uniform(0, n, 2), rng.uniform(0, n, 2)
        vx, vy = q[0] - p[0] + 1e-3, n - 0.0
        d = np.abs((xx - p[0]) * vy - (yy - 0) * vx) / math.hypot(vx, vy)
        _paint(base, (d < 0.8) & ~bed, asphalt=0.7, soil_bright=0.3)

    years = range(first_year, last_year + 1)
    wet = {y: float(rng.uniform(0.6, 1.1)) for y in years}
    level = {y: float(np.clip(wet[y] + rng.normal(0, 0.1), 0.3, 1.0)) for y in years}
    return World(
        name=name, size=n, origin=origin, epsg=epsg, mgrs_tile=mgrs_tile, seed=seed,
        base=base, evergreen=evergreen, fields=fields, field_kind=field_kind,
        reservoir_depth=reservoir_depth, river_dist=river_dist, mines=mines, sites=sites,
        year_wetness=wet, water_level=level,
    )  # fmt: skip


_NAMES = [
    "Kromdraai", "Witbank East", "Leeuwpan", "Goedehoop", "Elandsfontein", "Vlakfontein",
    "Rietspruit", "Kleinkopje", "Blesbok", "Boschmanskrans", "Doornhoek", "Haasfontein",
    "Klipfontein", "Steenkoolspruit", "Wolwekrans", "Bankfontein",
]  # fmt: skip
