"""`python -m zedo_core lift IN OUT` as a user runs it (subprocess, repository root)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zedo_core.layouts import LAYOUTS, to_h36m
from zedo_core.lifting import LiftConfig, lift
from zedo_core.prior import load_prior
from zedo_core.skeleton import JOINT_NAMES as JOINTS

from conftest import REPO_ROOT, synthetic_camera_data

POSES, K, KP = synthetic_camera_data(3)


def run_cli(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")  # as in conftest: tiny work, no thread contention
    return subprocess.run(
        [sys.executable, "-m", "zedo_core", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def check_output(path: Path, frames: int, hypotheses: int) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        data = {k: archive[k] for k in archive.files}
    assert set(data) == {"poses3d", "hypotheses", "reprojection_error_px"}
    assert data["poses3d"].shape == (frames, 17, 3)
    assert data["hypotheses"].shape == (frames, hypotheses, 17, 3)
    assert data["reprojection_error_px"].shape == (frames, hypotheses)
    for value in data.values():
        assert value.dtype == np.float32
    return data


def assert_bad_input(proc, words) -> None:
    """Exit status 2 and one stderr line, "error: ...", holding every one of ``words``."""
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_lift_with_tiny_prior_matches_the_library(tmp_path, tiny_prior_file):
    conf = np.full((3, 17), 0.9)
    conf[1, 4] = 0.3
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K, confidence=conf)
    out = tmp_path / "sub" / "out.npz"  # the folder is created
    proc = run_cli("lift", src, out, "--prior", tiny_prior_file, "--iterations", 5, "--hypotheses", 2, "--seed", 3)
    assert proc.returncode == 0, proc.stderr
    data = check_output(out, 3, 2)
    assert np.isfinite(data["poses3d"]).all()
    assert (data["poses3d"][..., 2] > 0).all()
    assert "wrote" in proc.stderr and "3 frames" in proc.stderr
    assert not list(out.parent.glob("*partial*"))
    expected = lift(load_prior(tiny_prior_file, device="cpu"), KP, K, conf, LiftConfig(hypotheses=2, iterations=5, seed=3))
    np.testing.assert_allclose(data["hypotheses"], expected.hypotheses, rtol=0, atol=1e-5)
    np.testing.assert_allclose(data["poses3d"], expected.poses3d, rtol=0, atol=1e-5)


def test_lift_with_shipped_prior(tmp_path):
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=np.broadcast_to(K, (3, 3, 3)))
    out = tmp_path / "out.npz"
    proc = run_cli("lift", src, out, "--iterations", 20)
    assert proc.returncode == 0, proc.stderr
    data = check_output(out, 3, 1)
    assert np.isfinite(data["poses3d"]).all()
    assert (data["poses3d"][..., 2] > 0).all()
    # Depth is known up to the body's scale (the prior assumes an average adult; this test person
    # is 1.5 m tall): the depth ratio must match the height ratio, and the 2D fit be modest.
    from zedo_core.scale import standing_height

    height_ratio = standing_height(data["poses3d"]) / standing_height(POSES)
    np.testing.assert_allclose(data["poses3d"][:, 0, 2] / POSES[:, 0, 2], height_ratio, rtol=0.15)  # 20 iterations only
    assert (data["reprojection_error_px"] < 50).all()


def test_lift_names_the_frames_whose_detections_were_let_go(tmp_path):
    """The bundled walk with one ankle's detections moved far off (the shipped prior): the run
    says how many detections the prior placed instead, and in which frames; clean input says nothing."""
    walk = np.load(Path(__file__).resolve().parents[1] / "examples" / "walking_example.npz")
    keypoints = walk["keypoints"][::6].copy()
    clean = write_npz(tmp_path / "clean.npz", keypoints=keypoints, K=walk["K"])
    keypoints[:, 3] += (50.0, 30.0)
    moved = write_npz(tmp_path / "moved.npz", keypoints=keypoints, K=walk["K"])
    proc = run_cli("lift", moved, tmp_path / "moved_3d.npz")
    assert proc.returncode == 0, proc.stderr
    note = [line for line in proc.stderr.splitlines() if "looked misplaced" in line]
    assert len(note) == 1 and "frame(s)" in note[0] and "(frames " in note[0], proc.stderr
    proc = run_cli("lift", clean, tmp_path / "clean_3d.npz")
    assert proc.returncode == 0 and "looked misplaced" not in proc.stderr, proc.stderr


def test_frame_with_too_few_joints(tmp_path, tiny_prior_file):
    kp = np.concatenate([KP, KP[:1]])  # 4 frames; frame 2 keeps only 3 joints
    kp[2, 3:] = np.nan
    src = write_npz(tmp_path / "in.npz", keypoints=kp, K=K)
    out = tmp_path / "out.npz"
    proc = run_cli("lift", src, out, "--prior", tiny_prior_file, "--iterations", 5)
    assert proc.returncode == 0, proc.stderr
    data = check_output(out, 4, 1)
    assert np.isnan(data["poses3d"][2]).all() and np.isnan(data["hypotheses"][2]).all()
    assert np.isfinite(data["poses3d"][[0, 1, 3]]).all()
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "fewer than 4 distinct joints" in warnings[0] and warnings[0].endswith(": 2")


def _garbage(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(0).bytes(300))
    return path


def _singular_K() -> np.ndarray:
    return np.array([[1100.0, 0.0, 500.0], [0.0, 1100.0, 500.0], [0.0, 0.0, 0.0]])


def _inf_keypoints() -> np.ndarray:
    kp = KP.copy()
    kp[1, 2, 0] = np.inf
    return kp


def _bad_confidence() -> np.ndarray:
    conf = np.ones((3, 17))
    conf[2, 11] = 1.2
    return conf


# name -> (writes IN into the given path and returns it, words the error line must contain)
BAD_FILES = {
    "missing file": (lambda p: p.with_name("nowhere.npz"), ["nowhere.npz", "no such file"]),
    "garbage bytes": (_garbage, ["in.npz", "cannot read"]),
    "empty file": (lambda p: (p.write_bytes(b""), p)[1], ["in.npz", "cannot read"]),
    "missing keypoints": (lambda p: write_npz(p, K=K), ["missing key 'keypoints'"]),
    "missing K": (lambda p: write_npz(p, keypoints=KP), ["missing key 'K'", "keypoints"]),
    "keypoints shape": (lambda p: write_npz(p, keypoints=KP[:, :16], K=K), ["keypoints", "shape", "(3, 16, 2)"]),
    "infinite keypoints": (lambda p: write_npz(p, keypoints=_inf_keypoints(), K=K), ["infinite", "frame 1"]),
    "NaN K": (lambda p: write_npz(p, keypoints=KP, K=np.full((3, 3), np.nan)), ["K", "NaN"]),
    "singular K": (lambda p: write_npz(p, keypoints=KP, K=_singular_K()), ["K", "not invertible"]),
    "K shape": (lambda p: write_npz(p, keypoints=KP, K=np.eye(2)), ["K", "shape"]),
    "confidence range": (
        lambda p: write_npz(p, keypoints=KP, K=K, confidence=_bad_confidence()),
        ["confidence", "[0, 1]", "frame 2", "joint 11"],
    ),
    "zero frames": (lambda p: write_npz(p, keypoints=np.zeros((0, 17, 2)), K=K), ["zero frames"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_input_exits_2_with_one_error_line(tmp_path, tiny_prior_file, case):
    make, words = BAD_FILES[case]
    src = make(tmp_path / "in.npz")
    out = tmp_path / "out.npz"
    proc = run_cli("lift", src, out, "--prior", tiny_prior_file, "--iterations", 5)
    assert_bad_input(proc, words)
    assert not out.exists()
    assert list(tmp_path.glob("out*")) == []


def test_npy_instead_of_npz_is_bad_input(tmp_path, tiny_prior_file):
    src = tmp_path / "in.npy"
    np.save(src, KP)
    proc = run_cli("lift", src, tmp_path / "out.npz", "--prior", tiny_prior_file, "--iterations", 5)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "not an .npz archive" in lines[0]


def test_missing_prior_file_exits_1(tmp_path):
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K)
    proc = run_cli("lift", src, tmp_path / "out.npz", "--prior", tmp_path / "none.pt", "--iterations", 5)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error:") and "prior file not found" in proc.stderr
    assert not (tmp_path / "out.npz").exists()


def test_bad_option_values_are_usage_errors(tmp_path):
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K)
    proc = run_cli("lift", src, tmp_path / "out.npz", "--hypotheses", 0)
    assert proc.returncode == 2 and "--hypotheses must be >= 1" in proc.stderr


def test_help():
    proc = run_cli("lift", "--help")
    assert proc.returncode == 0
    for word in ("IN", "OUT.npz", "--hypotheses", "--iterations", "--seed", "--device", "keypoints", "--camera", "--camera-name"):
        assert word in proc.stdout
    assert "--prior" not in proc.stdout  # hidden option
    top = run_cli("--help")
    assert top.returncode == 0 and "lift" in top.stdout


def test_unwritable_output_is_an_error_line(tmp_path, tiny_prior_file):
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run_cli("lift", src, blocker / "out.npz", "--prior", tiny_prior_file, "--iterations", 5)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("error:") and "cannot write the output" in lines[-1]


def _coco_from_h36m(kp17: np.ndarray) -> np.ndarray:
    """COCO keypoints whose limbs and nose are the Human3.6M ones (eyes and ears near the head)."""
    names = LAYOUTS["coco"].joint_names
    coco = np.repeat(kp17[:, 10:11], 17, axis=1) + np.arange(17)[None, :, None]
    for j, name in enumerate(names):
        if name != "nose" and not any(part in name for part in ("eye", "ear")):
            coco[:, j] = kp17[:, JOINTS.index(name)]
    coco[:, names.index("nose")] = kp17[:, JOINTS.index("neck")]
    return coco


def test_lift_with_a_detector_layout(tmp_path, tiny_prior_file):
    coco = _coco_from_h36m(KP)
    conf = np.full((3, 17), 0.9)
    conf[2, 3] = 0.0
    src = write_npz(tmp_path / "in.npz", keypoints=coco, K=K, confidence=conf)
    out = tmp_path / "out.npz"
    proc = run_cli("lift", src, out, "--prior", tiny_prior_file, "--iterations", 5, "--layout", "coco")
    assert proc.returncode == 0, proc.stderr
    data = check_output(out, 3, 1)
    kp17, conf17 = to_h36m(coco, conf, "coco")
    expected = lift(load_prior(tiny_prior_file, device="cpu"), kp17, K, conf17, LiftConfig(iterations=5))
    np.testing.assert_allclose(data["poses3d"], expected.poses3d, rtol=0, atol=1e-5)
    # A 'layout' key in IN does the same without the option.
    src = write_npz(tmp_path / "in2.npz", keypoints=coco, K=K, confidence=conf, layout="coco")
    proc = run_cli("lift", src, tmp_path / "out2.npz", "--prior", tiny_prior_file, "--iterations", 5)
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_allclose(check_output(tmp_path / "out2.npz", 3, 1)["poses3d"], data["poses3d"], rtol=0, atol=1e-6)


BAD_LAYOUTS = {
    "joints vs layout": (dict(keypoints=np.zeros((3, 25, 2)), K=K), ["--layout", "coco"], ["(N, 17, 2)", "'coco'", "body25"]),
    "file vs option": (dict(keypoints=KP, K=K, layout="coco"), ["--layout", "h36m"], ["layout is 'coco'", "--layout h36m"]),
    "unknown in file": (dict(keypoints=KP, K=K, layout="openpose"), [], ["key 'layout'", "'openpose'"]),
    "confidence joints": (dict(keypoints=np.zeros((3, 25, 2)), K=K, confidence=np.ones((3, 17))), ["--layout", "body25"],
                          ["confidence", "(3, 25)", "(3, 17)"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_LAYOUTS))
def test_bad_layouts_exit_2_with_one_error_line(tmp_path, tiny_prior_file, case):
    arrays, options, words = BAD_LAYOUTS[case]
    src = write_npz(tmp_path / "in.npz", **arrays)
    proc = run_cli("lift", src, tmp_path / "out.npz", "--prior", tiny_prior_file, "--iterations", 5, *options)
    assert_bad_input(proc, words)
    assert not (tmp_path / "out.npz").exists()


def test_unknown_layout_option_is_a_usage_error(tmp_path):
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K)
    proc = run_cli("lift", src, tmp_path / "out.npz", "--layout", "openpose")
    assert proc.returncode == 2 and "invalid choice: 'openpose'" in proc.stderr and "body25" in proc.stderr
    help_text = run_cli("lift", "--help").stdout
    assert "--layout" in help_text and "mediapipe" in help_text


def test_video_mode_flags(tmp_path, tiny_prior_file):
    """--video couples the frames (0.08 s at IN's fps, 25 fps without one); --temporal-sigma sets frames."""
    from zedo_core.temporal import video_sigma

    kp = np.concatenate([KP, KP[::-1], KP])  # 9 frames
    prior = load_prior(tiny_prior_file, device="cpu")
    for extra, options, sigma in [({}, ["--video"], video_sigma(25.0)), ({"fps": 50.0}, ["--video"], video_sigma(50.0)),
                                  ({}, ["--temporal-sigma", "1.5"], 1.5)]:
        src = write_npz(tmp_path / "in.npz", keypoints=kp, K=K, **extra)
        out = tmp_path / "out.npz"
        proc = run_cli("lift", src, out, "--prior", tiny_prior_file, "--iterations", 5, *options)
        assert proc.returncode == 0, proc.stderr
        assert f"video mode (temporal sigma {sigma:g} frames)" in proc.stderr
        expected = lift(prior, kp, K, config=LiftConfig(iterations=5, temporal_sigma=sigma))
        np.testing.assert_allclose(check_output(out, 9, 1)["poses3d"], expected.poses3d, rtol=0, atol=1e-5)
    proc = run_cli("lift", src, tmp_path / "out.npz", "--temporal-sigma", "-1")
    assert proc.returncode == 2 and "--temporal-sigma must be a number >= 0" in proc.stderr
    bad = write_npz(tmp_path / "bad.npz", keypoints=kp, K=K, fps=-3.0)
    proc = run_cli("lift", bad, tmp_path / "out.npz", "--prior", tiny_prior_file, "--video")
    assert proc.returncode == 2 and "'fps'" in proc.stderr
    assert "--video" in run_cli("lift", "--help").stdout


CALIBRATION = """%YAML:1.0
---
image_width: 1000
image_height: 1000
camera_matrix: !!opencv-matrix
   rows: 3
   cols: 3
   dt: d
   data: [ 1100., 0., 500., 0., 1100., 500., 0., 0., 1. ]
distortion_coefficients: !!opencv-matrix
   rows: 1
   cols: 5
   dt: d
   data: [ -0.2, 0.05, 0.001, -0.001, 0. ]
"""


def test_lift_an_openpose_folder_with_a_calibration_file(tmp_path, tiny_prior_file):
    """--camera: K from the file, keypoints undistorted before lifting (same as the library on the
    undistorted keypoints); the folder's BODY_25 layout detected; notes printed."""
    from test_layouts import from_h36m

    from zedo_core.camera_files import read_camera
    from zedo_core.distortion import distort_points

    (tmp_path / "calib.yml").write_text(CALIBRATION)
    body = from_h36m(KP, "body25")
    observed = distort_points(body, K, [-0.2, 0.05, 0.001, -0.001, 0.0])
    folder = tmp_path / "cam1_json"
    folder.mkdir()
    for f in range(3):
        people = [{"pose_keypoints_2d": np.concatenate([observed[f], np.ones((25, 1))], 1).ravel().tolist()}]
        (folder / f"cam1.{f:04d}.json").write_text(__import__("json").dumps({"people": people}))
    out = tmp_path / "out.npz"
    proc = run_cli("lift", folder, out, "--camera", tmp_path / "calib.yml", "--prior", tiny_prior_file, "--iterations", 5)
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("note:")]
    assert any("read as BODY_25:" in n for n in notes) and any("undistorted" in n for n in notes)
    assert any("K from camera calib of calib.yml" in n for n in notes)
    camera = read_camera(tmp_path / "calib.yml")
    kp17, conf17 = to_h36m(camera.undistort(observed), None, "body25")
    expected = lift(load_prior(tiny_prior_file, device="cpu"), kp17, K, conf17, LiftConfig(iterations=5))
    np.testing.assert_allclose(check_output(out, 3, 1)["poses3d"], expected.poses3d, rtol=0, atol=1e-5)


