"""Calibration files: Pose2Sim / anipose TOML, OpenCV YAML and XML, ROS YAML; choosing a camera;
scaling to the footage; applying a camera to keypoints; one clear error per bad file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zedo_core.camera_files import CameraCalibration, apply_camera, read_camera, read_cameras
from zedo_core.distortion import distort_points
from zedo_core.inputs import InputError
from zedo_core.keypoint_files import read_keypoints

from conftest import one_line_input_error

K1 = np.array([[1681.244873046875, 0.0, 532.97369384375], [0.0, 1681.075439453125, 948.137390140625], [0.0, 0.0, 1.0]])
D1 = np.array([-0.000721609375, 0.002187234375, 9.5e-06, 1.078125e-05])
K2 = np.array([[1020.5, 0.0, 963.3], [0.0, 1022.6, 540.9], [0.0, 0.0, 1.0]])
D2 = np.array([0.046, -0.12, 0.001, -0.0002, 0.051])

POSE2SIM_TOML = """
[cam_01]
name = "cam_01"
size = [ 1088.0, 1920.0]
matrix = [ [ 1681.244873046875, 0.0, 532.97369384375], [ 0.0, 1681.075439453125, 948.137390140625], [ 0.0, 0.0, 1.0]]
distortions = [ -0.000721609375, 0.002187234375, 9.5e-06, 1.078125e-05]
rotation = [ 1.6882754799999993, 1.0483220499999997, -0.41955852000000016]
translation = [ 0.3211048899999996, 0.9563320600000009, 2.8907130499999996]
fisheye = false

[cam_02]
name = "side"
size = [ 1920.0, 1080.0]
matrix = [ [ 1020.5, 0.0, 963.3], [ 0.0, 1022.6, 540.9], [ 0.0, 0.0, 1.0]]
distortions = [ 0.046, -0.12, 0.001, -0.0002, 0.051]
rotation = [ 0.0, 0.0, 0.0]
translation = [ 0.0, 0.0, 0.0]
fisheye = false

[metadata]
adjusted = false
error = 0.0
"""

# What cv::FileStorage writes from the OpenCV calibration sample.
OPENCV_YAML = """%YAML:1.0
---
calibration_time: "Wed 08 Nov 2023 10:00:00 AM CET"
image_width: 1920
image_height: 1080
flags: 0
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 1.0205000000000000e+03, 0., 9.6330000000000000e+02, 0.,
       1.0226000000000000e+03, 5.4090000000000000e+02, 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ 4.6000000000000000e-02, -1.2000000000000000e-01,
       1.0000000000000000e-03, -2.0000000000000000e-04, 5.1000000000000000e-02 ]
avg_reprojection_error: 3.0e-01   # px
"""

ROS_YAML = """image_width: 1920
image_height: 1080
camera_name: side
camera_matrix:
  rows: 3
  cols: 3
  data: [1020.5, 0, 963.3, 0, 1022.6, 540.9, 0, 0, 1]
distortion_model: plumb_bob
distortion_coefficients:
  rows: 1
  cols: 5
  data: [0.046, -0.12, 0.001, -0.0002, 0.051]
rectification_matrix:
  rows: 3
  cols: 3
  data: [1, 0, 0, 0, 1, 0, 0, 0, 1]
"""

OPENCV_XML = """<?xml version="1.0"?>
<opencv_storage>
<calibration_time>"Wed 08 Nov 2023"</calibration_time>
<image_width>1920</image_width>
<image_height>1080</image_height>
<camera_matrix type_id="opencv-matrix">
  <rows>3</rows>
  <cols>3</cols>
  <dt>d</dt>
  <data>
    1.0205000000000000e+03 0. 9.6330000000000000e+02 0.
    1.0226000000000000e+03 5.4090000000000000e+02 0. 0. 1.</data></camera_matrix>
