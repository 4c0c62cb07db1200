"""Validation of lifting inputs: one clear message naming what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .skeleton import NUM_JOINTS
from .temporal import person_height_px

MIN_VISIBLE_JOINTS = 4


class InputError(ValueError):
    """Keypoints, intrinsics or confidences that cannot be lifted; the message names the problem."""


@dataclass(frozen=True)
class LiftInputs:
    """Validated inputs: ``keypoints`` ``(N,17,2)`` with missing joints zero-filled, ``K`` ``(N,3,3)``
    with last row (0, 0, 1) and no skew (the keypoints are in its image), ``confidence`` ``(N,17)``
    (0 = missing) and ``valid`` ``(N,)``: frames with at least 4 visible joints that do not all
    lie on one pixel."""

    keypoints: np.ndarray
    K: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray


# Keypoints farther than this many focal lengths from the principal point (rays more than 89.94
# degrees off the camera's axis) are no position in the camera's image: 1e30 or a unit mix-up.
MAX_RAY_TANGENT = 1000.0
# Focal lengths and principal points beyond this many pixels are not a camera's (and overflow
# the float32 pixel arithmetic of the lifting loop).
MAX_INTRINSICS_PX = 1e7
# K's last row must be a multiple of (0, 0, 1) to within this relative tolerance, and K[1, 0] zero.
K_TOLERANCE = 1e-9


def listed_frames(frames: np.ndarray, limit: int = 10) -> str:
    """Frame numbers for a message: the first ``limit``, then ", ..." if there are more."""
    return ", ".join(str(f) for f in frames[:limit]) + (", ..." if len(frames) > limit else "")


def real_array(value: object, name: str, copy: bool = False, keep_float32: bool = False) -> np.ndarray:
    """``value`` as a float64 array (float32 stays float32 with ``keep_float32``); InputError unless
    it holds real numbers. Booleans, complex numbers, text and other objects are refused, not
    converted (which would drop an imaginary part or turn True into 1 without a word)."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"{name} must be numeric: {exc}") from None
    kind = array.dtype.kind
    if kind == "O":  # Python objects (e.g. integers too large for int64): real numbers only
        real = (int, float, np.integer, np.floating)
        if not all(isinstance(v, real) and not isinstance(v, bool) for v in array.flat):
            raise InputError(f"{name} must hold real numbers only")
        try:
            return array.astype(np.float64)
        except OverflowError:
            raise InputError(f"{name} holds a number too large for a float") from None
    if kind == "b":
        raise InputError(f"{name} must be numbers, got booleans ({array.dtype})")
    if kind == "c":
        raise InputError(f"{name} must be real numbers, got complex values ({array.dtype})")
    if kind not in "iuf":
        raise InputError(f"{name} must be numeric, got {array.dtype}")
    dtype = np.float32 if keep_float32 and array.dtype == np.float32 else np.float64
    return np.array(array, dtype=dtype, copy=True) if copy else array.astype(dtype, copy=False)


def normalized_intrinsics(K: np.ndarray) -> np.ndarray:
    """``K`` ``(N,3,3)`` (finite) divided by ``K[2, 2]``; InputError unless its last row is a
    positive multiple of (0, 0, 1), ``K[1, 0]`` is 0 and the focal lengths and principal point
    are within MAX_INTRINSICS_PX."""
    last = K[:, 2]
    bad = ~(last[:, 2] > 0) | (np.abs(last[:, :2]) > K_TOLERANCE * np.abs(last[:, 2:3])).any(axis=1)
    if bad.any():
        f = int(np.flatnonzero(bad)[0])
        hint = ""
        if K[f, 0, 2] == 0 and K[f, 1, 2] == 0 and (K[f, 2, :2] != 0).any():
            hint = "; K looks transposed (the principal point belongs in the last column)"
        raise InputError(
            f"K's last row must be (0, 0, 1) or a positive multiple of it; frame {f} has "
            f"({K[f, 2, 0]:g}, {K[f, 2, 1]:g}, {K[f, 2, 2]:g}){hint}"
        )
    K = K / last[:, 2, None, None]
    K[:, 2, :2] = 0.0
    lower = np.abs(K[:, 1, 0]) > K_TOLERANCE * np.abs(K).max(axis=(1, 2))
    if lower.any():
        f = int(np.flatnonzero(lower)[0])
        raise InputError(f"K[1, 0] must be 0 (an intrinsics matrix is upper triangular); frame {f} has {K[f, 1, 0]:g}")
    K[:, 1, 0] = 0.0
    large = (np.abs(K[:, :2]) > MAX_INTRINSICS_PX).any(axis=(1, 2))
    if large.any():
        f = int(np.flatnonzero(large)[0])
        raise InputError(
            f"K's focal lengths and principal point must lie within {MAX_INTRINSICS_PX:g} px; "
            f"frame {f} has {K[f, :2].tolist()}"
        )
    return K


def _remove_skew(kp: np.ndarray, K: np.ndarray) -> None:
    """In place: keypoints and K ``(N or 1, 3, 3)`` of the camera without skew (K[0, 1] = 0) whose
    rays are the same. Exact, so the lifted 3D poses are those of the skewed camera; reprojection
    errors are then measured in that camera's pixels (x sheared by K[0, 1] / K[1, 1] against the
    given image)."""
    skew = K[:, 0, 1]
    kp[..., 0] -= (skew / K[:, 1, 1])[:, None] * (kp[..., 1] - K[:, 1, 2, None])
    K[:, 0, 1] = 0.0


# Frames checked at a time: per-joint temporaries stay small whatever the clip's length.
CHECK_BLOCK = 4096


