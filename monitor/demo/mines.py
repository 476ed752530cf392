"""The demo world's mines: one painter per mine type of the field, and how each lives by year.

* ``benched_pit`` — open pit with alternating bright highwalls and dark floors (coal, iron ore,
  hard rock, copper, limestone), a disturbed ring, a terraced waste dump, a haul road, maybe a
  tailings pond; a pit lake once pumping stops.
* ``strip_coal`` — a long cut advancing across the land with parallel spoil ridges behind it.
* ``alluvial`` — artisanal gold along a stream: a meandering corridor of bare sand, mud and
  laterite with a chain of turbid, brown or green ponds.
* ``quarry`` — a wet sand-and-gravel pit (water with sand margins, stockpiles on a pad) or a
  benched rock quarry cut into a slope.
* ``tailings_dam`` — an embanked impoundment: pale beaches and a decant pond.

Each painter returns the materials and the mine weight on a window around the mine, an order
in which vegetation returns, and what never revegetates (standing water). The truth mask is
mine weight >= 0.5 after revegetation: the active disturbed surface.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from monitor.demo.spectra import ENDMEMBERS, index_of

__all__ = ["Mine", "paint_mine", "MINE_KINDS", "smooth_noise", "ellipse_rho"]

PIXEL = 10.0
E = len(ENDMEMBERS)
_I = {name: index_of(name) for name in ENDMEMBERS}
MINE_KINDS = ("benched_pit", "strip_coal", "alluvial", "quarry", "tailings_dam")


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise rescaled to [0, 1] (by min-max)."""
    field_ = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    lo, hi = field_.min(), field_.max()
    return (field_ - lo) / max(hi - lo, 1e-6)


def _wobble(theta: np.ndarray, phase: tuple[float, float]) -> np.ndarray:
    return 1 + 0.12 * np.sin(3 * theta + phase[0]) + 0.07 * np.sin(5 * theta + phase[1])


def ellipse_rho(xx, yy, cx, cy, aspect, angle, phase=None):
    """Normalised radius of a (wobbly) ellipse: < r inside a shape of radius r."""
    dx, dy = xx - cx, yy - cy
    c, s = math.cos(angle), math.sin(angle)
    u = (dx * c + dy * s) / math.sqrt(aspect)
    v = (-dx * s + dy * c) * math.sqrt(aspect)
    rho = np.hypot(u, v)
    if phase is not None:
        rho = rho / _wobble(np.arctan2(v, u), phase)
    return rho


@dataclass(frozen=True)
class Mine:
    """One mine and its life."""

    mine_id: str
    """Id of the mine (the site id for registered ones)."""
    kind: str
    """Mine type: one of MINE_KINDS."""
    trajectory: str
    """opening, expansion, stagnation, abandonment, stagnant_revegetating or unregistered."""
    cx: float
    """Centre column (px)."""
    cy: float
    """Centre row (px)."""
    start: int
    """First year with a footprint."""
    stop: int | None
    """Last year of growth (None: still growing)."""
    reveg_start: int | None
    """First year vegetation returns (None: never)."""
    area0_ha: float
    """Disturbed area in the first year."""
    rate_ha: float
    """Area added per year while growing."""
    aspect: float
    """Aspect ratio of the outline."""
    angle: float
    """Orientation (radians)."""
    variant: str
    """Pit ore (coal, iron, hardrock, copper, limestone), quarry type (wet, rock), or pond
    colour."""
    has_pond: bool
    """A tailings pond beside a pit."""
    pit_lake: bool
    """Water fills the void once mining stops."""
    dump_angle: float
    """Direction of the waste dump (or pad) from the centre."""
    phase: tuple[float, float]
    """Phases of the outline's wobble."""
    reveg_years: float = 5.0
    """Years vegetation takes to cover what it can."""
    soil: str = "soil_bright"
    """The region's own soil, which every mine surface is partly made of."""

    def area_ha(self, year: int) -> float:
        """Nominal disturbed area in ``year``, before vegetation returns."""
        if year < self.start:
            return 0.0
        grow_until = year if self.stop is None else min(year, self.stop)
        return self.area0_ha + self.rate_ha * max(0, grow_until - self.start)

    def radius(self, year: int) -> float:
        """Radius (px) of a disc of that area."""
        return math.sqrt(self.area_ha(year) * 1e4 / math.pi) / PIXEL

    @property
    def seed(self) -> int:
        return zlib.crc32(self.mine_id.encode())

    def stopped(self, year: int) -> bool:
        return self.stop is not None and year > self.stop


