"""Video mode: the temporal smoother, video lifting with the tiny prior, the sequence metrics (numpy;
tests/test_backends.py checks the smoother on torch tensors)."""

from __future__ import annotations

import numpy as np
import pytest

from zedo_core.lifting import LiftConfig, lift
from zedo_core.metrics import acceleration_error
from zedo_core.temporal import (
    VIDEO_SIGMA_SECONDS,
    person_height_px,
    running_median,
    smooth_keypoints,
    smooth_trajectories,
    video_sigma,
)

from conftest import K_SYNTH, T_POSE, project_np, rotation_y

VIDEO = LiftConfig(iterations=5, temporal_sigma=1.0)


def linear_track(T: int = 30, seed: int = 0) -> np.ndarray:
    """``(T, 17, 3)``: every joint moves on its own straight line."""
    rng = np.random.default_rng(seed)
    start, velocity = rng.normal(size=(17, 3)), rng.normal(scale=0.05, size=(17, 3))
    return start + np.arange(T)[:, None, None] * velocity


# ---------------------------------------------------------------- smoothing maths


@pytest.mark.parametrize("threshold", [None, 0.15])
def test_constant_and_linear_trajectories_are_unchanged(threshold):
    constant = np.broadcast_to(T_POSE, (25, 17, 3)).copy()
    np.testing.assert_allclose(smooth_trajectories(constant, 2.0, outlier_threshold=threshold), constant, atol=1e-12)
    line = linear_track()
    np.testing.assert_allclose(smooth_trajectories(line, 3.0, outlier_threshold=threshold), line, atol=1e-10)


def test_quadratic_fit_keeps_a_parabola_and_the_linear_one_does_not():
    t = np.arange(30.0)[:, None, None]
    parabola = (0.3 + 0.1 * t - 0.02 * t**2) * np.ones((30, 17, 3))
    parabola[[3, 10]] = np.nan
    np.testing.assert_allclose(smooth_trajectories(parabola, 2.0, degree=2), parabola, atol=1e-10)
    assert np.nanmax(np.abs(smooth_trajectories(parabola, 2.0) - parabola)) > 0.05  # a line cuts the curve
    with pytest.raises(ValueError, match="degree"):
        smooth_trajectories(parabola, 2.0, degree=3)


def test_zero_sigma_is_the_identity_and_types_are_kept():
    x = linear_track() + np.random.default_rng(1).normal(scale=0.01, size=(30, 17, 3))
    np.testing.assert_array_equal(smooth_trajectories(x, 0.0), x)
    assert isinstance(smooth_trajectories(x, 1.0), np.ndarray) and smooth_trajectories(x, 1.0).dtype == np.float64
    out = smooth_trajectories(x.astype(np.float32), 1.0)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, smooth_trajectories(x, 1.0), rtol=0, atol=1e-5)
    listed = smooth_trajectories(x.tolist(), 1.0)  # a nested list is read as an array
    assert isinstance(listed, np.ndarray)
    np.testing.assert_array_equal(listed, smooth_trajectories(x, 1.0))


def test_missing_frames_and_gaps_stay_missing_and_do_not_disturb_a_line():
    line = linear_track(40)
    x = line.copy()
    x[[0, 7]] = np.nan  # single missing frames, one at the start
    x[15:22] = np.nan  # a gap longer than the window
    x[30, 4] = np.nan  # one joint missing in one frame
    out = smooth_trajectories(x, 2.0)
    missing = np.isnan(x).any(-1)
    assert np.isnan(out[missing]).all()
    np.testing.assert_allclose(out[~missing], line[~missing], atol=1e-10)
    filled = smooth_trajectories(x, 2.0, fill_missing=True)
    near = missing.copy()
    near[15:22] = False  # the middle of a long gap has no frame in its window
    np.testing.assert_allclose(filled[near], line[near], atol=1e-10)


def test_an_isolated_outlier_frame_is_suppressed():
    rng = np.random.default_rng(2)
    line = linear_track(31)
    x = line + rng.normal(scale=0.005, size=line.shape)
    x[15] = x[15] @ rotation_y(180.0).T  # one frame facing the wrong way
    x[22, 13] += [0.4, -0.3, 0.5]  # one wrist 70 cm off
    robust = smooth_trajectories(x, 2.0)
    plain = smooth_trajectories(x, 2.0, outlier_threshold=None)
    error = lambda y, f: np.linalg.norm(y[f] - line[f], axis=-1).max()  # noqa: E731
    assert error(robust, 15) < 0.02 and error(robust, 22) < 0.02
    assert error(plain, 15) > 0.2  # without robustness the flip leaks into the result...
    assert error(plain, 14) > 0.1  # ... and into its neighbours
    assert error(robust, 14) < 0.02


