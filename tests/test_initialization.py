"""The grid search for the start pose (zedo_core.initialization)."""

from __future__ import annotations

import numpy as np
import torch

from zedo_core.geometry import rotation_grid, unit_rays
from zedo_core.initialization import grid_search_start

from conftest import project_np


def _search_inputs(camera_data, n_frames: int):
    poses, K, kp = camera_data(n_frames, seed=3)
    K_rows = torch.as_tensor(np.repeat(K[None], n_frames, 0), dtype=torch.float32)
    keypoints = torch.as_tensor(kp, dtype=torch.float32)
    weights = torch.ones(n_frames, 17)
    weights[1, 5] = 0.0  # a missing joint
    rays = unit_rays(keypoints, torch.linalg.inv(K_rows))
    rotations = rotation_grid(24, (-15.0, 0.0, 15.0), (0.0,)).float()
    return poses, K, K_rows, keypoints, weights, rays, rotations


def test_shared_pool_finds_what_per_row_copies_find(tiny_prior, camera_data):
    """A pool given once (1, M, 17, 3) and shared by every row is searched exactly like per-row
    copies of it, also when the rows do not fill the last batch."""
    _, _, K_rows, keypoints, weights, rays, rotations = _search_inputs(camera_data, 5)
    pool = tiny_prior.initial_poses[50]
    per_row = pool[None].expand(5, -1, -1, -1).contiguous()
    small_batches = dict(max_candidates=2 * 50 * rotations.shape[0])  # 2 rows per batch: 3 batches
    for kwargs in ({}, small_batches):
        shared_pose, shared_t = grid_search_start(pool[None], keypoints, K_rows, rays, weights, rotations, **kwargs)
        row_pose, row_t = grid_search_start(per_row, keypoints, K_rows, rays, weights, rotations, **kwargs)
        torch.testing.assert_close(shared_pose, row_pose, rtol=0, atol=1e-6)
        torch.testing.assert_close(shared_t, row_t, rtol=0, atol=1e-5)


def test_search_recovers_a_turned_person(tiny_prior, camera_data):
    """People in a T-pose turned by -15..25 degrees; the pool holds perturbed T-poses facing the
    camera: the search turns one to the person's heading and puts it at the right distance."""
    poses, K, K_rows, keypoints, weights, rays, rotations = _search_inputs(camera_data, 3)
    pose, translation = grid_search_start(
        tiny_prior.initial_poses[50][None], keypoints, K_rows, rays, weights, rotations
    )
    absolute = (pose + translation[:, None]).numpy()
    error_px = np.linalg.norm(project_np(absolute, K) - keypoints.numpy(), axis=-1)
    assert np.median(error_px) < 12.0
    np.testing.assert_allclose(translation[:, 2].numpy(), poses[:, 0, 2], atol=0.25)
    assert np.linalg.norm(absolute - poses, axis=-1).mean() < 0.2
    # Facing: the hips' left-right direction agrees with the truth's.
    hips = absolute[:, 4] - absolute[:, 1]
    hips_true = poses[:, 4] - poses[:, 1]
    cos = (hips * hips_true).sum(-1) / np.linalg.norm(hips, axis=-1) / np.linalg.norm(hips_true, axis=-1)
    assert (cos > 0.9).all()
