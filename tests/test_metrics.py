"""Pose-error metrics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from zedo_core.metrics import auc, mpjpe, pa_mpjpe, pck, procrustes_align, root_path_error

from conftest import T_POSE


@pytest.fixture
def poses() -> np.ndarray:
    rng = np.random.default_rng(0)
    return T_POSE[None] + rng.normal(scale=0.05, size=(6, 17, 3))


def test_mpjpe_zero_for_identical_and_translation_invariant(poses):
    np.testing.assert_allclose(mpjpe(poses, poses), 0.0, atol=1e-15)
    shifted = poses + np.array([0.3, -1.0, 4.0])
    np.testing.assert_allclose(mpjpe(shifted, poses), 0.0, atol=1e-12)


def test_mpjpe_known_values():
    target = T_POSE.copy()
    one_joint = target.copy()
    one_joint[5] += [0.0, 0.3, 0.4]  # 0.5 m off on one of 17 joints
    assert mpjpe(one_joint, target) == pytest.approx(0.5 / 17)
    pelvis = target.copy()
    pelvis[0] += [0.17, 0.0, 0.0]  # after pelvis alignment the 16 other joints are 0.17 off
    assert mpjpe(pelvis, target) == pytest.approx(16 * 0.17 / 17)


def test_mpjpe_batch_shape(poses):
    assert mpjpe(poses[:, None].repeat(3, 1), poses[:, None]).shape == (6, 3)


def test_pa_mpjpe_zero_for_similarity_transform(poses):
    R = Rotation.from_euler("xyz", [30, -70, 110], degrees=True).as_matrix()
    transformed = 1.7 * poses @ R.T + np.array([0.5, -0.2, 3.0])
    assert mpjpe(transformed, poses).min() > 0.1
    np.testing.assert_allclose(pa_mpjpe(transformed, poses), 0.0, atol=1e-12)
    np.testing.assert_allclose(procrustes_align(transformed, poses), poses, atol=1e-12)


def test_pa_mpjpe_does_not_allow_reflection(poses):
    mirrored = poses * np.array([-1.0, 1.0, 1.0])
    assert (pa_mpjpe(mirrored, poses) > 1e-3).all()


def test_pa_mpjpe_not_above_mpjpe(poses):
    rng = np.random.default_rng(1)
    noisy = poses + rng.normal(scale=0.04, size=poses.shape)
    assert (pa_mpjpe(noisy, poses) <= mpjpe(noisy, poses)).all()
    # The alignment is the least-squares similarity fit, so its squared error can never exceed that
    # of pelvis alignment (identity rotation, scale 1, pelvis translation is one candidate).
    aligned = procrustes_align(noisy, poses)
    pelvis_aligned = noisy - noisy[:, :1] + poses[:, :1]
    assert (((aligned - poses) ** 2).sum((-1, -2)) <= ((pelvis_aligned - poses) ** 2).sum((-1, -2)) + 1e-12).all()


def test_pck_and_auc():
    target = T_POSE.copy()
    pred = target.copy()
    pred[1:5] += [0.2, 0.0, 0.0]  # 4 joints 200 mm off, 13 exact
    assert pck(pred, target) == pytest.approx(13 / 17)
    assert pck(pred, target, threshold=0.25) == pytest.approx(1.0)
    assert auc(target, target) == pytest.approx(1.0)
    assert auc(pred, target) == pytest.approx(13 / 17)


def test_procrustes_is_the_optimal_proper_similarity():
    """Against a brute-force fit over rotation vector, log-scale and translation, including a
    mirrored pose (where the best proper rotation needs the SVD's reflection fix)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(2)
    target = T_POSE + rng.normal(scale=0.05, size=(17, 3))
    for predicted in (target * [-1.0, 1.0, 1.0], 0.8 * target + rng.normal(scale=0.1, size=(17, 3))):

        def sse(params: np.ndarray) -> float:
            R = Rotation.from_rotvec(params[:3]).as_matrix()
            fitted = np.exp(params[3]) * predicted @ R.T + params[4:]
            return float(((fitted - target) ** 2).sum())

        best = min(
            (minimize(sse, np.r_[Rotation.random(random_state=s).as_rotvec(), 0.0, 0.0, 0.0, 0.0], method="BFGS") for s in range(4)),
            key=lambda r: r.fun,
        )
        aligned = procrustes_align(predicted, target)
        assert ((aligned - target) ** 2).sum() == pytest.approx(best.fun, rel=1e-6, abs=1e-10)


def test_root_path_error_forgives_one_scale_of_the_clip_and_sees_a_lurch():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(20, 17, 3)) * 0.2 + np.array([0.0, 0.0, 5.0])
    np.testing.assert_allclose(root_path_error(1.1 * truth, truth), 0.0, atol=1e-12)
    lurch = truth.copy()
    lurch[-3:, :, 2] += [[0.1], [0.2], [0.3]]
    error = root_path_error(lurch, truth)
    assert error[-1] > 0.2 and np.all(error[:-3] < 0.05)
    lurch[5] = np.nan
    assert np.isnan(root_path_error(lurch, truth)[5]) and np.isfinite(np.delete(root_path_error(lurch, truth), 5)).all()
