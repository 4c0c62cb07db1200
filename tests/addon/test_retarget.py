"""Retargeting onto other rigs: a freshly generated Rigify rig, Mixamo / Unreal named A-pose rigs,
JSON bone maps, and a failed retarget leaving the target as it was."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from addon.helpers import UNREAL_NAMES, draw_panel, make_a_pose_rig
from tools.rigify_rig import make_rigify_rig
from zedo_blender import bone_maps, retarget
from zedo_blender.animation import assigned_fcurves
from zedo_blender.result import apply_motion


@pytest.fixture(scope="session")
def rigify_file(tmp_path_factory, addon):
    return make_rigify_rig(tmp_path_factory.mktemp("rigify") / "rigify_rig.blend")


def _walk(example):
    """The example's true walk on a ZeDO rig (no engine run needed)."""
    return apply_motion(bpy.context, example["true_poses3d"], example["K"], (1920, 1080), 1, name="walk").armature


@pytest.fixture
def rigify_scene(rigify_file, empty_scene, example):
    """(ZeDO rig with the walk, the Rigify rig appended from its file)."""
    source = _walk(example)
    with bpy.data.libraries.load(str(rigify_file)) as (_, appended):
        appended.objects = ["rig"]
    rig = appended.objects[0]
    empty_scene.collection.objects.link(rig)
    return source, rig


def _frames(source):
    return range(1, 91)


def _hinge_errors(armature, upper: str, lower: str, frames, min_bend: float = 15.0) -> np.ndarray:
    """Angle between the bend plane's normal and the target's own hinge (the rest bend normal
    carried by the lower bone), at frames where the limb bends more than ``min_bend`` degrees."""
    bones, pose = armature.data.bones, armature.pose.bones
    rest_normal = np.cross(np.array(bones[upper].tail_local - bones[upper].head_local), np.array(bones[lower].tail_local - bones[lower].head_local))
    hinge = np.array(bones[lower].matrix_local.to_3x3()).T @ (rest_normal / np.linalg.norm(rest_normal))
    errors = []
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        u, v = np.array(pose[upper].tail - pose[upper].head), np.array(pose[lower].tail - pose[lower].head)
        if np.degrees(np.arccos(min(1.0, u @ v / np.linalg.norm(u) / np.linalg.norm(v)))) < min_bend:
            continue
        normal = np.cross(u, v) / np.linalg.norm(np.cross(u, v))
        errors.append(np.degrees(np.arccos(np.clip(normal @ (np.array(pose[lower].matrix.to_3x3()) @ hinge), -1, 1))))
    return np.array(errors)


def test_rigify_limbs_point_where_the_zedo_limbs_do(rigify_scene):
    source, rig = rigify_scene
    done = retarget.retarget(bpy.context, source, rig)
    assert done.bone_map.name == "Rigify" and done.frames == (1, 90) and not done.nonrigid
    assert rig.animation_data.action == done.action
    checked = retarget.check(bpy.context, source, rig, done.bone_map, _frames(source))
    assert {"LeftArm", "LeftForeArm", "LeftUpLeg", "LeftLeg", "RightArm", "RightForeArm"} <= set(checked.segments)
    assert checked.angles_deg.max() < 1.0
    # Feet on the ground: the ankles as high as the ZeDO rig's, to the rigs' ankle heights' difference.
    assert np.abs(checked.ankles_target - checked.ankles_source).max() < 0.03
    assert checked.ankles_target.min() > 0.05
    # The deform bones (what the mesh follows) agree with the FK controls.
    bpy.context.scene.frame_set(40)
    for zedo, first, second in (("LeftForeArm", "DEF-forearm.L", "DEF-hand.L"), ("RightLeg", "DEF-shin.R", "DEF-foot.R")):
        a = np.array(source.pose.bones[zedo].tail - source.pose.bones[zedo].head)
        b = np.array(rig.pose.bones[second].head - rig.pose.bones[first].head)
        assert np.degrees(np.arccos(min(1.0, a @ b / np.linalg.norm(a) / np.linalg.norm(b)))) < 1.0
    # FK, keyed: the action carries the switches.
    curves = assigned_fcurves(rig)
    for bone in ("upper_arm_parent.L", "upper_arm_parent.R", "thigh_parent.L", "thigh_parent.R"):
        assert rig.pose.bones[bone]["IK_FK"] == 1.0
        assert curves[(f'pose.bones["{bone}"]["IK_FK"]', 0)].evaluate(1.0) == 1.0
    # Twist-free: knees and elbows bend about the Rigify rig's own hinges, not sideways.
    for upper, lower in (("ORG-thigh.L", "ORG-shin.L"), ("ORG-upper_arm.L", "ORG-forearm.L"), ("ORG-upper_arm.R", "ORG-forearm.R")):
        errors = _hinge_errors(rig, upper, lower, _frames(source))
        assert len(errors) > 10 and np.median(errors) < 3.0 and errors.max() < 10.0, (upper, errors)
    # Rotations are keyed in each control's own rotation mode (shoulder.L is Euler YXZ).
    assert rig.pose.bones["shoulder.L"].rotation_mode == "YXZ"
    assert ('pose.bones["shoulder.L"].rotation_euler', 0) in curves


