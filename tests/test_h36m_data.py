"""Human3.6M loaders and an accuracy smoke test (skipped when the shared data is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import action_name, build_samples
from training.h36m import TEST_SUBJECTS, TRAIN_SUBJECTS, load_cameras, load_poses, project
from zedo_core.lifting import LiftConfig, lift
from zedo_core.metrics import mpjpe  # noqa: E402

from conftest import project_np  # noqa: E402


@pytest.fixture(scope="module")
def gt_samples(h36m_dir):
    return build_samples(str(h36m_dir), "gt", stride=6400)


def test_load_cameras(h36m_dir):
    cameras = load_cameras(h36m_dir)
    assert set(cameras) == set(TRAIN_SUBJECTS + TEST_SUBJECTS)
    for subject, cams in cameras.items():
        assert len(cams) == 4, subject
        for cam in cams.values():
            np.testing.assert_allclose(cam.R @ cam.R.T, np.eye(3), atol=1e-6)
            assert np.linalg.det(cam.R) == pytest.approx(1.0, abs=1e-6)
            assert cam.K.shape == (3, 3) and cam.K[2, 2] == 1.0 and cam.K[0, 0] > 500
            assert 0 < cam.K[0, 2] < cam.width and 0 < cam.K[1, 2] < cam.height


def test_ground_truth_projection_lies_in_the_image(h36m_dir):
    poses = load_poses(h36m_dir, ("S9",))
    cameras = load_cameras(h36m_dir)["S9"]
    assert poses and all(p.shape[1:] == (17, 3) for p in poses.values())
    key = sorted(poses)[0]
    world = poses[key][::200]
    for cam in cameras.values():
        cam3d = cam.world_to_camera_m(world)
        assert (cam3d[..., 2] > 1.0).all()  # metres, in front of the camera
        uv = project(cam3d, cam.K)
        assert (uv[..., 0] > 0).all() and (uv[..., 0] < cam.width).all()
        assert (uv[..., 1] > 0).all() and (uv[..., 1] < cam.height).all()


def test_build_samples_shapes(gt_samples):
    s = gt_samples
    n = len(s.keys)
    assert n > 0 and len(s.actions) == n and s.frames.shape == (n,)
    assert s.gt3d.shape == (n, 17, 3) and s.keypoints.shape == (n, 17, 2)
    assert s.confidence.shape == (n, 17) and s.K.shape == (n, 3, 3)
    assert (s.confidence == 1).all()
    assert {k.split("/")[0] for k in s.keys} == set(TEST_SUBJECTS)
    assert (s.gt3d[..., 2] > 0).all()
    np.testing.assert_allclose(s.keypoints, project_np(s.gt3d, s.K), atol=1e-6)
    assert action_name("Walking 1") == "Walking" and action_name("WalkingDog 1") == "WalkDog"


def test_random_frames_are_drawn_uniformly_from_every_frame_and_seeded(h36m_dir):
    def draw(seed):
        samples = build_samples(str(h36m_dir), "gt", stride=640, random_frames=60, seed=seed)
        return samples, list(zip(samples.keys, samples.frames.tolist()))

    drawn, pairs = draw(4)
    assert len(drawn.keys) == 60 and drawn.gt3d.shape == (60, 17, 3)
    assert {k.split("/")[0] for k in drawn.keys} == set(TEST_SUBJECTS) and len(set(drawn.keys)) > 30
    assert any(f % 640 for f in drawn.frames.tolist())  # not the stride's frames
    assert len(set(pairs)) == 60  # without replacement
    assert draw(4)[1] == pairs and draw(5)[1] != pairs
    np.testing.assert_allclose(drawn.keypoints, project_np(drawn.gt3d, drawn.K), atol=1e-6)


def test_accuracy_smoke_with_shipped_prior(shipped_prior, gt_samples):
    """Ground-truth 2D of 16 test samples. The 250 mm bound is a loose smoke bound only (a broken
    prior or loop lands far above it); the real accuracy is measured by training/evaluate.py."""
    s = gt_samples
    result = lift(shipped_prior, s.keypoints[:16], s.K[:16], s.confidence[:16], LiftConfig(iterations=100))
    errors_mm = mpjpe(result.poses3d, s.gt3d[:16]) * 1000
    assert np.isfinite(errors_mm).all()
    assert errors_mm.mean() < 250, errors_mm