def test_segments_never_see_each_other():
    rng = np.random.default_rng(3)
    a = linear_track(20, seed=4) + rng.normal(scale=0.01, size=(20, 17, 3))
    b = linear_track(12, seed=5) + 3.0
    both = smooth_trajectories(np.concatenate([a, b]), 2.0, segments=np.repeat([0, 1], [20, 12]))
    np.testing.assert_allclose(both[:20], smooth_trajectories(a, 2.0), atol=1e-12)
    np.testing.assert_allclose(both[20:], smooth_trajectories(b, 2.0), atol=1e-12)
    mixed = smooth_trajectories(np.concatenate([a, b]), 2.0)
    assert np.abs(mixed[19] - a[19]).max() > 0.1  # without segments the jump leaks


def test_running_median_ignores_nan_and_bad_shapes_raise():
    x = np.array([1.0, 100.0, 3.0, np.nan, 5.0]).reshape(5, 1, 1)
    med = running_median(x, 1)[:, 0, 0]
    assert med[1] == 3.0 and np.isfinite(med).all()
    # Even counts take the mean of the two middle values (as numpy); windows of NaN only are NaN.
    np.testing.assert_array_equal(med, [50.5, 3.0, 51.5, 4.0, 5.0])
    np.testing.assert_array_equal(running_median(x, 0), x)
    gap = np.array([1.0, np.nan, np.nan, np.nan, 2.0]).reshape(5, 1, 1)
    np.testing.assert_array_equal(running_median(gap, 1)[:, 0, 0], [1.0, 1.0, np.nan, 2.0, 2.0])
    # Segments keep their medians apart.
    np.testing.assert_array_equal(running_median(x, 1, segments=np.array([0, 0, 1, 1, 1]))[:, 0, 0], [50.5, 50.5, 3.0, 4.0, 5.0])
    with pytest.raises(ValueError, match="shape"):
        smooth_trajectories(np.zeros((5, 3)), 1.0)
    with pytest.raises(ValueError, match="segments"):
        smooth_trajectories(np.zeros((5, 17, 3)), 1.0, segments=np.zeros(4))


def test_smooth_keypoints_replaces_outlier_detections_and_keeps_missing_joints():
    T = 21
    poses = np.stack([T_POSE + [0.02 * t, 0.0, 4.0] for t in range(T)])
    kp = project_np(poses, K_SYNTH)
    conf = np.ones((T, 17))
    conf[5, 3] = 0.0
    noisy = kp.copy()
    noisy[10, 13] += [60.0, -40.0]  # a detection 72 px off (the T-pose spans ~420 px)
    noisy[5, 3] = [-999.0, -999.0]  # missing: left alone
    out = smooth_keypoints(noisy, conf, 1.0)
    assert np.linalg.norm(out[10, 13] - kp[10, 13]) < 0.5
    np.testing.assert_array_equal(out[5, 3], noisy[5, 3])
    np.testing.assert_allclose(out[conf > 0], kp[conf > 0], atol=1e-6)  # linear motion stays
    assert 400 < np.nanmedian(person_height_px(kp, conf)) < 450  # the larger side: arm span


def test_video_sigma():
    assert video_sigma(25.0) == pytest.approx(VIDEO_SIGMA_SECONDS * 25)
    assert video_sigma(50.0) == pytest.approx(2 * video_sigma(25.0))
    assert video_sigma() == video_sigma(25.0)
    with pytest.raises(ValueError):
        video_sigma(0.0)


# ---------------------------------------------------------------- sequence metrics


