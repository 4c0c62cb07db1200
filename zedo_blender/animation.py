"""Write dense keyframes into a new action, on Blender 4.2 to 5.x.

Blender 4.4 introduced slotted (layered) actions and 5.0 removed ``Action.fcurves``; this module
writes into the action's channelbag where the layered API exists and into ``Action.fcurves``
before that. Keys are written in bulk with ``keyframe_points.add`` + ``foreach_set``.
"""

from __future__ import annotations

import bpy
import numpy as np


class ActionWriter:
    """A new action assigned to ``owner`` (an object); :meth:`curve` adds one fully keyed F-curve."""

    def __init__(self, owner: bpy.types.ID, name: str) -> None:
        self.action = bpy.data.actions.new(name)
        self.slot = None
        if hasattr(self.action, "layers"):  # Blender 4.4+: slotted actions
            self.slot = self.action.slots.new(id_type="OBJECT", name=owner.name)
            strip = self.action.layers.new("Layer").strips.new(type="KEYFRAME")
            self._channels = strip.channelbag(self.slot, ensure=True)
        else:
            self._channels = None
        animation_data = owner.animation_data or owner.animation_data_create()
        animation_data.action = self.action
        if self.slot is not None:
            animation_data.action_slot = self.slot

    def curve(self, data_path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray) -> bpy.types.FCurve:
        """Add an F-curve keyed at ``frames`` with ``values`` (1-D arrays of equal length)."""
        if self._channels is not None:
            fcurve = self._channels.fcurves.new(data_path, index=index)
            groups = self._channels.groups
            fcurve.group = groups.get(group) or groups.new(group)  # 4.4/4.5 have no group_name argument
        else:
            fcurve = self.action.fcurves.new(data_path, index=index, action_group=group)
        coords = np.empty(2 * len(frames), dtype=np.float32)
        coords[0::2] = frames
        coords[1::2] = values
        fcurve.keyframe_points.add(len(frames))
        fcurve.keyframe_points.foreach_set("co", coords)
        fcurve.update()
        return fcurve


def assigned_fcurves(owner: bpy.types.ID) -> dict[tuple[str, int], bpy.types.FCurve]:
    """The F-curves of the action assigned to ``owner`` (its slot's, on 4.4+), by ``(data_path, index)``."""
    animation_data = owner.animation_data
    action = animation_data.action if animation_data is not None else None
    if action is None:
        return {}
    if hasattr(action, "layers"):
        slot = animation_data.action_slot
        curves = []
        if slot is not None:
            for layer in action.layers:
                for strip in layer.strips:
                    bag = strip.channelbag(slot)
                    if bag is not None:
                        curves.extend(bag.fcurves)
    else:
        curves = list(action.fcurves)
    return {(fc.data_path, fc.array_index): fc for fc in curves}


def euler_matrices(angles: np.ndarray, order: str) -> np.ndarray:
    """``(..., 3)`` Euler angles (radians, Blender's ``order``, e.g. "XYZ": X first) -> ``(..., 3, 3)``."""
    angles = np.asarray(angles, dtype=np.float64)
    result = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for axis_name in order:
        axis = "XYZ".index(axis_name)
        c, s = np.cos(angles[..., axis]), np.sin(angles[..., axis])
        rot = np.zeros(angles.shape[:-1] + (3, 3))
        i, j = [k for k in range(3) if k != axis]
        rot[..., axis, axis] = 1.0
        rot[..., i, i], rot[..., i, j], rot[..., j, i], rot[..., j, j] = c, -s, s, c
        result = rot @ result
    return result


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    """``(..., 4)`` quaternions (w, x, y, z; normalised here) -> ``(..., 3, 3)`` rotations."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def _channel(curves: dict, path: str, size: int, current, frames: np.ndarray) -> np.ndarray:
    """``(N, size)`` values of ``path[0..size)`` at ``frames``; channels without a curve keep ``current``."""
    values = np.tile(np.asarray(current, dtype=np.float64), (len(frames), 1))
    for k in range(size):
        fcurve = curves.get((path, k))
        if fcurve is not None:
            values[:, k] = [fcurve.evaluate(float(f)) for f in frames]
    return values


def sample_pose(armature: bpy.types.Object, frames: np.ndarray, bone_names: list[str]) -> dict[str, np.ndarray]:
    """Armature-space pose matrices ``(N, 4, 4)`` of ``bone_names`` at ``frames``, from the F-curves of
    the assigned action (unkeyed channels keep their current values).

    A plain forward-kinematics pass: constraints, drivers and the bones' inherit options are not
    evaluated, so it is meant for simple rigs such as the ones the add-on builds; it needs no
    ``frame_set`` (which would evaluate the whole scene once per frame)."""
    curves = assigned_fcurves(armature)
    frames = np.asarray(frames, dtype=np.float64)
    bones = armature.data.bones
    needed: list[str] = []

    def need(name: str) -> None:
        if name in needed:
            return
        parent = bones[name].parent
        if parent is not None:
            need(parent.name)
        needed.append(name)

    for name in bone_names:
        need(name)
    result: dict[str, np.ndarray] = {}
    for name in needed:
        bone, pose_bone = bones[name], armature.pose.bones[name]
        prefix = f'pose.bones["{name}"]'
        basis = np.tile(np.eye(4), (len(frames), 1, 1))
        mode = pose_bone.rotation_mode
        if mode == "QUATERNION":
            rotation = quaternion_matrices(_channel(curves, f"{prefix}.rotation_quaternion", 4, pose_bone.rotation_quaternion, frames))
        elif mode == "AXIS_ANGLE":
            angle_axis = _channel(curves, f"{prefix}.rotation_axis_angle", 4, pose_bone.rotation_axis_angle, frames)
            axis = angle_axis[:, 1:] / np.maximum(np.linalg.norm(angle_axis[:, 1:], axis=1, keepdims=True), 1e-12)
            half = angle_axis[:, :1] / 2
            rotation = quaternion_matrices(np.concatenate([np.cos(half), np.sin(half) * axis], 1))
        else:
            rotation = euler_matrices(_channel(curves, f"{prefix}.rotation_euler", 3, pose_bone.rotation_euler, frames), mode)
        scale = _channel(curves, f"{prefix}.scale", 3, pose_bone.scale, frames)
        basis[:, :3, :3] = rotation * scale[:, None, :]
        basis[:, :3, 3] = _channel(curves, f"{prefix}.location", 3, pose_bone.location, frames)
        rest = np.array(bone.matrix_local)
        if bone.parent is None:
            result[name] = rest @ basis
        else:
            parent_rest = np.array(bone.parent.matrix_local)
            result[name] = result[bone.parent.name] @ (np.linalg.inv(parent_rest) @ rest) @ basis
    return {name: result[name] for name in bone_names}


def action_frame_range(owner: bpy.types.ID) -> tuple[int, int] | None:
    """First and last keyed frame (rounded outwards) of the F-curves assigned to ``owner``, or None."""
    starts, ends = [], []
    for fcurve in assigned_fcurves(owner).values():
        if len(fcurve.keyframe_points):
            start, end = fcurve.range()
            starts.append(start)
            ends.append(end)
    if not starts:
        return None
    return int(np.floor(min(starts) + 1e-6)), int(np.ceil(max(ends) - 1e-6))
