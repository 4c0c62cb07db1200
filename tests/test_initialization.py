"""The start pose searches (zedo_core.initialization), on numpy arrays; tests/test_backends.py
checks torch tensors give the same and the reference Adam's hand-written gradient against autograd."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from zedo_core.geometry import rotation_grid, rotation_matrices, unit_rays
from zedo_core.initialization import adam_reference_start, grid_search_start
from zedo_core.skeleton import PELVIS

from conftest import K_SYNTH, project_np


def _search_inputs(camera_data, n_frames: int):
    poses, K, kp = camera_data(n_frames, seed=3)
    K_rows = np.repeat(K[None], n_frames, 0).astype(np.float32)
    keypoints = kp.astype(np.float32)
    weights = np.ones((n_frames, 17), dtype=np.float32)
    weights[1, 5] = 0.0  # a missing joint
    rays = unit_rays(keypoints, np.linalg.inv(K_rows))
    rotations = rotation_grid(24, (-15.0, 0.0, 15.0), (0.0,)).astype(np.float32)
    return poses, K, K_rows, keypoints, weights, rays, rotations


def test_shared_pool_finds_what_per_row_copies_find(tiny_prior, camera_data):
    """A pool given once (1, M, 17, 3) and shared by every row is searched exactly like per-row
    copies of it, also when the rows do not fill the last batch."""
    _, _, K_rows, keypoints, weights, rays, rotations = _search_inputs(camera_data, 5)
    pool = tiny_prior.initial_poses[50]
    per_row = np.broadcast_to(pool[None], (5, *pool.shape)).copy()
    small_batches = dict(max_candidates=2 * 50 * rotations.shape[0])  # 2 rows per batch: 3 batches
    for kwargs in ({}, small_batches):
        shared_pose, shared_t = grid_search_start(pool[None], keypoints, K_rows, rays, weights, rotations, **kwargs)
        row_pose, row_t = grid_search_start(per_row, keypoints, K_rows, rays, weights, rotations, **kwargs)
        assert isinstance(shared_pose, np.ndarray) and shared_pose.dtype == np.float32
        assert shared_pose.shape == (5, 17, 3) and shared_t.shape == (5, 3)
        np.testing.assert_allclose(shared_pose, row_pose, rtol=0, atol=1e-6)
        np.testing.assert_allclose(shared_t, row_t, rtol=0, atol=1e-5)


def test_search_recovers_a_turned_person(tiny_prior, camera_data):
    """People in a T-pose turned by -15..25 degrees; the pool holds perturbed T-poses facing the
    camera: the search turns one to the person's heading and puts it at the right distance."""
    poses, K, K_rows, keypoints, weights, rays, rotations = _search_inputs(camera_data, 3)
    pose, translation = grid_search_start(
        tiny_prior.initial_poses[50][None], keypoints, K_rows, rays, weights, rotations
    )
    absolute = pose + translation[:, None]
    error_px = np.linalg.norm(project_np(absolute, K) - keypoints, axis=-1)
    assert np.median(error_px) < 12.0
    np.testing.assert_allclose(translation[:, 2], poses[:, 0, 2], atol=0.25)
    assert np.linalg.norm(absolute - poses, axis=-1).mean() < 0.2
    # Facing: the hips' left-right direction agrees with the truth's.
    hips = absolute[:, 4] - absolute[:, 1]
    hips_true = poses[:, 4] - poses[:, 1]
    cos = (hips * hips_true).sum(-1) / np.linalg.norm(hips, axis=-1) / np.linalg.norm(hips_true, axis=-1)
    assert (cos > 0.9).all()


def test_search_reports_each_batch_and_a_raising_callback_stops_it(tiny_prior, camera_data):
    """``on_batch(rows_done, rows)`` after every batch of rows, in order, ending at all rows; an
    exception raised there (a cancel) leaves the search at once."""
    _, _, K_rows, keypoints, weights, rays, rotations = _search_inputs(camera_data, 5)
    pool = tiny_prior.initial_poses[50][None]
    two_rows = 2 * 50 * rotations.shape[0]
    calls = []
    expected = grid_search_start(pool, keypoints, K_rows, rays, weights, rotations, max_candidates=two_rows)
    got = grid_search_start(
        pool, keypoints, K_rows, rays, weights, rotations, max_candidates=two_rows,
        on_batch=lambda d, t: calls.append((d, t)),
    )
    assert calls == [(2, 5), (4, 5), (5, 5)]
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)  # the callback changes nothing

    class Stop(Exception):
        pass

    seen = []

    def stop(done: int, total: int) -> None:
        seen.append(done)
        raise Stop

    with pytest.raises(Stop):
        grid_search_start(pool, keypoints, K_rows, rays, weights, rotations, max_candidates=two_rows, on_batch=stop)
    assert seen == [2]


