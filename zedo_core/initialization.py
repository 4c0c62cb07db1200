"""Initial pose optimiser: orient each start pose and place it in front of the camera.

Two methods:
- ``grid`` (default): every start pose (with one hypothesis: each of a pool of K-Means centres) is
  tried in a grid of orientations (full turns about the body axis, pitch, roll); each candidate
  gets its closed-form translation, the best few get a pixel-space refinement of it, and the
  lowest reprojection error wins. Cheap, batched, and it can turn a person around, which the
  paper's rotation about the optical axis cannot.
- ``adam``: the authors' released optimiser (rotation about the optical axis and a translation
  scale in [0.5, 2] along the pelvis ray at 3 m; Adam, lr 0.1, 500 steps, L1 pixel error on the
  pelvis and hips), with its gradient written out. Kept as the reference for speed and accuracy
  comparisons.

Both take numpy arrays or torch tensors (``zedo_core.arrays``).
"""

from __future__ import annotations

import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from typing import Callable

import numpy as np

from .arrays import Array, as_dtype, contiguous, dtype_name, eye_like, namespace, smallest_k, take_along_axis
from .geometry import refine_translation_px, reprojection_error_px, rotation_matrices
from .skeleton import LEFT_HIP, PELVIS, RIGHT_HIP


def _reprojection_cost(absolute: Array, keypoints: Array, K: Array, weights: Array) -> Array:
    """Reprojection error ``(R, C)`` of candidates ``(R, C, J, 3)``; infinite behind the camera."""
    xp = namespace(absolute)
    cost = reprojection_error_px(absolute, keypoints[:, None], K[:, None], weights[:, None])
    return xp.where(absolute[..., 0, 2] > 1e-3, cost, xp.full_like(cost, math.inf))


# Threads of the numpy start search (at most: one per CPU).
MAX_SEARCH_THREADS = 8


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _pinhole_cost(planes: tuple[Array, Array, Array], T: Array, keypoints: Array, K: Array, weights: Array) -> Array:
    """:func:`_reprojection_cost` of candidates given as coordinate planes ``(R or 1, C, J)`` and
    translations ``(R, C, 3)``, for pinhole ``K`` (no skew, last row (0, 0, 1), as ``lift``'s
    inputs are normalised). The same numbers with a third of the arithmetic and no strided reads:
    the start search scores millions of candidate joints per batch."""
    xp = namespace(T)
    x, y, z = planes
    fx, fy = K[:, 0, 0, None, None], K[:, 1, 1, None, None]
    seen = weights > 0
    # Offsets of the principal point from the keypoints; missing joints (NaN) count 0.
    du0 = (K[:, 0, 2, None] - xp.where(seen, keypoints[..., 0], xp.zeros_like(weights)))[:, None, :]
    dv0 = (K[:, 1, 2, None] - xp.where(seen, keypoints[..., 1], xp.zeros_like(weights)))[:, None, :]
    depth = z + T[..., 2:3]
    w = weights[:, None, :]
    # A joint on the camera plane makes its candidate's cost infinite or NaN (a missing one too,
    # unlike reprojection_error_px: not worth a pass over every candidate joint): dropped below.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv_z = 1.0 / depth
        du = (x + T[..., 0:1]) * inv_z * fx + du0
        dv = (y + T[..., 1:2]) * inv_z * fy + dv0
        dist = xp.sqrt(du * du + dv * dv)
        cost = (dist * w).sum(-1) / xp.clip(w.sum(-1), 1e-12, None)
    usable = (depth[..., 0] > 1e-3) & xp.isfinite(cost)
    return xp.where(usable, cost, xp.full_like(cost, math.inf))


def _is_pinhole(K: Array) -> bool:
    """True when every ``K`` ``(R, 3, 3)`` has no skew and last row (0, 0, 1)."""
    return bool(((K[:, 2, 0] == 0) & (K[:, 2, 1] == 0) & (K[:, 2, 2] == 1) & (K[:, 0, 1] == 0) & (K[:, 1, 0] == 0)).all())


def _gather_rows(x: Array, index: Array) -> Array:
    """``x[r, index[r, k]]`` for ``x`` ``(R, C, ...)`` and ``index`` ``(R, k)``."""
    shape = index.shape + (1,) * (x.ndim - 2)
    return take_along_axis(x, index.reshape(shape), axis=1)


