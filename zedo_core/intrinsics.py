"""Camera intrinsics when the footage's camera is not calibrated.

A single person constrains the focal length only through perspective inside the body, which is
weak (measured in the README: after the loop the reprojection error and the prior's plausibility
barely change between half and twice the true focal length). What does change is accuracy, and
asymmetrically: a guess that is too long costs more than one too short. So uncalibrated footage
gets a focal length from a horizontal field of view (:data:`DEFAULT_FOV_DEG`, chosen on training
subjects, wider than most lenses' true view), the principal point at the image centre.
"""

from __future__ import annotations

import math

import numpy as np

from .inputs import InputError

DEFAULT_FOV_DEG = 60.0


def focal_from_fov(width: float, fov_deg: float) -> float:
    """Focal length in pixels of a pinhole whose horizontal field of view over ``width`` px is ``fov_deg``."""
    if not 1.0 <= fov_deg <= 170.0:
        raise InputError(f"field of view must be between 1 and 170 degrees, got {fov_deg}")
    return 0.5 * width / math.tan(math.radians(fov_deg) / 2.0)


def intrinsics_from_fov(image_size: tuple[float, float], fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """``K`` (3x3) for an image ``(width, height)`` in pixels: square pixels, principal point at the
    centre, focal length from the horizontal field of view."""
    width, height = (float(v) for v in image_size)
    if not (width > 0 and height > 0):
        raise InputError(f"image size must be positive, got {image_size}")
    focal = focal_from_fov(width, fov_deg)
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