<distortion_coefficients type_id="opencv-matrix">
  <rows>5</rows>
  <cols>1</cols>
  <dt>d</dt>
  <data>
    4.6e-02 -1.2e-01 1.0e-03 -2.0e-04 5.1e-02</data></distortion_coefficients>
</opencv_storage>
"""

# Several cameras in one YAML file, one mapping each (stereo rigs, multi-camera tools).
MULTI_YAML = """%YAML:1.0
---
left:
   camera_matrix: !!opencv-matrix
      rows: 3
      cols: 3
      dt: d
      data: [ 1020.5, 0., 963.3, 0., 1022.6, 540.9, 0., 0., 1. ]
   dist_coeffs: [ 0.046, -0.12, 0.001, -0.0002, 0.051 ]
   image_size: [ 1920, 1080 ]
right:
   K: [ [ 1681.244873046875, 0., 532.97369384375 ], [ 0., 1681.075439453125, 948.137390140625 ], [ 0., 0., 1. ] ]
   D:
     - -0.000721609375
     - 0.002187234375
     - 9.5e-06
     - 1.078125e-05
   image_width: 1088
   image_height: 1920
   distortion_model: plumb_bob
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_pose2sim_toml(tmp_path):
    cameras = read_cameras(write(tmp_path / "calibration.toml", POSE2SIM_TOML))
    assert list(cameras) == ["cam_01", "side"]  # [metadata] is no camera
    cam = cameras["cam_01"]
    assert isinstance(cam, CameraCalibration) and cam.section == "cam_01" and cam.source == str(tmp_path / "calibration.toml")
    np.testing.assert_array_equal(cam.K, K1)
    np.testing.assert_array_equal(cam.distortion, D1)
    assert cam.image_size == (1088, 1920) and not cam.fisheye and cam.has_distortion
    # Rodrigues vector -> rotation matrix (orthonormal, angle = |r|).
    R = cam.rotation
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    angle = np.linalg.norm([1.6882754799999993, 1.0483220499999997, -0.41955852000000016])
    assert np.isclose(np.arccos((np.trace(R) - 1) / 2), angle)
    np.testing.assert_allclose(cam.translation, [0.3211048899999996, 0.9563320600000009, 2.8907130499999996])
    side = cameras["side"]
    assert side.section == "cam_02" and side.image_size == (1920, 1080)
    np.testing.assert_array_equal(side.rotation, np.eye(3))


def test_anipose_toml_with_a_fisheye(tmp_path):
    text = """
[cam_0]
name = "A"
size = [1280, 720]
matrix = [[700.0, 0.0, 640.0], [0.0, 700.0, 360.0], [0.0, 0.0, 1.0]]
distortions = [0.05, -0.01, 0.003, -0.001]
rotation = [0.1, 0.2, 0.3]
translation = [10.0, 20.0, 300.0]
fisheye = true

[metadata]
"""
    cam = read_camera(write(tmp_path / "anipose.toml", text))
    assert cam.name == "A" and cam.fisheye and cam.image_size == (1280, 720)
    np.testing.assert_array_equal(cam.distortion, [0.05, -0.01, 0.003, -0.001])


@pytest.mark.parametrize("name, text", [("opencv.yml", OPENCV_YAML), ("ros.yaml", ROS_YAML), ("opencv.xml", OPENCV_XML)])
def test_opencv_files_give_the_same_camera(tmp_path, name, text):
    cam = read_camera(write(tmp_path / name, text))
    np.testing.assert_allclose(cam.K, K2)
    np.testing.assert_allclose(cam.distortion, D2)
    assert cam.image_size == (1920, 1080) and not cam.fisheye and cam.rotation is None and cam.translation is None
    assert cam.name == ("side" if name == "ros.yaml" else Path(name).stem)