def test_npz_without_K_takes_it_from_the_calibration(tmp_path, tiny_prior_file):
    (tmp_path / "calib.yml").write_text(CALIBRATION.replace("-0.2, 0.05, 0.001, -0.001, 0.", "0., 0., 0., 0., 0."))
    src = write_npz(tmp_path / "in.npz", keypoints=KP, image_size=np.array([500, 500]))  # half the calibrated size
    proc = run_cli("lift", src, tmp_path / "out.npz", "--camera", tmp_path / "calib.yml", "--prior", tiny_prior_file,
                   "--iterations", 5)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "K scaled to the keypoints' 500x500" in proc.stderr
    K_half = np.array([[550.0, 0.0, 249.75], [0.0, 550.0, 249.75], [0.0, 0.0, 1.0]])
    expected = lift(load_prior(tiny_prior_file, device="cpu"), KP, K_half, None, LiftConfig(iterations=5))
    np.testing.assert_allclose(check_output(tmp_path / "out.npz", 3, 1)["poses3d"], expected.poses3d, rtol=0, atol=1e-5)


BAD_CAMERA = {
    "camera name without camera": (["--camera-name", "cam_01"], ["--camera-name cam_01: needs --camera FILE"]),
    "missing calibration": (["--camera", "nowhere.toml"], ["nowhere.toml", "no such file"]),
    "unknown camera": (["--camera", "{calib}", "--camera-name", "cam_9"], ["no camera named 'cam_9'", "cameras: calib"]),
}


