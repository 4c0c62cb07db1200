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


def acceleration_error(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Acceleration error ``(T,)`` of a trajectory of poses ``(T, J, 3)``, in the input's unit per
    frame squared: at frame t, the mean over joints of ``|a_pred - a_true|`` with
    ``a = x[t+1] - 2 x[t] + x[t-1]`` on pelvis-aligned poses. The first and last frames, and every
    frame whose own or neighbouring pose is not finite (in either input), are NaN; average with
    ``np.nanmean``. The unit depends on the frame rate: say at which frame step it was measured.
    """
    p = predicted - predicted[..., PELVIS : PELVIS + 1, :]
    t = target - target[..., PELVIS : PELVIS + 1, :]
    out = np.full(p.shape[0], np.nan)
    if p.shape[0] < 3:
        return out
    accel_p = p[2:] - 2 * p[1:-1] + p[:-2]
    accel_t = t[2:] - 2 * t[1:-1] + t[:-2]
    with np.errstate(invalid="ignore"):
        out[1:-1] = np.linalg.norm(accel_p - accel_t, axis=-1).mean(axis=-1)
    out[~np.isfinite(out)] = np.nan
    return out


def root_path_error(predicted: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pelvis path error ``(T,)`` of one clip of absolute camera-frame poses ``(T, J, 3)``, in the
    input's unit: the distance between the true pelvis and the predicted one after the whole
    clip is scaled about the camera centre by the one factor that fits the true path best (least
    squares). A single camera cannot know the body's size, so a clip's path is only known up to
    that factor; what remains is its shape: drift, jitter, a lurch. Frames that are not finite in
    either input are NaN (and do not count in the fit)."""
    p, t = predicted[:, PELVIS].astype(np.float64), target[:, PELVIS].astype(np.float64)
    ok = np.isfinite(p).all(-1) & np.isfinite(t).all(-1)
    out = np.full(p.shape[0], np.nan)
    if not ok.any():
        return out
    scale = (p[ok] * t[ok]).sum() / max((p[ok] ** 2).sum(), 1e-12)
    out[ok] = np.linalg.norm(scale * p[ok] - t[ok], axis=-1)
    return out