def test_several_cameras_in_one_yaml_and_choosing_one(tmp_path):
    path = write(tmp_path / "rig.yml", MULTI_YAML)
    cameras = read_cameras(path)
    assert list(cameras) == ["left", "right"]
    np.testing.assert_allclose(cameras["left"].K, K2)
    np.testing.assert_allclose(cameras["right"].K, K1)
    np.testing.assert_allclose(cameras["right"].distortion, D1)
    assert cameras["left"].image_size == (1920, 1080) and cameras["right"].image_size == (1088, 1920)
    assert read_camera(path, "right").name == "right"
    with pytest.raises(InputError) as info:
        read_camera(path)
    assert str(info.value) == f"{path} holds 2 cameras (left, right): choose one by name (--camera-name)"
    with pytest.raises(InputError, match=r"no camera named 'middle' \(cameras: left, right\)"):
        read_camera(path, "middle")


def test_a_camera_answers_to_its_name_and_its_section(tmp_path):
    path = write(tmp_path / "calibration.toml", POSE2SIM_TOML)
    assert read_camera(path, "side").section == "cam_02"
    assert read_camera(path, "cam_02").name == "side"
    # Without a name, the input's name may give it: cam01_json -> cam_01, never cam_1 -> cam12.
    assert read_camera(path, hint="cam01_json").name == "cam_01"
    assert read_camera(path, hint="CAM_2.mp4").name == "side"
    for hint in ("cam12_json", "video", None):
        with pytest.raises(InputError, match="holds 2 cameras"):
            read_camera(path, hint=hint)


def test_scaled_to_footage_of_another_resolution(tmp_path):
    cam = read_camera(write(tmp_path / "c.yml", OPENCV_YAML))
    half = cam.scaled_to((960, 540))
    assert half.image_size == (960, 540)
    np.testing.assert_allclose(half.K[[0, 1], [0, 1]], K2[[0, 1], [0, 1]] / 2)
    np.testing.assert_allclose(half.K[:2, 2], (K2[:2, 2] + 0.5) / 2 - 0.5)
    np.testing.assert_array_equal(half.distortion, cam.distortion)
    assert cam.scaled_to((1920, 1080)) is cam
    # A few pixels off is codec padding (1088 vs 1080 rows), not a scale: K kept.
    padded = cam.scaled_to((1920, 1088))
    assert padded.image_size == (1920, 1088)
    np.testing.assert_array_equal(padded.K, cam.K)
    with pytest.raises(InputError, match=r"calibrated for 1920x1080 images but the footage is 1080x1080 \(another aspect ratio"):
        cam.scaled_to((1080, 1080))


def test_apply_camera_sets_K_and_undistorts(tmp_path):
    cam = read_camera(write(tmp_path / "c.yml", OPENCV_YAML))
    ideal = np.random.default_rng(1).uniform([100, 100], [1800, 1000], size=(4, 18, 2))
    observed = distort_points(ideal, K2, D2)
    folder = tmp_path / "json"
    folder.mkdir()
    for f in range(4):
        people = [{"pose_keypoints_2d": np.concatenate([observed[f], np.ones((18, 1))], 1).ravel().tolist()}]
        (folder / f"clip_{f:04d}_keypoints.json").write_text(json.dumps({"people": people}))
    sequence = read_keypoints(folder)
    seen = apply_camera(sequence, cam)
    np.testing.assert_allclose(seen.keypoints, ideal, atol=1e-6)
    np.testing.assert_array_equal(seen.K, K2)
    assert seen.image_size == (1920, 1080) and seen.layout == "coco18"
    assert seen.notes[-1].startswith("keypoints undistorted with c's lens distortion (largest shift ")
    # Footage at half the calibrated resolution: K scaled, keypoints undistorted in that image.
    half = apply_camera(sequence, cam, image_size=(960, 540))
    assert half.image_size == (960, 540) and "calibrated at 1920x1080: K scaled to the keypoints' 960x540" in half.notes[0]
    np.testing.assert_allclose(half.K[0, 0], K2[0, 0] / 2)
    # No distortion: keypoints as they were, no note about it.
    plain = CameraCalibration("plain", K2, np.zeros(0), (1920, 1080))
    same = apply_camera(sequence, plain)
    np.testing.assert_array_equal(same.keypoints, sequence.keypoints)
    assert not any("undistorted" in note for note in same.notes)


