"""Lifting 2D keypoints to 3D poses: initial pose search, then the ZeDO optimisation loop."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .geometry import project, project_onto_rays, reprojection_error_px, rotation_grid, solve_translation, unit_rays
from .inputs import LiftInputs, validate_inputs
from .prior import PosePrior
from .skeleton import NUM_JOINTS

ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]


class LiftCancelled(Exception):
    """Raised by :func:`lift` when ``should_cancel`` returned True between iterations."""


@dataclass(frozen=True)
class LiftConfig:
    """Settings of :func:`lift`. Defaults are the ones the README's accuracy figures use."""

    hypotheses: int = 1
    iterations: int = 1000
    seed: int = 0
    # Loop schedule (method.md section 4): the translation stays at the initial estimate for the
    # first warmup_fraction of iterations; diffusion time falls linearly from t_max to t_min.
    warmup_fraction: float = 0.2
    t_max: float = 0.1
    t_min: float = 0.01
    # Euler step of each denoising call; None means 1 / iterations (the reference's 1e-3 at 1000).
    step_size: float | None = None
    # Initial pose search: full turns about the body axis in yaw_steps, times these pitches and rolls.
    yaw_steps: int = 24
    pitch_deg: tuple[float, ...] = (-20.0, 0.0, 20.0, 40.0)
    roll_deg: tuple[float, ...] = (-90.0, -45.0, -20.0, 0.0, 20.0, 45.0, 90.0)
    # After the loop, move joints onto their rays (exact 2D fit); off keeps the prior's last word.
    final_ray_projection: bool = False
    # Rows (frames x hypotheses) optimised together; bounds memory on long clips.
    chunk_size: int = 4096

    def __post_init__(self) -> None:
        if self.hypotheses < 1:
            raise ValueError(f"hypotheses must be >= 1, got {self.hypotheses}")
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction must lie in [0, 1], got {self.warmup_fraction}")


@dataclass(frozen=True)
class LiftResult:
    """Output of :func:`lift`; metres, camera frame (x right, y down, z forward).

    ``poses3d`` ``(N,17,3)`` is the oracle-free answer (translation included): per frame, the
    hypothesis with the lowest confidence-weighted reprojection error, index in ``selected``.
    ``hypotheses`` ``(N,S,17,3)`` holds every hypothesis and ``reprojection_error_px`` ``(N,S)``
    their errors. Frames with fewer than 4 visible joints are NaN and ``valid`` is False there.
    """

    poses3d: np.ndarray
    hypotheses: np.ndarray
    reprojection_error_px: np.ndarray
    selected: np.ndarray
    valid: np.ndarray


def initial_poses(prior: PosePrior, count: int, seed: int) -> torch.Tensor:
    """``(count, 17, 3)`` start poses: the shipped K-Means centres when ``count`` has a codebook,
    otherwise a seeded draw from the largest codebook."""
    if count in prior.initial_poses:
        return prior.initial_poses[count]
    largest = prior.initial_poses[max(prior.initial_poses)]
    rng = np.random.default_rng(seed)
    index = rng.choice(largest.shape[0], size=count, replace=count > largest.shape[0])
    return largest[torch.as_tensor(index, device=largest.device)]


