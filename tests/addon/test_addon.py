"""The add-on in real headless Blender: registration, panels, import, the Estimate operator."""

from __future__ import annotations

import json
from types import SimpleNamespace

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

from addon.helpers import EXAMPLE, data_counts, draw_panel, make_clip
from zedo_blender import estimate
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


def test_panel_draws_and_explains_why_it_cannot_run(empty_scene, tmp_path):
    log, icons, _ = draw_panel()
    assert "label Choose the movie clip with the person's tracks" in log
    assert icons["Choose the movie clip with the person's tracks"] == "INFO"
    empty_scene.zedo.clip = make_clip(tmp_path, (640, 480))
    log, icons, inactive = draw_panel()
    assert sum(entry.startswith("prop_search track_") for entry in log) == 17
    assert any(entry.startswith("label No tracks yet") for entry in log)
    assert "operator zedo.estimate_pose" in log
    # Normal situations (no tracks yet, the 60-degree fallback) are not errors.
    assert "ERROR" not in icons.values(), icons
    assert any(text.startswith("Guessed (60° field of view)") and icon == "INFO" for text, icon in icons.items())
    assert "field_of_view" not in inactive  # the guess uses it
    # The default tracking object is explained, and joint rows say where the marker goes.
    assert any("not a camera" in text for text in icons)
    assert "prop_search track_neck Nose" in log and "prop_search track_head Head Top" in log
    hover = empty_scene.zedo.bl_rna.properties["track_thorax"].description
    assert "base of the neck" in hover
    clip = empty_scene.zedo.clip
    clip.tracking.objects.active.tracks.new(name="left_knee", frame=1)
    empty_scene.zedo.track_left_knee = "left_knee"
    empty_scene.zedo.track_left_elbow = "no such track"
    log, icons, _ = draw_panel()
    assert icons["No track named as mapped for: Left Elbow"] == "ERROR"  # an error to fix
    bpy.context.window_manager.zedo_run.running = True
    log, _, _ = draw_panel()
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


def test_import_takes_the_files_camera_and_frame_rate(empty_scene, tmp_path, example):
    clip = make_clip(tmp_path, (960, 540))  # half the detections' 1920 x 1080: K is scaled with them
    empty_scene.zedo.clip = clip
    assert clip.fps == 0 and empty_scene.render.fps == 24  # an image sequence knows no frame rate
    assert _import(EXAMPLE) == {"FINISHED"}
    camera = clip.tracking.camera
    assert camera.focal_length_pixels == pytest.approx(example["K"][0, 0] / 2, rel=1e-5)
    assert tuple(camera.principal_point_pixels) == pytest.approx((example["K"][0, 2] / 2, 540 - example["K"][1, 2] / 2))
    assert empty_scene.render.fps / empty_scene.render.fps_base == pytest.approx(float(example["fps"]))
    choice = estimate.choose_camera(empty_scene.zedo)
    assert choice.calibrated and choice.source == "file"
    np.testing.assert_allclose(choice.K, example["K"] / [[2], [2], [1]], rtol=1e-5)
    log, icons, inactive = draw_panel()
    label = "From the file (walking_example.npz): focal length 750 px"
    assert icons[label] == "CAMERA_DATA" and "field_of_view" in inactive and "ERROR" not in icons.values()
    camera.focal_length_pixels = 800.0  # calibrated by the user since
    assert estimate.choose_camera(empty_scene.zedo).description == "Calibrated clip camera: focal length 800 px"
    # Without those options nothing but the tracks is imported.
    empty_scene.render.fps = 24
    camera.focal_length = 24.0
    assert _import(EXAMPLE, use_file_camera=False, use_file_fps=False) == {"FINISHED"}
    assert empty_scene.render.fps == 24 and camera.focal_length == pytest.approx(24.0)


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
    # The run's camera is the scene camera; the scene plays the estimated frames; the rig is the
    # retarget panel's source.
    assert empty_scene.camera == camera
    assert (empty_scene.frame_start, empty_scene.frame_end) == (clip.frame_start, clip.frame_start + 89)
    assert empty_scene.zedo.retarget_source == rig
    assert np.mean(errors_px) < 4.0 and np.percentile(errors_px, 95) < 10.0  # video mode trades ~1 px for steadiness
    assert np.mean(errors_3d) < 80.0


