"""The sub-variance-preserving SDE (subVP) of the pose prior, in continuous time t in (0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

from .arrays import Array, namespace


@dataclass(frozen=True)
class SubVPSDE:
    """subVP SDE with a linear beta schedule (Song et al. 2021).

    ``x(t) = mean_coeff(t) * x(0) + std(t) * z`` with ``z ~ N(0, I)``. Times and poses are numpy
    arrays or torch tensors (training differentiates through it); Python floats work too.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def beta(self, t: Array) -> Array:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def integrated_beta(self, t: Array) -> Array:
        """Integral of beta from 0 to t."""
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def mean_coeff(self, t: Array) -> Array:
        return namespace(t).exp(-0.5 * self.integrated_beta(t))

    def std(self, t: Array) -> Array:
        """Standard deviation of x(t) given x(0) (subVP: 1 - exp(-int beta), not its square root)."""
        return -namespace(t).expm1(-self.integrated_beta(t))

    def diffusion_sq(self, t: Array) -> Array:
        """Squared diffusion coefficient g^2(t) = beta(t) (1 - exp(-2 int beta))."""
        return self.beta(t) * -namespace(t).expm1(-2.0 * self.integrated_beta(t))

    def perturb(self, x0: Array, t: Array, noise: Array) -> Array:
        """Sample x(t) given x(0); ``t`` broadcasts against the leading dimension of ``x0``."""
        t = t.reshape(-1, *([1] * (x0.ndim - 1)))
        return self.mean_coeff(t) * x0 + self.std(t) * noise

    def reverse_euler_step(
        self, x: Array, t: Array, predicted_noise: Array, dt: float
    ) -> Array:
        """One deterministic Euler step of the reverse SDE from t to t - dt, without the noise term.

        This is the full reverse-SDE drift (not the 0.5 g^2 of the probability-flow ODE), as in the
        authors' released implementation: ``x + dt * 0.5 beta x - dt * g^2 * z_hat / std``.
        """
        t = t.reshape(-1, *([1] * (x.ndim - 1)))
        score = -predicted_noise / self.std(t)
        return x + dt * 0.5 * self.beta(t) * x + dt * self.diffusion_sq(t) * score
