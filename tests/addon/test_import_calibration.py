"""File > Import > 2D Keypoints with a calibration file: it sets the clip's camera."""

from __future__ import annotations

import json

import bpy
import numpy as np
import pytest

from addon.helpers import make_clip
from zedo_blender.estimate import camera_from_file
from zedo_blender.tracks import clip_intrinsics

CALIBRATION = """
[cam_01]
name = "cam_01"
size = [ 640.0, 480.0]
matrix = [ [ 700.0, 0.0, 322.5], [ 0.0, 702.0, 238.0], [ 0.0, 0.0, 1.0]]
distortions = [ -0.12, 0.03, 0.001, -0.002]
fisheye = false

[cam_02]
name = "cam_02"
size = [ 1280.0, 960.0]
matrix = [ [ 1500.0, 0.0, 640.0], [ 0.0, 1500.0, 480.0], [ 0.0, 0.0, 1.0]]
distortions = [ 0.0, 0.0, 0.0, 0.0]
fisheye = false

[metadata]
adjusted = false
"""


def _openpose_folder(tmp_path, name="cam01_json"):
    folder = tmp_path / name
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        kp = np.concatenate([rng.uniform(100, 400, size=(25, 2)), np.full((25, 1), 0.9)], 1)
        (folder / f"cam01.{i:04d}.json").write_text(json.dumps({"people": [{"pose_keypoints_2d": kp.ravel().tolist()}]}))
    return folder