@pytest.mark.parametrize("case", list(BAD_CAMERA))
def test_bad_camera_options_exit_2_with_one_error_line(tmp_path, tiny_prior_file, case):
    (tmp_path / "calib.yml").write_text(CALIBRATION)
    options, words = BAD_CAMERA[case]
    options = [o.replace("{calib}", str(tmp_path / "calib.yml")) for o in options]
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K)
    proc = run_cli("lift", src, tmp_path / "out.npz", "--prior", tiny_prior_file, "--iterations", 5, *options)
    assert_bad_input(proc, words)


def test_json_input_without_a_camera_is_bad_input(tmp_path, tiny_prior_file):
    coco = _coco_from_h36m(KP)
    results = [{"image_id": f, "keypoints": np.concatenate([coco[f], np.ones((17, 1))], 1).ravel().tolist()} for f in range(3)]
    (tmp_path / "r.json").write_text(__import__("json").dumps(results))
    proc = run_cli("lift", tmp_path / "r.json", tmp_path / "out.npz", "--prior", tiny_prior_file)
    assert proc.returncode == 2 and "r.json: has no camera K: pass --camera FILE" in proc.stderr


def test_an_out_that_is_the_calibration_file_is_refused_before_reading(tmp_path, tiny_prior_file):
    calibration = tmp_path / "calib.npz"  # an .npz name, so only the path check can stop it
    calibration.write_text(CALIBRATION)
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K)
    proc = run_cli("lift", src, calibration, "--camera", calibration, "--prior", tiny_prior_file, "--iterations", 5)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to overwrite" in lines[0] and "calib.npz" in lines[0], proc.stderr
    assert calibration.read_text() == CALIBRATION


