"""A movie clip's tracking camera from intrinsics ``K`` (and a calibration's lens distortion).

Blender keeps a clip's intrinsics in ``clip.tracking.camera``: focal length (stored in mm over a
sensor width), principal point (pixels, origin bottom-left), pixel aspect and a lens model. The
add-on reads them back with :func:`zedo_blender.tracks.clip_intrinsics`, so a clip set up here is
lifted with this ``K``.
"""

from __future__ import annotations

import bpy
import numpy as np

from .scene_camera import DEFAULT_SENSOR_WIDTH_MM


def clip_camera_values(
    K: np.ndarray,
    clip_size: tuple[int, int],
    distortion: np.ndarray | None = None,
    fisheye: bool = False,
    sensor_width_mm: float = DEFAULT_SENSOR_WIDTH_MM,
) -> dict[str, object]:
    """The tracking-camera settings for ``K`` (pixels, origin top-left) on a clip of
    ``clip_size`` (w, h), computed before anything is changed.

    OpenCV's radial terms k1, k2, k3 are Blender's Polynomial model (the same normalisation by
    the focal length); tangential, rational, thin-prism and fisheye terms have no exact Blender
    counterpart and are left out (the engine undistorts keypoints itself; Blender's lens model
    only changes how the clip can be shown undistorted)."""
    K = np.asarray(K, dtype=np.float64)
    height = int(clip_size[1])
    values: dict[str, object] = {
        "sensor_width": float(sensor_width_mm),
        "units": "PIXELS",
        "pixel_aspect": float(K[1, 1] / K[0, 0]),
        "focal_length_pixels": float(K[0, 0]),
        "principal_point_pixels": (float(K[0, 2]), float(height - K[1, 2])),
    }
    d = np.zeros(5)
    if distortion is not None and not fisheye:
        d[: min(5, np.size(distortion))] = np.ravel(distortion)[:5]
    if (d[[0, 1, 4]] != 0).any():
        values.update(distortion_model="POLYNOMIAL", k1=float(d[0]), k2=float(d[1]), k3=float(d[4]))
    return values


def set_clip_camera(clip: bpy.types.MovieClip, values: dict[str, object]) -> None:
    """Apply :func:`clip_camera_values` to ``clip`` (the sensor width first: the focal length in
    pixels is stored as mm over it)."""
    camera = clip.tracking.camera
    for key, value in values.items():
        setattr(camera, key, value)