def test_acceleration_error_of_known_trajectories():
    gt = linear_track(10)
    assert np.isnan(acceleration_error(gt, gt)[[0, -1]]).all()
    np.testing.assert_allclose(acceleration_error(gt, gt)[1:-1], 0.0, atol=1e-12)
    # A constant offset and a uniform motion of the whole body have no acceleration.
    np.testing.assert_allclose(acceleration_error(gt + 0.3 + np.arange(10)[:, None, None] * 0.1, gt)[1:-1], 0.0, atol=1e-12)
    # One joint off by c t^2 along x: acceleration 2c on that joint, 1/17 of it on average.
    pred = gt.copy()
    pred[:, 5, 0] += 0.01 * np.arange(10) ** 2
    np.testing.assert_allclose(acceleration_error(pred, gt)[1:-1], 0.02 / 17, rtol=1e-9)
    # Jitter +-e on alternate frames: |a| = 4e on every joint.
    jitter = gt + 0.005 * (-1.0) ** np.arange(10)[:, None, None] * np.array([0.0, 1.0, 0.0])
    jitter[:, 0] = gt[:, 0]  # the pelvis stays, so every other joint moves relative to it
    np.testing.assert_allclose(acceleration_error(jitter, gt)[1:-1], 0.02 * 16 / 17, rtol=1e-9)
    # A missing frame makes itself and its neighbours unknown.
    pred[4] = np.nan
    err = acceleration_error(pred, gt)
    assert np.isnan(err[[0, 3, 4, 5, 9]]).all() and np.isfinite(err[[1, 2, 6, 7, 8]]).all()
    assert np.isnan(acceleration_error(gt[:2], gt[:2])).all()


def test_score_clips_reports_per_action_means():
    from training.evaluate import Clip, score_clips

    gt = linear_track(8)
    pred = gt.copy()
    pred[:, 5, 0] += 0.01 * np.arange(8) ** 2
    clips = [Clip("S/A/1", "A", np.arange(8), gt, np.zeros((8, 17, 2)), np.ones((8, 17)), np.eye(3))] * 2
    report = score_clips(clips, [gt, pred])
    assert report["per_action"]["A"]["accel"] == pytest.approx(0.5 * 20 / 17)  # mm/frame^2
    assert report["per_action"]["A"]["mpjpe"] > 0 and report["accel"]["action_mean"] == pytest.approx(0.5 * 20 / 17)


# ---------------------------------------------------------------- video mode in lift


def walking_clip(T: int = 12, seed: int = 0):
    """A T-pose turning slowly and drifting sideways, 4.5 m away: ``(poses, K, keypoints)``."""
    rng = np.random.default_rng(seed)
    poses = np.stack([T_POSE @ rotation_y(3.0 * t).T + [0.03 * t - 0.2, 0.0, 4.5] for t in range(T)])
    return poses, K_SYNTH, project_np(poses, K_SYNTH) + rng.normal(scale=0.5, size=(T, 17, 2))


def test_video_mode_shapes_determinism_and_off_by_default(tiny_prior):
    _, K, kp = walking_clip()
    a = lift(tiny_prior, kp, K, config=VIDEO)
    b = lift(tiny_prior, kp, K, config=VIDEO)
    assert a.poses3d.shape == (12, 17, 3) and a.hypotheses.shape == (12, 1, 17, 3)
    assert a.reprojection_error_px.shape == (12, 1) and np.isfinite(a.poses3d).all()
    np.testing.assert_array_equal(a.poses3d, b.poses3d)
    assert not LiftConfig().video and VIDEO.video
    single = lift(tiny_prior, kp, K, config=LiftConfig(iterations=5))
    assert np.abs(single.poses3d - a.poses3d).max() > 1e-4  # the frames did talk to each other
    off = lift(tiny_prior, kp, K, config=LiftConfig(iterations=5, temporal_sigma=0.0), segments=np.arange(12))
    np.testing.assert_array_equal(off.poses3d, single.poses3d)


def test_video_mode_is_smoother(tiny_prior):
    poses, K, kp = walking_clip(16, seed=1)
    kp = kp + np.random.default_rng(2).normal(scale=3.0, size=kp.shape)
    config = LiftConfig(iterations=5)
    single = lift(tiny_prior, kp, K, config=config)
    video = lift(tiny_prior, kp, K, config=LiftConfig(iterations=5, temporal_sigma=1.5))
    assert np.nanmean(acceleration_error(video.poses3d, poses)) < 0.5 * np.nanmean(acceleration_error(single.poses3d, poses))


