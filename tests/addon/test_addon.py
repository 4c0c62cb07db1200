"""The add-on in real headless Blender: registration, panels, import, the Estimate operator."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from addon.helpers import EXAMPLE, data_counts, make_clip
from zedo_blender import estimate, ui
from zedo_blender.jobs import EngineJob
from zedo_blender.result import apply_motion
from zedo_blender.skeleton import BONE_NAMES, BONES, JOINT_NAMES


def test_register_unregister_twice():
    import zedo_blender

    for _ in range(2):
        zedo_blender.register()
        assert hasattr(bpy.ops.zedo, "estimate_pose") and hasattr(bpy.types.Scene, "zedo")
        zedo_blender.unregister()
        assert not hasattr(bpy.types.Scene, "zedo")
        assert not hasattr(bpy.types, "ZEDO_PT_clip_estimate")


class RecordingLayout:
    """Stands in for ``UILayout`` in background mode; checks every property the panel draws exists."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def _check(self, data, name: str) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"

    def prop(self, data, name, **kwargs):
        self._check(data, name)
        self.log.append(f"prop {name}")

    def prop_search(self, data, name, search_data, search_name, **kwargs):
        self._check(data, name)
        self._check(search_data, search_name)
        self.log.append(f"prop_search {name}")

    def template_ID(self, data, name, **kwargs):
        self._check(data, name)

    def operator(self, idname, **kwargs):
        module, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, module), name), idname
        self.log.append(f"operator {idname}")

    def label(self, text="", **kwargs):
        self.log.append(f"label {text}")

    def progress(self, **kwargs):
        self.log.append("progress")

    def __getattr__(self, name):  # row(), column(), box(), split()...: nested layouts
        return lambda *args, **kwargs: RecordingLayout(self.log)

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)


def test_panel_draws_and_explains_why_it_cannot_run(empty_scene, tmp_path):
    log: list[str] = []
    ui.draw_estimate_ui(RecordingLayout(log), bpy.context)
    assert "label Choose the movie clip with the person's tracks" in log
    empty_scene.zedo.clip = make_clip(tmp_path, (640, 480))
    log.clear()
    ui.draw_estimate_ui(RecordingLayout(log), bpy.context)
    assert sum(entry.startswith("prop_search track_") for entry in log) == 17
    assert any(entry.startswith("label Map at least 4 joints") for entry in log)
    assert "operator zedo.estimate_pose" in log
    bpy.context.window_manager.zedo_run.running = True
    log.clear()
    ui.draw_estimate_ui(RecordingLayout(log), bpy.context)
    bpy.context.window_manager.zedo_run.running = False
    assert "progress" in log and "operator zedo.estimate_pose" not in log


def _import(path, **kwargs):
    return bpy.ops.zedo.import_keypoints(filepath=str(path), **kwargs)


def _track_points(tracking_object, name, clip):
    track = tracking_object.tracks[name]
    w, h = clip.size
    return {m.frame: (m.co[0] * w, (1 - m.co[1]) * h, m.mute) for m in track.markers}


def test_import_npz_creates_a_track_per_joint(empty_scene, tmp_path, example):
    clip = make_clip(tmp_path, tuple(example["image_size"]))
    empty_scene.zedo.clip = clip
    assert _import(EXAMPLE) == {"FINISHED"}
    tracking_object = clip.tracking.objects[empty_scene.zedo.tracking_object]
    assert sorted(t.name for t in tracking_object.tracks) == sorted(JOINT_NAMES)
    points = _track_points(tracking_object, "left_elbow", clip)
    frame = clip.frame_start + 10
    np.testing.assert_allclose(points[frame][:2], example["keypoints"][10, 12], atol=1e-2)
    hidden = np.flatnonzero(example["confidence"][:, 13] == 0)
    wrist = _track_points(tracking_object, "left_wrist", clip)
    assert all(clip.frame_start + i not in wrist or wrist[clip.frame_start + i][2] for i in hidden)
    assert empty_scene.zedo.track_names() == list(JOINT_NAMES)


