"""The armature: bones from a rest pose, and the motion keyed onto it as one new action."""

from __future__ import annotations

import bpy
import numpy as np
from mathutils import Vector

from .animation import ActionWriter
from .motion import continuous_quaternions, local_rotations, matrices_to_quaternions
from .skeleton import BONES, ROOT_BONE


def create_armature(
    context: bpy.types.Context, collection: bpy.types.Collection, name: str, rest: np.ndarray
) -> bpy.types.Object:
    """An armature object at the world origin whose rest pose has the joints ``rest`` ``(17, 3)``.

    Every bone's local Z axis points forward (-Y) at rest, a common convention for retargeting."""
    data = bpy.data.armatures.new(name)
    data.display_type = "OCTAHEDRAL"
    obj = bpy.data.objects.new(name, data)
    obj.show_in_front = True
    collection.objects.link(obj)
    parent_tail = {b.name: b.tail for b in BONES}
    view_layer = context.view_layer
    previous_active = view_layer.objects.active
    view_layer.objects.active = obj
    with context.temp_override(active_object=obj, object=obj, edit_object=obj):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            for bone in BONES:
                edit = data.edit_bones.new(bone.name)
                edit.head = Vector(rest[bone.head])
                edit.tail = Vector(rest[bone.tail])
                edit.align_roll(Vector((0.0, -1.0, 0.0)))
                if bone.parent:
                    edit.parent = data.edit_bones[bone.parent]
                    edit.use_connect = bool(np.allclose(rest[bone.head], rest[parent_tail[bone.parent]]))
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = previous_active
    for pose_bone in obj.pose.bones:
        pose_bone.rotation_mode = "QUATERNION"
    return obj


def bone_rest_matrices(armature: bpy.types.Object) -> np.ndarray:
    """``(len(BONES), 3, 3)`` rest orientation of every bone in armature space."""
    return np.array([np.array(armature.data.bones[b.name].matrix_local.to_3x3()) for b in BONES])


def key_motion(
    armature: bpy.types.Object,
    action_name: str,
    frames: np.ndarray,
    global_rotations: np.ndarray,
    root_positions: np.ndarray,
    rest_root: np.ndarray,
) -> bpy.types.Action:
    """Key every bone's rotation (quaternion) and the root bone's location at ``frames`` into a new
    action on ``armature``. ``global_rotations`` ``(N, len(BONES), 3, 3)`` come from
    :func:`zedo_blender.motion.global_rotations`; ``root_positions`` ``(N, 3)`` is the pelvis."""
    rest_matrices = bone_rest_matrices(armature)
    quaternions = continuous_quaternions(matrices_to_quaternions(local_rotations(global_rotations, rest_matrices)))
    # Pose-bone location is in the bone's rest axes, relative to its rest head.
    root_index = [b.name for b in BONES].index(ROOT_BONE)
    root_location = (root_positions - rest_root) @ rest_matrices[root_index]
    writer = ActionWriter(armature, action_name)
    frames = np.asarray(frames, dtype=np.float64)
    for i, bone in enumerate(BONES):
        group = bone.name
        prefix = f'pose.bones["{bone.name}"]'
        for k in range(4):
            writer.curve(f"{prefix}.rotation_quaternion", k, group, frames, quaternions[:, i, k])
        if bone.name == ROOT_BONE:
            for k in range(3):
                writer.curve(f"{prefix}.location", k, group, frames, root_location[:, k])
    return writer.action