@pytest.mark.parametrize("naming", ["mixamo", "unreal"])
def test_a_pose_rig_with_fbx_axes(empty_scene, example, naming):
    source = _walk(example)
    rename = (lambda n: "mixamorig:" + n) if naming == "mixamo" else UNREAL_NAMES.get
    target = make_a_pose_rig("character", rename)
    done = retarget.retarget(bpy.context, source, target)
    assert done.bone_map.name == {"mixamo": "Mixamo", "unreal": "Unreal mannequin"}[naming]
    checked = retarget.check(bpy.context, source, target, done.bone_map, _frames(source))
    assert checked.angles_deg.max() < 1.0, dict(zip(checked.segments, checked.angles_deg.max(0)))
    # Scaled to the target: its legs are shorter; the root travels the scaled distance.
    legs = lambda rig, names: sum(  # noqa: E731
        (rig.matrix_world @ rig.data.bones[b].tail_local - rig.matrix_world @ rig.data.bones[b].head_local).length for b in names
    )
    hip, knee = rename("LeftUpLeg"), rename("LeftLeg")
    knee_to_ankle = (target.matrix_world @ target.data.bones[rename("LeftFoot")].head_local - target.matrix_world @ target.data.bones[knee].head_local).length
    hip_to_knee = (target.matrix_world @ target.data.bones[knee].head_local - target.matrix_world @ target.data.bones[hip].head_local).length
    assert done.scale == pytest.approx((hip_to_knee + knee_to_ankle) / legs(source, ("LeftUpLeg", "LeftLeg")), rel=1e-3)
    assert 0.8 < done.scale < 0.95
    scene = bpy.context.scene
    travel = []
    for rig, bone in ((source, "LeftUpLeg"), (target, hip)):
        points = []
        for frame in (1, 90):
            scene.frame_set(frame)
            points.append(np.array(rig.matrix_world @ rig.pose.bones[bone].head))
        travel.append(np.linalg.norm((points[1] - points[0])[:2]))
    assert travel[1] == pytest.approx(done.scale * travel[0], rel=0.05)
    # Feet on the ground, and kept level (the rest pitch of the foot bone).
    rest_ankle = (target.matrix_world @ target.data.bones[rename("LeftFoot")].head_local).z
    source_rest_ankle = (source.matrix_world @ source.data.bones["LeftLeg"].tail_local).z
    wanted = rest_ankle + done.scale * (checked.ankles_source.min(axis=1) - source_rest_ankle)
    np.testing.assert_allclose(checked.ankles_target.min(axis=1), wanted, atol=1e-3)
    assert np.abs(checked.ankles_target - checked.ankles_source).max() < 0.1
    foot = target.pose.bones[rename("LeftFoot")]
    rest_dir = target.matrix_world.to_3x3() @ (target.data.bones[foot.name].tail_local - target.data.bones[foot.name].head_local)
    for frame in (10, 50, 80):
        scene.frame_set(frame)
        posed = target.matrix_world.to_3x3() @ (foot.tail - foot.head)
        assert np.degrees(abs(np.arcsin(posed.normalized().z) - np.arcsin(rest_dir.normalized().z))) < 1.0
    # The head: the target's neck leaves its rest carriage (relative to the chest) by as much as
    # the ZeDO neck leaves the neutral one; its rest neck is not tipped 40 degrees forward.
    chest, neck, head = rename("Spine2"), rename("Neck"), rename("Head")
    for frame in (5, 45, 85):
        scene.frame_set(frame)
        zedo = _local_direction(source, "Spine", source.pose.bones["Neck"].head, source.pose.bones["Neck"].tail)
        zedo_turn = np.degrees(np.arccos(zedo @ np.array((0.0, -0.669, 0.743)) / np.linalg.norm((0.0, -0.669, 0.743))))
        posed = _local_direction(target, chest, target.pose.bones[neck].head, target.pose.bones[head].head)
        bones = target.data.bones
        rest = _local_direction(target, chest, bones[neck].head_local, bones[head].head_local, rest=True)
        assert np.degrees(np.arccos(np.clip(posed @ rest, -1, 1))) == pytest.approx(zedo_turn, abs=1.0)
    # Hinges: knees and elbows bend about the target's own (rest) hinge.
    for upper, lower in (("LeftUpLeg", "LeftLeg"), ("RightArm", "RightForeArm")):
        errors = _hinge_errors_by_heads(target, rename(upper), rename(lower), rename({"LeftLeg": "LeftFoot", "RightForeArm": "RightHand"}[lower]))
        assert len(errors) == 0 or (np.median(errors) < 3.0 and errors.max() < 10.0), errors


