"""The demo world's land without mines: base cover per biome, and the look-alikes that fool
per-pixel classifiers (seed 000: barren land, dry river beds; seed 002: towns, dams).

:class:`Land` paints onto endmember abundances. Static painters (fields, rivers with sand
bars, lakes with sharp shores, reservoirs with dams, towns, industrial pads, steep bare
slopes, playas, washes, pasture) change ``base``; dynamic ones (burn scars, clear-cuts) are
:class:`Patch` records applied on their dates. Every look-alike is also written to ``kinds``
so that the training labels can name it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from monitor.demo.biomes import Biome
from monitor.demo.mines import ellipse_rho, smooth_noise
from monitor.demo.spectra import ENDMEMBERS, index_of

__all__ = ["Land", "Patch", "KINDS", "crop_state"]

E = len(ENDMEMBERS)
_I = {name: index_of(name) for name in ENDMEMBERS}

#: Look-alike kinds written to ``Land.kinds`` (0 = plain land), named in training labels.
KINDS = (
    "land",
    "fields",
    "bare",
    "river_sand",
    "water",
    "shore",
    "town",
    "industrial",
    "scarp",
    "playa",
    "wash",
    "pasture",
    "road",
    "burn_scar",
    "clearcut",
    "beach",
    "forest",
)
_K = {k: i for i, k in enumerate(KINDS)}


@dataclass(frozen=True)
class Patch:
    """A look-alike that appears on a date and fades: a burn scar or a clear-cut."""

    kind: str
    """burn_scar or clearcut."""
    year: int
    """Year it appears."""
    doy: int
    """Day of year it appears."""
    rows: slice
    """Rows of its window."""
    cols: slice
    """Columns of its window."""
    mask: np.ndarray
    """Its footprint on the window."""
    recover_years: float
    """Years until vegetation has covered it again."""

    def strength(self, year: int, doy: int) -> float:
        """0 before it appears, 1 when fresh, falling to 0 as vegetation returns."""
        t = (year - self.year) + (doy - self.doy) / 365.0
        if t < 0:
            return 0.0
        return float(max(0.0, 1.0 - t / self.recover_years))


def crop_state(biome: str, kind: str, doy: int) -> dict[str, float]:
    """Abundances of a field of ``kind`` on ``doy``: crop calendars of each biome."""
    green = {"veg_green": 0.85, "soil_dark": 0.15}
    sparse = {"veg_green": 0.35, "soil_dark": 0.65}
    ripe = {"veg_dry": 0.8, "soil_bright": 0.2}
    stubble = {"veg_dry": 0.55, "soil_bright": 0.45}
    bare = {"soil_dark": 0.6, "soil_bright": 0.4}
    if kind in ("pivot", "grass"):
        return green
    if biome == "temperate":
        calendars = {  # (last doy, state) in order
            "wheat": (
                (90, sparse),
                (185, green),
                (215, ripe),
                (260, stubble),
                (300, bare),
                (366, sparse),
            ),
            "maize": ((130, bare), (170, sparse), (270, green), (300, ripe), (366, stubble)),
            "beet": ((120, bare), (160, sparse), (290, green), (366, bare)),
            "rapeseed": (
                (100, green),
                (140, {"veg_green": 0.55, "sand": 0.3, "soil_dark": 0.15}),
                (190, green),
                (210, ripe),
                (366, stubble),
            ),
        }
        for last, state in calendars.get(kind, calendars["wheat"]):
            if doy <= last:
                return state
    if kind == "maize":  # austral summer crop: stubble after harvest, ploughed in spring
        return green if doy < 110 or doy > 330 else (stubble if doy < 220 else bare)
    return bare if 120 < doy < 300 else green  # fallow or late-planted


@dataclass
class Land:
    """A world's land being painted: abundances and the records the year renderer needs."""

    biome: Biome
    rng: np.random.Generator
    n: int
    base: np.ndarray = field(init=False)
    """(E, n, n) abundances; vegetation that follows the seasons sits in `veg_green`."""
    evergreen: np.ndarray = field(init=False)
    """(n, n) share of that vegetation that stays green in the dry season."""
    kinds: np.ndarray = field(init=False)
    """(n, n) look-alike kind code (index into KINDS)."""
    fields: np.ndarray = field(init=False)
    """(n, n) crop-field id, 0 outside fields."""
    field_kind: dict[int, str] = field(default_factory=dict)
    reservoir_depth: np.ndarray = field(init=False)
    """(n, n) normalised depth of reservoir basins (0 outside)."""
    river_dist: np.ndarray = field(init=False)
    """(n, n) distance to the river centre line (px)."""
    river_half: np.ndarray = field(init=False)
    """(n, n) half-width of the river bed (px)."""
    bars: np.ndarray = field(init=False)
    """(n, n) height of sand bars in the river bed (0-1): low water exposes the high ones."""
    patches: list[Patch] = field(default_factory=list)
    texture: np.ndarray = field(init=False)
    """(n, n) brightness texture of the land: crowns, shrubs, stones, furrows at 10-80 m."""
    field_phase: dict[int, int] = field(default_factory=dict)
    """Days each field runs ahead of (or behind) its crop's calendar."""

    def __post_init__(self) -> None:
        n = self.n
        self.base = np.zeros((E, n, n), np.float32)
        self.evergreen = np.zeros((n, n), np.float32)
        self.kinds = np.zeros((n, n), np.uint8)
        self.fields = np.zeros((n, n), np.int32)
        self.reservoir_depth = np.zeros((n, n), np.float32)
        self.yy, self.xx = np.mgrid[0:n, 0:n].astype(np.float32)
        rng = self.rng
        self.texture = (
            1.0
            + 0.14 * (smooth_noise(rng, (n, n), 0.6) - 0.5)
            + 0.10 * (smooth_noise(rng, (n, n), 2.5) - 0.5)
            + 0.06 * (smooth_noise(rng, (n, n), 9.0) - 0.5)
        ).astype(np.float32)
        getattr(self, f"_base_{self.biome.base}")()

    # -- helpers --------------------------------------------------------------------------
    def paint(self, mask: np.ndarray, kind: str | None = None, **shares: float) -> None:
        """Replace the cover of ``mask`` by the given shares (and mark its kind)."""
        self.base[:, mask] = 0
        for name, share in shares.items():
            self.base[_I[name], mask] = share
        if kind is not None:
            self.kinds[mask] = _K[kind]
            if kind != "fields":
                self.fields[mask] = 0

    def varied(self, **shares: float) -> dict[str, float]:
        """The shares, each scaled by 0.6-1.4 and renormalised: no two look-alikes of one kind
        are made of quite the same mix."""
        raw = {k: v * self.rng.uniform(0.6, 1.4) for k, v in shares.items()}
        total = sum(raw.values())
        return {k: v * sum(shares.values()) / total for k, v in raw.items()}

    def blob(self, cx: float, cy: float, radius: float, aspect: tuple[float, float] = (1, 2.5)):
        rho = ellipse_rho(
            self.xx,
            self.yy,
            cx,
            cy,
            self.rng.uniform(*aspect),
            self.rng.uniform(0, math.pi),
            (self.rng.uniform(0, 6), self.rng.uniform(0, 6)),
        )
        return rho < radius

    def free(self) -> np.ndarray:
        """Land not yet taken by water, settlements or other look-alikes."""
        return np.isin(self.kinds, [_K["land"], _K["forest"], _K["pasture"], _K["fields"]])

    # -- base cover -----------------------------------------------------------------------
    def _base_savanna(self) -> None:
        n, rng = self.n, self.rng
        veg = 0.45 + 0.45 * smooth_noise(rng, (n, n), 18)
        bright = smooth_noise(rng, (n, n), 30)
        clay = np.clip(smooth_noise(rng, (n, n), 14) * 1.6 - 0.9, 0, 0.6)  # eroded, clayey ground
        self.base[_I["veg_green"]] = veg
        self.base[_I["soil_bright"]] = (1 - veg) * bright * (1 - clay)
        self.base[_I["soil_dark"]] = (1 - veg) * (1 - bright) * (1 - clay)
        self.base[_I["spoil"]] = (1 - veg) * clay
        self.evergreen[:] = np.where(smooth_noise(rng, (n, n), 12) > 0.78, 0.85, 0.15)
        # scattered tree crowns, denser in the evergreen thickets
        trees = rng.random((n, n)) < 0.015 + 0.05 * (self.evergreen > 0.5)
        self.base[_I["veg_green"], trees] = 0.95
        self.base[_I["soil_bright"], trees] = 0.02
        self.base[_I["soil_dark"], trees] = 0.03
        self.evergreen[trees] = 0.9

    def _base_forest(self) -> None:
        n, rng = self.n, self.rng
        canopy = 0.82 + 0.14 * smooth_noise(rng, (n, n), 2.0)  # crown texture
        gaps = smooth_noise(rng, (n, n), 10) > 0.8  # secondary forest and old clearings
        self.base[_I["forest"]] = np.where(gaps, 0.45, canopy)
        self.base[_I["veg_green"]] = np.where(gaps, 0.5, 0.95 - canopy)
        self.base[_I["soil_dark"]] = np.where(gaps, 0.05, 0.05)
        self.evergreen[:] = 0.9
        self.kinds[:] = _K["forest"]

    def _base_desert(self) -> None:
        n, rng = self.n, self.rng
        shrub = 0.05 + 0.2 * smooth_noise(rng, (n, n), 6) ** 2
        rock = smooth_noise(rng, (n, n), 25)
        bright = smooth_noise(rng, (n, n), 15)
        soil = 1 - shrub
        clay = np.clip(smooth_noise(rng, (n, n), 14) * 1.6 - 0.9, 0, 0.5)
        soil = soil * (1 - clay)
        self.base[_I["spoil"]] = (1 - shrub) * clay
        self.base[_I["veg_green"]] = shrub
        self.base[_I["soil_bright"]] = soil * (0.55 + 0.3 * bright) * (1 - 0.5 * rock)
        self.base[_I["sand"]] = soil * (0.45 - 0.3 * bright) * (1 - 0.5 * rock)
        self.base[_I["rock_dark"]] = soil * 0.5 * rock
        self.evergreen[:] = 0.05
        shrubs = rng.random((n, n)) < 0.04  # creosote and mesquite: dark dots on bright soil
        self.base[:, shrubs] *= 0.5
        self.base[_I["veg_green"], shrubs] += 0.3
        self.base[_I["veg_dry"], shrubs] += 0.2
        self.evergreen[shrubs] = 0.4

    def _base_farmland(self) -> None:
        n, rng = self.n, self.rng
        veg = 0.75 + 0.2 * smooth_noise(rng, (n, n), 12)
        self.base[_I["veg_green"]] = veg
        self.base[_I["soil_dark"]] = 1 - veg
        self.evergreen[:] = 0.8
        # forest blocks over a third of the land, conifer and broadleaf
        woods = smooth_noise(rng, (n, n), 35) > 0.62
        conifer = smooth_noise(rng, (n, n), 20) > 0.5
        self.paint(woods & conifer, "forest", conifer=0.9, veg_green=0.1)
        self.paint(woods & ~conifer, "forest", forest=0.85, veg_green=0.15)
        # the rest is a patchwork of fields, filled in later around the cells
        self._patchwork(~woods)

    def _patchwork(self, where: np.ndarray) -> None:
        n, rng = self.n, self.rng
        kinds = ("wheat", "wheat", "maize", "beet", "rapeseed", "grass")
        y = 0
        while y < n:
            h = int(rng.integers(18, 45))
            x = 0
            while x < n:
                w = int(rng.integers(20, 70))
                block = (self.yy >= y) & (self.yy < y + h) & (self.xx >= x) & (self.xx < x + w)
                # hedges and tracks between fields
                inner = block & (self.yy > y + 0.8) & (self.xx > x + 0.8)
                m = inner & where & (self.fields == 0)
                if m.any():
                    fid = len(self.field_kind) + 1
                    self.fields[m] = fid
                    self.field_kind[fid] = str(rng.choice(kinds))
                    self.field_phase[fid] = int(rng.choice([-20, 0, 20]))
                    self.kinds[m] = _K["fields"]
                x += w
            y += h

    # -- water ----------------------------------------------------------------------------
    def river(self) -> None:
        """A river across the world, of the biome's kind."""
        n, rng = self.n, self.rng
        a0, slope = rng.uniform(0.25, 0.75) * n, rng.uniform(-0.3, 0.3)
        amp, wl, ph = rng.uniform(15, 35), rng.uniform(180, 320), rng.uniform(0, 6.28)
        centre = a0 + slope * (self.xx - n / 2) + amp * np.sin(2 * np.pi * self.xx / wl + ph)
        self.river_dist = np.abs(self.yy - centre) / math.sqrt(1 + slope**2)
        kind = self.biome.base
        widths = {"savanna": (5, 4), "forest": (9, 8), "desert": (6, 8), "farmland": (2.5, 1.5)}
        w0, dw = widths[kind]
        self.river_half = (w0 + dw * smooth_noise(rng, (n, n), 20)).astype(np.float32)
        bed = self.river_dist < self.river_half
        self.bars = np.where(bed, smooth_noise(rng, (n, n), 5), 0).astype(np.float32)
        if kind == "savanna":
            self.paint(
                bed,
                "river_sand",
                **self.varied(
                    sand=0.6, tailings_beach=0.15, mud=0.1, soil_bright=0.05, veg_green=0.1
                ),
            )
        elif kind == "forest":
            self.paint(bed, "river_sand", **self.varied(sand=0.6, tailings_beach=0.2, mud=0.2))
        elif kind == "desert":
            tex = smooth_noise(rng, (n, n), 2)
            self.paint(bed, "wash", sand=0.6, soil_bright=0.3, rock_dark=0.1)
            self.base[_I["rock_dark"], bed] += 0.15 * tex[bed]
        else:
            self.paint(bed, "water", water_clear=0.7, water_turbid=0.3)
        rip = (self.river_dist >= self.river_half) & (self.river_dist < self.river_half + 4)
        if kind != "desert":
            self.evergreen[rip] = 0.9
            self.paint(
                rip,
                "forest",
                **(
                    {"forest": 0.8, "veg_green": 0.2}
                    if kind != "savanna"
                    else {"veg_green": 0.9, "soil_dark": 0.1}
                ),
            )
        self.bed = bed

    def add_reservoir(self, cx: float, cy: float) -> None:
        rad = self.rng.uniform(28, 42)
        rho = ellipse_rho(self.xx, self.yy, cx, cy, 1.6, self.rng.uniform(0, 3.14), (1.0, 2.0))
        # a straight dam wall cuts the basin: sharp, man-made shore
        dam = (self.xx - cx) * 0.6 + (self.yy - cy) * 0.8 < rad * 0.55
        basin = (rho < rad) & dam
        depth = np.where(basin, np.clip(1 - rho / rad, 0, 1) ** 0.6, 0)
        self.reservoir_depth[:] = np.maximum(self.reservoir_depth, depth)
        self.kinds[basin] = _K["shore"]
        wall = (np.abs((self.xx - cx) * 0.6 + (self.yy - cy) * 0.8 - rad * 0.55) < 1.5) & (
            rho < rad * 1.1
        )
        self.paint(wall, "industrial", urban=0.7, soil_bright=0.3)

    def add_lake(self, cx: float, cy: float) -> None:
        rad = self.rng.uniform(18, 30)
        rho = ellipse_rho(self.xx, self.yy, cx, cy, 1.3, self.rng.uniform(0, 3.14), (0.5, 1.5))
        turbid = float(self.rng.uniform(0.05, 0.6))
        water = {"water_clear": 1 - turbid, "water_turbid": turbid}
        if self.biome.base == "forest":  # floodplain lakes take the white water's sediment
            water = {
                "water_brown": 0.4 * turbid,
                "water_turbid": 0.6,
                "water_clear": 0.4 - 0.4 * turbid,
            }
        self.paint(rho < rad, "water", **water)
        shore = (rho >= rad) & (rho < rad + 3)
        if self.rng.random() < 0.5:  # a sandy beach on part of the shore
            side = np.cos(np.arctan2(self.yy - cy, self.xx - cx) - self.rng.uniform(0, 6.28)) > 0.3
            self.paint(shore & side, "beach", sand=0.8, soil_bright=0.2)
            shore &= ~side
        self.paint(shore, "shore", veg_green=0.6, soil_dark=0.4)

    def add_pit_lake(self, cx: float, cy: float) -> None:
        """An old flooded gravel pit, long restored: straight shores, a thin beach, trees."""
        rng = self.rng
        ang = rng.uniform(0, math.pi)
        c, s = math.cos(ang), math.sin(ang)
        u, v = (self.xx - cx) * c + (self.yy - cy) * s, -(self.xx - cx) * s + (self.yy - cy) * c
        a, b = rng.uniform(15, 35), rng.uniform(10, 22)
        box = np.maximum(np.abs(u) / a, np.abs(v) / b)
        self.paint(box < 1.0, "water", water_clear=0.6, water_green=0.4)
        self.paint((box >= 1.0) & (box < 1.0 + 2.0 / b), "beach", sand=0.6, veg_green=0.4)
        ring = (box >= 1.0 + 2.0 / b) & (box < 1.0 + 6.0 / b)
        self.paint(ring, "forest", forest=0.7, veg_green=0.3)

    # -- settlements ----------------------------------------------------------------------
    def add_town(self, cx: float, cy: float) -> None:
        rng = self.rng
        half = rng.uniform(45, 65)
        block = (np.abs(self.xx - cx) < half) & (np.abs(self.yy - cy) < half * 0.8)
        u = rng.random((self.n, self.n))
        roof = {
            "farmland": {"roof_red": 0.6, "urban": 0.25, "veg_green": 0.15},
            "forest": {"roof_red": 0.3, "urban": 0.5, "laterite": 0.2},
        }.get(self.biome.base, {"urban": 0.85, "soil_bright": 0.15})
        self.paint(block & (u < 0.55), "town", **roof)
        self.paint(block & (u >= 0.55) & (u < 0.8), "town", veg_green=0.7, soil_dark=0.3)
        self.paint(block & (u >= 0.8), "town", soil_bright=0.6, asphalt=0.4)
        streets = block & (((self.xx - cx) % 9 < 1.2) | ((self.yy - cy) % 11 < 1.2))
        self.paint(streets, "town", asphalt=0.9, urban=0.1)

    def add_industrial(self, cx: float, cy: float) -> None:
        """A plant, yard or construction site: bright pads, sheds, stockpiles, as mines have."""
        rng = self.rng
        w, h = rng.uniform(12, 30), rng.uniform(10, 24)
        yard = (np.abs(self.xx - cx) < w) & (np.abs(self.yy - cy) < h)
        self.paint(yard, "industrial", **self.varied(concrete=0.4, spoil=0.3, soil_bright=0.3))
        for _ in range(int(rng.integers(2, 6))):
            bx, by = cx + rng.uniform(-0.7, 0.7) * w, cy + rng.uniform(-0.7, 0.7) * h
            shed = (np.abs(self.xx - bx) < rng.uniform(2, 6)) & (
                np.abs(self.yy - by) < rng.uniform(2, 5)
            )
            self.paint(shed & yard, "industrial", urban=0.5, concrete=0.5)
        for _ in range(int(rng.integers(1, 4))):
            pile = np.hypot(self.xx - cx - rng.uniform(-w, w), self.yy - cy - rng.uniform(-h, h))
            mat = str(rng.choice(["sand", "pit_dark", "spoil", "laterite", "ore_red"]))
            self.paint(
                (pile < rng.uniform(2, 4)) & yard, "industrial", **{mat: 0.9, "soil_bright": 0.1}
            )

    def add_fields(self, cx: float, cy: float, count: int, spread: float) -> None:
        rng = self.rng
        kinds = {
            "savanna": ["maize", "maize", "fallow", "pivot"],
            "desert": ["pivot", "fallow"],
            "farmland": ["wheat", "maize", "beet", "grass"],
            "forest": ["fallow", "pivot"],
        }
        for _ in range(count):
            w, h = rng.integers(25, 55, size=2)
            fx = int(cx + rng.uniform(-0.4, 0.4) * spread - w / 2)
            fy = int(cy + rng.uniform(-0.4, 0.4) * spread - h / 2)
            kind = str(rng.choice(kinds[self.biome.base]))
            if kind == "pivot":
                rad = min(w, h) / 2
                m = np.hypot(self.xx - fx - rad, self.yy - fy - rad) < rad
            else:
                m = (self.xx >= fx) & (self.xx < fx + w) & (self.yy >= fy) & (self.yy < fy + h)
            m &= self.free() & (self.fields == 0)
            fid = len(self.field_kind) + 1
            self.fields[m] = fid
            self.field_kind[fid] = kind
            self.field_phase[fid] = int(rng.choice([-20, 0, 20]))
            self.kinds[m] = _K["fields"]

    def add_pasture(self, cx: float, cy: float, radius: float) -> None:
        """Forest cleared long ago for cattle: grass with scattered trees."""
        m = self.blob(cx, cy, radius, (1.0, 2.0)) & self.free()
        self.paint(m, "pasture", veg_green=0.75, soil_dark=0.15, forest=0.1)
        self.evergreen[m] = 0.3

    # -- bare ground ----------------------------------------------------------------------
    def add_bare(self, cx: float, cy: float, radius: float) -> None:
        """Bare, eroded or cleared ground: the soils and clays mine dumps are made of too."""
        m = self.blob(cx, cy, radius) & self.free()
        mix = {
            "forest": dict(laterite=0.5, soil_bright=0.2, spoil=0.15, mud=0.05, veg_dry=0.1),
            "farmland": dict(soil_dark=0.4, soil_bright=0.3, spoil=0.2, veg_dry=0.1),
        }.get(
            self.biome.base,
            dict(soil_bright=0.45, spoil=0.25, sand=0.15, rock_bench=0.05, veg_dry=0.1),
        )
        self.paint(m, "bare", **self.varied(**mix))
        # gullies and tracks inside: a pattern at 20-50 m, as dumps have terraces
        tex = smooth_noise(self.rng, (self.n, self.n), 1.5)
        self.base[:, m] *= (0.8 + 0.4 * tex[m])[None]

    def add_scarp(self, cx: float, cy: float, length: float) -> None:
        """A steep bare slope: a rock band lit on one side and in shadow on the other."""
        rng = self.rng
        ang = rng.uniform(0, math.pi)
        c, s = math.cos(ang), math.sin(ang)
        u, v = (self.xx - cx) * c + (self.yy - cy) * s, -(self.xx - cx) * s + (self.yy - cy) * c
        width = rng.uniform(6, 14) * (1 + 0.3 * np.sin(u / 9 + rng.uniform(0, 6)))
        band = (np.abs(u) < length / 2) & (np.abs(v) < width)
        lit = np.where(v > 0, 1.15, 0.55)  # aspect: sun-facing side bright, the other dark
        mat = {"forest": ("laterite", "soil_bright"), "desert": ("rock_bench", "rock_dark")}.get(
            self.biome.base, ("rock_bench", "soil_bright")
        )
        m = band & self.free()
        self.paint(
            m, "scarp", **self.varied(**{mat[0]: 0.5, mat[1]: 0.25, "spoil": 0.15, "veg_dry": 0.1})
        )
        self.base[:, m] *= lit[m]

    def add_playa(self, cx: float, cy: float, radius: float) -> None:
        m = self.blob(cx, cy, radius, (1.2, 2.5)) & self.free()
        edge = m & ~self.blob(cx, cy, radius * 0.8, (1.2, 2.5))
        self.paint(
            m, "playa", **self.varied(playa=0.6, tailings_beach=0.15, mud=0.15, soil_bright=0.1)
        )
        self.paint(edge, "playa", mud=0.5, soil_bright=0.5)

    def add_roads(self, count: int) -> None:
        n, rng = self.n, self.rng
        mix = {
            "forest": {"laterite": 0.8, "soil_bright": 0.2},
            "farmland": {"asphalt": 0.7, "soil_bright": 0.3},
        }.get(self.biome.base, {"spoil": 0.5, "soil_bright": 0.3, "asphalt": 0.2})
        for _ in range(count):
            p, q = rng.uniform(0, n, 2), rng.uniform(0, n, 2)
            vx, vy = q[0] - p[0] + 1e-3, n - 0.0
            d = np.abs((self.xx - p[0]) * vy - self.yy * vx) / math.hypot(vx, vy)
            self.paint((d < 0.8) & ~self.bed, "road", **mix)

    # -- dynamic look-alikes --------------------------------------------------------------
    def add_patches(self, years: range, mask_out: np.ndarray) -> None:
        """Burn scars and clear-cuts at the biome's rates, away from ``mask_out``."""
        area_km2 = (self.n * 0.01) ** 2
        rng = self.rng
        for year in years:
            for kind, rate in (
                ("burn_scar", self.biome.burn_rate),
                ("clearcut", self.biome.clearcut_rate),
            ):
                for _ in range(rng.poisson(rate * area_km2)):
                    self._patch(kind, year, mask_out)

    def _patch(self, kind: str, year: int, mask_out: np.ndarray) -> None:
        rng, n = self.rng, self.n
        cx, cy = rng.uniform(20, n - 20, 2)
        radius = rng.uniform(10, 38) if kind == "burn_scar" else rng.uniform(8, 22)
        r0, r1 = int(max(0, cy - 2 * radius)), int(min(n, cy + 2 * radius))
        c0, c1 = int(max(0, cx - 2 * radius)), int(min(n, cx + 2 * radius))
        yy, xx = self.yy[r0:r1, c0:c1], self.xx[r0:r1, c0:c1]
        if kind == "clearcut":
            ang = rng.uniform(0, math.pi)
            c, s = math.cos(ang), math.sin(ang)
            u, v = (xx - cx) * c + (yy - cy) * s, -(xx - cx) * s + (yy - cy) * c
            m = (np.abs(u) < radius * rng.uniform(0.8, 1.6)) & (
                np.abs(v) < radius * rng.uniform(0.5, 1.0)
            )
            ok = self.kinds[r0:r1, c0:c1] == _K["forest"]
        else:
            rho = ellipse_rho(
                xx,
                yy,
                cx,
                cy,
                rng.uniform(1, 3),
                rng.uniform(0, math.pi),
                (rng.uniform(0, 6), rng.uniform(0, 6)),
            )
            m = rho < radius
            ok = np.isin(self.kinds[r0:r1, c0:c1], [_K["land"], _K["forest"], _K["pasture"]])
        m &= ok & ~mask_out[r0:r1, c0:c1]
        if m.sum() < 20:
            return
        season = self.biome.season
        doy = int(rng.integers(max(1, season[0] * 30 - 45), min(365, season[-1] * 30 + 15)))
        recover = rng.uniform(0.8, 1.5) if kind == "burn_scar" else rng.uniform(3, 6)
        self.patches.append(Patch(kind, year, doy, slice(r0, r1), slice(c0, c1), m, recover))

    def add_stream(self, cx: float, cy: float, length: float = 150.0) -> None:
        """A natural stream: a narrow channel with sandy point bars and bare banks, the
        look-alike of alluvial mining without its corridor and pond chain."""
        rng = self.rng
        ang = rng.uniform(0, math.pi)
        t = np.linspace(-length / 2, length / 2, 300)
        amp, wl = rng.uniform(6, 14), rng.uniform(35, 70)
        off = amp * np.sin(2 * math.pi * t / wl + rng.uniform(0, 6))
        c, s = math.cos(ang), math.sin(ang)
        px, py = cx + t * c - off * s, cy + t * s + off * c
        grid = np.zeros((self.n, self.n), bool)
        ok = (px >= 0) & (px < self.n) & (py >= 0) & (py < self.n)
        grid[py[ok].astype(int), px[ok].astype(int)] = True
        from scipy import ndimage

        dist = ndimage.distance_transform_edt(~grid)
        desert = self.biome.base == "desert"
        channel = dist < (1.0 if not desert else 2.5)
        bank = (dist >= 1.0) & (dist < 3.0)
        if desert:
            self.paint(channel, "wash", sand=0.7, soil_bright=0.3)
        else:
            self.paint(channel, "water", water_turbid=0.6, water_clear=0.4)
            self.paint(bank, "forest", veg_green=0.6, forest=0.3, soil_dark=0.1)
        for k in range(0, len(t), int(rng.integers(25, 45))):
            if not ok[k]:
                continue
            bar = np.hypot(self.xx - px[k] - rng.normal(0, 2), self.yy - py[k] - rng.normal(0, 2))
            m = (bar < rng.uniform(2.0, 4.5)) & ~channel
            self.paint(m, "river_sand", **self.varied(sand=0.6, mud=0.25, tailings_beach=0.15))
