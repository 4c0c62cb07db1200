"""Movie Clip tracks <-> keypoint arrays, and the clip camera's intrinsics.

Markers store ``co`` normalised to the clip size with the origin bottom-left; the engine wants
pixels with the origin top-left. Markers are stored in clip frames; the add-on speaks scene
frames (clip frame = scene frame - clip.frame_start + 1).
"""

from __future__ import annotations

import bpy
import numpy as np

from .skeleton import NUM_JOINTS


def clip_frame(clip: bpy.types.MovieClip, scene_frame: int) -> int:
    return scene_frame - clip.frame_start + 1


def clip_intrinsics(clip: bpy.types.MovieClip) -> tuple[np.ndarray, tuple[int, int]]:
    """``K`` (3x3, pixels, origin top-left) and ``(width, height)`` from the clip's tracking camera."""
    width, height = int(clip.size[0]), int(clip.size[1])
    if width <= 0 or height <= 0:
        raise ValueError(f"movie clip '{clip.name}' has no frames Blender can read ({clip.filepath})")
    camera = clip.tracking.camera
    focal = float(camera.focal_length_pixels)
    cx, cy_bottom = (float(v) for v in camera.principal_point_pixels)
    K = np.array([[focal, 0.0, cx], [0.0, focal * float(camera.pixel_aspect), height - cy_bottom], [0.0, 0.0, 1.0]])
    return K, (width, height)


# A clip camera still at these values has most likely never been calibrated.
BLENDER_DEFAULT_FOCAL_MM, BLENDER_DEFAULT_SENSOR_MM = 24.0, 35.0


def clip_camera_is_default(clip: bpy.types.MovieClip) -> bool:
    """True when the clip's tracking camera still has Blender's default focal length and sensor."""
    camera = clip.tracking.camera
    return abs(camera.focal_length - BLENDER_DEFAULT_FOCAL_MM) < 1e-4 and abs(camera.sensor_width - BLENDER_DEFAULT_SENSOR_MM) < 1e-4


def read_keypoints(
    clip: bpy.types.MovieClip,
    tracks: bpy.types.bpy_prop_collection,
    track_names: list[str],
    frame_start: int,
    frame_end: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 17, 2)`` pixels and ``(N, 17)`` confidence for scene frames ``frame_start..frame_end``.

    ``track_names[j]`` is the track of joint ``j`` ("" = unmapped). A frame without a marker, or
    with a muted one, is a missing joint (confidence 0); otherwise the confidence is the track's
    weight (1 unless the user lowered it)."""
    if len(track_names) != NUM_JOINTS:
        raise ValueError(f"expected {NUM_JOINTS} track names, got {len(track_names)}")
    n = frame_end - frame_start + 1
    width, height = clip.size
    keypoints = np.full((n, NUM_JOINTS, 2), np.nan)
    confidence = np.zeros((n, NUM_JOINTS))
    for joint, name in enumerate(track_names):
        track = tracks.get(name) if name else None
        if track is None:
            continue
        for i in range(n):
            marker = track.markers.find_frame(clip_frame(clip, frame_start + i), exact=True)
            if marker is None or marker.mute:
                continue
            keypoints[i, joint] = marker.co[0] * width, (1.0 - marker.co[1]) * height
            confidence[i, joint] = track.weight
    return keypoints, confidence


def write_keypoints(
    clip: bpy.types.MovieClip,
    tracks: bpy.types.bpy_prop_collection,
    names: list[str],
    keypoints: np.ndarray,
    confidence: np.ndarray,
    frame_start: int,
    min_confidence: float = 0.1,
) -> list[bpy.types.MovieTrackingTrack]:
    """One new track per joint (named ``names[j]``) with a marker per scene frame from
    ``frame_start``; missing joints get no marker, those below ``min_confidence`` a muted one."""
    width, height = clip.size
    created = []
    for joint, name in enumerate(names):
        present = np.isfinite(keypoints[:, joint]).all(axis=1) & (confidence[:, joint] > 0)
        if not present.any():
            continue
        first = int(np.argmax(present))
        track = tracks.new(name=name, frame=clip_frame(clip, frame_start + first))
        created.append(track)
        for i in np.flatnonzero(present):
            u, v = keypoints[i, joint]
            marker = track.markers.insert_frame(clip_frame(clip, frame_start + int(i)), co=(u / width, 1.0 - v / height))
            marker.mute = bool(confidence[i, joint] < min_confidence)
        # Blender holds a track's last position across a gap; a disabled (muted) marker ends it.
        for i in np.flatnonzero(~present[first:]) + first:
            if present[i - 1]:
                u, v = keypoints[i - 1, joint]
                marker = track.markers.insert_frame(clip_frame(clip, frame_start + int(i)), co=(u / width, 1.0 - v / height))
                marker.mute = True
    return created