def test_markers_left_to_the_prior_are_named_by_scene_frame():
    released = np.zeros((5, 17), dtype=bool)
    released[[1, 3], 6] = released[3, 13] = True
    request = SimpleNamespace(frame_start=101)
    message = estimate.released_markers_message(request, SimpleNamespace(released_in_answer=released))
    assert message.startswith("3 marker(s) looked misplaced") and message.endswith("frames 102, 104")
    assert estimate.released_markers_message(request, SimpleNamespace(released_in_answer=released & False)) is None


def test_estimate_without_mapping_explains(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (640, 480))
    empty_scene.zedo.clip = clip
    assert not bpy.ops.zedo.estimate_pose.poll()
    assert "No tracks yet" in estimate.readiness(empty_scene.zedo)
    clip.tracking.objects.active.tracks.new(name="a track", frame=1)
    reason = estimate.readiness(empty_scene.zedo)
    assert "Map at least 4 joints" in reason and not reason.error


def test_cancelled_run_leaves_scene_unchanged(empty_scene, tmp_path, example):
    _clip_with_tracks(empty_scene, tmp_path, example)
    before = data_counts()
    request = estimate.gather_request(bpy.context, empty_scene.zedo, estimate.EstimateSettings())
    job = EngineJob(request.run)
    job.cancel()
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


def test_a_body_file_is_lifted_with_and_save_body_writes_the_rigs_body(empty_scene, tmp_path, example):
    """An estimate stores the lifted actor's body on its rig; Save Body writes it (and makes it the
    Body for the next estimate); an estimate with a Body file lifts with it; a bad Body file is
    an error naming the file, before anything changes."""
    from zedo_core.body import median_bone_lengths, read_body, write_body
    from zedo_core.skeleton import bone_lengths

    _clip_with_tracks(empty_scene, tmp_path, example)
    settings = estimate.EstimateSettings(iterations=50)  # a handful of large steps would let the prior undo the pull
    request = estimate.gather_request(bpy.context, empty_scene.zedo, settings)
    assert request.bone_lengths is None
    lift_result = request.run()
    rig = estimate.apply_request(bpy.context, request, lift_result).armature
    body = np.array(rig[estimate.BODY_PROPERTY])
    np.testing.assert_allclose(body, median_bone_lengths(lift_result.poses3d[lift_result.valid]), rtol=1e-12)

    path = tmp_path / "actor.json"
    assert bpy.ops.zedo.save_body(filepath=str(path)) == {"FINISHED"}
    np.testing.assert_allclose(read_body(path), body, atol=5e-6)
    assert empty_scene.zedo.body_file == str(path)
    request = estimate.gather_request(bpy.context, empty_scene.zedo, settings)
    assert request.bone_lengths == read_body(path)
    taller = tmp_path / "taller.json"
    write_body(taller, body * 1.15)
    empty_scene.zedo.body_file = str(taller)
    request = estimate.gather_request(bpy.context, empty_scene.zedo, settings)
    off = np.abs(bone_lengths(lift_result.poses3d) - body * 1.15).mean()
    on = np.abs(bone_lengths(request.run().poses3d) - body * 1.15).mean()
    assert on < 0.5 * off

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "zedo-body", "version": 1, "bone_lengths": {}}')
    empty_scene.zedo.body_file = str(bad)
    before = data_counts()
    with pytest.raises(RuntimeError, match="bad.json.*'pelvis-right_hip'"):
        bpy.ops.zedo.estimate_pose()
    assert data_counts() == before
