"""Initial pose optimiser: orient each start pose and place it in front of the camera.

Two methods:
- ``grid`` (default): every start pose (with one hypothesis: each of a pool of K-Means centres) is
  tried in a grid of orientations (full turns about the body axis, pitch, roll); each candidate
  gets its closed-form translation, the best few get a pixel-space refinement of it, and the
  lowest reprojection error wins. Cheap, batched, and it can turn a person around, which the
  paper's rotation about the optical axis cannot.
- ``adam``: the authors' released optimiser (rotation about the optical axis and a translation
  scale in [0.5, 2] along the pelvis ray at 3 m; Adam, lr 0.1, 500 steps, L1 pixel error on the
  pelvis and hips). Kept as the reference for speed and accuracy comparisons.
"""

from __future__ import annotations

import torch

from .geometry import project, refine_translation_px, reprojection_error_px, rotation_matrices
from .skeleton import LEFT_HIP, PELVIS, RIGHT_HIP


def _reprojection_cost(absolute: torch.Tensor, keypoints: torch.Tensor, K: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Reprojection error ``(R, C)`` of candidates ``(R, C, J, 3)``; infinite behind the camera."""
    cost = reprojection_error_px(absolute, keypoints[:, None], K[:, None], weights[:, None])
    return torch.where(absolute[..., 0, 2] > 1e-3, cost, torch.full_like(cost, float("inf")))


def grid_search_start(
    templates: torch.Tensor,
    keypoints: torch.Tensor,
    K: torch.Tensor,
    rays: torch.Tensor,
    weights: torch.Tensor,
    rotations: torch.Tensor,
    refine_top: int = 8,
    pixel_refinement: int = 3,
    max_candidates: int = 1 << 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Best of ``rotations`` ``(C,3,3)`` applied to each row's templates ``(R,17,3)`` or ``(R,M,17,3)``
    (M alternative start poses per row: the search also picks the best-fitting template), or to
    templates ``(1,M,17,3)`` shared by every row.

    Every candidate gets the closed-form translation; the ``refine_top`` best of each row then get
    ``pixel_refinement`` Gauss-Newton steps on the pixel error (which removes the closed form's
    pull towards the camera) and are ranked again. Returns poses ``(R,17,3)`` and translations ``(R,3)``.
    """
    if templates.dim() == 3:
        templates = templates[:, None]
    shared = None
    if templates.shape[0] == 1:
        shared = torch.einsum("cab,mjb->mcja", rotations, templates[0]).flatten(0, 1)  # (M*C,J,3)
    per_row = templates.shape[1] * rotations.shape[0]
    rows_per_batch = max(1, max_candidates // per_row)
    eye = torch.eye(3, dtype=torch.float64, device=rays.device)
    out_pose, out_translation = [], []
    for start in range(0, rays.shape[0], rows_per_batch):
        sl = slice(start, start + rows_per_batch)
        r, w = rays[sl].double(), weights[sl].double()
        perp = w[..., None, None] * (eye - r[..., :, None] * r[..., None, :])  # (R,J,3,3)
        # The closed-form translation is linear in the pose: T = -sum_j M_j P_j, M_j = A^-1 w_j perp_j.
        A_inv = torch.linalg.inv(perp.sum(1) + 1e-9 * eye)
        M = (A_inv[:, None] @ perp).to(templates.dtype)
        if shared is not None:
            candidates = shared.expand(r.shape[0], -1, -1, -1)
            # (R,3,J*3) x (J*3,M*C): one matrix product for every candidate's translation.
            T = -(M.permute(0, 2, 1, 3).flatten(2) @ shared.flatten(1).T).transpose(1, 2)
        else:
            candidates = torch.einsum("cab,rmjb->rmcja", rotations, templates[sl]).flatten(1, 2)  # (R,M*C,J,3)
            T = -torch.einsum("rjab,rcjb->rca", M, candidates)
        T = torch.where(T[..., 2:3] < 0, -T, T)
        cost = _reprojection_cost(candidates + T[..., None, :], keypoints[sl], K[sl], weights[sl])
        top = cost.topk(min(refine_top, cost.shape[1]), dim=1, largest=False).indices  # (R,k)
        candidates = torch.gather(candidates, 1, top[..., None, None].expand(-1, -1, *candidates.shape[2:]))
        T = torch.gather(T, 1, top[..., None].expand(-1, -1, 3))
        if pixel_refinement:
            T = refine_translation_px(candidates, T, keypoints[sl, None], K[sl, None], weights[sl, None], pixel_refinement)
        cost = _reprojection_cost(candidates + T[..., None, :], keypoints[sl], K[sl], weights[sl])
        best = cost.argmin(dim=1)
        rows = torch.arange(best.shape[0], device=best.device)
        out_pose.append(candidates[rows, best])
        out_translation.append(T[rows, best])
    return torch.cat(out_pose), torch.cat(out_translation)


def adam_reference_start(
    templates: torch.Tensor,
    keypoints: torch.Tensor,
    K: torch.Tensor,
    rays: torch.Tensor,
    weights: torch.Tensor,
    steps: int = 500,
    lr: float = 0.1,
    initial_depth: float = 3.0,
    scale_range: tuple[float, float] = (0.5, 2.0),
    joints: tuple[int, ...] = (PELVIS, RIGHT_HIP, LEFT_HIP),
) -> tuple[torch.Tensor, torch.Tensor]:
    """The authors' initial pose optimiser (see module docstring)."""
    rows = templates.shape[0]
    angle = torch.zeros(rows, device=templates.device, requires_grad=True)
    scale = torch.ones(rows, device=templates.device, requires_grad=True)
    base = initial_depth * rays[:, PELVIS]
    idx = list(joints)
    mask = (weights[:, idx] > 0).to(templates.dtype)
    optimiser = torch.optim.Adam([angle, scale], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            R = rotation_matrices("z", angle)
            T = scale.clamp(*scale_range)[:, None] * base
            absolute = templates[:, idx] @ R.transpose(-1, -2) + T[:, None]
            err = (project(absolute, K) - keypoints[:, idx]).abs().sum(-1)
            loss = (err * mask).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        R = rotation_matrices("z", angle)
        T = scale.clamp(*scale_range)[:, None] * base
        return templates @ R.transpose(-1, -2), T
