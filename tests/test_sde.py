"""The subVP SDE: closed forms, perturbation statistics and the reverse Euler step (numpy arrays;
tests/test_backends.py checks torch tensors give the same)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad

from zedo_core.sde import SubVPSDE

BMIN, BMAX = 0.1, 20.0
TIMES = [1e-4, 0.01, 0.05, 0.1, 0.3, 0.5, 0.9, 1.0]


def beta_np(t: float) -> float:
    return BMIN + t * (BMAX - BMIN)


def int_beta_np(t: float) -> float:
    return quad(beta_np, 0.0, t)[0]


def mean_np(t: float) -> float:
    return math.exp(-(t**2) * (BMAX - BMIN) / 4 - t * BMIN / 2)


def std_np(t: float) -> float:
    return 1.0 - math.exp(-(t**2) * (BMAX - BMIN) / 2 - t * BMIN)


def g2_np(t: float) -> float:
    return beta_np(t) * (1.0 - math.exp(-2.0 * int_beta_np(t)))


@pytest.fixture
def sde() -> SubVPSDE:
    return SubVPSDE()


def test_defaults(sde):
    assert (sde.beta_min, sde.beta_max) == (BMIN, BMAX)


@pytest.mark.parametrize("t", TIMES)
def test_closed_forms(sde, t):
    tt = np.array([t])
    assert sde.beta(tt).item() == pytest.approx(beta_np(t), rel=1e-12)
    assert sde.integrated_beta(tt).item() == pytest.approx(int_beta_np(t), rel=1e-10)
    assert sde.mean_coeff(tt).item() == pytest.approx(mean_np(t), rel=1e-12)
    assert sde.std(tt).item() == pytest.approx(std_np(t), rel=1e-9)
    assert sde.diffusion_sq(tt).item() == pytest.approx(g2_np(t), rel=1e-9)


def test_std_accurate_at_tiny_t(sde):
    """expm1 keeps the relative precision where 1 - exp(-x) would cancel."""
    t = np.array([1e-9])
    assert sde.std(t).item() == pytest.approx(BMIN * 1e-9, rel=1e-6)
    std32 = sde.std(t.astype(np.float32))
    assert std32.dtype == np.float32
    assert std32.item() == pytest.approx(BMIN * 1e-9, rel=1e-4)
    # Python floats work too.
    assert sde.std(1e-9) == pytest.approx(BMIN * 1e-9, rel=1e-6)


def test_perturb_matches_formula_and_broadcasts(sde):
    g = np.random.default_rng(0)
    x0 = g.standard_normal((4, 17, 3))
    noise = g.standard_normal((4, 17, 3))
    t = np.array([0.01, 0.1, 0.5, 1.0])
    out = sde.perturb(x0, t, noise)
    assert out.shape == (4, 17, 3)
    for i, ti in enumerate(t.tolist()):
        expected = mean_np(ti) * x0[i] + std_np(ti) * noise[i]
        np.testing.assert_allclose(out[i], expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("t", [0.05, 0.3, 0.8])
def test_perturb_monte_carlo_statistics(sde, t):
    n = 200_000
    g = np.random.default_rng(1)
    x0 = np.broadcast_to(np.array([[0.5, -0.2, 1.0]]), (n, 3))
    xt = sde.perturb(x0, np.full((n,), t), g.standard_normal((n, 3)))
    s = std_np(t)
    # Standard error of the mean is s / sqrt(n); of the std about s / sqrt(2n). Allow 5 of them.
    np.testing.assert_allclose(xt.mean(0), mean_np(t) * x0[0], atol=5 * s / math.sqrt(n))
    np.testing.assert_allclose(xt.std(0, ddof=1), s, atol=5 * s / math.sqrt(2 * n))


def test_reverse_euler_step_formula(sde):
    g = np.random.default_rng(2)
    x = g.standard_normal((5, 17, 3))
    z = g.standard_normal((5, 17, 3))
    t = np.array([0.01, 0.03, 0.1, 0.5, 1.0])
    dt = 1e-3
    out = sde.reverse_euler_step(x, t, z, dt)
    assert out.shape == (5, 17, 3)
    for i, ti in enumerate(t.tolist()):
        expected = x[i] + dt * 0.5 * beta_np(ti) * x[i] - dt * g2_np(ti) * z[i] / std_np(ti)
        np.testing.assert_allclose(out[i], expected, rtol=1e-9, atol=1e-12)


def _run_reverse(sde: SubVPSDE, s: float, noise_scale: float, steps: int = 1000, t0: float = 0.1):
    """Start from the exact marginal N(0, v(t0)) of data N(0, s^2) and take Euler steps down to t=0
    with the exact noise prediction times ``noise_scale``. Returns (initial var, final var)."""
    x = np.random.default_rng(3).standard_normal((1000, 1))
    # The steps are linear in x: rescale the sample to the exact marginal variance.
    v_start = mean_np(t0) ** 2 * s**2 + std_np(t0) ** 2
    x = x / x.std(ddof=1) * math.sqrt(v_start)
    dt = t0 / steps
    for k in range(steps):
        t = np.full((x.shape[0],), t0 - k * dt)
        tt = t[:, None]
        var = sde.mean_coeff(tt) ** 2 * s**2 + sde.std(tt) ** 2
        z_hat = sde.std(tt) * x / var  # exact: score = -x / var = -z_hat / std
        x = sde.reverse_euler_step(x, t, noise_scale * z_hat, dt)
    return v_start, x.var(ddof=1).item()


@pytest.mark.parametrize("s", [0.1, 1.0])
def test_probability_flow_with_exact_score_recovers_data_variance(sde, s):
    """Half the exact noise turns the step into the probability-flow ODE, which transports the
    marginal at t=0.1 to the data distribution: checks mean_coeff, std, diffusion_sq and the step
    against each other."""
    _, v_end = _run_reverse(sde, s, noise_scale=0.5)
    assert v_end == pytest.approx(s**2, rel=0.01)


def test_full_reverse_drift_with_exact_score_shrinks_variance(sde):
    """The loop's step (full reverse-SDE drift, no noise) with the exact score of N(0, 0.1^2) data:
    variance shrinks from the marginal's towards the data's and (mode seeking) beyond it, by the
    factor exp(2 int_0^0.1 (beta/2 - g^2 / v) dt) of the continuous-time limit."""
    s = 0.1
    v_start, v_end = _run_reverse(sde, s, noise_scale=1.0)
    assert v_end < v_start
    assert abs(v_end - s**2) < abs(v_start - s**2)
    assert v_end < s**2

    def rate(t: float) -> float:
        return 0.5 * beta_np(t) - g2_np(t) / (mean_np(t) ** 2 * s**2 + std_np(t) ** 2)

    expected = v_start * math.exp(2 * quad(rate, 0.0, 0.1)[0])
    assert v_end == pytest.approx(expected, rel=0.01)
