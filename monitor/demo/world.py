"""The demo world: a biome's land, its look-alikes and its mines, and how they change by year.

A world is a square of ``size`` pixels at 10 m on one UTM grid. It holds a 4 x 4 grid of cells;
each cell is a registered site (of a known trajectory), an unregistered mine, a look-alike, or
open land. Everything is drawn from one seed and one biome, so two seeds give two different
worlds, and each world sees the endmember spectra a little differently.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from monitor.demo.biomes import BIOMES, Biome
from monitor.demo.land import KINDS, Land, crop_state
from monitor.demo.mines import Mine, paint_mine
from monitor.demo.spectra import ENDMEMBERS, index_of, world_spectra

__all__ = ["World", "make_world", "TRAJECTORIES", "PIXEL"]

PIXEL = 10.0
E = len(ENDMEMBERS)
_I = {name: index_of(name) for name in ENDMEMBERS}

#: Site trajectories of the main world; each appears twice. Status as DESIGN.md names it.
TRAJECTORIES = {
    "never_opened": "none",
    "confuser": "none",
    "opening": "opening",
    "expansion": "expansion",
    "stagnation": "stagnation",
    "abandonment": "likely_abandonment",
    "stagnant_revegetating": "likely_abandonment",
}

#: Ore or type of each mine kind, by biome.
_VARIANTS = {
    ("benched_pit", "savanna"): ("coal", "coal", "iron", "hardrock"),
    ("benched_pit", "rainforest"): ("iron", "hardrock"),
    ("benched_pit", "arid"): ("copper", "copper", "hardrock"),
    ("benched_pit", "temperate"): ("limestone", "hardrock"),
    ("strip_coal", "savanna"): ("coal",),
    ("strip_coal", "temperate"): ("lignite",),
    ("alluvial", "rainforest"): ("sandy", "sandy", "laterite"),
    ("quarry", "arid"): ("dry", "rock"),
    ("quarry", "temperate"): ("wet", "wet", "rock"),
    ("tailings_dam", "savanna"): ("turbid", "green"),
    ("tailings_dam", "arid"): ("turbid", "green"),
}
#: Wet sand-and-gravel pits dug in every training region's floodplain, beside as many
#: restored flooded pits (lakes now) and sand bars: sand and gravel are dug wet from rivers in
#: every climate, and with both side by side the cue to learn is the working pit's pad and
#: stockpiles, not "water with a sandy rim" (a model that learned the latter flags rivers).
_FLOODPLAIN_PITS = 3
#: (first-year area range, yearly growth range) in ha, by mine kind.
_SIZES = {
    "benched_pit": ((5, 10), (1.5, 3.5)),
    "strip_coal": ((6, 12), (2.0, 4.0)),
    "alluvial": ((3, 6), (1.0, 2.2)),
    "quarry": ((3, 8), (0.8, 2.0)),
    "tailings_dam": ((10, 22), (1.0, 3.0)),
}


@dataclass
class World:
    """A world's static land plus its mines; :meth:`surface` draws any date."""

    name: str
    size: int
    origin: tuple[float, float]
    """Upper-left corner (x, y) in the world's CRS (metres)."""
    epsg: int
    mgrs_tile: str
    seed: int
    biome: Biome
    spectra: np.ndarray
    """(E, 12) endmember reflectances as this world sees them."""
    land: Land
    mines: list[Mine]
    sites: list[dict]
    """Registered sites: {site_id, name, kind, ring (px), mine_id or None}."""
    year_wetness: dict[int, float] = field(default_factory=dict)
    water_level: dict[int, float] = field(default_factory=dict)
    _layers: dict = field(default_factory=dict, repr=False)
    _crop_masks: dict = field(default_factory=dict, repr=False)

    # -- per year ------------------------------------------------------------------
    def mine_layers(self, year: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mine material abundances (E, n, n), their weight (n, n) and the truth mask."""
        if year not in self._layers:
            n = self.size
            material = np.zeros((E, n, n), np.float32)
            weight = np.zeros((n, n), np.float32)
            truth = np.zeros((n, n), np.float32)
            for mine in self.mines:
                paint_mine(mine, year, material, weight, truth)
            self._layers.clear()  # one year at a time: scenes come sorted by date
            self._layers[year] = (material, weight, truth >= 0.5)
        return self._layers[year]

    def abundances(self, year: int, doy: int) -> np.ndarray:
        """Per-pixel endmember abundances on day-of-year ``doy`` of ``year``."""
        a = self.land.base.copy()
        wet = self.year_wetness.get(year, 1.0)
        season = 0.5 + 0.5 * math.cos(2 * math.pi * (doy - self.biome.green_doy) / 365.0)
        green_share = np.clip(self.land.evergreen + (1 - self.land.evergreen) * season * wet, 0, 1)
        veg = a[_I["veg_green"]].copy()
        a[_I["veg_green"]] = veg * green_share
        a[_I["veg_dry"]] += veg * (1 - green_share)
        self._crops(a, doy)
        self._water(a, year, doy)
        self._patches(a, year, doy)
        a *= self.land.texture[None]
        material, weight, _ = self.mine_layers(year)
        return a * (1 - weight)[None] + material

    def kinds_on(self, year: int, doy: int) -> np.ndarray:
        """Look-alike kind (index into land.KINDS) per pixel on that date, burn scars and
        clear-cuts included."""
        kinds = self.land.kinds.copy()
        for p in self.land.patches:
            if p.strength(year, doy) > 0.3:
                kinds[p.rows, p.cols][p.mask] = KINDS.index(p.kind)
        return kinds

    def surface(self, year: int, doy: int) -> np.ndarray:
        """(12, n, n) clear-sky surface reflectance on that date."""
        return np.tensordot(self.spectra.T, self.abundances(year, doy), axes=1)

    def _crops(self, a: np.ndarray, doy: int) -> None:
        land = self.land
        if not self._crop_masks:
            groups: dict[tuple[str, int], list[int]] = {}
            for fid, kind in land.field_kind.items():
                groups.setdefault((kind, land.field_phase.get(fid, 0)), []).append(fid)
            for key, ids in groups.items():
                self._crop_masks[key] = np.isin(land.fields, ids)
            # each field's own vigour: dense or thin stands, wet or dry soil
            vigour = np.random.default_rng([self.seed, 3]).uniform(
                0.75, 1.0, len(land.field_kind) + 1
            )
            self._crop_masks["vigour"] = vigour[land.fields].astype(np.float32)
        vigour = self._crop_masks["vigour"]
        for key, m in self._crop_masks.items():
            if key == "vigour":
                continue
            kind, phase = key
            a[:, m] = 0
            for name, share in crop_state(self.biome.name, kind, (doy + phase) % 366).items():
                a[_I[name], m] = share
            green = a[_I["veg_green"], m]
            a[_I["soil_dark"], m] += green * (1 - vigour[m])
            a[_I["veg_green"], m] = green * vigour[m]

    def _water(self, a: np.ndarray, year: int, doy: int) -> None:
        land = self.land
        level = self.water_level.get(year, 1.0)
        dry = max(0.0, math.sin(2 * math.pi * (doy - 120) / 365.0))
        # the dry season draws reservoirs down and exposes a bare, bright shore
        draw = 0.25 * (1 - level) + 0.15 * dry
        basin = land.reservoir_depth > 0
        full = land.reservoir_depth > draw
        a[:, full] = 0
        a[_I["water_clear"], full] = 1.0
        shore = basin & ~full
        a[:, shore] = 0
        a[_I["soil_dark"], shore] = 0.5
        a[_I["sand"], shore] = 0.5
        base = self.biome.base
        if base == "savanna":  # a narrow channel in sandy beds; narrower in dry years
            channel = land.river_dist < 1.0 + 1.5 * level
            a[:, channel] = 0
            a[_I["water_clear"], channel] = 0.8
            a[_I["water_turbid"], channel] = 0.2
        elif base == "forest":  # white water over the bed; low water bares the high bars
            under = land.bed & (land.bars < 0.55 + 0.3 * level - 0.15 * dry)
            a[:, under] = 0
            a[_I["water_brown"], under] = 0.6
            a[_I["water_turbid"], under] = 0.4

    def _patches(self, a: np.ndarray, year: int, doy: int) -> None:
        for p in self.land.patches:
            s = p.strength(year, doy)
            if s <= 0:
                continue
            sub = a[:, p.rows, p.cols]
            m = p.mask
            sub[:, m] *= 1 - s
            if p.kind == "burn_scar":
                sub[_I["char"], m] += 0.85 * s
                sub[_I["soil_dark"], m] += 0.15 * s
            else:
                soil = "laterite" if self.biome.base == "forest" else "soil_bright"
                sub[_I["slash"], m] += 0.6 * s
                sub[_I["soil_dark"], m] += 0.25 * s
                sub[_I[soil], m] += 0.15 * s
            a[:, p.rows, p.cols] = sub


def _new_mine(rng, biome: Biome, kind: str, mid: str, cx, cy, trajectory, years, training):
    variants = _VARIANTS.get((kind, biome.name), ("coal",))
    if kind == "floodplain_pit":
        kind, variants = "quarry", ("wet",)
    first_year, last_year = years.start, years.stop - 1
    span = last_year - first_year
    if trajectory == "opening":
        start = last_year - int(rng.integers(0, 2))
        stop = reveg = None
    elif trajectory in ("expansion", "unregistered"):
        start = first_year - int(rng.integers(0, 3)) if rng.random() < 0.6 else first_year + 2
        stop = reveg = None
    elif trajectory == "stagnation":
        start = first_year - 2
        stop = last_year - int(rng.integers(4, 6))
        reveg = None
    elif trajectory == "abandonment":
        start = first_year - 3
        stop = first_year + int(rng.integers(2, 4))
        reveg = stop + 1
    else:  # stagnant_revegetating: frozen first, then grass creeps back in
        start = first_year - 3
        stop = first_year + int(rng.integers(1, 3))
        reveg = last_year - int(rng.integers(3, 5))
    start = min(start, last_year)
    if training and stop is None:  # every mine of a training region is open by mid-record
        start = min(start, first_year + span // 2)
    (a0, a1), (r0, r1) = _SIZES[kind]
    return Mine(
        mine_id=mid,
        kind=kind,
        trajectory=trajectory,
        cx=cx,
        cy=cy,
        start=start,
        stop=stop,
        reveg_start=reveg,
        area0_ha=float(rng.uniform(a0, a1)),
        rate_ha=float(rng.uniform(r0, r1)),
        aspect=float(rng.uniform(1.0, 1.8)),
        angle=float(rng.uniform(0, math.pi)),
        variant=str(rng.choice(variants)),
        has_pond=bool(rng.random() < 0.5),
        pit_lake=bool(rng.random() < 0.6),
        dump_angle=float(rng.uniform(0, 2 * math.pi)),
        phase=(float(rng.uniform(0, 6.28)), float(rng.uniform(0, 6.28))),
        reveg_years=3.0 if biome.base == "forest" else 5.0,
        soil={"forest": "laterite", "farmland": "soil_dark"}.get(biome.base, "soil_bright"),
    )


def _mine_kinds(rng, biome: Biome, count: int) -> list[str]:
    """``count`` mine kinds in the biome's shares, each kind at least once."""
    kinds = [k for k, _ in biome.mine_kinds]
    shares = np.array([s for _, s in biome.mine_kinds])
    out = kinds + list(rng.choice(kinds, size=max(0, count - len(kinds)), p=shares / shares.sum()))
    return [str(k) for k in rng.permutation(out)[:count]]


def _confuser(land: Land, kind: str, cx: float, cy: float, cell: float) -> None:
    rng = land.rng
    if kind == "bare":
        land.add_bare(cx, cy, rng.uniform(18, 32))
    elif kind == "fields":
        land.add_fields(cx, cy, 3, cell)
    elif kind == "reservoir":
        land.add_reservoir(cx, cy)
    elif kind in ("river_sand", "wash"):
        land.add_stream(cx, cy)
    elif kind == "scarp":
        land.add_scarp(cx, cy, rng.uniform(60, 110))
    elif kind == "industrial":
        land.add_industrial(cx, cy)
    elif kind == "lake":
        land.add_lake(cx, cy)
    elif kind == "pit_lake":
        land.add_pit_lake(cx, cy)
    elif kind == "town":
        land.add_town(cx, cy)
    elif kind == "pasture":
        land.add_pasture(cx, cy, rng.uniform(35, 55))
    elif kind == "playa":
        land.add_playa(cx, cy, rng.uniform(25, 40))
    elif kind == "clearcut":
        land.add_bare(cx, cy, rng.uniform(15, 25))  # an old, unplanted clearing
    else:
        raise ValueError(f"unknown look-alike {kind!r}")


def make_world(
    seed: int,
    *,
    biome: str = "savanna",
    name: str = "main",
    size: int = 768,
    origin: tuple[float, float] | None = None,
    first_year: int = 2016,
    last_year: int = 2025,
    training: bool = False,
    spectra_seed: int | None = None,
    spectra_spread: float = 1.0,
) -> World:
    """Draw a world from ``seed`` in ``biome``: the main world, or (``training``) a
    training region (no sites; more mines and look-alikes). Worlds of one ``spectra_seed``
    (default: ``seed``) see the materials alike, as a region's soils and rocks are alike;
    ``spectra_spread`` scales how far they stray from the reference table."""
    bio = BIOMES[biome]
    rng = np.random.default_rng(seed)
    spectra = world_spectra(
        np.random.default_rng([seed if spectra_seed is None else spectra_seed, 77]),
        spectra_spread,
    )
    n = size
    land = Land(bio, rng, n)
    land.river()
    if bio.base in ("forest", "desert"):  # igarapés under the canopy, arroyos in the desert
        for _ in range(3):
            land.add_stream(*rng.uniform(0.1 * n, 0.9 * n, 2), length=rng.uniform(150, 300))
    margin = 40  # keep concessions and their load buffer inside the imaged area
    side = 6 if training else 4
    cell = (n - 2 * margin) // side
    years = range(first_year, last_year + 1)

    cells = [(i, j) for i in range(side) for j in range(side)]
    cells = [cells[k] for k in rng.permutation(len(cells))]
    if training:  # a training region: mines of every stage among plenty of look-alikes
        roles = (
            ["expansion"] * 6
            + ["stagnation"] * 4
            + ["abandonment"] * 4
            + ["opening"] * 2
            + ["stagnant_revegetating"] * 2
            + ["unregistered"] * 5
            + ["look-alike"] * 11
            + ["town"] * 2
        )
    else:
        roles = (
            ["never_opened"] * 2
            + ["confuser"] * 2
            + ["opening"] * 2
            + ["expansion"] * 2
            + ["stagnation"] * 2
            + ["abandonment"] * 2
            + ["stagnant_revegetating"] * 2
            + ["unregistered", "town"]
        )
    n_mines = sum(r not in ("never_opened", "confuser", "look-alike", "town") for r in roles)
    kinds = _mine_kinds(rng, bio, n_mines)
    confusers = list(bio.confusers)
    if training:
        kinds[-_FLOODPLAIN_PITS:] = ["floodplain_pit"] * _FLOODPLAIN_PITS
        confusers += [c for c in ("pit_lake", "river_sand") if c not in confusers]
    kinds = iter(kinds)
    look_alikes = itertools.cycle(rng.permutation(confusers))
    mines: list[Mine] = []
    sites: list[dict] = []
    n_site = 0

    def cell_centre(i: int, j: int) -> tuple[float, float]:
        jitter = rng.uniform(-12, 12, size=2)
        return margin + (j + 0.5) * cell + jitter[0], margin + (i + 0.5) * cell + jitter[1]

    for (i, j), role in zip(cells, roles, strict=True):
        cx, cy = cell_centre(i, j)
        mine = None
        if role == "town":
            land.add_town(cx, cy)
            if bio.base != "forest":
                land.add_fields(cx + 60, cy + 60, 3, cell)
        elif role == "look-alike":
            _confuser(land, str(next(look_alikes)), cx, cy, cell)
        elif role == "confuser":  # a concession that holds look-alikes but no mine
            _confuser(land, str(next(look_alikes)), cx - 30, cy, cell)
            _confuser(land, str(next(look_alikes)), cx + 35, cy + 35, cell * 0.6)
        elif role == "never_opened":
            if bio.base == "forest":
                land.add_pasture(cx, cy, 40)
            else:
                land.add_fields(cx, cy, 2, cell)
        else:
            mid = f"S{n_site + 1:02d}" if role != "unregistered" else f"U{len(mines) + 1:02d}"
            mid = bio.code + mid
            mine = _new_mine(rng, bio, next(kinds), mid, cx, cy, role, years, training)
            mines.append(mine)
            # a look-alike next to some mines: the model must not lean on "bare means mine"
            if rng.random() < 0.5:
                _confuser(
                    land,
                    str(next(look_alikes)),
                    cx + rng.choice([-1, 1]) * 75,
                    cy + rng.choice([-1, 1]) * 75,
                    cell * 0.4,
                )
        if role in ("unregistered", "town", "look-alike") or training:
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
                "site_id": f"{bio.code}S{n_site:02d}",
                "name": _NAMES[bio.name][(n_site - 1) % 16],
                "kind": role,
                "ring": ring,
                "mine_id": mine.mine_id if mine else None,
            }
        )
    # mines were numbered by order of creation; align registered ids with their site ids
    renamed = {s["mine_id"]: s["site_id"] for s in sites if s["mine_id"]}
    for s in sites:
        s["mine_id"] = renamed.get(s["mine_id"], s["mine_id"])
    mines = [dataclasses.replace(m, mine_id=renamed.get(m.mine_id, m.mine_id)) for m in mines]

    # look-alikes scattered over the open land too, away from the mines
    centres = np.array([(m.cx, m.cy) for m in mines]) if mines else np.zeros((0, 2))
    for _ in range(24 if training else 8):
        x, y = rng.uniform(margin, n - margin, 2)
        if len(centres) and np.hypot(*(centres - (x, y)).T).min() < 70:
            continue
        _confuser(land, str(next(look_alikes)), x, y, cell * 0.4)
    land.add_roads(2)
    near_mine = np.zeros((n, n), bool)
    for m in mines:
        r = 1.6 * m.radius(m.stop if m.stop is not None else last_year) + 40
        near_mine |= np.hypot(land.xx - m.cx, land.yy - m.cy) < r
    land.add_patches(years, near_mine)
    wet = {y: float(rng.uniform(0.6, 1.1)) for y in years}
    level = {y: float(np.clip(wet[y] + rng.normal(0, 0.1), 0.3, 1.0)) for y in years}
    return World(
        name=name,
        size=n,
        origin=origin or (bio.training_origin if training else bio.origin),
        epsg=bio.epsg,
        mgrs_tile=bio.training_tile if training else bio.mgrs_tile,
        seed=seed,
        biome=bio,
        spectra=spectra,
        land=land,
        mines=mines,
        sites=sites,
        year_wetness=wet,
        water_level=level,
    )


