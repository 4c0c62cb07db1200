"""Pose-error metrics the field reports (inputs in any unit; outputs in the same unit)."""

from __future__ import annotations

import numpy as np

from .skeleton import PELVIS


def mpjpe(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Mean per-joint position error ``(...,)`` after aligning the pelvis; inputs ``(..., J, 3)``."""
    p = predicted - predicted[..., PELVIS : PELVIS + 1, :]
    t = target - target[..., PELVIS : PELVIS + 1, :]
    return np.linalg.norm(p - t, axis=-1).mean(axis=-1)


def procrustes_align(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``predicted`` ``(..., J, 3)`` after the similarity transform (rotation, translation, scale)
    that best fits it to ``target`` in the least-squares sense."""
    mu_p = predicted.mean(axis=-2, keepdims=True)
    mu_t = target.mean(axis=-2, keepdims=True)
    p, t = predicted - mu_p, target - mu_t
    H = np.swapaxes(p, -1, -2) @ t
    U, s, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)))
    s = s.copy()
    s[..., -1] *= d
    Vt = Vt.copy()
    Vt[..., -1, :] *= d[..., None]
    R = np.swapaxes(Vt, -1, -2) @ np.swapaxes(U, -1, -2)  # maps p onto t: t ~ scale * R p
    scale = s.sum(-1) / (p**2).sum(axis=(-1, -2))
    return scale[..., None, None] * (p @ np.swapaxes(R, -1, -2)) + mu_t


def pa_mpjpe(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """MPJPE after similarity Procrustes alignment ``(...,)``."""
    aligned = procrustes_align(predicted, target)
    return np.linalg.norm(aligned - target, axis=-1).mean(axis=-1)


def pck(predicted: np.ndarray, target: np.ndarray, threshold: float = 0.150) -> np.ndarray:
    """Fraction of joints within ``threshold`` after pelvis alignment (PCK@150 mm in metres)."""
    p = predicted - predicted[..., PELVIS : PELVIS + 1, :]
    t = target - target[..., PELVIS : PELVIS + 1, :]
    return (np.linalg.norm(p - t, axis=-1) <= threshold).mean(axis=-1)


def auc(predicted: np.ndarray, target: np.ndarray, max_threshold: float = 0.150, steps: int = 31) -> np.ndarray:
    """Area under the PCK curve for thresholds 0..``max_threshold`` (normalised to [0, 1])."""
    thresholds = np.linspace(0.0, max_threshold, steps)
    return np.mean([pck(predicted, target, th) for th in thresholds], axis=0)
