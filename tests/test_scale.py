"""Metric scale from a known height."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import K_SYNTH, T_POSE, project_np
from zedo_core import InputError
from zedo_core.scale import ANKLE_HEIGHT_FRACTION, scale_to_height, standing_height


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
