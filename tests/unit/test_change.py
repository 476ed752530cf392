"""Change analysis on synthetic series with known answers, and its properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.change import YearPoint, analyse, sparkline
from monitor.config import ChangeConfig
from monitor.rank import rank_candidates

CFG = ChangeConfig()
YEARS = list(range(2016, 2026))


def series(areas, ndvi=None):
    ndvi = ndvi or [None] * len(areas)
    return [
        YearPoint(y, a, n, 0.45 if n is not None else None)
        for y, a, n in zip(YEARS, areas, ndvi, strict=False)
    ]


def run(areas, ndvi=None):
    return analyse("X", "x", series(areas, ndvi), CFG, YEARS[len(areas) - 1])


def test_never_detected_is_none():
    s = run([0.0] * 10)
    assert s.status == "none" and s.opened_year is None and s.events == ()


def test_single_noisy_year_is_not_a_mine():
    s = run([0, 0, 0, 4.0, 0, 0, 0, 0, 0, 0])
    assert s.status == "none"


def test_opening_in_the_last_two_years():
    s = run([0] * 8 + [6.0, 9.0])
    assert s.status == "opening" and s.opened_year == 2024
    assert s.events[0].flag == "opening"
    s = run([0] * 9 + [7.0])
    assert s.status == "opening" and s.opened_year == 2025


def test_steady_expansion_with_its_years():
    s = run([0, 0, 8, 11, 14, 17, 20, 23, 26, 29])
    assert s.status == "expansion"
    assert s.opened_year == 2018
    exp = next(e for e in s.events if e.flag == "expansion")
    assert exp.end == 2025 and exp.start in (2018, 2019)
    assert any(e.flag == "opening" and e.start == 2018 for e in s.events)


def test_stagnation_dates_the_freeze():
    s = run([15, 18, 21, 24, 27, 27, 27.5, 26.8, 27.2, 27])
    assert s.status == "stagnation"
    assert s.stagnant_since == 2020
    assert not s.restoration_candidate


def test_lost_detection_is_likely_abandonment():
    s = run([20, 24, 27, 27, 26, 12, 0.2, 0, 0, 0])
    assert s.status == "likely_abandonment"
    assert s.abandoned_since == 2022
    assert s.last_detected_year == 2021
    assert s.restoration_candidate


def test_shrinking_footprint_with_greening_is_abandonment():
    areas = [20, 24, 28, 28, 27, 22, 16, 11, 8, 6]
    ndvi = [0.10, 0.10, 0.10, 0.10, 0.11, 0.16, 0.22, 0.27, 0.31, 0.34]
    s = run(areas, ndvi)
    assert s.status == "likely_abandonment"
    assert s.abandoned_since in (2019, 2020, 2021)


def test_stagnant_footprint_revegetating_is_abandonment():
    areas = [20, 24, 28, 28, 28, 28, 28, 27.5, 27.8, 27.6]
    ndvi = [0.10, 0.10, 0.10, 0.10, 0.11, 0.11, 0.15, 0.20, 0.24, 0.27]
    s = run(areas, ndvi)
    assert s.status == "likely_abandonment"
    assert s.stagnant_since == 2018
    assert {e.flag for e in s.events} >= {"stagnation", "likely_abandonment"}


def test_a_footprint_that_keeps_only_its_ponds_is_abandonment():
    # a worked-out alluvial scar: the pits revegetate, its ponds stay; the NDVI of what is
    # left (water) never rises
    s = run([13, 15, 17, 19, 16, 8, 5.4, 5.4, 5.3, 5.4])
    assert s.status == "likely_abandonment" and s.restoration_candidate
    assert s.abandoned_since == 2020
    assert "stagnation" in {e.flag for e in s.events}  # the residue is stagnant, and said so
    # in a desert nothing greens: a pit shrinking to a third of its peak without it
    s = run([2, 4, 11, 13, 14, 13, 9, 7, 5.5, 5.2], [0.1] * 10)
    assert s.status == "likely_abandonment" and s.abandoned_since == 2021


def test_a_lake_that_shrank_in_a_drought_is_still_a_lake():
    points = [
        YearPoint(y, a, -0.2, 0.45, 0.9)
        for y, a in zip(YEARS, [20, 20, 21, 20, 20, 20, 8, 7, 7.5, 7], strict=True)
    ]
    s = analyse("L", "l", points, CFG, YEARS[-1])
    assert s.status == "none" and "lake" in s.reasons[0]


def test_a_mine_that_gave_up_less_than_half_or_grows_back_is_not_abandoned():
    assert run([20, 24, 28, 28, 28, 20, 17, 17, 17.2, 16.9]).status == "stagnation"
    # below half for one year only is not yet a wound-down mine
    assert run([20, 24, 28, 28, 28, 28, 27, 24, 20, 13]).status != "likely_abandonment"
    # worked again after a lull
    assert run([20, 24, 28, 10, 9, 9, 10, 12, 16, 20]).status != "likely_abandonment"


def test_gaps_are_not_losses():
    s = run([20, 24, 27, None, None, 30, 33, None, 39, 42])
    assert s.status == "expansion"
    s = run([20, 24, 27, 27, 27, 27, 27, None, None, None])
    assert s.status == "stagnation"


def test_restoration_candidates_are_ranked_with_reasons():
    a = analyse("A", "a", series([20, 24, 27, 27, 26, 12, 0, 0, 0, 0]), CFG, 2025)
    b = analyse("B", "b", series([5, 6, 7, 7, 7, 7, 7, 7, 3, 0]), CFG, 2025)
    c = analyse("C", "c", series([0] * 10), CFG, 2025)
    ranked = rank_candidates([a, b, c], {"B": 0.5})
    assert set(ranked) == {"A", "B"} and ranked["A"].rank == 1 and ranked["B"].rank == 2
    assert any("since last activity" in r for r in ranked["A"].reasons)
    assert "50% inside protected areas" in ranked["B"].reasons


def test_status_json_has_the_contract_keys():
    s = run([0, 0, 8, 11, 14, 17, 20, 23, 26, 29]).as_json()
    assert set(s) == {
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
    }
    assert 0 <= s["confidence"] <= 1
    assert all(set(e) == {"flag", "from", "to"} for e in s["events"])


def test_sparkline_marks_gaps():
    assert sparkline([0, None, 5, 10]) == " ·▄█"


# -- properties -----------------------------------------------------------------------------
start = st.integers(0, 4)
growth = st.floats(1.5, 6.0)


@settings(max_examples=60, deadline=None)
@given(start, st.floats(5, 20), growth)
def test_monotone_growth_is_never_stagnation_or_abandonment(k, a0, rate):
    areas = [0.0] * k + [a0 + rate * i for i in range(10 - k)]
    s = run(areas)
    assert s.status not in ("stagnation", "likely_abandonment", "none")


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 6), st.floats(5, 60))
def test_constant_footprint_for_three_years_is_stagnation(n_flat, level):
    rising = [level * (0.4 + 0.6 * i / (10 - n_flat)) for i in range(10 - n_flat)]
    s = run(rising + [level] * n_flat)
    assert s.status == "stagnation"
    assert s.stagnant_since <= YEARS[-1] - 2


@settings(max_examples=60, deadline=None)
# noise of +-4% against a 12% tolerance; growth of >= 1.5 ha/yr stays distinguishable from it
@given(st.floats(10, 60), st.lists(st.floats(-0.04, 0.04), min_size=10, max_size=10))
def test_noise_within_tolerance_flips_nothing(level, noise):
    areas = [level * (1 + e) for e in noise]
    s = run(areas)
    assert s.status == "stagnation"
    assert [e.flag for e in s.events] == ["stagnation"]


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 5), st.floats(5, 60), st.floats(0.05, 0.45), st.integers(2, 4))
def test_a_footprint_held_below_half_its_peak_is_abandonment(k, peak, share, n_low):
    # ten years: worked up to its peak, then held at a residue below half of it for n_low
    rising = [peak * (0.6 + 0.4 * i / k) for i in range(k + 1)]
    areas = rising + [peak] * (9 - k - n_low) + [max(peak * share, 1.5)] * n_low
    s = run(areas)
    assert s.status == "likely_abandonment"
    assert s.abandoned_since is not None


@settings(max_examples=60, deadline=None)
@given(st.floats(10, 60), st.sets(st.integers(1, 8), min_size=1, max_size=4))
def test_gaps_are_never_read_as_losses(level, gap_idx):
    areas = [None if i in gap_idx else level for i in range(10)]
    s = run(areas)
    assert s.status != "likely_abandonment"
    assert s.abandoned_since is None


def test_closed_form_statistics_match_statsmodels():
    import numpy as np
    import statsmodels.api as sm

    from monitor.change import _break, _ols

    rng = np.random.default_rng(3)
    years = np.arange(2016, 2026)
    for _ in range(20):
        area = (
            10
            + rng.uniform(0, 4) * np.minimum(years - 2016, rng.integers(3, 9))
            + rng.normal(0, 1.5, 10)
        )
        fit = sm.OLS(area, sm.add_constant(years - years.mean())).fit()
        slope, p, ssr = _ols(years, area)
        assert (
            abs(slope - fit.params[1]) < 1e-9
            and abs(p - fit.pvalues[1]) < 1e-9
            and abs(ssr - fit.ssr) < 1e-6
        )
        b, _, _, p_brk = _break(years, area)
        t = years.astype(float)
        hinge = sm.OLS(
            area, np.column_stack([np.ones(10), np.minimum(t - b, 0), np.maximum(t - b, 0)])
        ).fit()
        _, p_sm, _ = hinge.compare_f_test(fit)
        assert abs(p_brk - p_sm) < 1e-9


def test_a_lake_there_from_the_first_year_is_not_a_mine():
    pts = [YearPoint(y, 12.0 + 0.3 * (k % 2), 0.05, 0.4, 0.85) for k, y in enumerate(YEARS)]
    s = analyse("R", "reservoir", pts, CFG, 2025)
    assert s.status == "none" and "open water" in s.reasons[0] and not s.restoration_candidate
    # the same footprint, but dry ground: a stagnant mine
    dry = [YearPoint(p.year, p.area_ha, p.ndvi, p.ndvi_surroundings, 0.05) for p in pts]
    assert analyse("M", "mine", dry, CFG, 2025).status == "stagnation"
    # a pit lake that formed after mining opened is still a mine's
    opened = [YearPoint(y, 0.0 if k < 3 else 12.0, 0.05, 0.4, 0.9) for k, y in enumerate(YEARS)]
    assert analyse("P", "pit", opened, CFG, 2025).status != "none"


def test_sparse_and_one_look_years_are_gaps_not_losses():
    # two gaps (too few looks) inside steady growth: still expansion, no loss
    areas = [8, 10, None, 14, None, 18, 20, 22, 24, 26]
    s = run(areas)
    assert s.status == "expansion" and s.abandoned_since is None
    # a false footprint that comes and goes with the clouds is never confirmed
    assert run([0, 3.0, 0, 0, 2.5, 0, 0, 0, 3.1, 0]).status == "none"


def test_the_t_and_f_tails_match_scipy():
    # the analysis computes them itself (no scipy import on the `status` path)
    from scipy.special import fdtrc, stdtr

    from monitor.change import _f_sf, _t_two_sided

    for df in (1, 2, 3, 5, 8, 13, 30):
        for t in (0.0, 0.1, 0.7, 1.5, 2.2, 4.0, 9.0, 40.0):
            assert _t_two_sided(t, df) == pytest.approx(2 * stdtr(df, -t), rel=1e-9, abs=1e-15)
            assert _f_sf(t * t, 1, df) == pytest.approx(fdtrc(1, df, t * t), rel=1e-9, abs=1e-15)