def _first_frame(test: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> int | None:
    """The first frame (index along axis 0) where ``test(x)`` holds anywhere, checked in blocks."""
    for a in range(0, x.shape[0], CHECK_BLOCK):
        hit = test(x[a : a + CHECK_BLOCK]).reshape(min(CHECK_BLOCK, x.shape[0] - a), -1).any(axis=1)
        if hit.any():
            return a + int(np.argmax(hit))
    return None


def _frame_checks(kp: np.ndarray, conf: np.ndarray, K: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per joint: ``missing`` (a NaN coordinate) and ``absurd`` (more than MAX_RAY_TANGENT focal
    lengths off K's principal point) ``(N, 17)``; per frame the larger side of the visible,
    present joints' bounding box ``(N,)`` px (0 when none). Computed a block of frames at a time."""
    n = kp.shape[0]
    missing = np.empty((n, NUM_JOINTS), dtype=bool)
    absurd = np.empty((n, NUM_JOINTS), dtype=bool)
    extent = np.zeros(n)
    for a in range(0, n, CHECK_BLOCK):
        b = min(n, a + CHECK_BLOCK)
        part, cam = kp[a:b].astype(np.float64), K[a:b] if K.shape[0] > 1 else K
        gone = np.isnan(part).any(axis=-1)
        part[gone] = 0.0
        offset = np.abs(part - cam[:, None, :2, 2]) / np.abs(np.stack([cam[:, 0, 0], cam[:, 1, 1]], axis=-1))[:, None]
        far = (offset > MAX_RAY_TANGENT).any(axis=-1)
        extent[a:b] = np.nan_to_num(person_height_px(part, (conf[a:b] > 0) & ~gone & ~far), nan=0.0)
        missing[a:b], absurd[a:b] = gone, far
    return missing, absurd, extent


def validate_inputs(keypoints: object, K: object, confidence: object | None = None) -> LiftInputs:
    """Check dtypes, shapes and values; NaN keypoints become missing joints (confidence 0).

    ``K`` is returned divided by ``K[2, 2]`` (its last row must be a positive multiple of
    (0, 0, 1)); a single ``(3, 3)`` K comes back as a read-only ``(N, 3, 3)`` view of one matrix.
    A skewed ``K`` (``K[0, 1]`` not 0) is replaced by the camera without skew that has the same
    rays, and the keypoints are mapped into its image (``u - K[0,1] (v - cy) / fy``): the lifted
    poses are exact. Raises InputError naming the key, frame or joint.

    Float32 keypoints and confidences stay float32 (the lifting loop's precision), others become
    float64; arrays that need no change are returned as given (never written to), so a long clip
    is not copied."""
    kp = real_array(keypoints, "keypoints", keep_float32=True)
    if kp.ndim != 3 or kp.shape[1:] != (NUM_JOINTS, 2):
        raise InputError(f"keypoints must have shape (N, {NUM_JOINTS}, 2), got {kp.shape}")
    n = kp.shape[0]
    if n == 0:
        raise InputError("keypoints has zero frames")
    infinite = _first_frame(np.isinf, kp)
    if infinite is not None:
        raise InputError(f"keypoints contain infinite values (first at frame {infinite})")

    Km = real_array(K, "K")
    shared = Km.shape == (3, 3)  # one camera: checked once, then shared by every frame
    if shared:
        Km = Km[None]
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
    Km = normalized_intrinsics(Km)

    given = kp
    if confidence is None:
        conf = np.ones((n, NUM_JOINTS), dtype=kp.dtype)
    else:
        conf = real_array(confidence, "confidence", keep_float32=True)
        if conf.shape != (n, NUM_JOINTS):
            raise InputError(f"confidence must have shape ({n}, {NUM_JOINTS}), got {conf.shape}")
        frame = _first_frame(np.isnan, conf)
        if frame is not None:
            raise InputError(f"confidence contains NaN (first at frame {frame})")
        frame = _first_frame(lambda c: (c < 0) | (c > 1), conf)
        if frame is not None:
            joint = int(np.flatnonzero((conf[frame] < 0) | (conf[frame] > 1))[0])
            raise InputError(
                f"confidence must lie in [0, 1]; frame {frame} joint {joint} has {conf[frame, joint]:g}"
            )
    if Km[:, 0, 1].any():
        kp = kp.copy()
        _remove_skew(kp, Km)
    missing, absurd, extent = _frame_checks(kp, conf, Km)
    visible = (conf > 0) & ~missing
    bad = absurd & visible
    if bad.any():
        frame, joint = (int(i) for i in np.argwhere(bad)[0])
        u, v = kp[frame, joint]
        raise InputError(
            f"keypoints must be positions in K's image; frame {frame} joint {joint} is ({u:g}, {v:g}) px, more "
            f"than {MAX_RAY_TANGENT:g} focal lengths from the principal point (a ray over 89.9 degrees off the axis)"
        )
    # NaN joints are missing (confidence 0); missing joints far away are as if NaN.
    zeroed = missing | absurd
    if zeroed.any():
        kp = kp.copy() if kp is given else kp
        kp[zeroed] = 0.0
    if missing.any():
        conf = np.where(missing, 0.0, conf).astype(conf.dtype, copy=False)
    # Joints piled on one pixel have no shape to lift (and no depth): treat as too few joints.
    valid = (visible.sum(axis=1) >= MIN_VISIBLE_JOINTS) & (extent >= 1.0)
    if shared:
        Km = np.broadcast_to(Km[0], (n, 3, 3))
    return LiftInputs(keypoints=kp, K=Km, confidence=conf, valid=valid)