def test_import_with_a_calibration_sets_the_clip_camera(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (1280, 960))  # footage at twice the calibrated size: K scaled
    empty_scene.zedo.clip = clip
    calibration = tmp_path / "calibration.toml"
    calibration.write_text(CALIBRATION)
    folder = _openpose_folder(tmp_path)
    # Any frame file of the folder reads the whole folder; cam01_json picks cam_01 of the two.
    assert bpy.ops.zedo.import_keypoints(filepath=str(folder / "cam01.0002.json"), calibration=str(calibration)) == {"FINISHED"}
    tracking_object = clip.tracking.objects[empty_scene.zedo.tracking_object]
    assert len(tracking_object.tracks["left_knee"].markers) >= 4
    camera = clip.tracking.camera
    K, size = clip_intrinsics(clip)
    # Twice the calibrated size: pixel centres scale as u' + 0.5 = 2 (u + 0.5).
    expected = np.array([[1400.0, 0.0, 645.5], [0.0, 1404.0, 476.5], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(K, expected, rtol=1e-5, atol=1e-3)
    assert size == (1280, 960)
    assert camera.focal_length == pytest.approx(1400.0 * camera.sensor_width / 1280, rel=1e-5)
    assert camera.distortion_model == "POLYNOMIAL"
    np.testing.assert_allclose([camera.k1, camera.k2, camera.k3], [-0.12, 0.03, 0.0], atol=1e-7)
    assert camera_from_file(clip) == "calibration.toml [cam_01]"  # the panel names where the camera came from


def test_a_camera_chosen_by_name(empty_scene, tmp_path):
    clip = make_clip(tmp_path, (1280, 960))
    empty_scene.zedo.clip = clip
    calibration = tmp_path / "calibration.toml"
    calibration.write_text(CALIBRATION)
    folder = _openpose_folder(tmp_path)
    result = bpy.ops.zedo.import_keypoints(filepath=str(folder), calibration=str(calibration), camera_name="cam_02")
    assert result == {"FINISHED"}
    K, _ = clip_intrinsics(clip)
    np.testing.assert_allclose(K, [[1500.0, 0.0, 640.0], [0.0, 1500.0, 480.0], [0.0, 0.0, 1.0]], atol=1e-3)
    assert clip.tracking.camera.distortion_model == "POLYNOMIAL" and clip.tracking.camera.k1 == 0.0  # unchanged default


@pytest.mark.parametrize(
    "options, words",
    [
        (dict(calibration="{calib}"), ["holds 2 cameras (cam_01, cam_02)", "choose one by name"]),  # folder "take1"
        (dict(calibration="{calib}", camera_name="cam_09"), ["no camera named 'cam_09'"]),
        (dict(calibration="{tmp}/nowhere.toml"), ["nowhere.toml", "no such file"]),
        (dict(calibration="{calib}", camera_name="cam_01", clip_size=(1000, 1000)), ["another aspect ratio"]),
    ],
)
def test_a_bad_calibration_reports_and_changes_nothing(empty_scene, tmp_path, options, words):
    options = dict(options)
    clip = make_clip(tmp_path, options.pop("clip_size", (1280, 960)))
    empty_scene.zedo.clip = clip
    calibration = tmp_path / "calibration.toml"
    calibration.write_text(CALIBRATION)
    options = {k: v.replace("{calib}", str(calibration)).replace("{tmp}", str(tmp_path)) for k, v in options.items()}
    folder = _openpose_folder(tmp_path, "take1")
    before = (len(clip.tracking.objects), clip.tracking.camera.focal_length, clip.tracking.camera.k1)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.zedo.import_keypoints(filepath=str(folder), **options)
    for word in words:
        assert word in str(info.value)
    assert (len(clip.tracking.objects), clip.tracking.camera.focal_length, clip.tracking.camera.k1) == before


def test_estimate_removes_the_clip_cameras_lens_distortion(empty_scene, tmp_path):
    """Tracks observed through a lens (the clip camera's Polynomial k1, k2, k3, as a calibration
    file's import sets them) reach the engine as ideal pinhole pixels."""
    from addon.helpers import make_clip
    from zedo_blender.estimate import undistorted
    from zedo_core.distortion import distort_points

    clip = make_clip(tmp_path, (1000, 800))
    K = np.array([[900.0, 0.0, 500.0], [0.0, 900.0, 400.0], [0.0, 0.0, 1.0]])
    ideal = np.random.default_rng(0).uniform([100, 80], [900, 720], size=(3, 17, 2))
    assert np.array_equal(undistorted(clip, ideal, K), ideal)  # Blender's default camera: no distortion
    camera = clip.tracking.camera
    camera.distortion_model = "POLYNOMIAL"
    camera.k1, camera.k2, camera.k3 = -0.12, 0.03, 0.0
    observed = distort_points(ideal, K, [camera.k1, camera.k2, 0.0, 0.0, camera.k3])
    assert np.abs(observed - ideal).max() > 5.0
    np.testing.assert_allclose(undistorted(clip, observed, K), ideal, atol=1e-3)


def test_a_body25b_head_top_is_aimed_at_in_blender_too(empty_scene, tmp_path):
    """The import marks the head track of BODY_25B keypoints as aimed at (its head top), and the
    estimate asks the engine to aim at it, as the CLI does; other imports mark nothing."""
    from zedo_blender import estimate

    clip = make_clip(tmp_path, (1000, 800))
    empty_scene.zedo.clip = clip
    rng = np.random.default_rng(3)
    body25b = np.full((4, 25, 2), np.nan)
    body25b[:, :19] = rng.uniform(300, 700, size=(4, 19, 2))
    K = np.array([[900.0, 0.0, 500.0], [0.0, 900.0, 400.0], [0.0, 0.0, 1.0]])
    np.savez(tmp_path / "b25b.npz", keypoints=body25b, K=K, layout=np.array("body25b"), image_size=np.array([1000, 800]))
    assert bpy.ops.zedo.import_keypoints(filepath=str(tmp_path / "b25b.npz")) == {"FINISHED"}
    settings = empty_scene.zedo
    assert clip[estimate.AIMED_TRACKS][settings.tracking_object] == "head"
    request = estimate.gather_request(bpy.context, settings, estimate.EstimateSettings())
    assert request.aimed_joints == ("head",)
    np.savez(tmp_path / "coco.npz", keypoints=body25b[:, :17], K=K, layout=np.array("coco"), image_size=np.array([1000, 800]))
    assert bpy.ops.zedo.import_keypoints(filepath=str(tmp_path / "coco.npz")) == {"FINISHED"}
    assert settings.tracking_object not in clip[estimate.AIMED_TRACKS]
    assert estimate.gather_request(bpy.context, settings, estimate.EstimateSettings()).aimed_joints == ()
