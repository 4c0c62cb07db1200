"""Headless batch conversion: end to end in a fresh process, and every bad input."""

from __future__ import annotations

import os
import subprocess
import sys

import bpy
import numpy as np
import pytest

from addon.helpers import EXAMPLE, REPO_ROOT
from zedo_blender import batch
from zedo_blender.skeleton import BONE_NAMES


def _run_batch(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "zedo_blender.batch", *args], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Two inputs in one call: the example .npz (with BVH and FBX) and a COCO JSON of it."""
    out = tmp_path_factory.mktemp("batch")
    with np.load(EXAMPLE) as data:
        keypoints, confidence = data["keypoints"][:20], data["confidence"][:20]
    coco_order = [9, 9, 9, 9, 9, 11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]  # head joints stand in for the face
    results = [
        {"image_id": i, "keypoints": np.concatenate([keypoints[i, coco_order], confidence[i, coco_order, None]], 1).ravel().tolist()}
        for i in range(20)
    ]
    (out / "coco.json").write_text(__import__("json").dumps(results))
    process = _run_batch(
        "--iterations", "50",
        "--input", str(EXAMPLE), "--output", str(out / "walk.blend"), "--bvh", str(out / "walk.bvh"), "--fbx", str(out / "walk.fbx"),
        "--input", str(out / "coco.json"), "--layout", "coco", "--image-size", "1920", "1080", "--output", str(out / "coco.blend"),
    )
    return out, process


def test_batch_converts_several_inputs(converted):
    out, process = converted
    assert process.returncode == 0, process.stderr
    assert "[1/2]" in process.stdout and "[2/2]" in process.stdout and "%" in process.stdout
    for name in ("walk.blend", "walk.bvh", "walk.fbx", "coco.blend"):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob(".*partial*"))


def test_batch_blend_holds_rig_camera_and_action(converted, addon):
    out, _ = converted
    bpy.ops.wm.open_mainfile(filepath=str(out / "walk.blend"))
    scene = bpy.context.scene
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert scene.camera is not None and scene.camera.type == "CAMERA"
    assert rig.animation_data.action is not None
    assert (scene.frame_start, scene.frame_end) == (1, 90)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1920, 1080)
    scene.frame_set(45)
    feet = [(rig.matrix_world @ rig.pose.bones[name].tail).z for name in ("LeftLeg", "RightLeg")]
    assert -0.05 < min(feet) < 0.2  # ankles just above the ground plane


def test_bvh_and_fbx_exports_read_back(converted, empty_scene):
    out, _ = converted
    bvh = (out / "walk.bvh").read_text()
    assert "Frames: 90" in bvh and all(f"JOINT {name}" in bvh or f"ROOT {name}" in bvh for name in BONE_NAMES)
    bpy.ops.import_scene.fbx(filepath=str(out / "walk.fbx"))
    rig = next(o for o in bpy.data.objects if o.type == "ARMATURE")
    assert set(BONE_NAMES) <= {b.name for b in rig.data.bones}
    assert rig.animation_data is not None and rig.animation_data.action is not None


def _bad(capsys, *args: str) -> str:
    code = batch.main(list(args))
    captured = capsys.readouterr()
    assert code == 2
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    return lines[0]


def test_bad_inputs_exit_2_with_one_line(capsys, tmp_path, addon):
    out = tmp_path / "out.blend"
    assert "no such file" in _bad(capsys, "--input", str(tmp_path / "missing.npz"), "--output", str(out))
    np.savez(tmp_path / "wrong_keys.npz", points=np.zeros((3, 17, 2)), K=np.eye(3))
    assert "keypoints" in _bad(capsys, "--input", str(tmp_path / "wrong_keys.npz"), "--output", str(out))
    K = np.array([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]])
    np.savez(tmp_path / "nan_k.npz", keypoints=np.full((3, 17, 2), 100.0), K=np.full((3, 3), np.nan))
    assert "K" in _bad(capsys, "--input", str(tmp_path / "nan_k.npz"), "--output", str(out))
    np.savez(tmp_path / "zero.npz", keypoints=np.zeros((0, 17, 2)), K=K)
    assert "frame" in _bad(capsys, "--input", str(tmp_path / "zero.npz"), "--output", str(out))
    few = np.full((3, 17, 2), np.nan)
    few[:, :3] = [[100, 100], [120, 140], [90, 180]]
    np.savez(tmp_path / "few.npz", keypoints=few, K=K)
    assert "fewer than 4" in _bad(capsys, "--input", str(tmp_path / "few.npz"), "--output", str(out))
    assert "--output" in _bad(capsys, "--input", str(EXAMPLE), "--output", str(tmp_path / "out.txt"))
    assert not out.exists()


def test_failed_batch_keeps_existing_output(capsys, tmp_path, addon):
    out = tmp_path / "keep.blend"
    out.write_bytes(b"user's file")
    _bad(capsys, "--input", str(tmp_path / "missing.npz"), "--output", str(out))
    assert out.read_bytes() == b"user's file"


def test_bad_layout_joint_count_and_height_exit_2(capsys, tmp_path, addon):
    out = tmp_path / "out.blend"
    assert "layout" in _bad(capsys, "--input", str(EXAMPLE), "--layout", "nosuch", "--output", str(out))
    K = np.array([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]])
    np.savez(tmp_path / "twenty.npz", keypoints=np.full((3, 20, 2), 100.0), K=K)
    assert "20" in _bad(capsys, "--input", str(tmp_path / "twenty.npz"), "--output", str(out))
    assert "height" in _bad(capsys, "--input", str(EXAMPLE), "--actor-height", "0", "--output", str(out))
    assert not out.exists()


def test_uncalibrated_input_gets_the_field_of_view_guess(tmp_path, addon):
    with np.load(EXAMPLE) as data:
        keypoints = data["keypoints"][:5]
    np.savez(tmp_path / "nok.npz", keypoints=keypoints, image_size=np.array([1920, 1080]))
    settings, jobs = batch.parse_args(["--input", str(tmp_path / "nok.npz"), "--fov", "90", "--output", str(tmp_path / "o.blend")])
    prepared = batch.prepare(jobs[0])
    assert prepared.K[0, 0] == pytest.approx(960.0) and prepared.image_size == (1920, 1080)


def test_script_mode_as_blender_runs_it(tmp_path):
    """`blender -b --python zedo_blender/batch.py -- ARGS` runs the file as a script (no package):
    the same converter, arguments after `--`."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    script = str(REPO_ROOT / "zedo_blender" / "batch.py")
    ok = subprocess.run(
        [sys.executable, script, "--", "--iterations", "10", "--input", str(EXAMPLE), "--output", str(tmp_path / "s.blend")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert (tmp_path / "s.blend").stat().st_size > 0
    bad = subprocess.run(
        [sys.executable, script, "--", "--input", str(tmp_path / "nope.npz"), "--output", str(tmp_path / "t.blend")],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [f"error: {tmp_path / 'nope.npz'}: no such file or folder"]