def test_save_body_then_lift_with_it(tmp_path, tiny_prior_file):
    """--save-body writes the lifted frames' median bone lengths next to OUT; --body lifts with a
    body (LiftConfig.bone_lengths), as the library does."""
    import json

    from zedo_core.body import median_bone_lengths, read_body

    kp = np.concatenate([KP, KP[::-1], KP])
    src = write_npz(tmp_path / "in.npz", keypoints=kp, K=K)
    body_file = tmp_path / "actor.json"
    proc = run_cli("lift", src, tmp_path / "take1.npz", "--prior", tiny_prior_file, "--iterations", 5, "--video",
                   "--save-body", body_file)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {body_file}: the body (median bone lengths) of 9 lifted frames" in proc.stderr
    poses = check_output(tmp_path / "take1.npz", 9, 1)["poses3d"]
    assert json.loads(body_file.read_text())["format"] == "zedo-body"
    np.testing.assert_allclose(read_body(body_file), median_bone_lengths(poses), atol=1e-5)

    proc = run_cli("lift", src, tmp_path / "take2.npz", "--prior", tiny_prior_file, "--iterations", 5, "--body", body_file)
    assert proc.returncode == 0, proc.stderr
    assert f"the body of {body_file}" in proc.stderr
    config = LiftConfig(iterations=5, bone_lengths=read_body(body_file))
    expected = lift(load_prior(tiny_prior_file, device="cpu"), kp, K, config=config)
    np.testing.assert_allclose(check_output(tmp_path / "take2.npz", 9, 1)["poses3d"], expected.poses3d, rtol=0, atol=1e-5)


