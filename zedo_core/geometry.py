"""Camera geometry of the lifting loop: rays, projection, closed-form translation, rotations.

Every function takes numpy arrays or torch tensors and returns the same kind (``zedo_core.arrays``).
"""

from __future__ import annotations

import math

import numpy as np

from .arrays import Array, as_dtype, dtype_name, asarray_like, eye_like, namespace, norm


def unit_rays(keypoints: Array, K_inv: Array) -> Array:
    """Unit viewing rays ``(B, J, 3)`` through pixels ``(B, J, 2)`` given ``K^-1`` ``(B, 3, 3)``."""
    xp = namespace(keypoints)
    homogeneous = xp.concatenate([keypoints, xp.ones_like(keypoints[..., :1])], axis=-1)
    rays = homogeneous @ xp.swapaxes(K_inv, -1, -2)
    return rays / norm(rays, keepdims=True)


def project(points: Array, K: Array) -> Array:
    """Pinhole projection of camera-frame points ``(B, J, 3)`` with ``K`` ``(B, 3, 3)`` -> ``(B, J, 2)``."""
    uvw = points @ namespace(points).swapaxes(K, -1, -2)
    return uvw[..., :2] / uvw[..., 2:3]


def solve_translation(pose: Array, rays: Array, weights: Array) -> Array:
    """Translation ``T`` ``(B, 3)`` that puts every joint of ``pose + T`` closest to its ray.

    Minimises ``sum_j w_j |(I - r_j r_j^T)(P_j + T)|^2`` in closed form (the normal equations are
    3x3). Joints with weight 0 do not count. A solution behind the camera is flipped, as in the
    reference implementation.
    """
    xp = namespace(pose)
    dtype = dtype_name(pose)
    pose, rays, weights = as_dtype(pose, "float64"), as_dtype(rays, "float64"), as_dtype(weights, "float64")
    eye = eye_like(pose, 3)
    perp = eye - rays[..., :, None] * rays[..., None, :]  # (B, J, 3, 3)
    weighted = weights[..., None, None] * perp
    A = weighted.sum(-3)
    b = -(weighted @ pose[..., None]).sum(-3)
    # A tiny ridge keeps degenerate frames (fewer than two distinct rays) finite.
    T = xp.linalg.solve(A + 1e-9 * eye, b)[..., 0]
    T = xp.where(T[..., 2:3] < 0, -T, T)
    return as_dtype(T, dtype)


def refine_translation_px(
    pose: Array,
    translation: Array,
    keypoints: Array,
    K: Array,
    weights: Array,
    iterations: int = 3,
) -> Array:
    """Gauss-Newton refinement of ``T`` ``(..., 3)`` on the weighted squared *pixel* error of
    ``pose + T`` ``(..., J, 3)``.

    The closed-form ray distance is an object-space error: it grows with depth, so with a pose
    that does not fit exactly it pulls the person towards the camera (about 30% too near for the
    mean pose). The pixel error has no such bias. ``K`` and ``keypoints`` broadcast against ``pose``.
    """
    xp = namespace(pose)
    fx, fy = K[..., 0, 0, None], K[..., 1, 1, None]
    cx, cy = K[..., 0, 2, None], K[..., 1, 2, None]
    w = weights
    for _ in range(iterations):
        X = pose + translation[..., None, :]
        z = xp.clip(X[..., 2], 1e-3, None)
        inv_z = 1.0 / z
        u = fx * X[..., 0] * inv_z + cx - keypoints[..., 0]
        v = fy * X[..., 1] * inv_z + cy - keypoints[..., 1]
        # Jacobians of u and v with respect to T: (a, 0, c) and (0, b, d) per joint.
        a, c = fx * inv_z, -fx * X[..., 0] * inv_z * inv_z
        b, d = fy * inv_z, -fy * X[..., 1] * inv_z * inv_z
        wa, wb, wc, wd = w * a, w * b, w * c, w * d
        h00, h11 = (wa * a).sum(-1), (wb * b).sum(-1)
        h02, h12 = (wa * c).sum(-1), (wb * d).sum(-1)
        h22 = (wc * c + wd * d).sum(-1)
        g = xp.stack([(wa * u).sum(-1), (wb * v).sum(-1), (wc * u + wd * v).sum(-1)], axis=-1)
        zero = xp.zeros_like(h00)
        JtJ = xp.stack([h00, zero, h02, zero, h11, h12, h02, h12, h22], axis=-1).reshape(*h00.shape, 3, 3)
        ridge = 1e-6 * (h00 + h11 + h22) / 3.0
        JtJ = JtJ + ridge[..., None, None] * eye_like(JtJ, 3)
        step = xp.linalg.solve(JtJ, g[..., None])[..., 0]
        translation = translation - step
        # Keep the person in front of the camera (a step can overshoot through the image plane).
        translation = xp.concatenate([translation[..., :2], xp.clip(xp.abs(translation[..., 2:]), 1e-2, None)], axis=-1)
    return translation


