"""Lens distortion in OpenCV's models: the pinhole model (k1, k2, p1, p2[, k3[, k4, k5, k6[, s1..s4]]])
and the fisheye model (k1..k4), on pixel coordinates.

    >>> observed = distort_points(ideal, K, coefficients)        # what the lens does
    >>> ideal = undistort_points(observed, K, coefficients)      # what the lifting wants

Both map pixels to pixels through the same ``K`` (like ``cv2.undistortPoints(..., P=K)``), so the
undistorted keypoints are lifted with the calibration's own ``K``. Coefficients are OpenCV's, in
its order; numpy only (the add-on runs in Blender, which has no OpenCV).
"""

from __future__ import annotations

import numpy as np

from .inputs import InputError

PINHOLE_COUNTS = (4, 5, 8, 12, 14)
FISHEYE_COUNT = 4
# Inverting the lens: Newton steps until the re-distorted point is this close to the observed one
# (normalised image units: about 1e-6 px for a 1000 px focal length).
TOLERANCE = 1e-9
MAX_STEPS = 50


def check_coefficients(coefficients: object, fisheye: bool = False) -> np.ndarray:
    """``coefficients`` as a flat float64 array, checked for OpenCV's lengths; InputError otherwise.
    Tilted-sensor terms (coefficients 13 and 14) must be zero: that model is not supported."""
    try:
        d = np.asarray(coefficients, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise InputError(f"distortion coefficients must be numbers, got {coefficients!r}") from None
    if not np.isfinite(d).all():
        raise InputError("distortion coefficients contain NaN or infinite values")
    if fisheye:
        if d.size not in (0, FISHEYE_COUNT):
            raise InputError(f"fisheye distortion takes {FISHEYE_COUNT} coefficients (k1, k2, k3, k4), got {d.size}")
        return d
    if d.size not in (0, *PINHOLE_COUNTS):
        raise InputError(
            f"distortion takes 4, 5, 8, 12 or 14 coefficients (OpenCV: k1, k2, p1, p2[, k3[, k4, k5, k6[, s1..s4"
            f"[, tx, ty]]]]), got {d.size}"
        )
    if d.size == 14 and (d[12:] != 0).any():
        raise InputError("tilted-sensor distortion (coefficients 13 and 14, tauX and tauY) is not supported")
    return d


def _pinhole(d: np.ndarray) -> np.ndarray:
    """The 12 coefficients k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4, zero-padded."""
    full = np.zeros(12)
    full[: min(d.size, 12)] = d[:12]
    return full


def _distort_normalised(xy: np.ndarray, d: np.ndarray, fisheye: bool) -> np.ndarray:
    x, y = xy[..., 0], xy[..., 1]
    r2 = x * x + y * y
    if fisheye:
        r = np.sqrt(r2)
        theta = np.arctan(r)
        t2 = theta * theta
        theta_d = theta * (1 + t2 * (d[0] + t2 * (d[1] + t2 * (d[2] + t2 * d[3]))))
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(r > 1e-12, theta_d / r, 1.0)
        return xy * scale[..., None]
    k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = _pinhole(d)
    radial = (1 + r2 * (k1 + r2 * (k2 + r2 * k3))) / (1 + r2 * (k4 + r2 * (k5 + r2 * k6)))
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) + s1 * r2 + s2 * r2 * r2
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y + s3 * r2 + s4 * r2 * r2
    return np.stack([xd, yd], axis=-1)