def _search_start(
    templates: torch.Tensor,
    keypoints: torch.Tensor,
    K: torch.Tensor,
    rays: torch.Tensor,
    weights: torch.Tensor,
    rotations: torch.Tensor,
    rows_per_batch: int = 128,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate each row's template by the candidate with the lowest reprojection error, with its
    closed-form translation. Returns ``(P0 (R,17,3), T0 (R,3))``."""
    out_pose, out_translation = [], []
    eye = torch.eye(3, dtype=torch.float64, device=rays.device)
    for start in range(0, templates.shape[0], rows_per_batch):
        sl = slice(start, start + rows_per_batch)
        r, w = rays[sl].double(), weights[sl].double()
        perp = w[..., None, None] * (eye - r[..., :, None] * r[..., None, :])  # (R,J,3,3)
        A_inv = torch.linalg.inv(perp.sum(1) + 1e-9 * eye)
        M = (A_inv[:, None] @ perp).to(templates.dtype)  # T = -sum_j M_j P_j
        candidates = torch.einsum("cab,rjb->rcja", rotations, templates[sl])  # (R,C,J,3)
        T = -torch.einsum("rjab,rcjb->rca", M, candidates)
        T = torch.where(T[..., 2:3] < 0, -T, T)
        absolute = candidates + T[..., None, :]
        uv = project(absolute.flatten(1, 2), K[sl]).unflatten(1, absolute.shape[1:3])
        dist = (uv - keypoints[sl, None]).norm(dim=-1)
        wf = weights[sl, None].to(dist.dtype)
        err = (torch.where(wf > 0, dist, torch.zeros_like(dist)) * wf).sum(-1)
        err = torch.where(T[..., 2] > 1e-3, err, torch.full_like(err, float("inf")))
        best = err.argmin(dim=1)
        rows = torch.arange(best.shape[0], device=best.device)
        out_pose.append(candidates[rows, best])
        out_translation.append(T[rows, best])
    return torch.cat(out_pose), torch.cat(out_translation)


def _optimise_chunk(
    prior: PosePrior,
    templates: torch.Tensor,
    keypoints: torch.Tensor,
    K: torch.Tensor,
    confidence: torch.Tensor,
    config: LiftConfig,
    rotations: torch.Tensor,
    on_iteration: Callable[[], None],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run the initial search and the loop on one chunk of rows; returns absolute poses and errors."""
    visible = confidence > 0
    weights = torch.where(visible, confidence.clamp(1e-4, 1.0) ** 2, torch.zeros_like(confidence))
    rays = unit_rays(keypoints, torch.linalg.inv(K))
    pose, translation = _search_start(templates, keypoints, K, rays, weights, rotations)
    n = config.iterations
    warmup = int(round(config.warmup_fraction * n))
    dt = config.step_size if config.step_size is not None else 1.0 / max(n, 1)
    times = np.linspace(config.t_max, config.t_min, n) if n > 1 else np.full(n, config.t_max)
    for i in range(n):
        if i >= warmup:
            translation = solve_translation(pose, rays, weights)
        pose = project_onto_rays(pose, translation, rays, visible)
        # Keep the prior's input pelvis-relative; the pelvis offset moves into the translation.
        translation = translation + pose[:, 0]
        pose = prior.denoise(pose - pose[:, :1], float(times[i]), dt)
        pose = pose - pose[:, :1]
        on_iteration()
    if n > warmup:
        translation = solve_translation(pose, rays, weights)
    if config.final_ray_projection:
        pose = project_onto_rays(pose, translation, rays, visible)
    absolute = pose + translation[:, None, :]
    return absolute, reprojection_error_px(absolute, keypoints, K, weights)


def lift(
    prior: PosePrior,
    keypoints: np.ndarray,
    K: np.ndarray,
    confidence: np.ndarray | None = None,
    config: LiftConfig = LiftConfig(),
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
) -> LiftResult:
    """Lift 2D keypoints to absolute 3D poses in metres (camera frame).

    Args:
        prior: the pose prior, e.g. ``load_prior()``.
        keypoints: ``(N, 17, 2)`` pixels, Human3.6M joint order, origin top-left; NaN = missing.
        K: intrinsics ``(3, 3)`` or per frame ``(N, 3, 3)``.
        confidence: ``(N, 17)`` in [0, 1]; 0 marks a missing joint. Default: all 1.
        config: hypotheses, iterations, seed and the loop's schedule.
        progress: called as ``progress(done, total)`` after every iteration of every chunk.
        should_cancel: polled between iterations; returning True raises :class:`LiftCancelled`.

    Raises:
        InputError: on malformed inputs (the message names the key, shape, frame or joint).
    """
    inputs: LiftInputs = validate_inputs(keypoints, K, confidence)
    n_frames, S = inputs.keypoints.shape[0], config.hypotheses
    device, dtype = prior.device, torch.float32
    frames = np.flatnonzero(inputs.valid)
    if len(frames) < n_frames:
        bad = np.flatnonzero(~inputs.valid)
        shown = ", ".join(str(f) for f in bad[:10]) + (", ..." if len(bad) > 10 else "")
        warnings.warn(
            f"{len(bad)} frame(s) have fewer than 4 joints with confidence > 0 and come back as NaN: {shown}",
            stacklevel=2,
        )
    templates_all = initial_poses(prior, S, config.seed).to(device=device, dtype=dtype)
    rotations = rotation_grid(config.yaw_steps, config.pitch_deg, config.roll_deg).to(device=device, dtype=dtype)

    rows = len(frames) * S
    chunks = [(s, min(s + config.chunk_size, rows)) for s in range(0, rows, config.chunk_size)]
    total, done = len(chunks) * config.iterations, 0

    def on_iteration() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)
        if should_cancel is not None and should_cancel():
            raise LiftCancelled("lifting was cancelled")

    if should_cancel is not None and should_cancel():
        raise LiftCancelled("lifting was cancelled")
    poses = torch.full((rows, NUM_JOINTS, 3), float("nan"), dtype=dtype)
    errors = torch.full((rows,), float("nan"), dtype=dtype)
    kp_all = torch.as_tensor(inputs.keypoints[frames], dtype=dtype)
    K_all = torch.as_tensor(inputs.K[frames], dtype=dtype)
    conf_all = torch.as_tensor(inputs.confidence[frames], dtype=dtype)
    for start, stop in chunks:
        row = torch.arange(start, stop)
        f, s = row // S, row % S
        absolute, err = _optimise_chunk(
            prior,
            templates_all[s.to(device)],
            kp_all[f].to(device),
            K_all[f].to(device),
            conf_all[f].to(device),
            config,
            rotations,
            on_iteration,
        )
        poses[start:stop], errors[start:stop] = absolute.cpu(), err.cpu()

    hypotheses = np.full((n_frames, S, NUM_JOINTS, 3), np.nan, dtype=np.float32)
    reproj = np.full((n_frames, S), np.nan, dtype=np.float32)
    hypotheses[frames] = poses.reshape(len(frames), S, NUM_JOINTS, 3).numpy()
    reproj[frames] = errors.reshape(len(frames), S).numpy()
    selected = np.zeros(n_frames, dtype=np.int64)
    if len(frames):
        selected[frames] = np.nanargmin(reproj[frames], axis=1)
    poses3d = np.take_along_axis(hypotheses, selected[:, None, None, None], axis=1)[:, 0]
    return LiftResult(
        poses3d=poses3d,
        hypotheses=hypotheses,
        reprojection_error_px=reproj,
        selected=selected,
        valid=inputs.valid.copy(),
    )