def nearest_on_rays(points: Array, rays: Array) -> Array:
    """The nearest point of each unit ray through the camera centre ``(..., 3)`` to ``points``."""
    return (points * rays).sum(-1, keepdims=True) * rays


def project_onto_rays(pose: Array, translation: Array, rays: Array, visible: Array) -> Array:
    """Move each visible joint of ``pose + T`` to the nearest point of its ray; returns the new
    (translation-free) pose. Invisible joints stay where they are."""
    xp = namespace(pose)
    absolute = pose + translation[..., None, :]
    on_ray = nearest_on_rays(absolute, rays)
    return xp.where(visible[..., None], on_ray, absolute) - translation[..., None, :]


def turn_onto_rays(pose_abs: Array, joint: int, parent: int, rays: Array, usable: Array) -> Array:
    """Absolute poses ``(B, J, 3)`` with ``joint`` turned about ``parent`` onto its ray (``rays``
    ``(B, 3)``, unit, from the camera centre), the bone's length kept: of the ray's two points at
    that distance from the parent, the one nearer the joint's place; where the ray passes further
    from the parent than that, its nearest point. Rows where ``usable`` ``(B,)`` is False stay."""
    xp = namespace(pose_abs)
    base, tip = pose_abs[:, parent], pose_abs[:, joint]
    along = (rays * base).sum(-1)  # the parent's foot on the ray, as a distance from the camera
    half = xp.sqrt(xp.clip(along * along - (base * base).sum(-1) + ((tip - base) ** 2).sum(-1), 0.0, None))
    near, far = (along - half)[:, None] * rays, (along + half)[:, None] * rays
    turned = xp.where((norm(near - tip) <= norm(far - tip))[:, None], near, far)
    is_joint = asarray_like(np.arange(pose_abs.shape[1]) == joint, pose_abs, dtype="bool")
    return xp.where(is_joint[None, :, None] & usable[:, None, None], turned[:, None, :], pose_abs)


def reprojection_error_px(pose_abs: Array, keypoints: Array, K: Array, weights: Array) -> Array:
    """Weighted mean pixel distance ``(..., )`` between projected joints ``(..., J, 3)`` and
    keypoints ``(..., J, 2)``; ``K`` ``(..., 3, 3)`` and the weights broadcast against them.

    Written out per coordinate rather than as 3x3 products per joint: the start search scores
    millions of candidate joints at a time, and the products cost twice as much there."""
    xp = namespace(pose_abs)
    x, y, z = pose_abs[..., 0], pose_abs[..., 1], pose_abs[..., 2]
    k = K[..., None, :, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # a joint on the camera plane: inf
        inv_w = 1.0 / (k[..., 2, 0] * x + k[..., 2, 1] * y + k[..., 2, 2] * z)
        du = (k[..., 0, 0] * x + k[..., 0, 1] * y + k[..., 0, 2] * z) * inv_w - keypoints[..., 0]
        dv = (k[..., 1, 0] * x + k[..., 1, 1] * y + k[..., 1, 2] * z) * inv_w - keypoints[..., 1]
        dist = xp.sqrt(du * du + dv * dv)
    dist = xp.where(weights > 0, dist, xp.zeros_like(dist))
    return (weights * dist).sum(-1) / xp.clip(weights.sum(-1), 1e-12, None)


def rotation_matrices(axis: str, angles_rad: Array) -> Array:
    """Rotations ``(..., 3, 3)`` about a coordinate axis ('x', 'y' or 'z')."""
    xp = namespace(angles_rad)
    c, s = xp.cos(angles_rad), xp.sin(angles_rad)
    o, z = xp.ones_like(c), xp.zeros_like(c)
    rows = {
        "x": (o, z, z, z, c, -s, z, s, c),
        "y": (c, z, s, z, o, z, -s, z, c),
        "z": (c, -s, z, s, c, z, z, z, o),
    }[axis]
    return xp.stack(rows, axis=-1).reshape(*angles_rad.shape, 3, 3)


def rotation_grid(yaw_steps: int, pitch_deg: tuple[float, ...], roll_deg: tuple[float, ...], like: Array | None = None) -> Array:
    """Candidate orientations ``(C, 3, 3)`` for an upright template facing the camera: turns about
    the body's vertical (camera y) through a full circle, then pitch (x) and roll (z). Computed in
    float64 numpy; returned as ``like``'s kind, device and dtype when given."""
    yaw = np.arange(yaw_steps, dtype=np.float64) * (2 * math.pi / yaw_steps)
    Ry = rotation_matrices("y", yaw)[:, None, None]
    Rx = rotation_matrices("x", np.deg2rad(np.asarray(pitch_deg, dtype=np.float64)))[None, :, None]
    Rz = rotation_matrices("z", np.deg2rad(np.asarray(roll_deg, dtype=np.float64)))[None, None, :]
    grid = (Rz @ Rx @ Ry).reshape(-1, 3, 3)
    return grid if like is None else asarray_like(grid, like)
