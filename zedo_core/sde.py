"""The sub-variance-preserving SDE (subVP) of the pose prior, in continuous time t in (0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SubVPSDE:
    """subVP SDE with a linear beta schedule (Song et al. 2021).

    ``x(t) = mean_coeff(t) * x(0) + std(t) * z`` with ``z ~ N(0, I)``.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def integrated_beta(self, t: torch.Tensor) -> torch.Tensor:
        """Integral of beta from 0 to t."""
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def mean_coeff(self, t: torch.Tensor) -> torch.Tensor:
        return torch.exp(-0.5 * self.integrated_beta(t))

    def std(self, t: torch.Tensor) -> torch.Tensor:
        """Standard deviation of x(t) given x(0) (subVP: 1 - exp(-int beta), not its square root)."""
        return -torch.expm1(-self.integrated_beta(t))

    def diffusion_sq(self, t: torch.Tensor) -> torch.Tensor:
        """Squared diffusion coefficient g^2(t) = beta(t) (1 - exp(-2 int beta))."""
        return self.beta(t) * -torch.expm1(-2.0 * self.integrated_beta(t))

    def perturb(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Sample x(t) given x(0); ``t`` broadcasts against the leading dimension of ``x0``."""
        t = t.reshape(-1, *([1] * (x0.dim() - 1)))
        return self.mean_coeff(t) * x0 + self.std(t) * noise

    def reverse_euler_step(
        self, x: torch.Tensor, t: torch.Tensor, predicted_noise: torch.Tensor, dt: float
    ) -> torch.Tensor:
        """One deterministic Euler step of the reverse SDE from t to t - dt, without the noise term.

        This is the full reverse-SDE drift (not the 0.5 g^2 of the probability-flow ODE), as in the
        authors' released implementation: ``x + dt * 0.5 beta x - dt * g^2 * z_hat / std``.
        """
        t = t.reshape(-1, *([1] * (x.dim() - 1)))
        score = -predicted_noise / self.std(t)
        return x + dt * 0.5 * self.beta(t) * x + dt * self.diffusion_sq(t) * score
