"""BVH export of a ZeDO rig: Y up by default, as Blender's BVH import and most tools expect.

Blender's own BVH exporter writes the armature's axes as they are (Z up), which Blender's importer
(Y up by default) and other tools read lying on its back. This writer turns the motion into the
file's axes: with ``up="Y"`` the character faces +Z and Y is up (the usual BVH convention, what
Blender's importer assumes by default); ``up="Z"`` keeps Blender's axes (import with Up = Z,
Forward = Y). Every joint sits at a bone's head; the root (``Hips``) has position channels, the
others rotations only (``Zrotation Xrotation Yrotation``); lengths are in metres.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from .animation import action_frame_range, sample_pose
from .skeleton import BONES, ROOT_BONE

# File axes from Blender's: Y up (forward -Z in the file is Blender's +Y), or Blender's own.
AXES = {"Y": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]), "Z": np.eye(3)}
ORDER = "ZXY"  # channel order; Blender's Euler order for R = Rz Rx Ry is "YXZ"


def _rotations(matrices: np.ndarray) -> np.ndarray:
    r = matrices[..., :3, :3]
    return r / np.linalg.norm(r, axis=-2, keepdims=True)


def bvh_text(
    names: list[str],
    parents: list[int],
    offsets: np.ndarray,
    end_offsets: dict[int, np.ndarray],
    local_rotations: np.ndarray,
    root_positions: np.ndarray,
    frame_time: float,
) -> str:
    """A BVH file: joints ``names`` (parents first, ``parents[i]`` = index or -1), rest ``offsets``
    ``(J, 3)`` from the parent joint, end sites of leaf joints, rotations ``(N, J, 3, 3)`` of each
    joint in its parent's frame and root positions ``(N, 3)``, all in the file's axes."""
    children: dict[int, list[int]] = {i: [] for i in range(-1, len(names))}
    for i, parent in enumerate(parents):
        children[parent].append(i)
    lines = ["HIERARCHY"]

    def write(joint: int, depth: int) -> None:
        pad = "\t" * depth
        lines.append(f"{pad}{'ROOT' if parents[joint] < 0 else 'JOINT'} {names[joint]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offsets[joint][0]:.6f} {offsets[joint][1]:.6f} {offsets[joint][2]:.6f}")
        rotations = " ".join(f"{axis}rotation" for axis in ORDER)
        if parents[joint] < 0:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition {rotations}")
        else:
            lines.append(f"{pad}\tCHANNELS 3 {rotations}")
        for child in children[joint]:
            write(child, depth + 1)
        if not children[joint]:
            end = end_offsets[joint]
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}", f"{pad}\t}}"])
        lines.append(f"{pad}}}")

    roots = children[-1]
    if len(roots) != 1:
        raise ValueError(f"a BVH skeleton has one root joint, got {len(roots)}")
    order = []

    def collect(joint: int) -> None:
        order.append(joint)
        for child in children[joint]:
            collect(child)

    write(roots[0], 0)
    collect(roots[0])
    n = len(root_positions)
    lines += ["MOTION", f"Frames: {n}", f"Frame Time: {frame_time:.8f}"]
    angles = np.zeros((n, len(names), 3))
    for j in range(len(names)):
        previous = None
        for f in range(n):
            matrix = Matrix(local_rotations[f, j].tolist())
            euler = matrix.to_euler(ORDER[::-1], previous) if previous is not None else matrix.to_euler(ORDER[::-1])
            previous = euler
            angles[f, j] = [np.degrees(euler["XYZ".index(axis)]) for axis in ORDER]
    for f in range(n):
        values = list(root_positions[f])
        for j in order:
            values.extend(angles[f, j])
        lines.append(" ".join(f"{v:.6f}" for v in values))
    return "\n".join(lines) + "\n"


def write_bvh(path: Path, armature: bpy.types.Object, fps: float, up: str = "Y", frames: tuple[int, int] | None = None) -> int:
    """Write the motion of ZeDO rig ``armature`` (every frame of its action, or ``frames``
    first..last) to ``path``; returns the number of frames written."""
    if up not in AXES:
        raise ValueError(f"BVH up axis must be one of {', '.join(AXES)}, got {up!r}")
    if frames is None:
        frames = action_frame_range(armature)
        if frames is None:
            raise ValueError(f"rig '{armature.name}' has no keyed motion to export")
    frame_numbers = np.arange(frames[0], frames[1] + 1)
    names = [b.name for b in BONES]
    world = np.array(armature.matrix_world)
    axes = AXES[up]
    posed = sample_pose(armature, frame_numbers, names)
    bones = armature.data.bones
    rest = {name: world @ np.array(bones[name].matrix_local) for name in names}
    heads = {name: axes @ rest[name][:3, 3] for name in names}
    parents = [names.index(b.parent) if b.parent else -1 for b in BONES]
    offsets = np.array([heads[n] - heads[names[p]] if p >= 0 else np.zeros(3) for n, p in zip(names, parents)])
    ends = {}
    for i, name in enumerate(names):
        if i not in parents:
            tail = world @ np.array(bones[name].matrix_local) @ np.array([0.0, bones[name].length, 0.0, 1.0])
            ends[i] = axes @ tail[:3] - heads[name]
    # World rotation of each bone since rest, in the file's axes; then relative to the parent joint.
    delta = np.stack(
        [axes @ _rotations(world @ posed[n]) @ _rotations(rest[n]).T @ axes.T for n in names], axis=1
    )
    local = delta.copy()
    for i, parent in enumerate(parents):
        if parent >= 0:
            local[:, i] = np.swapaxes(delta[:, parent], -1, -2) @ delta[:, i]
    root_positions = (axes @ (world @ posed[ROOT_BONE])[:, :3, 3, None])[..., 0]
    text = bvh_text(names, parents, offsets, ends, local, root_positions, 1.0 / fps)
    Path(path).write_text(text, encoding="utf-8")
    return len(frame_numbers)