@dataclass
class _Canvas:
    """A mine's window: local grids, materials, weight and revegetation order."""

    y0: int
    x0: int
    xx: np.ndarray
    yy: np.ndarray
    mat: np.ndarray
    w: np.ndarray
    order: np.ndarray
    never: np.ndarray
    restored: np.ndarray | None = None

    @classmethod
    def around(cls, cx: float, cy: float, ext: int, n: int) -> _Canvas:
        y0, y1 = max(0, int(cy) - ext), min(n, int(cy) + ext)
        x0, x1 = max(0, int(cx) - ext), min(n, int(cx) + ext)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        shape = (y1 - y0, x1 - x0)
        return cls(
            y0,
            x0,
            xx,
            yy,
            np.zeros((E, *shape), np.float32),
            np.zeros(shape, np.float32),
            np.ones(shape, np.float32),
            np.zeros(shape, bool),
        )

    def put(self, where: np.ndarray, **shares: float | np.ndarray) -> None:
        """Replace the materials of ``where`` by the given shares; the mine owns it."""
        self.mat[:, where] = 0
        for name, share in shares.items():
            self.mat[_I[name], where] = share[where] if isinstance(share, np.ndarray) else share
        self.w[where] = 1.0


def _pond_water(variant_rng: np.random.Generator, age: int) -> dict[str, float]:
    """Pond colour: brown while dredged, turning turbid, then green with age."""
    if age <= 1:
        return {"water_brown": 0.7, "water_turbid": 0.3}
    if age <= 4:
        return {"water_turbid": 0.6, "water_brown": 0.2, "water_green": 0.2}
    g = float(variant_rng.uniform(0.3, 0.7))
    return {"water_green": g, "water_turbid": 1 - g}