def _local_direction(rig, chest: str, head, tail, rest: bool = False) -> np.ndarray:
    """Unit direction ``head -> tail`` (armature space) in the world, turned back by the chest
    bone's rotation since its rest pose (so: as if the chest were at rest)."""
    world = np.array(rig.matrix_world.to_3x3().normalized())
    direction = world @ np.array(tail - head)
    if not rest:
        posed = world @ np.array(rig.pose.bones[chest].matrix.to_3x3())
        at_rest = world @ np.array(rig.data.bones[chest].matrix_local.to_3x3())
        direction = (posed @ at_rest.T).T @ direction
    return direction / np.linalg.norm(direction)


def _hinge_errors_by_heads(armature, upper: str, lower: str, end: str) -> np.ndarray:
    """:func:`_hinge_errors` for a rig whose lower bone does not point at its end (``end``'s head)."""
    bones, pose = armature.data.bones, armature.pose.bones
    rest_normal = np.cross(np.array(bones[lower].head_local - bones[upper].head_local), np.array(bones[end].head_local - bones[lower].head_local))
    hinge = np.array(bones[lower].matrix_local.to_3x3()).T @ (rest_normal / np.linalg.norm(rest_normal))
    errors = []
    for frame in range(1, 91, 3):
        bpy.context.scene.frame_set(frame)
        u, v = np.array(pose[lower].head - pose[upper].head), np.array(pose[end].head - pose[lower].head)
        if np.degrees(np.arccos(min(1.0, u @ v / np.linalg.norm(u) / np.linalg.norm(v)))) < 15.0:
            continue
        normal = np.cross(u, v) / np.linalg.norm(np.cross(u, v))
        errors.append(np.degrees(np.arccos(np.clip(normal @ (np.array(pose[lower].matrix.to_3x3()) @ hinge), -1, 1))))
    return np.array(errors)