def test_import_coco_json_derives_pelvis(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (640, 480))
    empty_scene.zedo.clip = clip
    rng = np.random.default_rng(0)
    results = []
    for image_id in range(3):
        xy = rng.uniform(100, 400, size=(17, 2))
        results.append({"image_id": image_id, "category_id": 1, "score": 0.9,
                        "keypoints": np.concatenate([xy, np.full((17, 1), 0.8)], 1).ravel().tolist()})
    path = tmp_path / "detections.json"
    path.write_text(json.dumps(results))
    assert _import(path, layout="coco") == {"FINISHED"}
    tracking_object = clip.tracking.objects["detections"]
    pelvis = _track_points(tracking_object, "pelvis", clip)
    xy = np.array(results[1]["keypoints"]).reshape(17, 3)
    np.testing.assert_allclose(pelvis[clip.frame_start + 1][:2], 0.5 * (xy[11, :2] + xy[12, :2]), atol=1e-2)


def test_import_openpose_folder(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (640, 480))
    empty_scene.zedo.clip = clip
    folder = tmp_path / "openpose"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        kp = np.concatenate([rng.uniform(100, 400, size=(25, 2)), np.full((25, 1), 0.9)], 1)
        (folder / f"clip_{i:012d}_keypoints.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": kp.ravel().tolist()}]}))
    assert _import(folder / "clip_000000000002_keypoints.json") == {"FINISHED"}
    tracking_object = clip.tracking.objects[empty_scene.zedo.tracking_object]
    assert len(_track_points(tracking_object, "left_knee", clip)) == 4
    assert empty_scene.zedo.frame_end - empty_scene.zedo.frame_start + 1 == 4


def test_import_bad_file_reports_and_changes_nothing(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (640, 480))
    empty_scene.zedo.clip = clip
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    objects_before = len(clip.tracking.objects)
    with pytest.raises(RuntimeError, match="broken.json"):
        _import(bad)
    assert len(clip.tracking.objects) == objects_before


def _clip_with_tracks(scene, tmp_path, example):
    clip = make_clip(tmp_path, tuple(example["image_size"]))
    camera = clip.tracking.camera
    K = example["K"]
    camera.sensor_width = 36.0
    camera.focal_length_pixels = float(K[0, 0])
    camera.principal_point_pixels = (float(K[0, 2]), float(clip.size[1] - K[1, 2]))
    scene.zedo.clip = clip
    assert _import(EXAMPLE) == {"FINISHED"}
    return clip


def _joint_world_positions(armature):
    pose = armature.pose.bones
    joints = np.zeros((17, 3))
    for bone in BONES:
        joints[bone.head] = armature.matrix_world @ pose[bone.name].head
        joints[bone.tail] = armature.matrix_world @ pose[bone.name].tail
    return joints


def test_estimate_keys_joints_onto_the_tracks(empty_scene, tmp_path, example):
    clip = _clip_with_tracks(empty_scene, tmp_path, example)
    before = data_counts()
    assert bpy.ops.zedo.estimate_pose() == {"FINISHED"}
    after = data_counts()
    assert after["armatures"] == before["armatures"] + 1 and after["actions"] == before["actions"] + 1
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    camera = next(o for o in bpy.data.objects if o.type == "CAMERA")
    assert rig.animation_data.action is not None
    assert sorted(b.name for b in rig.data.bones) == sorted(BONE_NAMES)
    errors_px, errors_3d = [], []
    width, height = clip.size
    truth = example["true_poses3d"]
    for i in range(0, 90, 7):
        empty_scene.frame_set(clip.frame_start + i)
        joints = _joint_world_positions(rig)
        for j in range(17):
            co = world_to_camera_view(empty_scene, camera, Vector(joints[j]))
            uv = np.array([co.x * width, (1 - co.y) * height])
            if example["confidence"][i, j] > 0:
                errors_px.append(np.linalg.norm(uv - example["keypoints"][i, j]))
        rel = joints - joints[0]
        true_rel = truth[i] - truth[i, 0]
        # Compare shapes: the rig is in world axes, the truth in camera axes: align with Procrustes.
        u, _, vt = np.linalg.svd(true_rel.T @ rel)
        errors_3d.append(np.linalg.norm(rel @ (u @ vt).T - true_rel, axis=1).mean() * 1000)
    print(f"reprojection {np.mean(errors_px):.2f} px (max {np.max(errors_px):.2f}); 3D {np.mean(errors_3d):.1f} mm")
    assert np.mean(errors_px) < 4.0 and np.percentile(errors_px, 95) < 10.0  # video mode trades ~1 px for steadiness
    assert np.mean(errors_3d) < 80.0