def _normalise(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels -> normalised image coordinates through ``K`` (skew included)."""
    y = (points[..., 1] - K[1, 2]) / K[1, 1]
    x = (points[..., 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
    return np.stack([x, y], axis=-1)


def _to_pixels(xy: np.ndarray, K: np.ndarray) -> np.ndarray:
    u = K[0, 0] * xy[..., 0] + K[0, 1] * xy[..., 1] + K[0, 2]
    v = K[1, 1] * xy[..., 1] + K[1, 2]
    return np.stack([u, v], axis=-1)


def _checked(points: object, K: object) -> tuple[np.ndarray, np.ndarray]:
    try:
        p = np.asarray(points, dtype=np.float64)
        Km = np.asarray(K, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("points and K must be numeric") from None
    if p.shape[-1:] != (2,):
        raise InputError(f"points must have shape (..., 2), got {p.shape}")
    if Km.shape != (3, 3) or not np.isfinite(Km).all() or Km[0, 0] == 0 or Km[1, 1] == 0:
        raise InputError(f"K must be a finite 3x3 matrix with non-zero focal lengths, got shape {Km.shape}")
    return p, Km


def _jacobian(xy: np.ndarray, d: np.ndarray, fisheye: bool, step: float = 1e-7) -> tuple[np.ndarray, np.ndarray]:
    """The lens map's derivatives along x and along y at ``xy``, by central differences."""
    ex, ey = np.array([step, 0.0]), np.array([0.0, step])
    dx = (_distort_normalised(xy + ex, d, fisheye) - _distort_normalised(xy - ex, d, fisheye)) / (2 * step)
    dy = (_distort_normalised(xy + ey, d, fisheye) - _distort_normalised(xy - ey, d, fisheye)) / (2 * step)
    return dx, dy


def distort_points(points: object, K: object, coefficients: object, fisheye: bool = False) -> np.ndarray:
    """Where a lens with ``coefficients`` puts points that an ideal pinhole camera ``K`` sees at
    ``points`` ``(..., 2)`` pixels. NaN stays NaN."""
    p, Km = _checked(points, K)
    d = check_coefficients(coefficients, fisheye)
    if not d.any():
        return p.copy()
    return _to_pixels(_distort_normalised(_normalise(p, Km), d, fisheye), Km)


def undistort_points(points: object, K: object, coefficients: object, fisheye: bool = False) -> np.ndarray:
    """The ideal pinhole pixels (same ``K``) of ``points`` ``(..., 2)`` observed through a lens with
    ``coefficients``: the inverse of :func:`distort_points`, by Newton's method on the 2D lens map
    started from the observed point. NaN stays NaN; a point the model cannot invert (outside the
    lens's valid area, where the map folds back) comes back NaN."""
    p, Km = _checked(points, K)
    d = check_coefficients(coefficients, fisheye)
    if not d.any():
        return p.copy()
    target = _normalise(p, Km)
    xy = target.copy()
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for _ in range(MAX_STEPS):
            residual = _distort_normalised(xy, d, fisheye) - target
            if not (np.abs(residual) > TOLERANCE).any():
                break
            dx, dy = _jacobian(xy, d, fisheye)
            det = dx[..., 0] * dy[..., 1] - dy[..., 0] * dx[..., 1]
            delta_x = (dy[..., 1] * residual[..., 0] - dy[..., 0] * residual[..., 1]) / det
            delta_y = (dx[..., 0] * residual[..., 1] - dx[..., 1] * residual[..., 0]) / det
            xy = xy - np.stack([delta_x, delta_y], axis=-1)
        residual = _distort_normalised(xy, d, fisheye) - target
        dx, dy = _jacobian(xy, d, fisheye)
        det = dx[..., 0] * dy[..., 1] - dy[..., 0] * dx[..., 1]
    # Past a fold of the lens map (Jacobian determinant <= 0) there is no unique inverse, and no
    # lens moves a point across the image centre (Newton can land on such a root of the polynomial).
    failed = ~(np.abs(residual) <= 1e3 * TOLERANCE).all(axis=-1) | ~(det > 0) | ((xy * target).sum(axis=-1) < 0)
    if fisheye:
        failed |= np.arctan(np.hypot(xy[..., 0], xy[..., 1])) >= np.pi / 2
    out = _to_pixels(xy, Km)
    out[failed & np.isfinite(p).all(axis=-1)] = np.nan
    return out
