"""Scaling-law fits: the reference's published laws from Chinchilla's estimates, scipy's ``curve_fit`` as the
oracle of the fixed-exponent fit, and synthetic points with known laws."""

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import curve_fit

from perceiver.scaling import ScalingLaw, fit_power_law, fit_scaling_law, isoflop_optimum

FIXTURES = Path(__file__).parents[1] / "fixtures" / "scaling"


def chinchilla_estimates(approach: int) -> tuple[list[float], list[float], list[float]]:
    rows = list(csv.DictReader((FIXTURES / f"chinchilla_approach_{approach}.csv").open()))
    return tuple([float(r[key]) for r in rows] for key in ("FLOPs", "Parameters", "Tokens"))


@pytest.mark.parametrize(
    "approach, a, b, expected", [(1, 0.50, 0.50, "N_opt = 0.0877 * C ** 0.50\nD_opt = 1.8960 * C ** 0.50"),
                                 (2, 0.49, 0.51, "N_opt = 0.1448 * C ** 0.49\nD_opt = 1.1519 * C ** 0.51")],
)  # fmt: skip
def test_the_reference_laws_from_chinchilla_estimates(approach, a, b, expected):
    flops, params, tokens = chinchilla_estimates(approach)
    law = fit_scaling_law(flops, params, tokens, a=a, b=b)
    assert str(law) == expected
    if approach == 2:  # the article's compute-optimal size for its reference budget
        assert f"{law.n_opt(5.78e17):.2e}" == "7.32e+07"


@pytest.mark.parametrize("approach", [1, 2])
def test_fixed_exponent_fit_equals_curve_fit(approach):
    flops, params, tokens = chinchilla_estimates(approach)
    for ys, m in ((params, 0.49), (tokens, 0.51)):
        expected = curve_fit(lambda x, k, m=m: k * x**m, np.array(flops), np.array(ys), p0=[0.5])[0][0]
        k, fitted_m = fit_power_law(flops, ys, m=m)
        assert fitted_m == m and k == pytest.approx(expected, rel=1e-6)


def test_free_exponents_recover_a_synthetic_law():
    rng = np.random.default_rng(0)
    flops = np.logspace(15, 21, 12)
    params = 0.3 * flops**0.46 * np.exp(rng.normal(0, 0.02, 12))
    tokens = 0.6 * flops**0.54 * np.exp(rng.normal(0, 0.02, 12))
    law = fit_scaling_law(flops, params, tokens)
    assert law.a == pytest.approx(0.46, abs=0.01) and law.b == pytest.approx(0.54, abs=0.01)
    assert law.n_opt(1e18) == pytest.approx(0.3 * 1e18**0.46, rel=0.05)
    assert law.d_opt([1e18, 1e20]) == pytest.approx([0.6 * 1e18**0.54, 0.6 * 1e20**0.54], rel=0.05)


def test_law_evaluates_scalars_and_arrays():
    law = ScalingLaw(a=0.5, b=0.5, k_n=2.0, k_d=3.0)
    assert law.n_opt(1e4) == 200.0 and isinstance(law.n_opt(1e4), float)
    assert law.d_opt(np.array([1e4, 1e6])).tolist() == [300.0, 3000.0]


def test_isoflop_optimum_of_a_synthetic_profile():
    params = np.array([1e6, 2e6, 4e6, 8e6, 16e6])
    flops = 1e15
    tokens = flops / (6 * params)
    losses = 2.0 + 0.1 * (np.log(params) - np.log(5e6)) ** 2
    n_opt, d_opt, loss = isoflop_optimum(params, losses, tokens)
    assert n_opt == pytest.approx(5e6, rel=1e-6) and loss == pytest.approx(2.0)
    assert d_opt == pytest.approx(flops / (6 * 5e6), rel=1e-6)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: fit_power_law([1.0], [2.0]), "xs must be a sequence of at least 2 numbers"),
        (lambda: fit_power_law([1.0, -2.0], [2.0, 3.0]), "xs must hold finite numbers > 0"),
        (lambda: fit_power_law([1.0, 2.0], [2.0, 3.0, 4.0]), "xs and ys must have the same length, got 2 and 3"),
        (lambda: fit_power_law([2.0, 2.0], [2.0, 3.0]), "fitting the exponent needs at least two different xs"),
        (lambda: fit_power_law([1.0, 2.0], [2.0, 3.0], m=float("nan")), "m must be a finite number or None"),
        (lambda: fit_scaling_law([1e18, 1e19], [1e6, 0.0], [1e9, 1e10]), r"params must hold finite numbers > 0"),
        (
            lambda: fit_scaling_law([1e18, 1e19], [1e6, 1e7], [1e9, 1e10, 1e11]),
            "flops and tokens must have the same length",
        ),
        (lambda: isoflop_optimum([1e6, 2e6], [2.0, 1.9], [1e9, 5e8]), "need the same length >= 3"),
        (lambda: isoflop_optimum([1e6, 2e6, 4e6], [1.8, 2.0, 1.8], [1e9, 5e8, 2.5e8]), "no minimum"),
        (lambda: isoflop_optimum([1e6, 2e6, 4e6], [2.0, float("nan"), 1.8], [1e9, 5e8, 2.5e8]), "losses must be"),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()
