"""Change analysis: a site's yearly mined area and footprint NDVI -> events and a status.

Method, and why:

* A year without enough clear observations is a gap: it neither confirms nor breaks anything.
* Detections need persistence, as in AMW's k-of-n rule: a detection (or its loss) counts once it
  holds for ``persistence`` valid years; at the end of the record, where it cannot yet, it counts
  as *possible* (GLAD's levels) with lower confidence. One noisy year flips nothing.
* Trend: ordinary least squares of area on year (statsmodels' OLS t-test) over the active
  segment; growth
  is *expansion* when the slope is significant (t-test, p < 0.05) and at least
  ``min_expansion_ha_per_year`` (practical significance). With at most ~10 yearly points, a
  rank-based Mann-Kendall or a Bai-Perron multiple-break search buys nothing but variance; one
  OLS line and one break are what the data can support.
* Structural break: a continuous two-segment line (hinge) at each interior year, the best by
  residual sum of squares, tested against the single line with an F-test
  (statsmodels ``compare_f_test``, a Chow-type test for a known break). A significant break
  followed by a flat segment dates when growth stopped.
* Stagnation: the trailing ``stagnation_years`` or more valid years within ``tolerance`` of their
  median area. Likely abandonment: detection lost after confirmed activity; or the footprint
  shrinking while its NDVI rises; or stagnation with NDVI rising by ``ndvi_recovery``; or a
  footprint held below ``wound_down_share`` of its peak for two years or more, not growing
  back (a worked-out alluvial scar keeps its ponds, a desert pit never greens: neither loses
  its whole footprint, yet a working mine does not give up half of it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from monitor.config import ChangeConfig

__all__ = ["YearPoint", "Event", "SiteStatus", "Trajectory", "analyse", "sparkline"]

#: Bump when the analysis changes: statuses cached in stores are then recomputed.
ANALYSIS_VERSION = 7


class YearPoint(NamedTuple):
    """One year of a site's history, as the analysis needs it (a named tuple: 100,000 of
    them are made per `status` over a big registry)."""

    year: int
    #: Mined area (None: too few clear observations, a gap).
    area_ha: float | None
    #: Mean NDVI of the site's footprint.
    ndvi: float | None = None
    #: Mean NDVI of the site's undisturbed land.
    ndvi_surroundings: float | None = None
    #: Share of the footprint that is open water.
    water_fraction: float | None = None


class Event(NamedTuple):
    """A flag over a span of years."""

    #: opening, expansion, stagnation or likely_abandonment.
    flag: str
    #: First year.
    start: int
    #: Last year.
    end: int
    #: 0-1.
    confidence: float
    #: Why, in words.
    reason: str

    def as_json(self) -> dict:
        return {"flag": self.flag, "from": self.start, "to": self.end}


@dataclass(frozen=True)
class SiteStatus:
    """The analysis of one site: its status, the events behind it and what ranking needs."""

    site_id: str
    """Site."""
    name: str
    """Site name."""
    status: str
    """none, opening, active, expansion, stagnation or likely_abandonment."""
    confidence: float = 0.0
    """0-1: the deciding event's confidence, lowered by gaps in the record."""
    opened_year: int | None = None
    """First confirmed detection."""
    stagnant_since: int | None = None
    """First year of the unchanged footprint."""
    abandoned_since: int | None = None
    """First year of lost detection, shrinking or returning vegetation."""
    last_detected_year: int | None = None
    """Last confirmed detection."""
    latest_area_ha: float | None = None
    """Mined area of the last valid year."""
    restoration_candidate: bool = False
    """Likely abandoned: a candidate for restoration."""
    events: tuple[Event, ...] = ()
    """Flags with their years."""
    reasons: tuple[str, ...] = ()
    """Why, in words."""
    peak_area_ha: float = 0.0
    """Largest confirmed mined area."""
    years_since_activity: int | None = None
    """Years since the footprint last grew (stagnant or abandoned sites)."""
    ndvi_recovery: float | None = None
    """NDVI change of the footprint since it opened."""
    ndvi_deficit: float | None = None
    """How far the footprint's NDVI lies below its surroundings' in the last year."""
    series: tuple[YearPoint, ...] = field(default=(), repr=False)
    """The yearly series analysed."""

    def as_json(self) -> dict:
        """The contract's status object (DESIGN.md)."""
        latest = None if self.latest_area_ha is None else round(self.latest_area_ha, 2)
        return {
            "site_id": self.site_id,
            "name": self.name,
            "status": self.status,
            "opened_year": self.opened_year,
            "stagnant_since": self.stagnant_since,
            "abandoned_since": self.abandoned_since,
            "last_detected_year": self.last_detected_year,
            "latest_area_ha": latest,
            "restoration_candidate": self.restoration_candidate,
            "confidence": round(self.confidence, 3),
            "events": [e.as_json() for e in self.events],
        }


