"""Metric scale: a person's standing height from 3D joints, and poses rescaled to a known height.

A single camera cannot tell a tall person far away from a short one nearby: the lifted poses take
the prior's body size (an average Human3.6M adult). Given the actor's height, scaling the whole
absolute pose about the camera centre keeps every joint on its ray (the 2D fit is unchanged) and
fixes both the body size and its distance to the camera.

The same scaling, frame by frame, keeps a clip's body one size (:func:`steady_size`, the last step
of video mode): a body's size does not change during a clip, but the size of the lifted poses
drifts a little, and the distance to the camera drifts with it.
"""

from __future__ import annotations

import numpy as np

from .arrays import nanmedian
from .inputs import InputError
from .skeleton import JOINT_NAMES, NUM_JOINTS, bone_lengths
from .temporal import fit_in_blocks

_J = {name: i for i, name in enumerate(JOINT_NAMES)}
_BLOCK = 4096
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


def body_size(poses: np.ndarray) -> np.ndarray:
    """The sum of the 16 bone lengths of poses ``(..., 17, 3)``, shape ``(...)``."""
    return bone_lengths(np.asarray(poses)).sum(axis=-1)


def steady_size_factors(poses3d: np.ndarray, sigma: float, segments: np.ndarray | None = None) -> np.ndarray:
    """The factors ``(T, S)`` by which :func:`steady_size` scales absolute poses ``(T, S, 17, 3)``
    (NaN where a pose has a NaN joint)."""
    poses = np.asarray(poses3d)
    if poses.ndim != 4 or poses.shape[2:] != (NUM_JOINTS, 3):
        raise ValueError(f"poses3d must have shape (T, S, {NUM_JOINTS}, 3), got {poses.shape}")
    T, S = poses.shape[:2]
    labels = np.zeros(T, dtype=np.int64) if segments is None else np.asarray(segments)
    if labels.shape != (T,):
        raise ValueError(f"segments must have shape ({T},), got {labels.shape}")
    size = np.empty((T, S))
    for a in range(0, T, _BLOCK):  # small temporaries on long clips
        size[a : a + _BLOCK] = body_size(poses[a : a + _BLOCK].astype(np.float64))
    ratio = np.full((T, S), np.nan)
    for label in np.unique(labels):
        frames = labels == label
        clip = size[frames]
        clip = np.where(np.isfinite(clip) & (clip > 0), clip, np.nan)
        ratio[frames] = nanmedian(clip, axis=0) / clip
    if sigma > 0:
        smoothed = np.full_like(ratio, np.nan)
        for a, b, fit in fit_in_blocks(ratio[:, :, None], sigma, labels, outlier_threshold=None):
            smoothed[a:b] = fit[:, :, 0]
        ratio = np.where(np.isfinite(ratio), smoothed, np.nan)
    return ratio


def steady_size(poses3d: np.ndarray, sigma: float, segments: np.ndarray | None = None) -> np.ndarray:
    """Absolute camera-frame poses ``(T, S, 17, 3)`` (frames, hypotheses) with every frame scaled
    about the camera centre to the size of its clip.

    Each frame of a hypothesis is scaled by its clip's median :func:`body_size` over its own
    size, that factor smoothed along time by a Gaussian local line of width ``sigma`` frames (0:
    unsmoothed) so the correction adds no jitter of its own. The poses' shapes and their 2D
    projections are unchanged; what changes is each frame's size and, with it, its distance to the
    camera, which no longer drifts when the lifted size does (the closed-form translation puts a
    3% larger pose 3% farther away). ``segments`` ``(T,)`` labels the clips (default: one clip);
    frames with a NaN joint stay NaN. Returns a new array of the poses' dtype
    (:func:`steady_size_factors` gives the factors alone).
    """
    poses = np.asarray(poses3d)
    factors = steady_size_factors(poses, sigma, segments)
    return (poses * factors[:, :, None, None]).astype(poses.dtype, copy=False)