def _bad_rotation(d: Path) -> Path:
    return write(d / "c.toml", POSE2SIM_TOML.replace("rotation = [ 0.0, 0.0, 0.0]", "rotation = [ 1.0, 2.0]"))


BAD = {
    "missing file": (lambda d: d / "nowhere.toml", ["nowhere.toml", "no such file"]),
    "folder": (lambda d: d, ["a folder, not a calibration file"]),
    "binary": (lambda d: (d / "c.toml").write_bytes(bytes(range(256))) and d / "c.toml", ["c.toml", "not UTF-8"]),
    "bad TOML": (lambda d: write(d / "c.toml", "[cam\nmatrix = "), ["c.toml", "not valid TOML"]),
    "bad XML": (lambda d: write(d / "c.xml", "<opencv_storage><a>"), ["c.xml", "not valid XML"]),
    "other XML": (lambda d: write(d / "c.xml", "<svg></svg>"), ["c.xml", "root is <svg>", "<opencv_storage>"]),
    "unknown suffix": (lambda d: write(d / "c.json", "{}"), ["c.json", "unknown calibration format '.json'", ".toml"]),
    "no camera": (lambda d: write(d / "c.toml", "[metadata]\nerror = 0.0\n"), ["c.toml", "no camera matrix found", "camera_matrix"]),
    "matrix shape": (lambda d: write(d / "c.toml", "[a]\nmatrix = [[1.0, 0.0], [0.0, 1.0]]\n"),
                     ["c.toml [a]", "'matrix'", "3x3", "(2, 2)"]),
    "not a camera matrix": (lambda d: write(d / "c.toml", "[a]\nmatrix = [[-5, 0, 1], [0, 5, 1], [0, 0, 1]]\n"),
                            ["c.toml [a]", "'matrix' is not a camera matrix", "fx, fy > 0"]),
    "matrix text": (lambda d: write(d / "c.toml", '[a]\nmatrix = "K"\n'), ["c.toml [a]", "'matrix' must hold numbers"]),
    "distortion count": (lambda d: write(d / "c.toml", POSE2SIM_TOML.replace("9.5e-06, 1.078125e-05]", "9.5e-06]")),
                         ["c.toml [cam_01]", "'distortions'", "got 3"]),
    "fisheye flag": (lambda d: write(d / "c.toml", POSE2SIM_TOML.replace("fisheye = false", 'fisheye = "no"', 1)),
                     ["c.toml [cam_01]", "'fisheye' must be true or false"]),
    "size": (lambda d: write(d / "c.toml", POSE2SIM_TOML.replace("size = [ 1088.0, 1920.0]", "size = [ 1088.5, 1920.0]")),
             ["c.toml [cam_01]", "'size'", "two positive whole numbers"]),
    "rotation": (_bad_rotation, ["c.toml [cam_02]", "'rotation'", "Rodrigues vector (3) or a 3x3 matrix", "2 values"]),
    "same name twice": (lambda d: write(d / "c.toml", POSE2SIM_TOML.replace('name = "side"', 'name = "cam_01"')),
                        ["c.toml", "two cameras are named 'cam_01'"]),
    "width without height": (lambda d: write(d / "c.yml", OPENCV_YAML.replace("image_height: 1080\n", "")),
                             ["c.yml", "'image_width'", "not the other"]),
    "matrix data count": (lambda d: write(d / "c.yml", OPENCV_YAML.replace("cols: 3", "cols: 4", 1)),
                          ["c.yml", "'camera_matrix' says 3x4 but holds 9 values"]),
    "unclosed bracket": (lambda d: write(d / "c.yml", OPENCV_YAML.replace("1. ]\n", "1.\n")), ["c.yml", "never closed"]),
    "YAML tabs": (lambda d: write(d / "c.yml", "a:\n\tb: 1\n"), ["c.yml", "line 2", "tabs"]),
    "YAML not a mapping": (lambda d: write(d / "c.yml", "- 1\n- 2\n"), ["c.yml", "not a mapping"]),
    "YAML garbage line": (lambda d: write(d / "c.yml", "camera_matrix: [1, 0, 0]\nthis is not yaml\n"),
                          ["c.yml", "line 2", "expected 'key: value'"]),
    "unsupported lens model": (lambda d: write(d / "c.yml", ROS_YAML.replace("plumb_bob", "double_sphere")),
                               ["c.yml", "'distortion_model' is 'double_sphere'", "pinhole and fisheye"]),
    "tilted sensor": (lambda d: write(d / "c.toml", POSE2SIM_TOML.replace("9.5e-06, 1.078125e-05]",
                                                                         "9.5e-06, 1.078125e-05" + ", 0.0" * 8 + ", 0.01, 0.0]")),
                      ["c.toml [cam_01]", "tilted-sensor"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_raise_one_clear_error(tmp_path, case):
    make, words = BAD[case]
    message = one_line_input_error(read_cameras, make(tmp_path))
    for word in words:
        assert word in message, message


def test_pose2sim_calibration(pose2sim_dir):
    """The shared calibration: four cameras, and cam_01's extrinsics put the four-camera
    triangulation onto cam_01's detections (the data README's ~17 px check)."""
    path = pose2sim_dir / "calibration.toml"
    cameras = read_cameras(path)
    assert list(cameras) == ["cam_01", "cam_02", "cam_03", "cam_04"]
    cam = read_camera(path, hint="cam01_json")
    assert cam.name == "cam_01" and cam.image_size == (1088, 1920) and cam.distortion.size == 4
    lines = (pose2sim_dir / "triangulated_openpose_0-100.trc").read_text().splitlines()
    names = [n for n in lines[3].split("\t")[2:] if n]
    rows = np.array([[float(v) for v in line.split("\t")[2 : 2 + 3 * len(names)]] for line in lines[5:] if line.strip()])
    world = rows.reshape(len(rows), len(names), 3)[..., [2, 0, 1]]  # the file is Y up; the calibration Z up
    camera_frame = world @ cam.rotation.T + cam.translation
    pixels = camera_frame @ cam.K.T
    pixels = pixels[..., :2] / pixels[..., 2:]
    seq = read_keypoints(pose2sim_dir / "openpose_main_person" / "cam01_json")
    from zedo_core.layouts import LAYOUTS

    joints = LAYOUTS["body25b"].joint_names
    shared = [n for n in names if n in joints and n not in ("Nose",)]
    errors = [np.nanmean(np.linalg.norm(pixels[:, names.index(n)] - seq.keypoints[:, joints.index(n)], axis=-1)) for n in shared]
    assert len(shared) >= 12 and np.mean(errors) < 25


def test_the_bundled_real_example_reads():
    """examples/pose2sim (in the repository, no shared data needed): the raw folder, its camera."""
    example = Path(__file__).resolve().parents[1] / "examples" / "pose2sim"
    sequence = read_keypoints(example / "cam01_json")
    assert sequence.layout == "body25b" and sequence.num_frames == 100
    assert any("several people in 100 frame(s)" in note for note in sequence.notes)
    camera = read_camera(example / "calibration.toml", hint="cam01_json")
    assert camera.name == "cam_01" and camera.image_size == (1088, 1920)
    seen = apply_camera(sequence, camera, image_size=(1080, 1920))  # the decoded video's size
    np.testing.assert_array_equal(seen.K, camera.K)
    assert seen.image_size == (1080, 1920) and any("codec padding" in note for note in seen.notes)
    assert (example / "LICENSE").read_text().startswith("BSD 3-Clause License")
