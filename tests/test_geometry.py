"""Camera geometry: rays, projection, the closed-form translation, ray projection, rotations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from zedo_core.geometry import (
    project,
    project_onto_rays,
    refine_translation_px,
    reprojection_error_px,
    rotation_grid,
    rotation_matrices,
    solve_translation,
    unit_rays,
)

K = torch.tensor([[1100.0, 0.0, 500.0], [0.0, 1050.0, 480.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _keypoints(batch: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 17, 2, generator=g, dtype=torch.float64) * 1000.0


def test_unit_rays_are_unit_and_project_back():
    kp = _keypoints(3, 0)
    Kb = K.expand(3, 3, 3)
    rays = unit_rays(kp, torch.linalg.inv(Kb))
    torch.testing.assert_close(rays.norm(dim=-1), torch.ones(3, 17, dtype=torch.float64))
    assert (rays[..., 2] > 0).all()
    for depth in (0.5, 4.0):
        torch.testing.assert_close(project(depth * rays, Kb), kp, rtol=0, atol=1e-9)


def test_project_pinhole():
    points = torch.tensor([[[0.0, 0.0, 2.0], [1.0, -0.5, 4.0]]], dtype=torch.float64)
    uv = project(points, K[None])
    expected = torch.tensor([[[500.0, 480.0], [500 + 1100 * 0.25, 480 - 1050 * 0.125]]], dtype=torch.float64)
    torch.testing.assert_close(uv, expected)


def test_reprojection_error_weighted_mean_ignores_zero_weights():
    pose = torch.tensor([[[0.0, 0.0, 2.0]] * 17], dtype=torch.float64)  # all at the principal point
    kp = torch.full((1, 17, 2), 0.0, dtype=torch.float64) + torch.tensor([500.0, 480.0], dtype=torch.float64)
    kp[0, 0, 0] += 3.0
    kp[0, 1, 1] += 4.0
    kp[0, 2] += 1000.0  # ignored: weight 0
    w = torch.ones(1, 17, dtype=torch.float64)
    w[0, 2] = 0.0
    w[0, 1] = 3.0
    err = reprojection_error_px(pose, kp, K[None], w)
    assert err.item() == pytest.approx((3.0 + 3.0 * 4.0) / 18.0)


def _objective(T: np.ndarray, pose: np.ndarray, rays: np.ndarray, w: np.ndarray) -> float:
    perp = np.eye(3) - rays[:, :, None] * rays[:, None, :]
    residual = np.einsum("jab,jb->ja", perp, pose + T)
    return float((w * (residual**2).sum(-1)).sum())


def _random_instance(seed: int, behind: bool = False):
    rng = np.random.default_rng(seed)
    pose = rng.normal(scale=0.3, size=(17, 3))
    T_true = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(3, 6)])
    if behind:
        T_true[2] = -T_true[2]
    rays = pose + T_true + rng.normal(scale=0.05, size=(17, 3))  # inconsistent rays: no exact fit
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    w = rng.uniform(0.1, 1.0, size=17)
    w[rng.choice(17, size=5, replace=False)] = 0.0
    return pose, rays, w, T_true


def _brute_force(pose, rays, w, T_start):
    res = minimize(_objective, T_start, args=(pose, rays, w), method="BFGS", options={"gtol": 1e-12})
    return res.x


@pytest.mark.parametrize("seed", range(5))
def test_solve_translation_matches_brute_force(seed):
    pose, rays, w, T_true = _random_instance(seed)
    T_ref = _brute_force(pose, rays, w, T_true + 0.5)
    assert T_ref[2] > 0
    T = solve_translation(torch.tensor(pose[None]), torch.tensor(rays[None]), torch.tensor(w[None]))
    np.testing.assert_allclose(T[0].numpy(), T_ref, atol=1e-5)
    # Zero-weight joints do not count: moving them changes nothing.
    moved = pose.copy()
    moved[w == 0] += 10.0
    T_moved = solve_translation(torch.tensor(moved[None]), torch.tensor(rays[None]), torch.tensor(w[None]))
    torch.testing.assert_close(T_moved, T)


def test_solve_translation_batched_and_keeps_dtype():
    instances = [_random_instance(s) for s in range(3)]
    pose, rays, w = (torch.tensor(np.stack([inst[i] for inst in instances])) for i in range(3))
    T = solve_translation(pose.float(), rays.float(), w.float())
    assert T.dtype == torch.float32 and T.shape == (3, 3)
    for b in range(3):
        T_single = solve_translation(pose[b : b + 1], rays[b : b + 1], w[b : b + 1])
        torch.testing.assert_close(T[b].double(), T_single[0], rtol=1e-5, atol=1e-5)


def test_solve_translation_flips_solution_behind_camera():
    pose, rays, w, T_true = _random_instance(7, behind=True)
    T_ref = _brute_force(pose, rays, w, T_true + 0.5)
    assert T_ref[2] < 0
    T = solve_translation(torch.tensor(pose[None]), torch.tensor(rays[None]), torch.tensor(w[None]))
    np.testing.assert_allclose(T[0].numpy(), -T_ref, atol=1e-5)


def test_project_onto_rays():
    g = torch.Generator().manual_seed(4)
    kp = _keypoints(2, 5)
    Kb = K.expand(2, 3, 3)
    rays = unit_rays(kp, torch.linalg.inv(Kb))
    pose = torch.randn(2, 17, 3, generator=g, dtype=torch.float64) * 0.3
    T = torch.tensor([[0.1, -0.2, 4.0], [-0.3, 0.1, 5.0]], dtype=torch.float64)
    visible = torch.rand(2, 17, generator=g) > 0.3
    assert visible.any() and (~visible).any()

    new = project_onto_rays(pose, T, rays, visible)
    before, after = pose + T[:, None], new + T[:, None]
    # Invisible joints unchanged.
    torch.testing.assert_close(new[~visible], pose[~visible])
    # Visible joints lie on their rays: no perpendicular component, and reproject onto the keypoints.
    perpendicular = after - (after * rays).sum(-1, keepdim=True) * rays
    assert perpendicular[visible].abs().max() < 1e-12
    torch.testing.assert_close(project(after, Kb)[visible], kp[visible], rtol=0, atol=1e-8)
    # Closest point: the move is perpendicular to the ray, and no other point of the ray is closer.
    move = after - before
    assert (move * rays).sum(-1)[visible].abs().max() < 1e-12
    for delta in (-0.01, 0.01):
        other = after + delta * rays
        assert ((other - before).norm(dim=-1) > move.norm(dim=-1))[visible].all()


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_rotation_matrices_rotate_about_axis(axis):
    R = rotation_matrices(axis, torch.tensor([0.3, -1.2], dtype=torch.float64))
    e = torch.zeros(3, dtype=torch.float64)
    e["xyz".index(axis)] = 1.0
    torch.testing.assert_close(R @ e, e.expand(2, 3))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(2, dtype=torch.float64))


def test_rotation_matrix_direction():
    """Right-handed: a quarter turn about z takes x to y."""
    R = rotation_matrices("z", torch.tensor(np.pi / 2, dtype=torch.float64))
    torch.testing.assert_close(R @ torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))


def test_rotation_grid():
    yaw_steps, pitch, roll = 24, (-20.0, 0.0, 20.0, 40.0), (-90.0, -45.0, -20.0, 0.0, 20.0, 45.0, 90.0)
    R = rotation_grid(yaw_steps, pitch, roll)
    assert R.shape == (yaw_steps * len(pitch) * len(roll), 3, 3)
    eye = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye.expand_as(R))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(R.shape[0], dtype=torch.float64))
    assert ((R - eye).abs().amax(dim=(1, 2)) < 1e-12).sum() == 1
    # All candidates distinct.
    flat = R.reshape(R.shape[0], 9)
    dist = torch.cdist(flat, flat) + 10 * torch.eye(R.shape[0], dtype=torch.float64)
    assert dist.min() > 1e-3


def test_rotation_grid_small():
    R = rotation_grid(4, (0.0,), (0.0,))
    assert R.shape == (4, 3, 3)
    # Yaw is about the camera's vertical (y): y is kept, quarter turns.
    torch.testing.assert_close(R @ torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64).expand(4, 3))
    torch.testing.assert_close(R[2], torch.diag(torch.tensor([-1.0, 1.0, -1.0], dtype=torch.float64)), atol=1e-12, rtol=0)


def _pixel_objective(T, pose, kp, Kn, w):
    X = pose + T
    uv = X @ Kn.T
    return float((w * ((uv[:, :2] / uv[:, 2:3] - kp) ** 2).sum(-1)).sum())


@pytest.mark.parametrize("seed", range(3))
def test_refine_translation_px_minimises_pixel_error(seed):
    rng = np.random.default_rng(seed)
    pose, _, w, T_true = _random_instance(seed)
    Kn = K.numpy()
    # Keypoints of a slightly different pose: no translation fits exactly.
    uv = (pose + T_true + rng.normal(scale=0.03, size=(17, 3))) @ Kn.T
    kp = uv[:, :2] / uv[:, 2:3]
    args = (torch.tensor(pose[None]), torch.tensor(T_true[None] * [1.1, 0.9, 1.2]), torch.tensor(kp[None]), K[None], torch.tensor(w[None]))
    T = refine_translation_px(*args, iterations=10)[0].numpy()
    T_ref = minimize(_pixel_objective, T_true, args=(pose, kp, Kn, w), method="Nelder-Mead",
                     options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000}).x
    np.testing.assert_allclose(T, T_ref, atol=1e-4)
    assert _pixel_objective(T, pose, kp, Kn, w) <= _pixel_objective(T_ref, pose, kp, Kn, w) + 1e-6


def test_refine_translation_px_keeps_an_exact_fit():
    pose, _, w, T_true = _random_instance(11)
    kp = project(torch.tensor(pose + T_true)[None], K[None])
    T = refine_translation_px(torch.tensor(pose[None]), torch.tensor(T_true[None]), kp, K[None], torch.tensor(w[None]))
    np.testing.assert_allclose(T[0].numpy(), T_true, atol=1e-9)
