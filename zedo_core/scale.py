"""Metric scale: a person's standing height from 3D joints, and poses rescaled to a known height.

A single camera cannot tell a tall person far away from a short one nearby: the lifted poses take
the prior's body size (an average Human3.6M adult). Given the actor's height, scaling the whole
absolute pose about the camera centre keeps every joint on its ray (the 2D fit is unchanged) and
fixes both the body size and its distance to the camera.
"""

from __future__ import annotations

import numpy as np

from .inputs import InputError
from .skeleton import JOINT_NAMES

_J = {name: i for i, name in enumerate(JOINT_NAMES)}
# The ankle joint sits above the sole by about this fraction of standing height (8 cm at 1.75 m).
ANKLE_HEIGHT_FRACTION = 0.046
# Segments stacked from ankle to head top when standing straight (left and right legs averaged).
_LEGS = (("right_ankle", "right_knee", "right_hip"), ("left_ankle", "left_knee", "left_hip"))
_TRUNK = ("pelvis", "spine", "thorax", "neck", "head")


def _chain_length(poses: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    idx = [_J[n] for n in names]
    return np.linalg.norm(np.diff(poses[..., idx, :], axis=-2), axis=-1).sum(axis=-1)


def standing_height(poses: np.ndarray) -> float:
    """Standing height (metres) of the person in ``(N, 17, 3)`` or ``(17, 3)`` poses: the median over
    frames of ankle-to-hip leg length plus the pelvis-to-head-top chain, plus the ankle's height
    above the sole. Frames with NaN joints are ignored."""
    poses = np.asarray(poses, dtype=np.float64).reshape(-1, len(JOINT_NAMES), 3)
    good = poses[np.isfinite(poses).all(axis=(1, 2))]
    if len(good) == 0:
        raise InputError("no frame has all 17 joints: cannot measure the height")
    legs = 0.5 * (_chain_length(good, _LEGS[0]) + _chain_length(good, _LEGS[1]))
    return float(np.median(legs + _chain_length(good, _TRUNK)) / (1.0 - ANKLE_HEIGHT_FRACTION))


def scale_to_height(poses3d: np.ndarray, height_m: float) -> tuple[np.ndarray, float]:
    """Absolute camera-frame poses scaled about the camera centre so the person is ``height_m`` tall.

    Returns ``(scaled poses, factor)``. The 2D projection of every joint is unchanged."""
    if not (np.isfinite(height_m) and height_m > 0):
        raise InputError(f"height must be a positive number of metres, got {height_m}")
    factor = height_m / standing_height(poses3d)
    return np.asarray(poses3d) * factor, factor
