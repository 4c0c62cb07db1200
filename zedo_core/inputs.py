"""Validation of lifting inputs: one clear message naming what is wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .skeleton import NUM_JOINTS

MIN_VISIBLE_JOINTS = 4


class InputError(ValueError):
    """Keypoints, intrinsics or confidences that cannot be lifted; the message names the problem."""


@dataclass(frozen=True)
class LiftInputs:
    """Validated inputs: ``keypoints`` ``(N,17,2)`` with missing joints zero-filled, ``K`` ``(N,3,3)``,
    ``confidence`` ``(N,17)`` (0 = missing) and ``valid`` ``(N,)``: frames with at least 4 visible
    joints that do not all lie on one pixel."""

    keypoints: np.ndarray
    K: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray


def _as_float_array(value: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from None
    return array


def validate_inputs(keypoints: object, K: object, confidence: object | None = None) -> LiftInputs:
    """Check shapes and values; NaN keypoints become missing joints (confidence 0)."""
    kp = _as_float_array(keypoints, "keypoints")
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2):
        raise InputError(f"keypoints must have shape (N, {NUM_JOINTS}, 2), got {kp.shape}")
    n = kp.shape[0]
    if n == 0:
        raise InputError("keypoints has zero frames")
    if np.isinf(kp).any():
        frame = int(np.argwhere(np.isinf(kp))[0, 0])
        raise InputError(f"keypoints contain infinite values (first at frame {frame})")

    Km = _as_float_array(K, "K")
    if Km.shape == (3, 3):
        Km = np.broadcast_to(Km, (n, 3, 3))
    elif Km.shape != (n, 3, 3):
        raise InputError(f"K must have shape (3, 3) or ({n}, 3, 3), got {Km.shape}")
    if not np.isfinite(Km).all():
        frame = int(np.argwhere(~np.isfinite(Km))[0, 0])
        raise InputError(f"K contains NaN or infinite values (frame {frame})")
    det = np.linalg.det(Km)
    scale = np.abs(Km).max(axis=(1, 2)) ** 3
    singular = ~(np.abs(det) > 1e-12 * np.maximum(scale, 1e-300))
    if singular.any():
        raise InputError(f"K is not invertible (frame {int(np.flatnonzero(singular)[0])})")

    if confidence is None:
        conf = np.ones((n, NUM_JOINTS))
    else:
        conf = _as_float_array(confidence, "confidence")
        if conf.shape != (n, NUM_JOINTS):
            raise InputError(f"confidence must have shape ({n}, {NUM_JOINTS}), got {conf.shape}")
        if np.isnan(conf).any():
            frame = int(np.argwhere(np.isnan(conf))[0, 0])
            raise InputError(f"confidence contains NaN (first at frame {frame})")
        outside = (conf < 0) | (conf > 1)
        if outside.any():
            frame, joint = (int(i) for i in np.argwhere(outside)[0])
            raise InputError(
                f"confidence must lie in [0, 1]; frame {frame} joint {joint} has {conf[frame, joint]:g}"
            )
    missing = np.isnan(kp).any(axis=-1)
    conf = np.where(missing, 0.0, conf)
    kp = np.where(missing[..., None], 0.0, kp)
    visible = conf > 0
    # Joints piled on one pixel have no shape to lift (and no depth): treat as too few joints.
    high = np.where(visible[..., None], kp, -np.inf).max(axis=1)
    low = np.where(visible[..., None], kp, np.inf).min(axis=1)
    extent = np.where(visible.any(axis=1), (high - low).max(axis=1), 0.0)
    valid = (visible.sum(axis=1) >= MIN_VISIBLE_JOINTS) & (extent >= 1.0)
    return LiftInputs(keypoints=kp, K=np.ascontiguousarray(Km), confidence=conf, valid=valid)
