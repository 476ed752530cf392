"""Change analysis: a site's yearly mined area and footprint NDVI -> events and a status.

Method, and why:

* A year without enough clear observations is a gap: it neither confirms nor breaks anything.
* Detections need persistence, as in AMW's k-of-n rule: a detection (or its loss) counts once it
  holds for ``persistence`` valid years; at the end of the record, where it cannot yet, it counts
  as *possible* (GLAD's levels) with lower confidence. One noisy year flips nothing.
* Trend: ordinary least squares of area on year (statsmodels' OLS t-test) over the active segment; growth
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
  shrinking while its NDVI rises; or stagnation with NDVI rising by ``ndvi_recovery``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from monitor.config import ChangeConfig

__all__ = ["YearPoint", "Event", "SiteStatus", "analyse", "STATUSES", "sparkline"]

#: Bump when the analysis changes: statuses cached in stores are then recomputed.
ANALYSIS_VERSION = 4
STATUSES = ("none", "opening", "active", "expansion", "stagnation", "likely_abandonment")


@dataclass(frozen=True)
class YearPoint:
    """One year of a site's history, as the analysis needs it."""

    year: int
    """Year."""
    area_ha: float | None
    """Mined area (None: too few clear observations, a gap)."""
    ndvi: float | None = None
    """Mean NDVI of the site's footprint."""
    ndvi_surroundings: float | None = None
    """Mean NDVI of the site's undisturbed land."""


@dataclass(frozen=True)
class Event:
    """A flag over a span of years."""

    flag: str
    """opening, expansion, stagnation or likely_abandonment."""
    start: int
    """First year."""
    end: int
    """Last year."""
    confidence: float
    """0-1."""
    reason: str
    """Why, in words."""

    def as_json(self) -> dict:
        return {"flag": self.flag, "from": self.start, "to": self.end}


@dataclass(frozen=True)
class SiteStatus:
    """The analysis of one site."""

    site_id: str
    name: str
    status: str
    opened_year: int | None
    stagnant_since: int | None
    abandoned_since: int | None
    last_detected_year: int | None
    latest_area_ha: float | None
    restoration_candidate: bool
    confidence: float
    events: tuple[Event, ...] = ()
    reasons: tuple[str, ...] = ()
    peak_area_ha: float = 0.0
    years_since_activity: int | None = None
    ndvi_recovery: float | None = None
    ndvi_deficit: float | None = None
    protected_overlap: float = 0.0
    rank_score: float = 0.0
    rank: int | None = None
    series: tuple[YearPoint, ...] = field(default=(), repr=False)

    def as_json(self) -> dict:
        return {
            "site_id": self.site_id,
            "name": self.name,
            "status": self.status,
            "opened_year": self.opened_year,
            "stagnant_since": self.stagnant_since,
            "abandoned_since": self.abandoned_since,
            "last_detected_year": self.last_detected_year,
            "latest_area_ha": None
            if self.latest_area_ha is None
            else round(self.latest_area_ha, 2),
            "restoration_candidate": self.restoration_candidate,
            "confidence": round(self.confidence, 3),
            "events": [e.as_json() for e in self.events],
        }


