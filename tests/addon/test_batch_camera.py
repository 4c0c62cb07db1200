"""The batch converter with calibration files (--camera), footage (--footage) and real OpenPose output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import bpy
import numpy as np
import pytest

from addon.helpers import EXAMPLE, REPO_ROOT, make_clip
from zedo_blender import batch

CALIBRATION = """%YAML:1.0
---
image_width: 1920
image_height: 1080
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ {f}, 0., {cx}, 0., {f}, {cy}, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ -0.2, 0.05, 0.001, -0.001, 0. ]
"""


def _run_batch(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "zedo_blender.batch", *map(str, args)], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
        timeout=600,
    )


@pytest.fixture(scope="module")
def example_openpose(tmp_path_factory):
    """The walking example's first 12 frames as OpenPose COCO-18 files seen through a distorting
    lens (frames named cam1.0000.json...), and its calibration as OpenCV YAML."""
    from zedo_core.distortion import distort_points

    out = tmp_path_factory.mktemp("openpose")
    with np.load(EXAMPLE) as data:
        kp17, K = data["keypoints"][:12].astype(np.float64), data["K"].astype(np.float64)
    coeffs = [-0.2, 0.05, 0.001, -0.001, 0.0]
    # COCO-18 from the 17 joints: limbs, nose = neck/nose, neck = thorax, face near the head.
    h36m = {"RShoulder": 14, "RElbow": 15, "RWrist": 16, "LShoulder": 11, "LElbow": 12, "LWrist": 13, "RHip": 1,
            "RKnee": 2, "RAnkle": 3, "LHip": 4, "LKnee": 5, "LAnkle": 6, "Nose": 9, "Neck": 8}  # fmt: skip
    from zedo_core.layouts import LAYOUTS

    names = LAYOUTS["coco18"].joint_names
    coco18 = np.stack([kp17[:, h36m.get(n, 10)] for n in names], axis=1)
    observed = distort_points(coco18, K, coeffs)
    folder = out / "cam1_json"
    folder.mkdir()
    for f in range(12):
        people = [{"pose_keypoints_2d": np.concatenate([observed[f], np.ones((18, 1))], 1).ravel().tolist()}]
        (folder / f"cam1.{f:04d}.json").write_text(json.dumps({"people": people}))
    calibration = out / "calib.yml"
    calibration.write_text(CALIBRATION.format(f=K[0, 0], cx=K[0, 2], cy=K[1, 2]))
    return folder, calibration, coco18, K


def test_prepare_takes_K_size_and_lens_from_the_calibration(example_openpose, addon):
    folder, calibration, coco18, K = example_openpose
    _, jobs = batch.parse_args(["--input", str(folder), "--camera", str(calibration), "--output", "o.blend"])
    prepared = batch.prepare(jobs[0])
    np.testing.assert_allclose(prepared.K, K)
    assert prepared.image_size == (1920, 1080) and prepared.fps is None
    assert prepared.camera == f"camera calib of calib.yml: focal length {K[0, 0]:.0f} px"
    assert any("undistorted" in note for note in prepared.notes)
    from zedo_core.layouts import to_h36m

    expected, _ = to_h36m(coco18, None, "coco18")
    np.testing.assert_allclose(prepared.keypoints, expected, atol=1e-6)  # the lens undone
    # --image-size at half the calibrated size: K scaled.
    _, jobs = batch.parse_args(["--input", str(folder), "--camera", str(calibration), "--image-size", "960", "540",
                                "--fps", "50", "--output", "o.blend"])  # fmt: skip
    prepared = batch.prepare(jobs[0])
    assert prepared.image_size == (960, 540) and prepared.K[0, 0] == pytest.approx(K[0, 0] / 2) and prepared.fps == 50


def _bad(capsys, *args: str) -> str:
    code = batch.main(list(map(str, args)))
    captured = capsys.readouterr()
    assert code == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_bad_camera_and_footage_options(capsys, tmp_path, example_openpose, addon):
    folder, calibration, _, _ = example_openpose
    out = tmp_path / "out.blend"
    base = ("--input", folder, "--output", out)
    assert "--camera-name cam_1: needs --camera FILE" in _bad(capsys, *base, "--camera-name", "cam_1")
    assert "gives the focal length: drop --focal / --fov" in _bad(capsys, *base, "--camera", calibration, "--focal", "900")
    assert "no camera named 'left'" in _bad(capsys, *base, "--camera", calibration, "--camera-name", "left")
    assert "nowhere.toml: no such file" in _bad(capsys, *base, "--camera", tmp_path / "nowhere.toml")
    assert "another aspect ratio" in _bad(capsys, *base, "--camera", calibration, "--image-size", "1000", "1000")
    assert "--fps must be positive" in _bad(capsys, *base, "--fps", "0")
    assert "--footage" in _bad(capsys, *base, "--camera", calibration, "--footage", tmp_path / "none.mp4")
    clip = make_clip(tmp_path, (640, 480), "small")
    message = _bad(capsys, *base, "--camera", calibration, "--footage", clip.filepath)
    assert "calibrated for 1920x1080 images but the footage is 640x480 (another aspect ratio" in message
    message = _bad(capsys, "--input", EXAMPLE, "--footage", clip.filepath, "--output", out)
    assert "its frames are 640x480 but the keypoints' image is 1920x1080" in message
    assert not out.exists()


def test_footage_becomes_the_movie_clip(tmp_path, example_openpose, addon):
    folder, calibration, _, K = example_openpose
    footage = Path(make_clip(tmp_path, (1920, 1080), "footage").filepath)
    out = tmp_path / "walk.blend"
    process = _run_batch("--iterations", "10", "--input", folder, "--camera", calibration, "--footage", footage,
                         "--output", out)  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert "undistorted" in process.stdout and "12 frames keyed" in process.stdout
    bpy.ops.wm.open_mainfile(filepath=str(out))
    clip = bpy.data.movieclips[0]
    assert Path(bpy.path.abspath(clip.filepath)).resolve() == footage.resolve() and tuple(clip.size) == (1920, 1080)
    camera = bpy.context.scene.camera.data
    assert camera.show_background_images and camera.background_images[0].clip == clip
    tracking = clip.tracking.camera
    assert tracking.focal_length_pixels == pytest.approx(K[0, 0], rel=1e-5)
    np.testing.assert_allclose(tracking.principal_point_pixels, [K[0, 2], 1080 - K[1, 2]], atol=1e-3)


def _rig_height(blend: Path) -> tuple[float, int]:
    """The rig's rest-pose height (extent of its bones along world Z) and how many frames it keys."""
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    M = np.array(rig.matrix_world)
    z = [(M @ np.array([*p, 1.0]))[2] for bone in rig.data.bones for p in (bone.head_local, bone.tail_local)]
    action = rig.animation_data.action
    curves = action.fcurves if hasattr(action, "fcurves") else [
        c for layer in action.layers for strip in layer.strips for bag in strip.channelbags for c in bag.fcurves
    ]
    frames = {int(k.co[0]) for c in curves for k in c.keyframe_points}
    return max(z) - min(z), len(frames)


