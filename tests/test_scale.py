"""Metric scale from a known height."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import K_SYNTH, T_POSE, project_np
from zedo_core import InputError
from zedo_core.scale import ANKLE_HEIGHT_FRACTION, body_size, scale_to_height, standing_height, steady_size


def test_standing_height_of_a_straight_pose():
    # T_POSE: legs 0.43 + 0.43 (+ small knee offsets), trunk 0.23 + 0.25 + 0.08..0.12.
    legs = np.linalg.norm(T_POSE[3] - T_POSE[2]) + np.linalg.norm(T_POSE[2] - T_POSE[1])
    trunk = sum(np.linalg.norm(T_POSE[a] - T_POSE[b]) for a, b in ((0, 7), (7, 8), (8, 9), (9, 10)))
    assert standing_height(T_POSE) == pytest.approx((legs + trunk) / (1 - ANKLE_HEIGHT_FRACTION))


def test_scaling_keeps_the_projection_and_sets_the_height():
    poses = np.stack([T_POSE + [0.1, 0.0, 4.0], T_POSE + [-0.2, 0.1, 5.0]])
    scaled, factor = scale_to_height(poses, 1.62)
    assert standing_height(scaled) == pytest.approx(1.62)
    assert factor == pytest.approx(1.62 / standing_height(poses))
    np.testing.assert_allclose(project_np(scaled, K_SYNTH), project_np(poses, K_SYNTH), atol=1e-9)


def test_nan_frames_are_ignored_and_bad_heights_rejected():
    poses = np.stack([T_POSE, np.full((17, 3), np.nan)])
    assert standing_height(poses) == pytest.approx(standing_height(T_POSE))
    for bad in (0.0, -1.7, float("nan")):
        with pytest.raises(InputError, match="height"):
            scale_to_height(poses, bad)
    with pytest.raises(InputError, match="no frame"):
        standing_height(np.full((2, 17, 3), np.nan))


def _walk_away(frames: int) -> np.ndarray:
    """``(frames, 1, 17, 3)`` T_POSE walking away from the camera, 3 to 5 m."""
    depth = np.linspace(3.0, 5.0, frames)
    return (T_POSE[None] + np.stack([0.2 * np.sin(depth), 0.0 * depth, depth], axis=-1)[:, None])[:, None]


def test_steady_size_gives_every_frame_its_clips_size_and_keeps_the_projection():
    truth = _walk_away(31)
    # A size drifting through the clip (1 at the middle frame), scaled about the camera centre as
    # the closed-form translation would place it.
    factors = 1.0 / (1.0 + 0.004 * (np.arange(31) - 15))
    drifting = truth * factors[:, None, None, None]
    for sigma in (0.0, 4.0):  # the local line of the smoothing keeps this correction exactly
        steady = steady_size(drifting, sigma)
        np.testing.assert_allclose(body_size(steady), body_size(T_POSE), rtol=1e-9)
        np.testing.assert_allclose(steady, truth, atol=1e-9)
        np.testing.assert_allclose(project_np(steady[:, 0], K_SYNTH), project_np(drifting[:, 0], K_SYNTH), atol=1e-9)


def test_steady_size_keeps_clips_and_hypotheses_apart_and_nan_frames_nan():
    small, large = _walk_away(10), 1.2 * _walk_away(10)
    poses = np.concatenate([np.concatenate([small, large], axis=1), np.concatenate([large, small], axis=1)])
    poses[3] = np.nan
    steady = steady_size(poses.astype(np.float32), 2.0, segments=np.repeat([0, 1], 10))
    assert steady.dtype == np.float32
    assert np.isnan(steady[3]).all() and np.isfinite(np.delete(steady, 3, axis=0)).all()
    # Every clip and hypothesis was one size already: nothing moves.
    np.testing.assert_allclose(np.delete(steady, 3, axis=0), np.delete(poses, 3, axis=0), rtol=1e-6)


def test_steady_size_ignores_a_frame_of_another_size_when_sizing_the_clip():
    poses = _walk_away(9)
    poses[4] *= 1.3  # one frame lifted 30% too large (and too far)
    steady = steady_size(poses, 0.0)
    np.testing.assert_allclose(body_size(steady), body_size(T_POSE), rtol=1e-9)
    np.testing.assert_allclose(steady, _walk_away(9), atol=1e-9)


def test_steady_size_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(T, S, 17, 3\)"):
        steady_size(np.zeros((4, 17, 3)), 1.0)
    with pytest.raises(ValueError, match="segments"):
        steady_size(_walk_away(4), 1.0, segments=np.zeros(3, dtype=int))
