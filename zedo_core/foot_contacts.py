"""Foot-contact clean-up: planted feet stay put.

Lifted motion makes planted feet skate by a few centimetres (each frame's depth error differs).
:func:`lock_planted_feet` finds the frames where an ankle is near the ground and nearly still,
pins the ankle to one spot for each such contact, blends in and out over a few frames, moves the
whole body by the planted feet's mean correction (most of the skating is the whole body's
position wandering, so this keeps the pose) and bends the legs for the rest with two-bone inverse
kinematics (hip fixed, thigh and shin lengths kept, the knee in its own bending plane).

Works on world joints (``(N, 17, 3)``, metres, Human3.6M order) with a known up direction (the
ground is where the ankles are lowest), e.g. what ``zedo_blender.motion.scene_frame`` produces.
numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .inputs import InputError
from .skeleton import NUM_JOINTS

# (hip, knee, ankle) of the right and left leg.
LEGS = ((1, 2, 3), (4, 5, 6))


@dataclass(frozen=True)
class FootLockConfig:
    """When an ankle counts as planted, and how the lock blends in and out."""

    # Horizontal ankle speed below which a foot may be planted (metres per second; walking feet
    # swing at 1-4 m/s, planted ones measure 0.05-0.5 with lifting noise).
    max_speed: float = 0.5
    # Height of the ankle above its lowest (5th percentile) height within which it may be planted.
    # Both chosen on S8 clips lifted by a prior that never saw S8 (docs/research.md, Video): foot skate
    # 5.1 -> 1.6 mm/frame at 25 fps, contacts found with precision 0.88 and recall 0.90.
    max_height: float = 0.12
    # Shortest contact that gets locked (seconds); shorter ones are left alone.
    min_duration: float = 0.1
    # Gaps up to this long (seconds) inside a contact are noise, not a step: the contact goes on.
    max_gap: float = 0.1
    # Frames over which the lock fades in before and out after a contact (seconds).
    blend: float = 0.08
    # Seconds of the centred window over which the speed is measured (smooths lifting noise).
    speed_window: float = 0.12
    # Move the whole body to keep planted feet in place (the mean correction of the planted
    # feet), bending the legs only for what is left; False bends the legs for all of it.
    move_body: bool = True


@dataclass(frozen=True)
class FootLockResult:
    """``joints`` ``(N,17,3)`` with planted feet pinned; ``contacts`` ``(N,2)`` True where the
    right / left ankle was locked; ``pinned`` ``(N,2,3)`` the ankle targets (NaN elsewhere)."""

    joints: np.ndarray
    contacts: np.ndarray
    pinned: np.ndarray


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of every run of True in a 1D mask."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _smoothed_speed(points: np.ndarray, fps: float, window: int) -> np.ndarray:
    """Speed ``(N,)`` of ``(N, 2)`` horizontal positions, as the displacement across a centred window."""
    n = len(points)
    half = max(1, window // 2)
    lo = np.clip(np.arange(n) - half, 0, n - 1)
    hi = np.clip(np.arange(n) + half, 0, n - 1)
    span = np.maximum(hi - lo, 1)
    return np.linalg.norm(points[hi] - points[lo], axis=-1) * fps / span


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knee and ankle ``(M, 3)`` that put the ankle on ``target`` (or as near as the leg reaches)
    with the hip fixed and both bone lengths of the given leg kept; the knee stays in the plane of
    hip, target and the given knee, so it bends the way it did."""
    thigh = np.linalg.norm(knee - hip, axis=-1)
    shin = np.linalg.norm(ankle - knee, axis=-1)
    reach = target - hip
    distance = np.linalg.norm(reach, axis=-1)
    longest = thigh + shin - 1e-6
    shortest = np.abs(thigh - shin) + 1e-6
    clamped = np.clip(distance, shortest, longest)
    direction = reach / np.maximum(distance, 1e-9)[:, None]
    # Knee: along the reach by a, then b along the component of the old knee perpendicular to it.
    a = (thigh**2 - shin**2 + clamped**2) / (2.0 * clamped)
    b = np.sqrt(np.maximum(thigh**2 - a**2, 0.0))
    bend = (knee - hip) - ((knee - hip) * direction).sum(-1, keepdims=True) * direction
    bend_norm = np.linalg.norm(bend, axis=-1, keepdims=True)
    fallback = np.cross(direction, np.array([1.0, 0.0, 0.0]))  # a straight leg: any perpendicular
    bend = np.where(bend_norm > 1e-9, bend / np.maximum(bend_norm, 1e-12), fallback / np.maximum(np.linalg.norm(fallback, axis=-1, keepdims=True), 1e-12))
    new_knee = hip + a[:, None] * direction + b[:, None] * bend
    new_ankle = hip + clamped[:, None] * direction
    return new_knee, new_ankle