def test_other_names_need_a_json_bone_map(empty_scene, example):
    source = _walk(example)
    names = {n: "bn_" + n.lower() for n in UNREAL_NAMES}
    target = make_a_pose_rig("custom", names.get, fbx_axes=False)
    with pytest.raises(retarget.RetargetError, match="no built-in bone map fits armature 'custom'"):
        retarget.retarget(bpy.context, source, target)
    text = json.dumps(
        {
            "name": "custom",
            "bones": {
                "Hips": "bn_hips", "Spine": ["bn_spine", "bn_spine1", "bn_spine2"], "Neck": "bn_neck", "Head": "bn_head",
                "LeftArm": "bn_leftarm", "LeftForeArm": "bn_leftforearm", "LeftUpLeg": "bn_leftupleg", "LeftLeg": "bn_leftleg",
                "RightUpLeg": "bn_rightupleg", "RightLeg": "bn_rightleg",
            },
            "ends": {"LeftForeArm": "bn_lefthand", "LeftLeg": "bn_leftfoot", "RightLeg": "bn_rightfoot"},
        }
    )
    bone_map = bone_maps.parse_bone_map(text, "custom.json")
    done = retarget.retarget(bpy.context, source, target, bone_map)
    checked = retarget.check(bpy.context, source, target, done.bone_map, range(1, 91, 5))
    assert set(checked.segments) == {"LeftArm", "LeftForeArm", "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg"}
    assert checked.angles_deg.max() < 1.0
    # Unmapped bones stay at rest.
    assert target.pose.bones["bn_rightarm"].matrix_basis == target.pose.bones["bn_rightarm"].matrix_basis.Identity(4)
    # The template a user edits round-trips.
    assert bone_maps.parse_bone_map(bone_map.to_json(), "again") == bone_map


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "custom.json: not valid JSON (line 1, column 2"),
        ("[1, 2]", "a bone map is a JSON object"),
        ('{"Hips": "pelvis", "LeftElbow": "x"}', "unknown ZeDO bone 'LeftElbow'"),
        ('{"Spine": "spine_01"}', "'Hips' must be mapped"),
        ('{"Hips": 3}', "'Hips' must name a target bone"),
        ('{"bones": {"Hips": "pelvis"}, "extra": 1}', "unknown key(s) extra"),
        ('{"bones": {"Hips": "pelvis"}, "properties": {"torso": {"x": "on"}}}', "properties: 'torso'"),
    ],
)
def test_bad_bone_maps_name_the_problem(text, message):
    with pytest.raises(bone_maps.BoneMapError) as error:
        bone_maps.parse_bone_map(text, "custom.json")
    assert message in str(error.value)


def test_bone_map_naming_a_missing_bone(empty_scene):
    target = make_a_pose_rig("character", lambda n: "mixamorig:" + n)
    bone_map = bone_maps.parse_bone_map('{"Hips": "mixamorig:Hips", "Head": "mixamorig:Skull"}', "map.json")
    with pytest.raises(bone_maps.BoneMapError, match="bone 'mixamorig:Skull' \\(for Head\\) is not in armature 'character'"):
        bone_map.check(target.data.bones.keys(), target.name)


def test_built_in_maps_are_detected_by_bone_names():
    mixamo = [name for name in ("Hips", "Spine", "Spine1", "Neck", "Head", "LeftArm", "LeftForeArm", "RightArm", "RightForeArm",
                                "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg", "LeftFoot")]
    found = bone_maps.detect(["mixamorig1:" + n for n in mixamo])
    assert found.name == "Mixamo" and found.bones["Spine"] == ("mixamorig1:Spine", "mixamorig1:Spine1")
    assert found.bones["LeftFoot"] == ("mixamorig1:LeftFoot",) and "RightFoot" not in found.bones
    assert bone_maps.detect(mixamo).bones["Hips"] == ("Hips",)  # no prefix (e.g. a ZeDO rig)
    ue5 = ["pelvis", "spine_01", "spine_02", "spine_03", "spine_04", "spine_05", "neck_01", "neck_02", "head", "upperarm_l",
           "lowerarm_l", "upperarm_r", "lowerarm_r", "thigh_l", "calf_l", "thigh_r", "calf_r"]
    assert bone_maps.detect(ue5).bones["Spine"] == ("spine_01", "spine_02", "spine_03", "spine_04", "spine_05")
    assert bone_maps.detect(["root", "spine", "thigh.L"]) is None