def test_adam_reference_start_finds_a_turn_about_the_optical_axis(tiny_prior):
    """The authors' start: the template turned about z only, translated along the pelvis ray by a
    scale in [0.5, 2] of 3 m. Keypoints of templates turned and placed exactly so: Adam (with the
    hand-written gradient) recovers the turn and the distance."""
    templates = tiny_prior.initial_poses[10][:4].astype(np.float64)  # asymmetric poses
    angle = np.array([0.3, -0.5, 0.05, 1.0])
    scale = np.array([1.5, 0.7, 1.2, 1.0])
    ray = np.array([[0.05, -0.02, 1.0], [-0.1, 0.05, 1.0], [0.0, 0.0, 1.0], [0.12, 0.1, 1.0]])
    ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
    truth = templates @ rotation_matrices("z", angle).transpose(0, 2, 1) + 3.0 * scale[:, None, None] * ray[:, None]
    keypoints = project_np(truth, K_SYNTH)
    K_rows = np.repeat(K_SYNTH[None], 4, 0)
    rays = unit_rays(keypoints, np.linalg.inv(K_rows))
    weights = np.ones((4, 17))
    weights[1, 7] = 0.0  # a joint the optimiser does not use: changes nothing
    pose, T = adam_reference_start(templates, keypoints, K_rows, rays, weights)
    assert pose.shape == (4, 17, 3) and T.shape == (4, 3) and pose.dtype == np.float64
    np.testing.assert_allclose(T / np.linalg.norm(T, axis=-1, keepdims=True), rays[:, PELVIS], atol=1e-12)
    # Turned about z only: depths and distances from the optical axis are the template's.
    np.testing.assert_allclose(pose[..., 2], templates[..., 2], atol=1e-12)
    in_plane = np.linalg.norm(templates[..., :2], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(pose[..., :2], axis=-1), in_plane, atol=1e-12)
    # Measured: scale within 0.026, joints within 8.4 mm (Adam at lr 0.1 on an L1 error does not settle exactly).
    np.testing.assert_allclose(np.linalg.norm(T, axis=-1) / 3.0, scale, atol=0.05)
    np.testing.assert_allclose(pose + T[:, None], truth, atol=0.02 * 3.0 * scale.max())
    assert np.abs(pose - (truth - truth[:, :1])).max() < 0.02
    # From the untouched template at 3 m the hips' error is far larger.
    start = project_np(templates + 3.0 * rays[:, PELVIS, None], K_SYNTH)
    end = project_np(pose + T[:, None], K_SYNTH)
    hips = [0, 1, 4]
    assert (np.abs(end - keypoints)[:, hips].sum((1, 2)) < 0.1 * np.abs(start - keypoints)[:, hips].sum((1, 2))).all()


def test_pinhole_cost_equals_the_general_reprojection_cost():
    """The start search's coarse ranking (coordinate planes, pinhole K) scores exactly what
    geometry.reprojection_error_px does, including missing joints and candidates behind the camera,
    and a candidate with a joint on the camera plane warns of nothing."""
    from zedo_core.initialization import _pinhole_cost, _reprojection_cost

    rng = np.random.default_rng(5)
    R, C, J = 3, 40, 17
    candidates = rng.normal(scale=0.4, size=(R, C, J, 3))
    T = np.concatenate([rng.normal(scale=0.3, size=(R, C, 2)), rng.uniform(2.0, 6.0, size=(R, C, 1))], -1)
    T[0, 3, 2] = -5.0  # behind the camera
    K = np.tile(np.array([[1100.0, 0.0, 500.0], [0.0, 1050.0, 480.0], [0.0, 0.0, 1.0]]), (R, 1, 1))
    keypoints = rng.uniform(0, 1000, size=(R, J, 2))
    weights = rng.uniform(0.1, 1.0, size=(R, J))
    weights[1, 4] = 0.0
    keypoints[1, 4] = np.nan
    candidates[1, 7, 4, 2] = -T[1, 7, 2]  # the missing joint of a candidate on the camera plane
    candidates[2, 8, 6, 2] = -T[2, 8, 2]  # a seen one
    planes = tuple(candidates[..., i] for i in range(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a joint on the camera plane is no RuntimeWarning
        fast = _pinhole_cost(planes, T, keypoints, K, weights)
        general = _reprojection_cost(candidates + T[..., None, :], keypoints, K, weights)
    assert np.isinf(fast[0, 3]) and np.isinf(general[0, 3])
    assert np.isinf(general[2, 8]) and np.isinf(fast[2, 8])
    assert np.isfinite(general[1, 7]) and np.isinf(fast[1, 7])  # the coarse ranking drops it too
    fast[1, 7] = general[1, 7]
    finite = np.isfinite(general)
    np.testing.assert_allclose(fast[finite], general[finite], rtol=1e-10)
    assert np.array_equal(np.isfinite(fast), finite)
