"""BVH export: Y up by default (what Blender's BVH import expects), Z up on request."""

from __future__ import annotations

import bpy
import numpy as np
import pytest

from zedo_blender import batch
from zedo_blender.bvh import write_bvh
from zedo_blender.result import apply_motion
from zedo_blender.skeleton import BONE_NAMES


def _joints(rig, frame):
    bpy.context.scene.frame_set(frame)
    return np.array([rig.matrix_world @ rig.pose.bones[name].head for name in BONE_NAMES] + [rig.matrix_world @ rig.pose.bones["Head"].tail])


def _import(path, **axes):
    before = set(bpy.data.objects)
    bpy.ops.import_anim.bvh(filepath=str(path), **axes)
    return next(o for o in bpy.data.objects if o not in before)


@pytest.mark.parametrize(("up", "axes"), [("Y", {}), ("Z", {"axis_up": "Z", "axis_forward": "Y"})])
def test_bvh_reimports_onto_the_same_joints(empty_scene, example, tmp_path, up, axes):
    rig = apply_motion(bpy.context, example["true_poses3d"], example["K"], (1920, 1080), 1).armature
    path = tmp_path / f"walk_{up}.bvh"
    assert write_bvh(path, rig, 30.0, up) == 90
    text = path.read_text()
    assert "Frame Time: 0.03333333" in text and "CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" in text
    imported = _import(path, **axes)
    for frame in (1, 37, 90):
        np.testing.assert_allclose(_joints(imported, frame), _joints(rig, frame), atol=1e-4)
    if up == "Z":  # read with Blender's default (Y up), a Z-up file lies on its back
        lying = _import(path)
        joints = _joints(lying, 1)
        assert joints[:, 2].max() - joints[:, 2].min() < 0.6


def test_bvh_up_option():
    settings, jobs = batch.parse_args(["--bvh-up", "z", "--input", "in.npz", "--output", "o.blend"])
    assert jobs[0].bvh_up == "Z"
    assert batch.parse_args(["--input", "in.npz", "--output", "o.blend"])[1][0].bvh_up == "Y"
    with pytest.raises(SystemExit):
        batch.parse_args(["--bvh-up", "x", "--input", "in.npz", "--output", "o.blend"])
