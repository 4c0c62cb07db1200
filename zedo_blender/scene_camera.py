"""A Blender camera that sees what the footage's camera saw: intrinsics ``K`` and image size."""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Matrix

DEFAULT_SENSOR_WIDTH_MM = 36.0


def create_camera(
    collection: bpy.types.Collection,
    name: str,
    K: np.ndarray,
    image_size: tuple[int, int],
    matrix_world: np.ndarray,
    clip: bpy.types.MovieClip | None = None,
    sensor_width_mm: float = DEFAULT_SENSOR_WIDTH_MM,
) -> bpy.types.Object:
    """A camera with the focal length and principal point of ``K`` (pixels, origin top-left) for an
    image ``(width, height)``; ``clip``, when given, is shown as its background."""
    width, height = image_size
    data = bpy.data.cameras.new(name)
    data.sensor_fit = "HORIZONTAL" if width >= height else "VERTICAL"
    data.sensor_width = data.sensor_height = sensor_width_mm
    fit_size = max(width, height)
    data.lens = float(K[0, 0]) * sensor_width_mm / fit_size
    # Shift is in units of the fitted (larger) image side; y grows upwards in Blender.
    data.shift_x = (width / 2.0 - float(K[0, 2])) / fit_size
    data.shift_y = (float(K[1, 2]) - height / 2.0) / fit_size
    if clip is not None:
        background = data.background_images.new()
        background.source = "MOVIE_CLIP"
        background.clip = clip
        data.show_background_images = True
    obj = bpy.data.objects.new(name, data)
    obj.matrix_world = Matrix(matrix_world.tolist())
    collection.objects.link(obj)
    return obj


def match_render_size(scene: bpy.types.Scene, K: np.ndarray, image_size: tuple[int, int]) -> None:
    """Render resolution = image size, and the pixel aspect of ``K`` (fy / fx)."""
    scene.render.resolution_x, scene.render.resolution_y = int(image_size[0]), int(image_size[1])
    scene.render.resolution_percentage = 100
    aspect = float(K[1, 1] / K[0, 0])
    # Blender's pixel aspect is pixel width / height; fy / fx > 1 means pixels wider than tall.
    scene.render.pixel_aspect_x, scene.render.pixel_aspect_y = (aspect, 1.0) if aspect >= 1 else (1.0, 1.0 / aspect)