def test_failed_retarget_leaves_the_target_as_it_was(rigify_scene, monkeypatch):
    source, rig = rigify_scene
    previous = bpy.data.actions.new("user's action")
    rig.animation_data_create().action = previous
    rig.pose.bones["head"].rotation_quaternion = (0.9, 0.1, 0.2, 0.3)
    rig.pose.bones["torso"]["head_follow"] = 0.25
    actions = len(bpy.data.actions)

    def broken(*args, **kwargs):
        raise RuntimeError("keying failed")

    monkeypatch.setattr(retarget.ActionWriter, "curve", broken)
    with pytest.raises(RuntimeError, match="keying failed"):
        retarget.retarget(bpy.context, source, rig)
    assert rig.animation_data.action == previous and len(bpy.data.actions) == actions
    assert tuple(rig.pose.bones["head"].rotation_quaternion) == pytest.approx((0.9, 0.1, 0.2, 0.3))
    assert rig.pose.bones["torso"]["head_follow"] == 0.25
    assert rig.pose.bones["upper_arm_parent.L"]["IK_FK"] == 0.0
    monkeypatch.undo()
    done = retarget.retarget(bpy.context, source, rig)
    assert previous.use_fake_user and done.action != previous  # the user's action survives saving


def test_source_must_be_a_keyed_zedo_rig(rigify_scene):
    source, rig = rigify_scene
    with pytest.raises(retarget.RetargetError, match="'rig' is not a ZeDO rig"):
        retarget.retarget(bpy.context, rig, source)
    with pytest.raises(retarget.RetargetError, match="the ZeDO rig itself"):
        retarget.retarget(bpy.context, source, source)
    source.animation_data.action = None
    with pytest.raises(retarget.RetargetError, match="has no keyed motion"):
        retarget.retarget(bpy.context, source, rig)


def test_panel_operator_retargets_with_a_bone_map_text(empty_scene, example):
    from zedo_blender import ui

    source = _walk(example)
    target = make_a_pose_rig("character", lambda n: "mixamorig:" + n)
    settings = empty_scene.zedo
    assert not bpy.ops.zedo.retarget.poll()
    settings.retarget_source, settings.retarget_target = source, target
    log, icons, _ = draw_panel(ui.draw_retarget_ui)
    assert icons["Mixamo map: 16 of 16 ZeDO bones placed"] == "INFO" and "operator zedo.retarget" in log
    assert bpy.ops.zedo.retarget() == {"FINISHED"}
    first = target.animation_data.action
    assert first.name == "walk rig on character"
    # A bone map text to edit: the detected map, as JSON.
    assert bpy.ops.zedo.new_bone_map() == {"FINISHED"}
    text = settings.bone_map_text
    assert settings.bone_map == "TEXT" and json.loads(text.as_string())["bones"]["LeftArm"] == "mixamorig:LeftArm"
    text.from_string(text.as_string().replace('"mixamorig:Head"', '"mixamorig:Skull"'))
    log, icons, _ = draw_panel(ui.draw_retarget_ui)
    message = "bone map 'Mixamo': bone 'mixamorig:Skull' (for Head) is not in armature 'character'"
    assert icons[message] == "ERROR"
    with pytest.raises(RuntimeError, match="mixamorig:Skull"):
        bpy.ops.zedo.retarget()
    assert target.animation_data.action == first  # nothing changed
    text.from_string(text.as_string().replace('"mixamorig:Skull"', '"mixamorig:Head"'))
    assert bpy.ops.zedo.retarget() == {"FINISHED"}
    assert target.animation_data.action != first and first.use_fake_user