# -- statistics -----------------------------------------------------------------------------
# The tests are statsmodels' OLS t-test and compare_f_test; the hot path computes the same
# closed forms on plain floats (tests/unit/test_change.py checks them against statsmodels):
# with ten points a year, numpy's and statsmodels' per-call overhead is what `status` over
# 10,000 sites would spend its time on.
def _line(t: list[float], a: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept of a ~ t."""
    n = len(t)
    tm, am = sum(t) / n, sum(a) / n
    sxx = sum((x - tm) ** 2 for x in t)
    slope = sum((x - tm) * (y - am) for x, y in zip(t, a, strict=True)) / sxx if sxx else 0.0
    return slope, am - slope * tm


def _median(values) -> float:
    v = sorted(values)
    n = len(v)
    return float(v[n // 2]) if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _ols(years: Sequence[float], area: Sequence[float]) -> tuple[float, float, float]:
    """(slope ha/yr, two-sided p-value of the slope, residual sum of squares) of area ~ year."""
    t, a = [float(x) for x in years], [float(y) for y in area]
    n = len(t)
    if n < 2:
        return 0.0, 1.0, 0.0
    slope, icpt = _line(t, a)
    if n < 3 or max(a) == min(a):
        # two points always lie on a line: no test can call their slope significant
        return slope, 1.0, 0.0
    ssr = sum((y - icpt - slope * x) ** 2 for x, y in zip(t, a, strict=True))
    if ssr <= 1e-12:
        return slope, 0.0, 0.0
    tm = sum(t) / n
    se = math.sqrt(ssr / (n - 2) / sum((x - tm) ** 2 for x in t))
    return slope, _t_two_sided(slope / se, n - 2), ssr


def _betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta I_x(a, b) (continued fraction, Numerical Recipes 6.4):
    the t and F tails below without importing scipy for a ten-point series."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 200):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-12:
            break
    return front * h / a


def _t_two_sided(t: float, df: int) -> float:
    """Two-sided p-value of Student's t with ``df`` degrees of freedom."""
    return _betainc(df / 2, 0.5, df / (df + t * t))


def _f_sf(f: float, d1: int, d2: int) -> float:
    """P(F > f) of Fisher's F(d1, d2)."""
    return _betainc(d2 / 2, d1 / 2, d2 / (d2 + d1 * f)) if f > 0 else 1.0


def _hinge_fit(t: list[float], y: list[float], b: float) -> tuple[float, float, float]:
    """(residual sum of squares, slope before, slope after) of the continuous two-segment
    line y = c0 + c1 min(t-b, 0) + c2 max(t-b, 0). Each point lies on one side only, so the
    normal equations eliminate to one unknown; one pass over the points."""
    su = suu = suy = sv = svv = svy = sy = syy = 0.0
    for x, w in zip(t, y, strict=True):
        d = x - b
        if d < 0:
            su += d
            suu += d * d
            suy += d * w
        else:
            sv += d
            svv += d * d
            svy += d * w
        sy += w
        syy += w * w
    if suu <= 0 or svv <= 0:
        return math.inf, 0.0, 0.0
    c0 = (sy - su * suy / suu - sv * svy / svv) / (len(t) - su * su / suu - sv * sv / svv)
    c1, c2 = (suy - su * c0) / suu, (svy - sv * c0) / svv
    return max(0.0, syy - c0 * sy - c1 * suy - c2 * svy), c1, c2


def _break(years: Sequence[float], area: Sequence[float]) -> tuple[int | None, float, float, float]:
    """Best hinge year, slopes before/after, and the F-test p-value against one line: every
    interior year's continuous two-segment fit (statsmodels' compare_f_test, closed form)."""
    n = len(years)
    if n < 5:
        return None, 0.0, 0.0, 1.0
    t, y = [float(x) for x in years], [float(v) for v in area]
    _, _, ssr_r = _ols(years, area)
    if ssr_r == 0.0:
        slope, icpt = _line(t, y)
        ssr_r = sum((w - icpt - slope * x) ** 2 for x, w in zip(t, y, strict=True))
    fits = [(_hinge_fit(t, y, b), b) for b in t[2:-2]]
    (ssr_u, before, after), b = min(fits, key=lambda f: f[0][0])
    b = int(b)
    if ssr_r <= 1e-9:
        return b, before, after, 1.0
    if ssr_u <= 1e-9:
        return b, before, after, 0.0
    return b, before, after, _f_sf((ssr_r - ssr_u) / (ssr_u / (n - 3)), 1, n - 3)


# -- analysis -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trajectory:
    """A site's valid years prepared once for every detector."""

    points: tuple[YearPoint, ...]
    """Every year, sorted (gaps included)."""
    years: list[int]
    """Years with enough clear observations."""
    area: list[float]
    """Their mined area (ha)."""
    detected: list[bool]
    """Area at least ``min_area_ha``."""
    confirmed: list[bool]
    """Detected years that belong to a run of ``persistence`` (or reach the end)."""
    ndvi: dict[int, float]
    """Footprint NDVI by year."""

    @classmethod
    def build(cls, points: Sequence[YearPoint], cfg: ChangeConfig) -> Trajectory:
        pts = tuple(sorted(points, key=lambda p: p.year))
        valid = [p for p in pts if p.area_ha is not None]
        years = [int(p.year) for p in valid]
        area = [float(p.area_ha) for p in valid]
        detected = [a >= cfg.min_area_ha for a in area]
        ndvi = {p.year: p.ndvi for p in valid if p.ndvi is not None}
        return cls(pts, years, area, detected, _confirmed(detected, max(1, cfg.persistence)), ndvi)

    @functools.cached_property
    def first(self) -> int:
        """Index of the first confirmed year."""
        return self.confirmed.index(True) if True in self.confirmed else 0

    @functools.cached_property
    def last(self) -> int:
        """Index of the last confirmed year."""
        flags = self.confirmed[::-1]
        return len(flags) - 1 - (flags.index(True) if True in flags else 0)

    @property
    def end(self) -> int:
        """The last valid year."""
        return int(self.years[-1])

    @property
    def peak(self) -> float:
        return max(a for a, c in zip(self.area, self.confirmed, strict=True) if c)


def _confirmed(detected: list[bool], k: int) -> list[bool]:
    """Runs of >= k detected valid years (or a run that reaches the end of the record)."""
    out = [False] * len(detected)
    i, n = 0, len(detected)
    while i < n:
        if not detected[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and detected[j + 1]:
            j += 1
        if j - i + 1 >= k or j == n - 1:
            out[i : j + 1] = [True] * (j - i + 1)
        i = j + 1
    return out


class Segment:
    """The active segment (first to last confirmed year, one outlier dropped) and its tests;
    the break test is fitted only when a detector asks for it."""

    def __init__(self, tr: Trajectory, cfg: ChangeConfig):
        seg = slice(tr.first, tr.last + 1)
        self.years, self.area = _without_outlier(tr.years[seg], tr.area[seg], cfg.tolerance)
        #: OLS slope (ha/yr) over the segment, and its p-value
        self.slope, self.p, _ = _ols(self.years, self.area)
        #: OLS slope and p over the last four years of the segment
        n = min(len(self.years), 4)
        self.trailing_slope, self.trailing_p, _ = _ols(self.years[-n:], self.area[-n:])

    @property
    def peak(self) -> tuple[int, float]:
        """The segment's largest area and its (first) year."""
        area = max(self.area)
        return self.years[self.area.index(area)], area

    @functools.cached_property
    def _hinge(self) -> tuple[int | None, float, float, float]:
        return _break(self.years, self.area)

    @property
    def brk(self) -> int | None:
        """Best hinge year."""
        return self._hinge[0]

    @property
    def before(self) -> float:
        """Slope before the hinge."""
        return self._hinge[1]

    @property
    def after(self) -> float:
        """Slope after the hinge."""
        return self._hinge[2]

    @property
    def p_brk(self) -> float:
        """F-test p-value of the hinge against one line."""
        return self._hinge[3]

    @classmethod
    def of(cls, tr: Trajectory, cfg: ChangeConfig) -> Segment:
        return cls(tr, cfg)


@dataclass(frozen=True)
class Finding:
    """What one detector concluded: a status, its events and why."""

    status: str
    events: tuple[Event, ...] = ()
    reasons: tuple[str, ...] = ()
    stagnant_since: int | None = None
    abandoned_since: int | None = None


def _loss(tr: Trajectory, cfg: ChangeConfig) -> Finding | None:
    """Detection lost after confirmed activity. A loss in the final year alone is only
    *possible*; it counts when the footprint was already shrinking or greening before it
    (GLAD-style possible -> likely with evidence)."""
    k = max(1, cfg.persistence)
    lost_years = tr.years[tr.last + 1 :]
    if not lost_years or any(tr.detected[tr.last + 1 :]):
        return None
    last_detected = int(tr.years[tr.last])
    barest = min((v for y, v in tr.ndvi.items() if y <= last_detected), default=None)
    late_green = tr.ndvi.get(tr.end)
    shrank = tr.area[tr.last] < (1 - cfg.tolerance) * tr.peak
    greened = (
        barest is not None and late_green is not None and late_green - barest >= cfg.ndvi_recovery
    )
    if len(lost_years) < k and not (shrank or greened):
        return None
    since = int(lost_years[0])
    why = f"not detected since {since} after {sum(tr.confirmed)} year(s) of activity"
    conf = min(0.95, 0.55 + 0.15 * len(lost_years))
    event = Event("likely_abandonment", since, tr.end, conf, why)
    return Finding("likely_abandonment", (event,), (why,), abandoned_since=since)


def _stagnation(tr: Trajectory, seg: Segment, cfg: ChangeConfig) -> Finding | None:
    """The trailing years within tolerance of their median; and, if the footprint greens
    since, likely abandonment (a stagnant footprint revegetating)."""
    stable_from = _stable_since(seg.years, seg.area, cfg.tolerance, cfg.min_expansion_ha_per_year)
    stable_len = 0 if stable_from is None else sum(y >= stable_from for y in seg.years)
    # a steady line through the whole segment, with no significant break, is growth that
    # merely looks flat over its last few noisy years
    steady_growth = (
        seg.p < 0.05 and seg.slope >= cfg.min_expansion_ha_per_year and seg.p_brk >= 0.05
    )
    if stable_len < cfg.stagnation_years or steady_growth:
        return None
    since = int(stable_from)
    conf = min(0.95, 0.5 + 0.1 * stable_len)
    why = f"no growth since {since} ({seg.area[-1]:.1f} ha, within ±{cfg.tolerance:.0%})"
    if seg.brk is not None and seg.p_brk < 0.05 and abs(seg.after) < cfg.min_expansion_ha_per_year:
        why += (
            f"; growth of {seg.before:.1f} ha/yr stopped at {seg.brk} "
            f"(break test p={seg.p_brk:.3f})"
        )
    found = Finding(
        "stagnation", (Event("stagnation", since, tr.end, conf, why),), (why,), stagnant_since=since
    )
    opened_end = int(tr.years[tr.last]) if _lost(tr) else tr.end
    opened_rise = _ndvi_change(tr.ndvi, int(tr.years[tr.first]), opened_end)
    rise = _ndvi_change(tr.ndvi, since, tr.end)
    if opened_rise is None or rise is None or rise < cfg.ndvi_recovery:
        return found
    abandoned = _first_green_year(tr.ndvi, since, cfg.ndvi_recovery) or since
    why2 = f"NDVI {rise:+.2f} since {since}: vegetation returning"
    event = Event("likely_abandonment", abandoned, tr.end, min(0.9, conf), why2)
    return Finding("likely_abandonment", (*found.events, event), (why, why2), since, abandoned)


def _shrinking(tr: Trajectory, seg: Segment, cfg: ChangeConfig) -> Finding | None:
    """The footprint shrinking while its NDVI rises: vegetation taking the mine back."""
    if not (
        len(seg.years) >= 3
        and seg.trailing_slope <= -max(cfg.min_expansion_ha_per_year, cfg.tolerance * tr.peak / 2)
        and seg.area[-1] < (1 - cfg.tolerance) * tr.peak
    ):
        return None
    peak_year, _ = seg.peak
    rise = _ndvi_change(tr.ndvi, peak_year, tr.end)
    if rise is None or rise < cfg.ndvi_recovery / 2:
        return Finding(
            "active",
            reasons=(
                f"footprint shrinking ({seg.trailing_slope:.1f} ha/yr) without vegetation return",
            ),
        )
    why = (
        f"footprint shrank from {tr.peak:.1f} to {seg.area[-1]:.1f} ha since {peak_year}; "
        f"NDVI {rise:+.2f}"
    )
    event = Event("likely_abandonment", peak_year + 1, tr.end, min(0.9, 0.5 + rise), why)
    return Finding("likely_abandonment", (event,), (why,), abandoned_since=peak_year + 1)


def _wound_down(tr: Trajectory, seg: Segment, cfg: ChangeConfig, found: Finding) -> Finding | None:
    """A stagnant or shrinking footprint that has stayed below ``wound_down_share`` of its
    peak for two years or more, and is not growing back: likely abandonment, keeping the
    stagnation's events (the residue of a mine stays, but the mine has gone). The peak is
    the segment's (one outlying year dropped); the years below it are the measured ones, as
    the first of two low years is no outlier."""
    if len(seg.years) < 4:
        return None
    peak_year, peak = seg.peak
    low = cfg.wound_down_share * peak
    years, area = tr.years[tr.first : tr.last + 1], tr.area[tr.first : tr.last + 1]
    regrowing = seg.trailing_slope >= cfg.min_expansion_ha_per_year
    if peak_year >= years[-2] or max(area[-2:]) >= low or regrowing:
        return None
    since = next(y for y, a in zip(years, area, strict=True) if y > peak_year and a < low)
    why = (
        f"down from {peak:.1f} ha in {peak_year} to {area[-1]:.1f} ha, below "
        f"{cfg.wound_down_share:.0%} of its peak since {since}: what a wound-down mine leaves"
    )
    event = Event("likely_abandonment", peak_year + 1, tr.end, 0.7, why)
    return Finding(
        "likely_abandonment",
        (*found.events, event),
        (*found.reasons, why),
        found.stagnant_since,
        peak_year + 1,
    )


def _expansion(seg: Segment, cfg: ChangeConfig) -> Finding | None:
    """Growth that is statistically (OLS t-test over the last four years, or the whole
    segment for slow growth) and practically (>= min ha/yr) significant; or, with only two
    years, a practically large step (no test can be made on two points)."""
    grow_slope, grow_p = (
        (seg.trailing_slope, seg.trailing_p) if len(seg.years[-4:]) >= 3 else (seg.slope, seg.p)
    )
    # slow growth shows over the whole segment before it does over four years
    trailing_weak = grow_p >= 0.05 or grow_slope < cfg.min_expansion_ha_per_year
    whole_strong = (
        seg.p < 0.05
        and seg.slope >= cfg.min_expansion_ha_per_year
        and seg.trailing_slope >= seg.slope / 2
    )
    if trailing_weak and whole_strong and len(seg.years) >= 5:
        grow_slope, grow_p = seg.slope, seg.p
    sy, sa = seg.years, seg.area
    if len(sy) >= 3 and grow_slope >= cfg.min_expansion_ha_per_year and grow_p < 0.05:
        broke = seg.brk is not None and seg.p_brk < 0.05 and seg.after > seg.before
        start = int(seg.brk) if broke else int(sy[0])
        conf = float(min(0.97, 1 - grow_p)) * min(1.0, len(sy) / 4)
        why = (
            f"growing {grow_slope:.1f} ha/yr since {start} (OLS p={grow_p:.3f}), "
            f"now {sa[-1]:.1f} ha"
        )
        return Finding("expansion", (Event("expansion", start, int(sy[-1]), conf, why),), (why,))
    if len(sy) == 2 and sa[-1] - sa[0] >= max(cfg.min_expansion_ha_per_year, cfg.tolerance * sa[0]):
        why = f"grew from {sa[0]:.1f} to {sa[-1]:.1f} ha"
        return Finding(
            "expansion", (Event("expansion", int(sy[0]), int(sy[-1]), 0.5, why),), (why,)
        )
    return None


def _landscape(tr: Trajectory, finding: Finding) -> tuple[str, ...] | None:
    """A footprint there from the first year, that never grew, and that is mostly open water:
    a lake or a reservoir the model took for a pit, not a mine (evidence against one)."""
    if tr.first != 0 or finding.status not in ("stagnation", "active"):
        return None
    water = [p.water_fraction for p in tr.points if p.area_ha and p.water_fraction is not None]
    share = _median(water) if len(water) >= 3 else 0.0
    if share < 0.6:
        return None
    return (
        f"the footprint is {share:.0%} open water and has not changed since the first year "
        f"({int(tr.years[0])}): a lake or a reservoir, not a mine",
    )


def _opening(tr: Trajectory) -> Event | None:
    """First detection after valid years without one."""
    if tr.first == 0:
        return None
    year = int(tr.years[tr.first])
    at_end = tr.first == len(tr.years) - 1
    span = "end of record" if at_end else f"held {sum(tr.confirmed[tr.first :])} year(s)"
    return Event(
        "opening", year, year, 0.6 if at_end else 0.9, f"first detected in {year} ({span})"
    )


def analyse(
    site_id: str,
    name: str,
    points: Sequence[YearPoint],
    cfg: ChangeConfig,
    last_year: int | None = None,
) -> SiteStatus:
    """Events, status and confidence of one site from its yearly series. Detectors run in
    order of precedence: loss of detection, stagnation, shrinking, expansion; a first
    detection in the final years makes the status `opening` unless the site is abandoned."""
    tr = Trajectory.build(points, cfg)
    last_year = last_year if last_year is not None else (tr.points[-1].year if tr.points else None)
    base = dict(site_id=site_id, name=name, series=tr.points)
    if not tr.years:
        return SiteStatus(
            status="none",
            confidence=0.0,
            reasons=("no year with enough clear observations",),
            **base,
        )
    latest = float(tr.area[-1])
    if not any(tr.confirmed):
        noise = sum(tr.detected)
        reason = (
            "never detected"
            if not noise
            else f"{noise} isolated single-year detection(s), not confirmed"
        )
        conf = min(1.0, len(tr.years) / max(1, len(tr.points))) * (0.95 if not noise else 0.7)
        return SiteStatus(
            status="none", latest_area_ha=latest, confidence=conf, reasons=(reason,), **base
        )
    opening = _opening(tr)
    finding = _loss(tr, cfg)
    if finding is None:
        seg = Segment.of(tr, cfg)
        finding = _stagnation(tr, seg, cfg) or _shrinking(tr, seg, cfg)
        if finding is None or finding.status == "active":
            grown = _expansion(seg, cfg)
            finding = grown if grown is not None else finding or Finding("active")
        landscape = _landscape(tr, finding)  # a lake that shrank in a drought is still a lake
        if landscape is not None:
            return SiteStatus(
                status="none", latest_area_ha=latest, confidence=0.6, reasons=landscape, **base
            )
        if finding.status in ("stagnation", "active"):
            finding = _wound_down(tr, seg, cfg, finding) or finding
    return _site_status(tr, finding, opening, cfg, last_year, base)


def _site_status(tr, finding: Finding, opening, cfg: ChangeConfig, last_year, base) -> SiteStatus:
    """The status of a confirmed site from its finding: `opening` wins when recent."""
    opened_year = int(tr.years[tr.first])
    status, reasons = finding.status, list(finding.reasons)
    recent = last_year - cfg.opening_recent_years + 1 if last_year is not None else None
    if opening and recent is not None and opened_year >= recent and status != "likely_abandonment":
        status = "opening"
        reasons.insert(0, f"first detected in {opened_year}")
    if status == "active":
        reasons.append(f"detected since {opened_year}; too little history for a trend")
    events = ((opening,) if opening else ()) + finding.events
    activity_end = (
        finding.abandoned_since - 1 if finding.abandoned_since else finding.stagnant_since
    )
    years_since = (
        tr.end - int(activity_end)
        if status in ("likely_abandonment", "stagnation") and activity_end
        else None
    )
    last_ndvi_year = int(tr.years[tr.last]) if _lost(tr) else tr.end
    return SiteStatus(
        status=status,
        opened_year=opened_year,
        stagnant_since=finding.stagnant_since,
        abandoned_since=finding.abandoned_since,
        last_detected_year=int(tr.years[tr.last]),
        latest_area_ha=float(tr.area[-1]),
        restoration_candidate=status == "likely_abandonment",
        confidence=_confidence(status, list(events), len(tr.years), len(tr.points)),
        events=events,
        reasons=tuple(reasons),
        peak_area_ha=tr.peak,
        years_since_activity=years_since,
        ndvi_recovery=_ndvi_change(tr.ndvi, opened_year, last_ndvi_year),
        ndvi_deficit=_deficit([p for p in tr.points if p.area_ha is not None]),
        **base,
    )


def _lost(tr: Trajectory) -> bool:
    """Valid years follow the last confirmed one, none of them detected."""
    return len(tr.years) > tr.last + 1 and not any(tr.detected[tr.last + 1 :])


def _without_outlier(years: list[int], area: list[float], tol: float):
    """Drop the one year (not the last) that sits far off a line through the others, so a
    single noisy year flips nothing (AMW's k-of-n spirit applied to areas)."""
    n = len(area)
    if n < 5:
        return years, area
    t, a = [float(x) for x in years], [float(y) for y in area]
    slope, icpt = _line(t, a)
    resid = [y - icpt - slope * x for x, y in zip(t, a, strict=True)]
    i = max(range(n - 1), key=lambda k: abs(resid[k]))
    others = resid[:i] + resid[i + 1 :]
    mid = _median(others)
    spread = 1.4826 * _median([abs(r - mid) for r in others]) + 1e-9
    if abs(resid[i]) > max(3 * spread, 2 * tol * max(_median(a), 1e-9)):
        return years[:i] + years[i + 1 :], area[:i] + area[i + 1 :]
    return years, area


def _stable_since(years: list[int], area: list[float], tol: float, max_rate: float) -> int | None:
    """First year of the longest trailing run of areas within ``tol`` of their median, whose
    fitted change across the run stays under ``tol`` (slow steady growth is not stagnation);
    leading years that sit off the plateau (the last step of growth) are trimmed."""
    t, a = [float(x) for x in years], [float(y) for y in area]
    since_idx = None
    for i in range(len(a) - 1, -1, -1):
        window, yrs = a[i:], t[i:]
        med = _median(window)
        off = [abs(v - med) > tol * med for v in window]
        # one noisy year inside a run of four or more (never the newest, nor the first)
        # is forgiven: a single year flips nothing
        # (a window that starts on the noisy year may still be valid once extended past it)
        allowed = 1 if len(window) >= 4 and not off[-1] and not off[0] else 0
        if med <= 0 or sum(off) > allowed:
            continue
        kept = [(x, v) for x, v, o in zip(yrs, window, off, strict=True) if not o]
        if len(kept) >= 3:
            slope, _ = _line([x for x, _ in kept], [v for _, v in kept])
            span = kept[-1][0] - kept[0][0]
            if abs(slope) >= max_rate and abs(slope) * span >= 0.75 * tol * med:
                continue
        since_idx = i
    if since_idx is None:
        return None
    while since_idx < len(a) - 3:
        rest = _median(a[since_idx + 1 :])
        if abs(a[since_idx] - rest) <= tol * rest / 2:
            break
        since_idx += 1
    return int(years[since_idx])


def _ndvi_change(ndvi: dict[int, float], start: int, end: int) -> float | None:
    before = [v for y, v in ndvi.items() if y <= start]
    after = [v for y, v in ndvi.items() if y >= end - 1]
    if not before or not after or end <= start:
        return None
    ref = ndvi.get(start, before[-1])
    return float(sum(after) / len(after) - ref)


def _first_green_year(ndvi: dict[int, float], start: int, rise: float) -> int | None:
    ref = ndvi.get(start)
    if ref is None:
        return None
    for y in sorted(ndvi):
        if y > start and ndvi[y] - ref >= rise / 2:
            return y
    return None


def _deficit(valid: Sequence[YearPoint]) -> float | None:
    last = valid[-1]
    if last.ndvi is None or last.ndvi_surroundings is None:
        return None
    return float(last.ndvi_surroundings - last.ndvi)


def _confidence(status: str, events: list[Event], n_valid: int, n_all: int) -> float:
    coverage = n_valid / max(1, n_all)
    relevant = [e.confidence for e in events if e.flag == status]
    base = {"none": 0.9, "active": 0.5, "opening": 0.7}.get(status, 0.6)
    value = max(relevant) if relevant else base
    return min(1.0, max(0.0, float(value) * (0.6 + 0.4 * coverage)))


_BARS = " ▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per year; '·' marks a gap (no clear data)."""
    nums = [v for v in values if v is not None]
    top = max(nums) if nums else 0.0
    out = []
    for v in values:
        if v is None:
            out.append("·")
        elif top <= 0:
            out.append(_BARS[0] if v == 0 else _BARS[1])
        else:
            out.append(_BARS[min(8, max(1 if v > 0 else 0, math.ceil(8 * v / top)))])
    return "".join(out)