# -- painters -------------------------------------------------------------------------------
def _benched_pit(m: Mine, year: int, cv: _Canvas) -> None:
    r = m.radius(year)
    rho = ellipse_rho(cv.xx, cv.yy, m.cx, m.cy, m.aspect, m.angle, m.phase)
    ring = rho < r
    cv.put(ring, spoil=0.5, soil_bright=0.3, soil_dark=0.2)
    pit_r = 0.68 * r
    pit = rho < pit_r
    d = rho / max(pit_r, 1e-3)
    n_bench = max(2, int(pit_r / 5))
    tex = np.random.default_rng(m.seed).random(rho.shape)
    wall = 0.5 + 0.5 * np.sin(2 * math.pi * d * n_bench + 3 * tex * (d > 0.3))
    wall = np.clip(wall * (0.4 + 0.6 * d) + 0.15 * (tex - 0.5), 0, 1).astype(np.float32)
    floor_mat, wall_mat = {
        "coal": ("pit_dark", "rock_bench"),
        "iron": ("ore_red", "rock_bench"),
        "hardrock": ("soil_dark", "rock_bench"),
        "copper": ("rock_dark", "spoil"),
        "limestone": ("limestone", "limestone"),
    }[m.variant]
    shares = {wall_mat: wall, floor_mat: 0.8 * (1 - wall)}
    shares["pit_dark"] = shares.get("pit_dark", 0) + 0.2 * (1 - wall)
    cv.put(pit, **shares)
    if m.pit_lake and m.stopped(year):
        lake = d < min(0.55, 0.2 + 0.1 * (year - m.stop))
        cv.put(lake, water_clear=0.7, water_turbid=0.3)
        cv.never |= lake
    dx, dy = math.cos(m.dump_angle), math.sin(m.dump_angle)
    drho = ellipse_rho(
        cv.xx, cv.yy, m.cx + dx * 0.95 * r, m.cy + dy * 0.95 * r, 1.4, m.dump_angle, m.phase[::-1]
    )
    dump = (drho < 0.62 * r) & ~pit
    terrace = np.sin(2 * math.pi * drho / 3.0) > 0.6
    cv.put(dump, spoil=np.where(terrace, 0.6, 0.85), rock_bench=np.where(terrace, 0.4, 0.15))
    parts = ring | pit | dump
    if m.has_pond and r > 12:
        pa = m.dump_angle + 2.3
        pcx, pcy = m.cx + math.cos(pa) * 1.05 * r, m.cy + math.sin(pa) * 1.05 * r
        prho = np.maximum(np.abs(cv.xx - pcx), np.abs(cv.yy - pcy)) / (0.5 * r)
        pond = (prho < 1) & ~pit
        water = prho < 0.78
        cv.put(pond & ~water, tailings_beach=1.0)
        cv.put(pond & water, water_turbid=1.0)
        parts |= pond
    t = np.clip(((cv.xx - m.cx) * dx + (cv.yy - m.cy) * dy) / max(r * 1.6, 1), 0, 1)
    road_d = np.hypot(cv.xx - (m.cx + t * dx * r * 1.6), cv.yy - (m.cy + t * dy * r * 1.6))
    road = (road_d < 1.2) & ~parts
    cv.put(road, **{"ore_red" if m.variant == "iron" else "spoil": 1.0})
    cv.order = 0.55 * smooth_noise(np.random.default_rng(m.seed + 1), rho.shape, 3.0) + 0.45 * (
        np.clip(1.2 - rho / max(r, 1), 0, 1)
    )
    cv.order = np.where(pit, cv.order + 0.25, cv.order)


def _strip_coal(m: Mine, year: int, cv: _Canvas) -> None:
    width = 32 + 20 * (m.aspect - 1.0)  # px across the strip
    c, s = math.cos(m.angle), math.sin(m.angle)
    u = (cv.xx - m.cx) * c + (cv.yy - m.cy) * s
    v = -(cv.xx - m.cx) * s + (cv.yy - m.cy) * c
    u0 = -_STRIP_REACH / 2  # where the first cut was made
    front = u0 + min(_STRIP_REACH, m.area_ha(year) / (width * 0.01))
    inside_v = np.abs(v) < width / 2
    cut_w = 7.0
    wobble = 1.5 * np.sin(v / 6 + m.phase[0])
    mined = inside_v & (u >= u0) & (u < front + wobble)
    cut = mined & (u >= front - cut_w + wobble)
    if m.stopped(year) and m.pit_lake:
        lake = cut & (u < front - 1.5 + wobble)
        cv.put(cut, rock_bench=0.6, spoil=0.4)
        cv.put(lake, water_turbid=0.6, water_clear=0.4)
        cv.never |= lake
    else:
        seam = {"coal": "pit_dark", "lignite": "lignite"}.get(m.variant, "pit_dark")
        hw = cut & (u >= front - 1.6 + wobble)
        cv.put(cut & ~hw, **{seam: 0.85, "rock_bench": 0.15})
        cv.put(hw, rock_bench=0.8, soil_dark=0.2)
    ridges = mined & ~cut
    phase = np.sin(2 * math.pi * (u - u0) / 4.5)
    cv.put(
        ridges,
        spoil=np.where(phase > 0, 0.75, 0.55),
        rock_bench=np.where(phase > 0, 0.2, 0.0),
        soil_dark=np.where(phase > 0, 0.05, 0.3),
    )
    road = (np.abs(np.abs(v) - width / 2 - 2.5) < 1.2) & (u >= u0) & (u < front + 8)
    cv.put(road & ~mined, spoil=0.7, soil_bright=0.3)
    # vegetation comes back first on the oldest ridges
    cv.order = 0.35 * smooth_noise(np.random.default_rng(m.seed + 1), u.shape, 3.0) + 0.65 * (
        np.clip((u - u0) / max(front - u0, 1), 0, 1)
    )


