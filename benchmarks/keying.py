"""Keying speed: a 1000-frame motion onto the rig, bulk (``foreach_set``) vs per-key ``keyframe_insert``.

    python benchmarks/keying.py [--frames 1000] [--json reports/keying.json]

Needs the ``bpy`` module. Both methods write the same channels (a quaternion per bone and the
root location, every frame) into a new action on the same armature; the ratio is measured in
one run on this machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import bpy
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zedo_blender import motion  # noqa: E402
from zedo_blender.rig import create_armature, key_motion  # noqa: E402
from zedo_blender.skeleton import BONES, ROOT_BONE  # noqa: E402


def walking_motion(frames: int) -> np.ndarray:
    """The bundled example's walk, looped to ``frames`` frames, camera frame."""
    with np.load(Path(__file__).resolve().parents[1] / "examples" / "walking_example.npz") as data:
        poses = data["true_poses3d"].astype(np.float64)
    return np.concatenate([poses] * (frames // len(poses) + 1))[:frames]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    bpy.ops.wm.read_factory_settings(use_empty=True)
    context = bpy.context
    poses = walking_motion(args.frames)
    world = motion.scene_frame(poses).to_world(poses)
    rest = motion.rest_joints(motion.body_proportions(world))
    rotations = motion.global_rotations(world, rest)
    frames = np.arange(1, args.frames + 1)

    bulk_rig = create_armature(context, context.scene.collection, "bulk", rest)
    start = time.perf_counter()
    key_motion(bulk_rig, "bulk", frames, rotations, world[:, 0], rest[0])
    bulk_s = time.perf_counter() - start

    # The same values, inserted one key at a time as most add-ons do.
    insert_rig = create_armature(context, context.scene.collection, "per_key", rest)
    from zedo_blender.rig import bone_rest_matrices

    quats = motion.continuous_quaternions(
        motion.matrices_to_quaternions(motion.local_rotations(rotations, bone_rest_matrices(insert_rig)))
    )
    root = (world[:, 0] - rest[0]) @ bone_rest_matrices(insert_rig)[[b.name for b in BONES].index(ROOT_BONE)]
    insert_rig.animation_data_create().action = bpy.data.actions.new("per_key")
    pose_bones = [insert_rig.pose.bones[b.name] for b in BONES]
    start = time.perf_counter()
    for f, frame in enumerate(frames):
        for i, pose_bone in enumerate(pose_bones):
            pose_bone.rotation_quaternion = quats[f, i]
            pose_bone.keyframe_insert("rotation_quaternion", frame=float(frame), group=pose_bone.name)
            if pose_bone.name == ROOT_BONE:
                pose_bone.location = root[f]
                pose_bone.keyframe_insert("location", frame=float(frame), group=pose_bone.name)
    insert_s = time.perf_counter() - start

    keys = args.frames * (4 * len(BONES) + 3)
    report = {
        "frames": args.frames,
        "bones": len(BONES),
        "keys": keys,
        "bulk_foreach_set_s": round(bulk_s, 4),
        "per_key_keyframe_insert_s": round(insert_s, 3),
        "speedup": round(insert_s / bulk_s, 1),
        "blender": bpy.app.version_string,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    print(
        f"{args.frames} frames x {len(BONES)} bones ({keys} keys), Blender {bpy.app.version_string}:\n"
        f"  bulk keyframe_points.add + foreach_set: {bulk_s:.3f} s\n"
        f"  per-key keyframe_insert:               {insert_s:.2f} s\n"
        f"  ratio: {insert_s / bulk_s:.0f}x faster"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
