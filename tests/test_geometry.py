"""Camera geometry: rays, projection, the closed-form translation, ray projection, rotations.

On numpy arrays (the default backend); tests/test_backends.py checks torch tensors give the same."""

from __future__ import annotations

import numpy as np
import pytest
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

K = np.array([[1100.0, 0.0, 500.0], [0.0, 1050.0, 480.0], [0.0, 0.0, 1.0]])


def _keypoints(batch: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, 17, 2)) * 1000.0


def test_unit_rays_are_unit_and_project_back():
    kp = _keypoints(3, 0)
    Kb = np.broadcast_to(K, (3, 3, 3))
    rays = unit_rays(kp, np.linalg.inv(Kb))
    assert isinstance(rays, np.ndarray) and rays.dtype == np.float64 and rays.shape == (3, 17, 3)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=-1), np.ones((3, 17)), rtol=1e-12)
    assert (rays[..., 2] > 0).all()
    for depth in (0.5, 4.0):
        np.testing.assert_allclose(project(depth * rays, Kb), kp, rtol=0, atol=1e-9)


def test_project_pinhole():
    points = np.array([[[0.0, 0.0, 2.0], [1.0, -0.5, 4.0]]])
    uv = project(points, K[None])
    expected = np.array([[[500.0, 480.0], [500 + 1100 * 0.25, 480 - 1050 * 0.125]]])
    np.testing.assert_allclose(uv, expected, rtol=1e-12)


def test_reprojection_error_weighted_mean_ignores_zero_weights():
    pose = np.array([[[0.0, 0.0, 2.0]] * 17])  # all at the principal point
    kp = np.zeros((1, 17, 2)) + [500.0, 480.0]
    kp[0, 0, 0] += 3.0
    kp[0, 1, 1] += 4.0
    kp[0, 2] += 1000.0  # ignored: weight 0
    w = np.ones((1, 17))
    w[0, 2] = 0.0
    w[0, 1] = 3.0
    err = reprojection_error_px(pose, kp, K[None], w)
    assert err.shape == (1,)
    assert err.item() == pytest.approx((3.0 + 3.0 * 4.0) / 18.0)
    # A zero-weight joint at infinity (NaN pixel distance) does not count either.
    kp[0, 2] = np.nan
    assert reprojection_error_px(pose, kp, K[None], w).item() == pytest.approx((3.0 + 3.0 * 4.0) / 18.0)


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
    T = solve_translation(pose[None], rays[None], w[None])
    np.testing.assert_allclose(T[0], T_ref, atol=1e-5)
    # Zero-weight joints do not count: moving them changes nothing.
    moved = pose.copy()
    moved[w == 0] += 10.0
    T_moved = solve_translation(moved[None], rays[None], w[None])
    np.testing.assert_allclose(T_moved, T, rtol=1e-7, atol=1e-9)


def test_solve_translation_batched_and_keeps_dtype():
    instances = [_random_instance(s) for s in range(3)]
    pose, rays, w = (np.stack([inst[i] for inst in instances]) for i in range(3))
    T = solve_translation(pose.astype(np.float32), rays.astype(np.float32), w.astype(np.float32))
    assert isinstance(T, np.ndarray) and T.dtype == np.float32 and T.shape == (3, 3)
    for b in range(3):
        T_single = solve_translation(pose[b : b + 1], rays[b : b + 1], w[b : b + 1])
        assert T_single.dtype == np.float64
        np.testing.assert_allclose(T[b].astype(np.float64), T_single[0], rtol=1e-5, atol=1e-5)


def test_solve_translation_flips_solution_behind_camera():
    pose, rays, w, T_true = _random_instance(7, behind=True)
    T_ref = _brute_force(pose, rays, w, T_true + 0.5)
    assert T_ref[2] < 0
    T = solve_translation(pose[None], rays[None], w[None])
    np.testing.assert_allclose(T[0], -T_ref, atol=1e-5)


