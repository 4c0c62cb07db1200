"""Put a lifted motion into the scene: a collection with the rig, its action and the camera.

All or nothing: if anything fails, every data-block made so far is removed again, so the
user's scene is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from . import motion
from .engine import engine_module
from .rig import create_armature, key_motion
from .scene_camera import create_camera, match_render_size


@dataclass
class SceneResult:
    """What one run added to the scene."""

    collection: bpy.types.Collection
    armature: bpy.types.Object
    camera: bpy.types.Object
    action: bpy.types.Action
    scale: float  # factor applied to the engine's metres (actor height / estimated height)
    height_m: float  # standing height of the rig
    keyed_frames: int


def _unique_name(collection: bpy.types.bpy_prop_collection, base: str) -> str:
    if base not in collection:
        return base
    i = 1
    while f"{base}.{i:03d}" in collection:
        i += 1
    return f"{base}.{i:03d}"


def apply_motion(
    context: bpy.types.Context,
    poses_cam: np.ndarray,
    K: np.ndarray,
    image_size: tuple[int, int],
    frame_start: int,
    name: str = "ZeDO",
    actor_height: float | None = None,
    clip: bpy.types.MovieClip | None = None,
    lock_feet_fps: float | None = None,
) -> SceneResult:
    """Add the rig, a new action and a matching camera for camera-frame poses ``(N, 17, 3)``.

    Frames where the engine returned NaN get no keys. ``actor_height`` (metres) scales the
    motion (and its depth) to that standing height; without it the engine's metric estimate is kept.
    ``lock_feet_fps``: the footage's frame rate, to pin planted feet
    (:func:`zedo_core.foot_contacts.lock_planted_feet` on the rig's own joints); None keeps them as lifted.
    """
    poses_cam = np.asarray(poses_cam, dtype=np.float64)
    valid = motion.valid_frames(poses_cam)
    if not valid.any():
        raise ValueError("no frame could be lifted (every frame has fewer than 4 usable joints)")
    K0 = np.asarray(K, dtype=np.float64)
    K0 = K0[int(np.argmax(valid))] if K0.ndim == 3 else K0
    scale = 1.0
    if actor_height is not None:
        poses_cam, scale = engine_module("scale").scale_to_height(poses_cam, actor_height)
    frame = motion.scene_frame(poses_cam)
    world = frame.to_world(poses_cam)
    proportions = motion.body_proportions(world)
    rest = motion.rest_joints(proportions)
    rotations, root = motion.rig_motion(world, valid, rest, lock_feet_fps)
    frames = frame_start + np.flatnonzero(valid)

    created: list[tuple[bpy.types.bpy_prop_collection, bpy.types.ID]] = []
    try:
        collection = bpy.data.collections.new(_unique_name(bpy.data.collections, name))
        created.append((bpy.data.collections, collection))
        context.scene.collection.children.link(collection)
        armature = create_armature(context, collection, _unique_name(bpy.data.objects, f"{name} rig"), rest)
        created += [(bpy.data.armatures, armature.data), (bpy.data.objects, armature)]
        action = key_motion(armature, _unique_name(bpy.data.actions, f"{name} motion"), frames, rotations, root, rest[0])
        created.append((bpy.data.actions, action))
        camera = create_camera(
            collection, _unique_name(bpy.data.objects, f"{name} camera"), K0, image_size, frame.camera_matrix_world(), clip
        )
        created += [(bpy.data.cameras, camera.data), (bpy.data.objects, camera)]
        match_render_size(context.scene, K0, image_size)
    except BaseException:
        for owner, block in reversed(created):
            owner.remove(block)
        raise
    return SceneResult(
        collection=collection,
        armature=armature,
        camera=camera,
        action=action,
        scale=scale,
        height_m=motion.standing_height(proportions),
        keyed_frames=int(valid.sum()),
    )
