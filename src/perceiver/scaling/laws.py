"""Compute-optimal scaling laws ``N_opt = k_N * C^a`` and ``D_opt = k_D * C^b`` (Hoffmann et al. 2022), and their
fit to measured or published optima."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class ScalingLaw:
    """Optimal model size ``n_opt(C) = k_n * C^a`` (parameters) and training tokens ``d_opt(C) = k_d * C^b`` for a
    compute budget ``C`` in FLOPs."""

    a: float
    b: float
    k_n: float
    k_d: float

    def n_opt(self, flops: float | np.ndarray) -> float | np.ndarray:
        return self.k_n * _power(flops, self.a)

    def d_opt(self, flops: float | np.ndarray) -> float | np.ndarray:
        return self.k_d * _power(flops, self.b)

    def __str__(self) -> str:
        return f"N_opt = {self.k_n:.4f} * C ** {self.a:.2f}\nD_opt = {self.k_d:.4f} * C ** {self.b:.2f}"


def _power(x: float | np.ndarray, m: float) -> float | np.ndarray:
    if isinstance(x, np.ndarray | list | tuple):
        return np.asarray(x, dtype=float) ** m
    return float(x) ** m


def _positive_array(name: str, values: Sequence[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) < 2:
        raise ValueError(f"{name} must be a sequence of at least 2 numbers, got {values!r}")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{name} must hold finite numbers > 0, got {values!r}")
    return array


def fit_power_law(
    xs: Sequence[float], ys: Sequence[float], m: float | None = None, names: tuple[str, str] = ("xs", "ys")
) -> tuple[float, float]:
    """Fit ``y = k * x^m`` and return ``(k, m)``.

    With the exponent ``m`` given, ``k`` minimises the squared error of ``y`` (the fit of the reference's
    ``scipy.optimize.curve_fit`` call, here in closed form: the model is linear in ``k``). With ``m=None`` both are
    fitted by least squares on ``log y = log k + m log x`` (relative errors: optima spread over orders of
    magnitude). ``names`` name the arguments in error messages.
    """
    x, y = _positive_array(names[0], xs), _positive_array(names[1], ys)
    if len(x) != len(y):
        raise ValueError(f"{names[0]} and {names[1]} must have the same length, got {len(x)} and {len(y)}")
    if m is None:
        if np.ptp(np.log(x)) == 0:
            raise ValueError(f"fitting the exponent needs at least two different {names[0]}, got {xs!r}")
        m, log_k = np.polyfit(np.log(x), np.log(y), deg=1)
        return math.exp(log_k), float(m)
    if not isinstance(m, int | float) or isinstance(m, bool) or not math.isfinite(m):
        raise ValueError(f"m must be a finite number or None, got {m!r}")
    # scale x first: x^m of FLOP counts (1e19 .. 1e28) squared overflows nothing, but keeps precision
    scale = x.max()
    basis = (x / scale) ** m
    k_scaled = float(np.dot(basis, y) / np.dot(basis, basis))
    return k_scaled / scale**m, float(m)


def fit_scaling_law(
    flops: Sequence[float],
    params: Sequence[float],
    tokens: Sequence[float],
    a: float | None = None,
    b: float | None = None,
) -> ScalingLaw:
    """Fit a :class:`ScalingLaw` to compute-optimal ``(flops, params, tokens)`` triples.

    :param a: exponent of ``N_opt``: fixed (e.g. 0.49 of Chinchilla's approach 2, as the reference does) or ``None``
        to fit it as well.
    :param b: exponent of ``D_opt``, likewise.
    """
    k_n, a = fit_power_law(flops, params, m=a, names=("flops", "params"))
    k_d, b = fit_power_law(flops, tokens, m=b, names=("flops", "tokens"))
    return ScalingLaw(a=a, b=b, k_n=k_n, k_d=k_d)


def isoflop_optimum(
    params: Sequence[float], losses: Sequence[float], tokens: Sequence[float]
) -> tuple[float, float, float]:
    """The compute-optimal point of one IsoFLOP profile (models of different sizes trained with the same compute):
    a parabola in ``log N`` fitted to the final losses (Chinchilla's approach 2), its minimum ``N_opt`` and loss, and
    ``D_opt`` read off a linear fit of ``log D`` against ``log N``. Returns ``(n_opt, d_opt, loss_at_n_opt)``."""
    n, d = _positive_array("params", params), _positive_array("tokens", tokens)
    loss = np.asarray(losses, dtype=float)
    if not (len(n) == len(d) == len(loss)) or len(n) < 3:
        raise ValueError(f"params, losses and tokens need the same length >= 3, got {len(n)}, {len(loss)}, {len(d)}")
    if not np.all(np.isfinite(loss)):
        raise ValueError(f"losses must be finite, got {losses!r}")
    log_n = np.log(n)
    curvature, slope, offset = np.polyfit(log_n, loss, deg=2)
    if curvature <= 0:
        raise ValueError(
            f"the losses {np.round(loss, 4).tolist()} over model sizes {n.tolist()} have no minimum (the fitted "
            "parabola opens downwards): add smaller and larger models around the best one"
        )
    log_n_opt = -slope / (2 * curvature)
    d_slope, d_offset = np.polyfit(log_n, np.log(d), deg=1)
    loss_opt = offset - slope**2 / (4 * curvature)
    return math.exp(log_n_opt), math.exp(d_offset + d_slope * log_n_opt), float(loss_opt)