def test_project_onto_rays():
    rng = np.random.default_rng(4)
    kp = _keypoints(2, 5)
    Kb = np.broadcast_to(K, (2, 3, 3))
    rays = unit_rays(kp, np.linalg.inv(Kb))
    pose = rng.normal(size=(2, 17, 3)) * 0.3
    T = np.array([[0.1, -0.2, 4.0], [-0.3, 0.1, 5.0]])
    visible = rng.random((2, 17)) > 0.3
    assert visible.any() and (~visible).any()

    new = project_onto_rays(pose, T, rays, visible)
    before, after = pose + T[:, None], new + T[:, None]
    # Invisible joints unchanged.
    np.testing.assert_allclose(new[~visible], pose[~visible], rtol=0, atol=1e-15)
    # Visible joints lie on their rays: no perpendicular component, and reproject onto the keypoints.
    perpendicular = after - (after * rays).sum(-1, keepdims=True) * rays
    assert np.abs(perpendicular[visible]).max() < 1e-12
    np.testing.assert_allclose(project(after, Kb)[visible], kp[visible], rtol=0, atol=1e-8)
    # Closest point: the move is perpendicular to the ray, and no other point of the ray is closer.
    move = after - before
    assert np.abs((move * rays).sum(-1)[visible]).max() < 1e-12
    for delta in (-0.01, 0.01):
        other = after + delta * rays
        assert (np.linalg.norm(other - before, axis=-1) > np.linalg.norm(move, axis=-1))[visible].all()


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_rotation_matrices_rotate_about_axis(axis):
    R = rotation_matrices(axis, np.array([0.3, -1.2]))
    assert R.shape == (2, 3, 3)
    e = np.zeros(3)
    e["xyz".index(axis)] = 1.0
    np.testing.assert_allclose(R @ e, np.broadcast_to(e, (2, 3)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.linalg.det(R), np.ones(2), rtol=1e-12)


def test_rotation_matrix_direction():
    """Right-handed: a quarter turn about z takes x to y."""
    R = rotation_matrices("z", np.array(np.pi / 2))
    assert R.shape == (3, 3)
    np.testing.assert_allclose(R @ np.array([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0], rtol=0, atol=1e-15)


def test_rotation_grid():
    yaw_steps, pitch, roll = 24, (-20.0, 0.0, 20.0, 40.0), (-90.0, -45.0, -20.0, 0.0, 20.0, 45.0, 90.0)
    R = rotation_grid(yaw_steps, pitch, roll)
    assert isinstance(R, np.ndarray) and R.dtype == np.float64
    assert R.shape == (yaw_steps * len(pitch) * len(roll), 3, 3)
    eye = np.eye(3)
    np.testing.assert_allclose(R @ np.swapaxes(R, -1, -2), np.broadcast_to(eye, R.shape), rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.linalg.det(R), np.ones(R.shape[0]), rtol=1e-12)
    assert (np.abs(R - eye).max(axis=(1, 2)) < 1e-12).sum() == 1
    # All candidates distinct.
    flat = R.reshape(R.shape[0], 9)
    dist = np.linalg.norm(flat[:, None] - flat[None], axis=-1) + 10 * np.eye(R.shape[0])
    assert dist.min() > 1e-3


def test_rotation_grid_small_and_like():
    R = rotation_grid(4, (0.0,), (0.0,))
    assert R.shape == (4, 3, 3)
    # Yaw is about the camera's vertical (y): y is kept, quarter turns.
    up = np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(R @ up, np.broadcast_to(up, (4, 3)), rtol=0, atol=1e-15)
    np.testing.assert_allclose(R[2], np.diag([-1.0, 1.0, -1.0]), atol=1e-12, rtol=0)
    # like= gives the array's kind and dtype.
    R32 = rotation_grid(4, (0.0,), (0.0,), like=np.zeros(0, dtype=np.float32))
    assert R32.dtype == np.float32
    np.testing.assert_allclose(R32, R, rtol=0, atol=1e-7)


def _pixel_objective(T, pose, kp, Kn, w):
    X = pose + T
    uv = X @ Kn.T
    return float((w * ((uv[:, :2] / uv[:, 2:3] - kp) ** 2).sum(-1)).sum())


@pytest.mark.parametrize("seed", range(3))
def test_refine_translation_px_minimises_pixel_error(seed):
    rng = np.random.default_rng(seed)
    pose, _, w, T_true = _random_instance(seed)
    # Keypoints of a slightly different pose: no translation fits exactly.
    uv = (pose + T_true + rng.normal(scale=0.03, size=(17, 3))) @ K.T
    kp = uv[:, :2] / uv[:, 2:3]
    args = (pose[None], T_true[None] * [1.1, 0.9, 1.2], kp[None], K[None], w[None])
    T = refine_translation_px(*args, iterations=10)[0]
    T_ref = minimize(_pixel_objective, T_true, args=(pose, kp, K, w), method="Nelder-Mead",
                     options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 20000}).x
    np.testing.assert_allclose(T, T_ref, atol=1e-4)
    assert _pixel_objective(T, pose, kp, K, w) <= _pixel_objective(T_ref, pose, kp, K, w) + 1e-6


def test_refine_translation_px_keeps_an_exact_fit():
    pose, _, w, T_true = _random_instance(11)
    kp = project((pose + T_true)[None], K[None])
    T = refine_translation_px(pose[None], T_true[None], kp, K[None], w[None])
    np.testing.assert_allclose(T[0], T_true, atol=1e-9)