# -- statistics -----------------------------------------------------------------------------
# The tests are statsmodels' OLS t-test and compare_f_test; the hot path computes the same
# closed forms with numpy (tests/test_change.py checks them against statsmodels), because
# statsmodels' per-fit overhead made `status` over 10,000 sites take ~20 s instead of ~1 s.
def _lstsq(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    resid = y - x @ beta
    return beta, float(resid @ resid), x


def _ols(years: np.ndarray, area: np.ndarray) -> tuple[float, float, float]:
    """(slope ha/yr, two-sided p-value of the slope, residual sum of squares) of area ~ year."""
    from scipy import stats

    n = len(years)
    if n < 3 or np.ptp(area) == 0:
        slope = float(np.polyfit(years, area, 1)[0]) if n >= 2 else 0.0
        return slope, (0.0 if n >= 2 and np.ptp(area) > 0 else 1.0), 0.0
    t = years.astype(float) - years.mean()
    sxx = float(t @ t)
    slope = float(t @ (area - area.mean())) / sxx
    resid = area - area.mean() - slope * t
    ssr = float(resid @ resid)
    if ssr <= 1e-12:
        return slope, 0.0, 0.0
    se = np.sqrt(ssr / (n - 2) / sxx)
    p = float(2 * stats.t.sf(abs(slope / se), n - 2))
    return slope, p, ssr


def _break(years: np.ndarray, area: np.ndarray) -> tuple[int | None, float, float, float]:
    """Best hinge year, slopes before/after, and the F-test p-value against one line."""
    from scipy import stats

    n = len(years)
    if n < 5:
        return None, 0.0, 0.0, 1.0
    t = years.astype(float)
    _, ssr_r, _ = _lstsq(np.column_stack([np.ones_like(t), t - t.mean()]), area)
    best = None
    for b in years[2:-2]:
        x = np.column_stack([np.ones_like(t), np.minimum(t - b, 0), np.maximum(t - b, 0)])
        beta, ssr, _ = _lstsq(x, area)
        if best is None or ssr < best[1]:
            best = (int(b), ssr, beta)
    b, ssr_u, beta = best
    if ssr_r <= 1e-9:
        return b, float(beta[1]), float(beta[2]), 1.0
    if ssr_u <= 1e-9:
        return b, float(beta[1]), float(beta[2]), 0.0
    f = (ssr_r - ssr_u) / (ssr_u / (n - 3))
    return b, float(beta[1]), float(beta[2]), float(stats.f.sf(f, 1, n - 3))


# -- analysis -------------------------------------------------------------------------------
def analyse(
    site_id: str,
    name: str,
    points: Sequence[YearPoint],
    cfg: ChangeConfig,
    last_year: int | None = None,
) -> SiteStatus:
    """Events, status and confidence of one site from its yearly series."""
    pts = sorted(points, key=lambda p: p.year)
    valid = [p for p in pts if p.area_ha is not None]
    last_year = last_year if last_year is not None else (pts[-1].year if pts else None)
    base = dict(site_id=site_id, name=name, series=tuple(pts))
    if not valid:
        return SiteStatus(status="none", opened_year=None, stagnant_since=None, abandoned_since=None,
                          last_detected_year=None, latest_area_ha=None, restoration_candidate=False,
                          confidence=0.0, reasons=("no year with enough clear observations",), **base)  # fmt: skip
    k = max(1, cfg.persistence)
    years = np.array([p.year for p in valid])
    area = np.array([p.area_ha for p in valid], float)
    det = area >= cfg.min_area_ha
    n = len(valid)

    # confirmed detections: runs of >= k detected valid years (or a run reaching the end)
    confirmed = np.zeros(n, bool)
    i = 0
    while i < n:
        if det[i]:
            j = i
            while j + 1 < n and det[j + 1]:
                j += 1
            if j - i + 1 >= k or j == n - 1:
                confirmed[i : j + 1] = True
            i = j + 1
        else:
            i += 1
    latest = valid[-1].area_ha
    if not confirmed.any():
        noise = int(det.sum())
        reason = (
            "never detected"
            if not noise
            else f"{noise} isolated single-year detection(s), not confirmed"
        )
        conf = min(1.0, n / max(1, len(pts))) * (0.95 if not noise else 0.7)
        return SiteStatus(status="none", opened_year=None, stagnant_since=None, abandoned_since=None,
                          last_detected_year=None, latest_area_ha=latest, restoration_candidate=False,
                          confidence=conf, reasons=(reason,), **base)  # fmt: skip

    first_idx = int(np.argmax(confirmed))
    last_idx = int(n - 1 - np.argmax(confirmed[::-1]))
    opened_year = int(years[first_idx])
    last_detected = int(years[last_idx])
    events: list[Event] = []
    reasons: list[str] = []
    peak = float(area[confirmed].max())
    had_before = first_idx > 0  # valid undetected years precede the first detection
    if had_before:
        span = (
            "end of record"
            if first_idx == n - 1
            else f"held {int(confirmed[first_idx:].sum())} year(s)"
        )
        events.append(Event("opening", opened_year, opened_year, 0.6 if first_idx == n - 1 else 0.9,
                            f"first detected in {opened_year} ({span})"))  # fmt: skip

    # detection lost: the trailing valid years after the last confirmed detection
    lost_years = years[last_idx + 1 :]
    lost = len(lost_years) > 0 and not det[last_idx + 1 :].any()
    abandoned_since = stagnant_since = None
    status = "active"
    ndvi = {p.year: p.ndvi for p in valid if p.ndvi is not None}
    ndvi_rise = _ndvi_change(ndvi, opened_year, last_detected if lost else int(years[-1]))

    # a loss in the final year alone is only *possible*; it counts when the footprint was
    # already shrinking or greening before it (GLAD-style possible -> likely with evidence)
    peak_ndvi = min((v for y, v in ndvi.items() if y <= last_detected), default=None)
    late_green = ndvi.get(int(years[-1]))
    early_loss = (
        lost
        and len(lost_years) < k
        and (
            area[last_idx] < (1 - cfg.tolerance) * peak
            or (
                peak_ndvi is not None
                and late_green is not None
                and late_green - peak_ndvi >= cfg.ndvi_recovery
            )
        )
    )
    if lost and (len(lost_years) >= k or early_loss):
        abandoned_since = int(lost_years[0])
        conf = min(0.95, 0.55 + 0.15 * len(lost_years))
        why = (
            f"not detected since {abandoned_since} after {int(confirmed.sum())} year(s) of activity"
        )
        events.append(Event("likely_abandonment", abandoned_since, int(years[-1]), conf, why))
        reasons.append(why)
        status = "likely_abandonment"
    else:
        seg = slice(first_idx, last_idx + 1)
        sy, sa = _without_outlier(years[seg], area[seg], cfg.tolerance)
        slope, p, _ = _ols(sy, sa)
        brk, s_before, s_after, p_brk = _break(sy, sa)
        stable_from = _stable_since(sy, sa, cfg.tolerance, cfg.min_expansion_ha_per_year)
        stable_len = 0 if stable_from is None else int((sy >= stable_from).sum())
        trailing = sy[-min(len(sy), 4) :], sa[-min(len(sa), 4) :]
        t_slope, t_p, _ = _ols(*trailing)
        # a steady line through the whole segment, with no significant break, is growth
        # that merely looks flat over its last few noisy years
        steady_growth = p < 0.05 and slope >= cfg.min_expansion_ha_per_year and p_brk >= 0.05
        if stable_len >= cfg.stagnation_years and not steady_growth:
            stagnant_since = int(stable_from)
            conf = min(0.95, 0.5 + 0.1 * stable_len)
            why = f"no growth since {stagnant_since} ({sa[-1]:.1f} ha, within ±{cfg.tolerance:.0%})"
            if brk is not None and p_brk < 0.05 and abs(s_after) < cfg.min_expansion_ha_per_year:
                why += (
                    f"; growth of {s_before:.1f} ha/yr stopped at {brk} (break test p={p_brk:.3f})"
                )
            events.append(Event("stagnation", stagnant_since, int(years[-1]), conf, why))
            reasons.append(why)
            status = "stagnation"
            if (
                ndvi_rise is not None
                and _ndvi_change(ndvi, stagnant_since, int(years[-1])) is not None
            ):
                rise = _ndvi_change(ndvi, stagnant_since, int(years[-1]))
                if rise >= cfg.ndvi_recovery:
                    abandoned_since = (
                        _first_green_year(ndvi, stagnant_since, cfg.ndvi_recovery) or stagnant_since
                    )
                    why2 = f"NDVI {rise:+.2f} since {stagnant_since}: vegetation returning"
                    events.append(
                        Event(
                            "likely_abandonment",
                            abandoned_since,
                            int(years[-1]),
                            min(0.9, conf),
                            why2,
                        )
                    )
                    reasons.append(why2)
                    status = "likely_abandonment"
        elif (
            len(sy) >= 3
            and t_slope <= -max(cfg.min_expansion_ha_per_year, cfg.tolerance * peak / 2)
            and sa[-1] < (1 - cfg.tolerance) * peak
        ):
            peak_year = int(sy[int(np.argmax(sa))])
            rise = _ndvi_change(ndvi, peak_year, int(years[-1]))
            if rise is not None and rise >= cfg.ndvi_recovery / 2:
                abandoned_since = peak_year + 1
                why = f"footprint shrank from {peak:.1f} to {sa[-1]:.1f} ha since {peak_year}; NDVI {rise:+.2f}"
                events.append(
                    Event(
                        "likely_abandonment",
                        abandoned_since,
                        int(years[-1]),
                        min(0.9, 0.5 + rise),
                        why,
                    )
                )
                reasons.append(why)
                status = "likely_abandonment"
            else:
                reasons.append(
                    f"footprint shrinking ({t_slope:.1f} ha/yr) without vegetation return"
                )
        if status == "active":
            grow_slope, grow_p = (t_slope, t_p) if len(trailing[0]) >= 3 else (slope, p)
            # slow growth shows over the whole segment before it does over four years
            trailing_weak = grow_p >= 0.05 or grow_slope < cfg.min_expansion_ha_per_year
            whole_strong = (
                p < 0.05 and slope >= cfg.min_expansion_ha_per_year and t_slope >= slope / 2
            )
            if trailing_weak and whole_strong and len(sy) >= 5:
                grow_slope, grow_p = slope, p
            if len(sy) >= 2 and grow_slope >= cfg.min_expansion_ha_per_year and grow_p < 0.05:
                start = (
                    int(brk)
                    if brk is not None and p_brk < 0.05 and s_after > s_before
                    else int(sy[0])
                )
                conf = float(min(0.97, 1 - grow_p)) * min(1.0, len(sy) / 4)
                why = f"growing {grow_slope:.1f} ha/yr since {start} (OLS p={grow_p:.3f}), now {sa[-1]:.1f} ha"
                events.append(Event("expansion", start, int(years[-1]), conf, why))
                reasons.append(why)
                status = "expansion"
            elif len(sy) == 2 and sa[-1] - sa[0] >= max(
                cfg.min_expansion_ha_per_year, cfg.tolerance * sa[0]
            ):
                status = "expansion"
                why = f"grew from {sa[0]:.1f} to {sa[-1]:.1f} ha"
                events.append(Event("expansion", int(sy[0]), int(sy[-1]), 0.5, why))
                reasons.append(why)
    recent = last_year - cfg.opening_recent_years + 1 if last_year is not None else None
    if (
        had_before
        and recent is not None
        and opened_year >= recent
        and status != "likely_abandonment"
    ):
        status = "opening"
        reasons.insert(0, f"first detected in {opened_year}")
    if status == "active":
        reasons.append(f"detected since {opened_year}; too little history for a trend")

    confidence = _confidence(status, events, n, len(pts))
    years_since = None
    if status in ("likely_abandonment", "stagnation"):
        activity_end = abandoned_since - 1 if abandoned_since else stagnant_since
        years_since = int(years[-1]) - int(activity_end) if activity_end else None
    return SiteStatus(
        status=status, opened_year=opened_year, stagnant_since=stagnant_since,
        abandoned_since=abandoned_since, last_detected_year=last_detected, latest_area_ha=latest,
        restoration_candidate=status == "likely_abandonment", confidence=confidence,
        events=tuple(events), reasons=tuple(reasons), peak_area_ha=peak,
        years_since_activity=years_since, ndvi_recovery=ndvi_rise,
        ndvi_deficit=_deficit(valid), **base,
    )  # fmt: skip


def _without_outlier(
    years: np.ndarray, area: np.ndarray, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Drop the one year (not the last) that sits far off a line through the others, so a
    single noisy year flips nothing (AMW's k-of-n spirit applied to areas)."""
    n = len(area)
    if n < 5:
        return years, area
    t = years.astype(float)
    coef = np.polyfit(t, area, 1)
    resid = area - np.polyval(coef, t)
    i = int(np.argmax(np.abs(resid[:-1])))
    others = np.delete(resid, i)
    spread = 1.4826 * np.median(np.abs(others - np.median(others))) + 1e-9
    if abs(resid[i]) > max(3 * spread, 2 * tol * max(float(np.median(area)), 1e-9)):
        keep = np.arange(n) != i
        return years[keep], area[keep]
    return years, area


def _stable_since(years: np.ndarray, area: np.ndarray, tol: float, max_rate: float) -> int | None:
    """First year of the longest trailing run of areas within ``tol`` of their median, whose
    fitted change across the run stays under ``tol`` (slow steady growth is not stagnation);
    leading years that sit off the plateau (the last step of growth) are trimmed."""
    since_idx = None
    for i in range(len(area) - 1, -1, -1):
        window, yrs = area[i:], years[i:].astype(float)
        med = float(np.median(window))
        off = np.abs(window - med) > tol * med
        # one noisy year inside a run of four or more (never the newest, nor the first)
        # is forgiven: a single year flips nothing
        # (a window that starts on the noisy year may still be valid once extended past it)
        allowed = 1 if len(window) >= 4 and not off[-1] and not off[0] else 0
        if med <= 0 or off.sum() > allowed:
            continue
        window, yrs = window[~off], yrs[~off]
        if len(window) >= 3:
            slope = float(np.polyfit(yrs, window, 1)[0])
            if abs(slope) >= max_rate and abs(slope) * (yrs[-1] - yrs[0]) >= 0.75 * tol * med:
                continue
        since_idx = i
    if since_idx is None:
        return None
    while since_idx < len(area) - 3:
        rest = float(np.median(area[since_idx + 1 :]))
        if abs(area[since_idx] - rest) <= tol * rest / 2:
            break
        since_idx += 1
    return int(years[since_idx])


def _ndvi_change(ndvi: dict[int, float], start: int, end: int) -> float | None:
    before = [v for y, v in ndvi.items() if y <= start]
    after = [v for y, v in ndvi.items() if y >= end - 1]
    if not before or not after or end <= start:
        return None
    ref = ndvi.get(start, before[-1])
    return float(np.mean(after) - ref)


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
    return float(np.clip(value * (0.6 + 0.4 * coverage), 0, 1))


def rank_candidates(statuses: list[SiteStatus]) -> list[SiteStatus]:
    """Score restoration candidates and number them by rank (1 = first to restore)."""
    import dataclasses

    scored = []
    for s in statuses:
        if not s.restoration_candidate:
            scored.append(s)
            continue
        since = min((s.years_since_activity or 0) / 5, 1.0)
        size = min(s.peak_area_ha / 50.0, 1.0)
        deficit = float(np.clip((s.ndvi_deficit or 0.0) / 0.3, 0, 1))
        score = 0.35 * since + 0.3 * size + 0.2 * deficit + 0.15 * s.protected_overlap
        words = list(s.reasons)
        if s.years_since_activity:
            words.append(f"{s.years_since_activity} year(s) since last activity")
        words.append(f"{s.peak_area_ha:.1f} ha disturbed at peak")
        if s.ndvi_deficit is not None:
            side = "below" if s.ndvi_deficit >= 0 else "above"
            words.append(f"NDVI {abs(s.ndvi_deficit):.2f} {side} its surroundings")
        if s.protected_overlap > 0:
            words.append(f"{s.protected_overlap:.0%} inside protected areas")
        scored.append(
            dataclasses.replace(s, rank_score=round(score * s.confidence, 4), reasons=tuple(words))
        )
    order = sorted((s for s in scored if s.restoration_candidate), key=lambda s: -s.rank_score)
    ranks = {s.site_id: i for i, s in enumerate(order, 1)}
    return [dataclasses.replace(s, rank=ranks.get(s.site_id)) for s in scored]


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