def grid_search_start(
    templates: Array,
    keypoints: Array,
    K: Array,
    rays: Array,
    weights: Array,
    rotations: Array,
    refine_top: int = 8,
    pixel_refinement: int = 3,
    max_candidates: int = 1 << 16,
    on_batch: Callable[[int, int], None] | None = None,
) -> tuple[Array, Array]:
    """Best of ``rotations`` ``(C,3,3)`` applied to each row's templates ``(R,17,3)`` or ``(R,M,17,3)``
    (M alternative start poses per row: the search also picks the best-fitting template), or to
    templates ``(1,M,17,3)`` shared by every row.

    Every candidate gets the closed-form translation; the ``refine_top`` best of each row then get
    ``pixel_refinement`` Gauss-Newton steps on the pixel error (which removes the closed form's
    pull towards the camera) and are ranked again. ``on_batch(rows_done, rows)`` is called after
    each batch of rows (progress; it may raise to cancel). Returns poses ``(R,17,3)`` and
    translations ``(R,3)``.
    """
    xp = namespace(templates)
    if templates.ndim == 3:
        templates = templates[:, None]
    shared = None
    pinhole = _is_pinhole(K)
    if templates.shape[0] == 1:
        shared = xp.einsum("cab,mjb->mcja", rotations, templates[0])
        shared = shared.reshape(-1, *shared.shape[2:])  # (M*C,J,3)
        shared_flat_T = xp.swapaxes(shared.reshape(shared.shape[0], -1), 0, 1)  # (J*3, M*C)
        # Contiguous coordinate planes (1, M*C, J) for the coarse ranking.
        shared_planes = tuple(contiguous(shared[None, ..., i]) for i in range(3))
    per_row = templates.shape[1] * rotations.shape[0]
    rows_per_batch = max(1, max_candidates // per_row)
    total = rays.shape[0]
    eye = eye_like(rays, 3, "float64")

    def search(start: int) -> tuple[Array, Array]:
        sl = slice(start, start + rows_per_batch)
        r, w = as_dtype(rays[sl], "float64"), as_dtype(weights[sl], "float64")
        perp = w[..., None, None] * (eye - r[..., :, None] * r[..., None, :])  # (R,J,3,3)
        # The closed-form translation is linear in the pose: T = -sum_j M_j P_j, M_j = A^-1 w_j perp_j.
        A_inv = xp.linalg.inv(perp.sum(1) + 1e-9 * eye)
        M = as_dtype(A_inv[:, None] @ perp, dtype_name(templates))
        rows = r.shape[0]
        if shared is not None:
            candidates = xp.broadcast_to(shared, (rows, *shared.shape))
            # (R,3,J*3) x (J*3,M*C): one matrix product for every candidate's translation.
            M_flat = xp.swapaxes(M, 1, 2).reshape(rows, 3, -1)
            T = -xp.swapaxes(M_flat @ shared_flat_T, 1, 2)
        else:
            candidates = xp.einsum("cab,rmjb->rmcja", rotations, templates[sl])
            candidates = candidates.reshape(rows, -1, *candidates.shape[3:])  # (R,M*C,J,3)
            T = -xp.einsum("rjab,rcjb->rca", M, candidates)
        T = xp.where(T[..., 2:3] < 0, -T, T)
        if pinhole:
            planes = shared_planes if shared is not None else tuple(candidates[..., i] for i in range(3))
            cost = _pinhole_cost(planes, T, keypoints[sl], K[sl], weights[sl])
        else:
            cost = _reprojection_cost(candidates + T[..., None, :], keypoints[sl], K[sl], weights[sl])
        top = smallest_k(cost, min(refine_top, cost.shape[1]), axis=1)  # (R,k)
        candidates = _gather_rows(candidates, top)
        T = _gather_rows(T, top)
        if pixel_refinement:
            T = refine_translation_px(candidates, T, keypoints[sl, None], K[sl, None], weights[sl, None], pixel_refinement)
        cost = _reprojection_cost(candidates + T[..., None, :], keypoints[sl], K[sl], weights[sl])
        best = xp.argmin(cost, axis=1)[:, None]
        return _gather_rows(candidates, best)[:, 0], _gather_rows(T, best)[:, 0]

    starts = iter(range(0, total, rows_per_batch))
    out_pose, out_translation = [], []
    # numpy's element-wise maths runs on one core and releases the GIL: batches in parallel
    # threads use the others (torch parallelises inside each operation itself). At most one batch
    # per thread is in flight, so a cancel (on_batch raising) waits for those only.
    batches = -(-total // rows_per_batch)
    workers = 1 if xp is not np else max(1, min(batches, _usable_cpus(), MAX_SEARCH_THREADS))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        in_flight = deque((start, pool.submit(search, start)) for start in islice(starts, workers))
        while in_flight:
            start, future = in_flight.popleft()
            pose, translation = future.result()
            out_pose.append(pose)
            out_translation.append(translation)
            if on_batch is not None:
                on_batch(min(start + rows_per_batch, total), total)
            following = next(starts, None)
            if following is not None:
                in_flight.append((following, pool.submit(search, following)))
    return xp.concatenate(out_pose), xp.concatenate(out_translation)


def adam_reference_start(
    templates: Array,
    keypoints: Array,
    K: Array,
    rays: Array,
    weights: Array,
    steps: int = 500,
    lr: float = 0.1,
    initial_depth: float = 3.0,
    scale_range: tuple[float, float] = (0.5, 2.0),
    joints: tuple[int, ...] = (PELVIS, RIGHT_HIP, LEFT_HIP),
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[Array, Array]:
    """The authors' initial pose optimiser (see module docstring): Adam on the angle about the
    optical axis and the depth scale, minimising the summed L1 pixel error of ``joints``.

    At lr 0.1 on an L1 error Adam does not settle: it circles the minimum, so rounding decides
    where the last step lands and the numpy and torch backends end centimetres apart (the
    gradient itself matches torch's autograd; tests/test_backends.py)."""
    xp = namespace(templates)
    angle = xp.zeros_like(templates[:, 0, 0])
    scale = xp.ones_like(angle)
    base = initial_depth * rays[:, PELVIS]  # (R,3)
    points = templates[:, list(joints)]  # (R,k,3)
    mask = as_dtype(weights[:, list(joints)] > 0, dtype_name(templates))
    kp = keypoints[:, list(joints)]
    fx, fy, cx, cy = K[:, 0, 0, None], K[:, 1, 1, None], K[:, 0, 2, None], K[:, 1, 2, None]
    m = [xp.zeros_like(angle), xp.zeros_like(angle)]
    v = [xp.zeros_like(angle), xp.zeros_like(angle)]
    lo, hi = scale_range
    for step in range(1, steps + 1):
        c, s = xp.cos(angle)[:, None], xp.sin(angle)[:, None]
        clamped = xp.clip(scale, lo, hi)
        px, py, pz = points[..., 0], points[..., 1], points[..., 2]
        X = c * px - s * py + clamped[:, None] * base[:, None, 0]
        Y = s * px + c * py + clamped[:, None] * base[:, None, 1]
        Z = pz + clamped[:, None] * base[:, None, 2]
        u, w_ = fx * X / Z + cx, fy * Y / Z + cy
        su, sv = xp.sign(u - kp[..., 0]) * mask, xp.sign(w_ - kp[..., 1]) * mask
        # d(u, v)/d(angle) through X, Y (Z does not depend on the angle about the optical axis).
        dX_da, dY_da = -s * px - c * py, c * px - s * py
        grad_angle = (su * fx * dX_da / Z + sv * fy * dY_da / Z).sum(-1)
        # d(u, v)/d(scale) through X, Y, Z = base * scale (zero where the clamp is active).
        du_ds = fx * (base[:, None, 0] * Z - X * base[:, None, 2]) / (Z * Z)
        dv_ds = fy * (base[:, None, 1] * Z - Y * base[:, None, 2]) / (Z * Z)
        inside = as_dtype((scale >= lo) & (scale <= hi), dtype_name(templates))
        grad_scale = (su * du_ds + sv * dv_ds).sum(-1) * inside
        params = []
        for i, (value, grad) in enumerate(((angle, grad_angle), (scale, grad_scale))):
            m[i] = betas[0] * m[i] + (1 - betas[0]) * grad
            v[i] = betas[1] * v[i] + (1 - betas[1]) * grad * grad
            m_hat = m[i] / (1 - betas[0] ** step)
            v_hat = v[i] / (1 - betas[1] ** step)
            params.append(value - lr * m_hat / (xp.sqrt(v_hat) + eps))
        angle, scale = params
    R = rotation_matrices("z", angle)
    T = xp.clip(scale, lo, hi)[:, None] * base
    return templates @ xp.swapaxes(R, -1, -2), T