def test_estimate_without_mapping_explains(empty_scene, tmp_path):
    empty_scene.zedo.clip = make_clip(tmp_path, (640, 480))
    assert not bpy.ops.zedo.estimate_pose.poll()
    assert "Map at least 4 joints" in estimate.readiness(empty_scene.zedo)


def test_cancelled_run_leaves_scene_unchanged(empty_scene, tmp_path, example):
    _clip_with_tracks(empty_scene, tmp_path, example)
    before = data_counts()
    request = estimate.gather_request(bpy.context, empty_scene.zedo, estimate.EstimateSettings())
    job = EngineJob(request.run)
    job.cancel(wait=False)
    job.start().wait()
    assert type(job.error).__name__ == "LiftCancelled"
    assert data_counts() == before


def test_failed_apply_rolls_back(empty_scene, tmp_path, example, monkeypatch):
    from zedo_blender import result

    def broken(*args, **kwargs):
        raise RuntimeError("camera failed")

    monkeypatch.setattr(result, "create_camera", broken)
    before = data_counts()
    with pytest.raises(RuntimeError, match="camera failed"):
        apply_motion(bpy.context, example["true_poses3d"], example["K"], (1920, 1080), 1)
    assert data_counts() == before


def test_existing_action_is_never_overwritten(empty_scene, example):
    first = apply_motion(bpy.context, example["true_poses3d"], example["K"], (1920, 1080), 1)
    keys_before = _key_count(first.action)
    second = apply_motion(bpy.context, example["true_poses3d"][::-1], example["K"], (1920, 1080), 1)
    assert second.action != first.action and second.armature != first.armature
    assert first.armature.animation_data.action == first.action
    assert _key_count(first.action) == keys_before


def _key_count(action) -> int:
    if hasattr(action, "layers"):
        curves = [fc for layer in action.layers for strip in layer.strips for bag in strip.channelbags for fc in bag.fcurves]
    else:
        curves = list(action.fcurves)
    return sum(len(fc.keyframe_points) for fc in curves)


def test_keys_every_bone_as_quaternions(empty_scene, example):
    result = apply_motion(bpy.context, example["true_poses3d"], example["K"], (1920, 1080), 1)
    assert _key_count(result.action) == 90 * (4 * len(BONES) + 3)
    assert all(pb.rotation_mode == "QUATERNION" for pb in result.armature.pose.bones)


def test_uncalibrated_clip_camera_falls_back_to_a_field_of_view_guess(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (1000, 500))
    empty_scene.zedo.clip = clip
    choice = estimate.choose_camera(empty_scene.zedo)
    assert not choice.calibrated and "field of view" in choice.description
    assert choice.K[0, 0] == pytest.approx(500 / np.tan(np.radians(30)))
    clip.tracking.camera.focal_length = 50.0
    assert estimate.choose_camera(empty_scene.zedo).calibrated
    empty_scene.zedo.camera_source = "FOV"
    assert not estimate.choose_camera(empty_scene.zedo).calibrated


def test_actor_height_scales_the_rig(empty_scene, example):
    result = apply_motion(bpy.context, example["true_poses3d"], example["K"], (1920, 1080), 1, actor_height=1.95)
    assert abs(result.height_m - 1.95) < 0.05
    with pytest.raises(ValueError, match="height"):
        apply_motion(bpy.context, example["true_poses3d"], example["K"], (1920, 1080), 1, actor_height=0.0)


def test_tracks_named_like_joints_are_mapped_automatically(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (640, 480))
    tracks = clip.tracking.objects.active.tracks
    for name in ("LeftShoulder", "r_knee", "Hips", "mixamorig:Head", "something_else"):
        tracks.new(name=name, frame=1)
    empty_scene.zedo.clip = clip  # picks the active tracking object, which fills the empty table
    settings = empty_scene.zedo
    assert settings.track_left_shoulder == "LeftShoulder" and settings.track_right_knee == "r_knee"
    assert settings.track_pelvis == "Hips" and settings.track_head == "mixamorig:Head"
    settings.track_pelvis = ""
    settings.tracking_object = settings.tracking_object  # a started mapping is left alone
    assert settings.track_pelvis == ""
    assert bpy.ops.zedo.auto_map_tracks() == {"FINISHED"} and settings.track_pelvis == "Hips"