def test_raw_pose2sim_folder_with_its_calibration(tmp_path, pose2sim_dir, addon):
    """The issue's done-when, with fewer iterations: the raw folder (cam01.0000.json..., BODY_25B,
    a second person) and calibration.toml key all 100 frames onto a rig 1.5-2.0 m tall; the
    footage (1080 x 1920 decoded, calibrated as 1088 x 1920) becomes the movie clip at 60 fps."""
    out = tmp_path / "cam01.blend"
    process = _run_batch(
        "--iterations", "40", "--input", pose2sim_dir / "openpose" / "cam01_json", "--camera",
        pose2sim_dir / "calibration.toml", "--camera-name", "cam_01", "--footage", pose2sim_dir / "videos" / "cam01.mp4",
        "--output", out,
    )  # fmt: skip
    assert process.returncode == 0, process.stderr
    assert "read as BODY_25B" in process.stdout and "several people in 100 frame(s)" in process.stdout
    assert "codec padding" in process.stdout
    height, frames = _rig_height(out)
    assert frames == 100 and 1.5 <= height <= 2.0, height
    clip = bpy.data.movieclips[0]
    assert tuple(clip.size) == (1080, 1920) and bpy.context.scene.render.fps == 60


def test_an_output_that_is_a_camera_footage_rig_or_bone_map_file_is_refused(tmp_path, capsys, monkeypatch, addon):
    """Every file a job reads is an input of the "output is an input" check, not only --input."""

    def no_work(*args, **kwargs):
        raise AssertionError("the conversion started although the arguments were refused")

    monkeypatch.setattr(batch, "prepare", no_work)
    monkeypatch.setattr(batch, "convert", no_work)
    given = {name: tmp_path / name for name in ("calib.yml", "footage.mp4", "rig.blend", "map.json")}
    for path in given.values():
        path.write_text("user data")
    job = ["--input", EXAMPLE, "--output", tmp_path / "o.blend"]
    cases = {
        "--bvh is --camera": job + ["--camera", given["calib.yml"], "--bvh", given["calib.yml"]],
        "--output is --retarget-to": ["--input", EXAMPLE, "--output", given["rig.blend"], "--retarget-to", given["rig.blend"]],
        "--fbx is --footage": job + ["--footage", given["footage.mp4"], "--fbx", given["footage.mp4"]],
        "--bvh is --bone-map": job + ["--retarget-to", given["rig.blend"], "--bone-map", given["map.json"], "--bvh", given["map.json"]],
        "global --camera": ["--camera", given["calib.yml"], *job, "--fbx", given["calib.yml"]],
    }  # fmt: skip
    for name, args in cases.items():
        code = batch.main([str(a) for a in args])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2 and len(err) == 1 and "refusing to overwrite" in err[0], (name, err)
    assert all(path.read_text() == "user data" for path in given.values())