def test_bad_body_options_exit_2_and_leave_nothing_behind(tmp_path, tiny_prior_file):
    src = write_npz(tmp_path / "in.npz", keypoints=KP, K=K)
    out = tmp_path / "out.npz"
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "zedo-body", "version": 1, "bone_lengths": {"pelvis-right_hip": 0.1}}')
    assert_bad_input(run_cli("lift", src, out, "--prior", tiny_prior_file, "--body", broken), [str(broken), "'right_hip-right_knee'"])
    assert_bad_input(run_cli("lift", src, out, "--prior", tiny_prior_file, "--body", tmp_path / "no.json"), ["no such body file"])
    assert_bad_input(run_cli("lift", src, out, "--prior", tiny_prior_file, "--save-body", src), ["refusing to overwrite"])
    assert_bad_input(run_cli("lift", src, out, "--prior", tiny_prior_file, "--save-body", out), [str(out)])
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted(["broken.json", "in.npz", tiny_prior_file.name])


def test_a_body25b_head_top_is_aimed_at_not_pinned(tmp_path, tiny_prior_file):
    """The CLI lifts BODY_25B keypoints with their head top aimed at (Layout.aimed), as the library
    does with LiftConfig(aimed_joints=("head",))."""
    from test_layouts import from_h36m

    body = from_h36m(KP, "body25b")
    src = write_npz(tmp_path / "in.npz", keypoints=body, K=K, layout=np.array("body25b"))
    proc = run_cli("lift", src, tmp_path / "out.npz", "--prior", tiny_prior_file, "--iterations", 5)
    assert proc.returncode == 0, proc.stderr
    kp17, conf17 = to_h36m(body, None, "body25b")
    prior = load_prior(tiny_prior_file, device="cpu")
    expected = lift(prior, kp17, K, conf17, LiftConfig(iterations=5, aimed_joints=("head",)))
    np.testing.assert_allclose(check_output(tmp_path / "out.npz", 3, 1)["poses3d"], expected.poses3d, rtol=0, atol=1e-5)
    pinned = lift(prior, kp17, K, conf17, LiftConfig(iterations=5))
    assert not np.allclose(pinned.poses3d, expected.poses3d, atol=1e-4)