def test_video_mode_segments_equal_separate_calls(tiny_prior):
    _, K, kp1 = walking_clip(9, seed=3)
    _, _, kp2 = walking_clip(7, seed=4)
    both = lift(tiny_prior, np.concatenate([kp1, kp2[::-1]]), K, config=VIDEO, segments=np.repeat([4, 2], [9, 7]))
    one = lift(tiny_prior, kp1, K, config=VIDEO)
    two = lift(tiny_prior, kp2[::-1], K, config=VIDEO)
    np.testing.assert_allclose(both.poses3d, np.concatenate([one.poses3d, two.poses3d]), rtol=0, atol=1e-5)


def test_video_mode_chunks_overlap_and_agree(tiny_prior):
    _, K, kp = walking_clip(60, seed=5)
    config = LiftConfig(iterations=5, temporal_sigma=0.5)
    whole = lift(tiny_prior, kp, K, config=config)
    calls = []
    chunked = lift(tiny_prior, kp, K, config=LiftConfig(iterations=5, temporal_sigma=0.5, chunk_size=40),
                   progress=lambda done, total: calls.append(total))
    assert calls[-1] > 5  # several windows were lifted
    # Each 40-frame window keeps 8 frames and lifts 16 of context on either side (32 sigmas).
    np.testing.assert_allclose(chunked.poses3d, whole.poses3d, rtol=0, atol=1e-4)


def test_video_mode_with_invalid_frames_and_hypotheses(tiny_prior):
    _, K, kp = walking_clip(10, seed=6)
    kp = kp.copy()
    kp[4, 3:] = np.nan  # fewer than 4 joints: NaN, and a gap in time for its neighbours
    with pytest.warns(UserWarning, match="1 frame"):
        result = lift(tiny_prior, kp, K, config=LiftConfig(iterations=5, temporal_sigma=1.0, hypotheses=3))
    assert np.isnan(result.poses3d[4]).all() and not result.valid[4]
    assert np.isfinite(np.delete(result.hypotheses, 4, axis=0)).all()
    assert result.hypotheses.shape == (10, 3, 17, 3)


def test_video_mode_reports_the_fit_to_the_keypoints_as_given(tiny_prior):
    _, K, kp = walking_clip(10, seed=7)
    kp = kp.copy()
    kp[5, 16] += [80.0, 0.0]  # an outlier the keypoint smoothing removes before lifting
    result = lift(tiny_prior, kp, K, config=VIDEO)
    uv = project_np(result.poses3d[5], K)
    expected = np.linalg.norm(uv - kp[5], axis=-1).mean()
    assert result.reprojection_error_px[5, 0] == pytest.approx(expected, rel=1e-3)


def test_bad_temporal_settings_raise(tiny_prior):
    with pytest.raises(ValueError, match="temporal_sigma"):
        LiftConfig(temporal_sigma=-1.0)
    with pytest.raises(ValueError, match="temporal_outlier"):
        LiftConfig(temporal_outlier=float("nan"))
    _, K, kp = walking_clip(5)
    from zedo_core.inputs import InputError

    with pytest.raises(InputError, match="segments"):
        lift(tiny_prior, kp, K, config=VIDEO, segments=np.zeros(4))


def test_smooth_keypoints_of_a_long_clip_is_written_in_exact_blocks():
    """A clip longer than a block is smoothed block by block (no whole-clip fit is held); the
    result equals the whole clip's robust fit, in the keypoints' own float32."""
    from zedo_core.temporal import robust_fit

    rng = np.random.default_rng(5)
    n = 5000
    kp = (500.0 + rng.normal(size=(n, 17, 2)).cumsum(0) + rng.normal(scale=2.0, size=(17, 2)) * 50).astype(np.float32)
    conf = np.where(rng.random((n, 17)) < 0.05, 0.0, 1.0).astype(np.float32)
    kp[1000:1002, 5] += 200.0  # an outlier pair
    out = smooth_keypoints(kp, conf, 3.0, 0.05, degree=2)
    assert out.dtype == np.float32
    scale = np.nanmedian(person_height_px(kp, conf))
    tracks = np.where((conf > 0)[..., None], kp.astype(np.float64), np.nan)
    whole = robust_fit(tracks, 3.0, np.zeros(n, dtype=np.int64), 0.05 * scale, degree=2)[0]
    own = (conf > 0) & np.isfinite(whole).all(-1)
    expected = np.where(own[..., None], whole, kp).astype(np.float32)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-3)
    np.testing.assert_array_equal(out[conf == 0], kp[conf == 0])