def lock_planted_feet(
    joints: np.ndarray,
    fps: float,
    up: tuple[float, float, float] = (0.0, 0.0, 1.0),
    config: FootLockConfig = FootLockConfig(),
) -> FootLockResult:
    """Pin each planted ankle of world joints ``(N, 17, 3)`` (metres; ``up`` points away from
    the ground) to one spot per contact; see the module docstring. Frames with NaN joints are left
    alone and break contacts."""
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise InputError(f"joints must have shape (N, {NUM_JOINTS}, 3), got {joints.shape}")
    if not (np.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be a positive number, got {fps}")
    up_axis = np.asarray(up, dtype=np.float64)
    if up_axis.shape != (3,) or not np.isfinite(up_axis).all() or np.linalg.norm(up_axis) < 1e-9:
        raise InputError(f"up must be a non-zero 3-vector, got {up}")
    up_axis = up_axis / np.linalg.norm(up_axis)
    n = joints.shape[0]
    out = joints.copy()
    contacts = np.zeros((n, 2), dtype=bool)
    pinned = np.full((n, 2, 3), np.nan)
    valid = np.isfinite(joints).all(axis=(1, 2))
    if valid.sum() < 2:
        return FootLockResult(out, contacts, pinned)
    # Horizontal axes: any two perpendicular to up.
    helper = np.array([1.0, 0.0, 0.0]) if abs(up_axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(up_axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up_axis, e1)
    window = max(2, int(round(config.speed_window * fps)))
    min_frames = max(2, int(round(config.min_duration * fps)))
    blend = max(0, int(round(config.blend * fps)))
    max_gap = int(round(config.max_gap * fps))

    offsets = np.zeros((2, n, 3))  # where each ankle should move, faded in and out around contacts
    weights = np.zeros((2, n))
    for side, (hip, knee, ankle) in enumerate(LEGS):
        heights = joints[:, ankle] @ up_axis
        floor = np.percentile(heights[valid], 5)
        planar = np.stack([joints[:, ankle] @ e1, joints[:, ankle] @ e2], axis=-1)
        speed = np.full(n, np.inf)
        for start, stop in _runs(valid):  # speed within runs of valid frames only
            speed[start:stop] = _smoothed_speed(planar[start:stop], fps, window)
        candidate = valid & (speed < config.max_speed) & (heights < floor + config.max_height)
        for start, stop in _runs(~candidate):
            if 0 < start and stop < n and stop - start <= max_gap and valid[start:stop].all():
                candidate[start:stop] = True
        offset, weight = offsets[side], weights[side]
        for start, stop in _runs(candidate):
            if stop - start < min_frames:
                continue
            target = np.median(joints[start:stop, ankle], axis=0)
            contacts[start:stop, side] = True
            pinned[start:stop, side] = target
            offset[start:stop] = target - joints[start:stop, ankle]
            weight[start:stop] = 1.0
            # Fade: carry the first / last frame's correction outwards with a smooth falloff.
            for k in range(1, blend + 1):
                w = 0.5 * (1.0 + np.cos(np.pi * k / (blend + 1)))
                for frame, edge in ((start - k, start), (stop - 1 + k, stop - 1)):
                    if 0 <= frame < n and valid[frame] and not contacts[frame, side] and w > weight[frame]:
                        offset[frame] = w * (target - joints[edge, ankle])
                        weight[frame] = w
    if config.move_body:
        planted = (weights > 0).sum(0)
        shift = offsets.sum(0) / np.maximum(planted, 1)[:, None]
        out += shift[:, None, :]
    for side, (hip, knee, ankle) in enumerate(LEGS):
        moved = weights[side] > 0
        if not moved.any():
            continue
        target = joints[moved, ankle] + offsets[side, moved]
        new_knee, new_ankle = two_bone_ik(out[moved, hip], out[moved, knee], out[moved, ankle], target)
        out[moved, knee] = new_knee
        out[moved, ankle] = new_ankle
    return FootLockResult(out, contacts, pinned)