def _stream_path(m: Mine, n_pts: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A meandering stream line through the mine's cell (px), parametrised by arc length."""
    rng = np.random.default_rng(m.seed + 7)
    axis = 150.0
    t = np.linspace(-axis / 2, axis / 2, n_pts)
    amp = rng.uniform(8, 16)
    wl = rng.uniform(45, 80)
    off = amp * np.sin(2 * math.pi * t / wl + m.phase[0]) + 0.4 * amp * np.sin(
        2 * math.pi * t / (wl / 2.3) + m.phase[1]
    )
    c, s = math.cos(m.angle), math.sin(m.angle)
    x = m.cx + t * c - off * s
    y = m.cy + t * s + off * c
    return x, y


def _alluvial(m: Mine, year: int, cv: _Canvas) -> None:
    rng = np.random.default_rng(m.seed + 3)
    px, py = _stream_path(m)
    seg = np.hypot(np.diff(px), np.diff(py))
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    width0 = 12 + 6 * (m.aspect - 1.0)
    reach = min(arc[-1], m.area_ha(year) / (width0 * 0.01))
    start = (arc[-1] - reach) / 2 if m.trajectory == "opening" else 0.0
    keep = (arc >= start) & (arc <= start + reach)
    if keep.sum() < 2:
        return
    # distance to the mined reach of the stream, and the arc position of the nearest point
    grid = np.zeros(cv.w.shape, bool)
    rows = np.clip(np.round(py[keep] - cv.y0).astype(int), 0, grid.shape[0] - 1)
    cols = np.clip(np.round(px[keep] - cv.x0).astype(int), 0, grid.shape[1] - 1)
    grid[rows, cols] = True
    dist, (ir, ic) = ndimage.distance_transform_edt(~grid, return_indices=True)
    arc_grid = np.full(grid.shape, np.nan, np.float32)
    arc_grid[rows, cols] = arc[keep]
    near_arc = arc_grid[ir, ic]
    wiggle = smooth_noise(rng, grid.shape, 4.0)
    half = width0 / 2 * (0.6 + 0.8 * wiggle)
    corridor = dist < half
    tex = smooth_noise(rng, grid.shape, 1.5)
    sandy = m.variant != "laterite"
    cv.put(
        corridor,
        sand=np.where(tex > 0.5, 0.55, 0.3) if sandy else 0.25,
        mud=np.where(tex > 0.5, 0.2, 0.35),
        tailings_beach=0.15 if sandy else 0.05,
        laterite=0.1 if sandy else np.where(tex > 0.4, 0.5, 0.35),
        soil_dark=0.0 if sandy else 0.15,
    )
    # a chain of ponds along the stream, dug as the front advances
    for k, a in enumerate(np.arange(start + 4, start + reach - 2, rng.uniform(9, 14))):
        i = int(np.searchsorted(arc, a))
        jit = rng.normal(0, 2.0, 2)
        rad = rng.uniform(2.5, 5.5)
        prho = ellipse_rho(
            cv.xx,
            cv.yy,
            px[i] + jit[0],
            py[i] + jit[1],
            rng.uniform(1, 2.2),
            rng.uniform(0, math.pi),
            (rng.uniform(0, 6), rng.uniform(0, 6)),
        )
        pond = (prho < rad) & corridor
        dug = m.start + int((a - start) / max(reach, 1) * max(0, year - m.start))
        cv.put(pond, **_pond_water(np.random.default_rng(m.seed + k), year - dug))
        cv.never |= pond
    cv.order = 0.5 * smooth_noise(np.random.default_rng(m.seed + 1), grid.shape, 2.5) + 0.5 * (
        np.clip((near_arc - start) / max(reach, 1), 0, 1)
    )
    cv.order = np.nan_to_num(cv.order, nan=0.5)


def _quarry(m: Mine, year: int, cv: _Canvas) -> None:
    r = m.radius(year)
    rng = np.random.default_rng(m.seed + 5)
    if m.variant == "wet":
        c, s = math.cos(m.angle), math.sin(m.angle)
        u = (cv.xx - m.cx) * c + (cv.yy - m.cy) * s
        v = -(cv.xx - m.cx) * s + (cv.yy - m.cy) * c
        a = r * math.sqrt(m.aspect) * 0.95
        b = r / math.sqrt(m.aspect) * 0.95
        box = np.maximum(np.abs(u) / a, np.abs(v) / b)  # a rounded rectangle, straight shores
        pit = box < 1.0
        water = box < (0.78 if not m.stopped(year) else 0.86)
        cv.put(pit, sand=0.6, soil_bright=0.25, mud=0.15)
        cv.put(water, water_clear=0.55, water_green=0.25, water_turbid=0.2)
        cv.never |= water
        order_r = box
    else:  # a benched rock quarry cut into a slope, open on one side
        rho = ellipse_rho(cv.xx, cv.yy, m.cx, m.cy, m.aspect, m.angle, m.phase)
        pit = rho < r
        d = rho / max(r, 1e-3)
        bench = np.sin(2 * math.pi * d * max(2, int(r / 4))) > 0.2
        light = 0.75 + 0.25 * np.cos(np.arctan2(cv.yy - m.cy, cv.xx - m.cx) - m.dump_angle)
        cv.put(
            pit,
            limestone=np.where(bench, 0.9, 0.65) * light,
            rock_bench=0.1 * light,
            rock_dark=np.where(bench, 0.0, 0.2),
        )
        order_r = d
    # a processing pad with stockpiles beside the pit
    dx, dy = math.cos(m.dump_angle), math.sin(m.dump_angle)
    pcx, pcy = m.cx + dx * (r + 6), m.cy + dy * (r + 6)
    pad = (np.abs(cv.xx - pcx) < 0.45 * r + 3) & (np.abs(cv.yy - pcy) < 0.3 * r + 3) & ~pit
    cv.put(pad, soil_bright=0.5, concrete=0.3, sand=0.2)
    for _ in range(3):
        sx, sy = pcx + rng.uniform(-0.3, 0.3) * r, pcy + rng.uniform(-0.2, 0.2) * r
        pile = np.hypot(cv.xx - sx, cv.yy - sy) < rng.uniform(1.5, 3.0)
        cv.put(pile & pad, sand=0.8, tailings_beach=0.2)
    cv.order = 0.5 * smooth_noise(np.random.default_rng(m.seed + 1), cv.w.shape, 3.0) + 0.5 * (
        np.clip(1.2 - order_r, 0, 1)
    )
    if m.variant == "wet":
        # a restored gravel pit is a lake: its water stays, but leaves the mine once its
        # banks are green
        cv.restored = cv.never.copy()
        cv.order = np.where(cv.never, cv.order + 0.45, cv.order)


def _tailings_dam(m: Mine, year: int, cv: _Canvas) -> None:
    area = m.area_ha(year)
    side = math.sqrt(area * 1e4) / PIXEL
    a, b = side * math.sqrt(m.aspect) / 2, side / math.sqrt(m.aspect) / 2
    c, s = math.cos(m.angle), math.sin(m.angle)
    u = (cv.xx - m.cx) * c + (cv.yy - m.cy) * s
    v = -(cv.xx - m.cx) * s + (cv.yy - m.cy) * c
    box = np.maximum(np.abs(u) / a, np.abs(v) / b)
    dam = box < 1.0
    wall = dam & (box > 1.0 - 2.5 / max(min(a, b), 3))
    beach_tex = smooth_noise(np.random.default_rng(m.seed + 2), cv.w.shape, 3.0)
    cv.put(dam, tailings_beach=0.55 + 0.3 * beach_tex, mud=0.45 - 0.3 * beach_tex)
    pond_c = 0.35 if not m.stopped(year) else 0.2
    prho = np.hypot((u - 0.35 * a) / (pond_c * 2 * a), v / (0.55 * b))
    pond = dam & ~wall & (prho < 1.0)
    water = (
        {"water_turbid": 0.7, "water_green": 0.3}
        if m.variant == "green"
        else {"water_turbid": 0.6, "water_brown": 0.25, "water_clear": 0.15}
    )
    cv.put(pond, **water)
    cv.put(wall, spoil=0.6, rock_bench=0.4)
    cv.order = 0.4 * smooth_noise(np.random.default_rng(m.seed + 1), cv.w.shape, 3.0) + 0.6 * (
        np.clip(box, 0, 1)
    )
    cv.order = 1.2 - cv.order  # capped from the walls in: the pond area greens last


_STRIP_REACH = 120.0  # px a strip mine can advance inside its cell


def _extent(m: Mine) -> int:
    """Half-size (px) of the window that holds the mine at its largest."""
    radius = m.radius(m.stop if m.stop is not None else m.start + 15)
    extent = {
        "benched_pit": 2.6 * radius + 8,
        "quarry": 2.2 * radius + 12,
        "tailings_dam": 1.1 * radius * math.sqrt(math.pi) * math.sqrt(m.aspect) + 8,
    }
    return int(min(extent.get(m.kind, 110), 140))


_PAINTERS = {
    "benched_pit": _benched_pit,
    "strip_coal": _strip_coal,
    "alluvial": _alluvial,
    "quarry": _quarry,
    "tailings_dam": _tailings_dam,
}


def paint_mine(
    m: Mine, year: int, material: np.ndarray, weight: np.ndarray, truth: np.ndarray
) -> None:
    """Paint one mine's parts for ``year`` into ``material``/``weight``/``truth`` (in place).

    Materials are per unit of weight (a pixel's abundance of each is weight x material);
    ``truth`` is the weight that counts as mine: it differs from ``weight`` only where water
    stays after restoration (a gravel pit turned lake)."""
    if year < m.start:
        return
    cv = _Canvas.around(m.cx, m.cy, _extent(m), weight.shape[0])
    _PAINTERS[m.kind](m, year, cv)
    # no two mines alike: each is part local soil and a little brighter or darker, pixel by
    # pixel too, so that its spectra overlap those of the land around it
    rng = np.random.default_rng(m.seed + 99)
    soil = rng.uniform(0.05, 0.4) * smooth_noise(rng, cv.w.shape, 2.0) * 2
    dry = ~cv.never
    cv.mat[:, dry] *= 1 - np.clip(soil[dry], 0, 0.7)
    cv.mat[_I[m.soil], dry] += np.clip(soil[dry], 0, 0.7)
    cv.mat *= rng.uniform(0.85, 1.15) * (0.9 + 0.2 * smooth_noise(rng, cv.w.shape, 0.7))[None]
    w, t = cv.w, cv.w
    if m.reveg_start is not None and year >= m.reveg_start:
        progress = (year - m.reveg_start + 1) / m.reveg_years
        cover = np.clip((progress - cv.order) / 0.25 + 0.5, 0, 1) * 0.9
        w = cv.w * (1 - np.where(cv.never, 0.0, cover))
        t = w if cv.restored is None else np.where(cv.restored, cv.w * (1 - cover), w)
    sl = (slice(cv.y0, cv.y0 + w.shape[0]), slice(cv.x0, cv.x0 + w.shape[1]))
    keep = w > weight[sl]
    material[(slice(None), *sl)] = np.where(
        keep[None], cv.mat * w[None], material[(slice(None), *sl)]
    )
    weight[sl] = np.where(keep, w, weight[sl])
    truth[sl] = np.where(keep, t, truth[sl])