_NAMES = {
    "savanna": [
        "Kromdraai", "Witbank East", "Leeuwpan", "Goedehoop", "Elandsfontein", "Vlakfontein",
        "Rietspruit", "Kleinkopje", "Blesbok", "Boschmanskrans", "Doornhoek", "Haasfontein",
        "Klipfontein", "Steenkoolspruit", "Wolwekrans", "Bankfontein",
    ],
    "rainforest": [
        "Igarapé Preto", "Rio Novo", "Serra Dourada", "Água Branca", "Bom Jardim", "Crepurizão",
        "Cuiú-Cuiú", "Porto Rico", "Patrocínio", "São Domingos", "Jardim do Ouro", "Creporizinho",
        "Moraes Almeida", "Castelo", "Piranhas", "Boa Vista",
    ],
    "arid": [
        "La Caridad", "Cerro Prieto", "El Pilar", "Los Alisos", "Piedras Verdes", "San Felipe",
        "La Colorada", "El Tigre", "Mulatos", "Santa Elena", "El Chanate", "La Herradura",
        "Bacanora", "Nacozari", "Tepache", "Arizpe",
    ],
    "temperate": [
        "Garzweiler Nord", "Inden Ost", "Hambach West", "Frechen", "Weisweiler", "Erftstadt",
        "Bergheim", "Elsdorf", "Kerpen", "Niederaussem", "Eschweiler", "Jülich Süd",
        "Titz", "Bedburg", "Grevenbroich", "Rommerskirchen",
    ],
}  # fmt: skip
