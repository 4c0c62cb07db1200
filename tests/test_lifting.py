"""The lifting loop with a tiny random-weight prior (numpy backend): shapes, equivalences,
determinism, callbacks. tests/test_backends.py checks the torch backend gives the same poses."""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import T_POSE, project_np, random_network
from test_inputs import BAD_INPUTS

from zedo_core import lifting
from zedo_core.geometry import reprojection_error_px, rotation_grid
from zedo_core.inputs import InputError
from zedo_core.lifting import (
    LiftCancelled,
    LiftConfig,
    LiftResult,
    _joints_to_release,
    _TimeAxis,
    combine_hypotheses,
    denoiser_turns,
    initial_poses,
    lift,
)
from zedo_core.prior import PosePrior
from zedo_core.scale import body_size
from zedo_core.skeleton import JOINT_NAMES, PARENTS, bone_lengths, pull_bone_lengths
from zedo_core.temporal import robust_fit

FAST = LiftConfig(iterations=5)
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "walking_example.npz"


def assert_same_result(a: LiftResult, b: LiftResult, atol: float = 0.0) -> None:
    """Equal within ``atol`` metres (0: identical); pixel errors within ``1000 * atol`` px (a
    millimetre at 4-5 m is about 0.25 px)."""
    np.testing.assert_allclose(a.poses3d, b.poses3d, rtol=0, atol=atol)
    np.testing.assert_allclose(a.hypotheses, b.hypotheses, rtol=0, atol=atol)
    np.testing.assert_allclose(a.reprojection_error_px, b.reprojection_error_px, rtol=0, atol=1000 * atol)
    np.testing.assert_array_equal(a.selected, b.selected)
    np.testing.assert_array_equal(a.valid, b.valid)


def test_output_shapes_and_dtypes(tiny_prior, camera_data):
    _, K, kp = camera_data(3)
    result = lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=2, iterations=5))
    assert result.poses3d.shape == (3, 17, 3)
    assert result.hypotheses.shape == (3, 2, 17, 3)
    assert result.reprojection_error_px.shape == (3, 2)
    assert result.selected.shape == (3,) and result.valid.shape == (3,)
    assert result.released.shape == (3, 2, 17) and result.released.dtype == bool
    assert result.poses3d.dtype == result.hypotheses.dtype == result.reprojection_error_px.dtype == np.float32
    assert result.valid.all()
    assert np.isfinite(result.hypotheses).all() and np.isfinite(result.reprojection_error_px).all()


def test_reprojection_selection_picks_lowest_reprojection_error(tiny_prior, camera_data):
    _, K, kp = camera_data(4, seed=1)
    result = lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=10, iterations=5, selection="reprojection"))
    np.testing.assert_array_equal(result.selected, result.reprojection_error_px.argmin(axis=1))
    np.testing.assert_array_equal(result.poses3d, result.hypotheses[np.arange(4), result.selected])
    assert len(set(result.reprojection_error_px[0].tolist())) > 1  # the hypotheses do differ


def test_prior_selection_picks_the_most_plausible_hypothesis(tiny_prior, camera_data):
    _, K, kp = camera_data(3, seed=1)
    config = LiftConfig(hypotheses=10, iterations=5, selection="prior")
    result = lift(tiny_prior, kp, K, config=config)
    assert result.implausibility.shape == (3, 10) and np.isfinite(result.implausibility).all()
    flat = result.hypotheses.reshape(30, 17, 3)
    expected = tiny_prior.implausibility(flat, config.selection_t).reshape(3, 10)
    np.testing.assert_allclose(result.implausibility, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(result.selected, result.implausibility.argmin(axis=1))
    np.testing.assert_array_equal(result.poses3d, result.hypotheses[np.arange(3), result.selected])


def test_video_mode_keeps_each_clip_one_size_and_scores_the_returned_poses(tiny_prior, camera_data):
    _, K, kp = camera_data(12, seed=2)
    segments = np.repeat([0, 1], 6)
    config = LiftConfig(hypotheses=3, iterations=5, selection="prior", temporal_sigma=1.0)
    result = lift(tiny_prior, kp, K, config=config, segments=segments)
    loose = lift(tiny_prior, kp, K, config=replace(config, steady_size=False), segments=segments)
    # The same poses up to one factor per frame and hypothesis, about the camera centre.
    factors = np.linalg.norm(result.hypotheses, axis=-1) / np.linalg.norm(loose.hypotheses, axis=-1)
    np.testing.assert_allclose(factors, np.broadcast_to(factors[..., :1], factors.shape), rtol=1e-4)
    np.testing.assert_allclose(result.reprojection_error_px, loose.reprojection_error_px, rtol=1e-3, atol=1e-3)
    # Each clip's sizes move towards its median, and the scores are those of the poses returned.
    for clip in (slice(0, 6), slice(6, 12)):
        size, loose_size = body_size(result.hypotheses[clip]), body_size(loose.hypotheses[clip])
        assert np.abs(size / np.median(loose_size, axis=0) - 1).max() < np.abs(loose_size / np.median(loose_size, axis=0) - 1).max()
    expected = tiny_prior.implausibility(result.hypotheses.reshape(36, 17, 3), config.selection_t).reshape(12, 3)
    np.testing.assert_allclose(result.implausibility, expected, rtol=1e-4, atol=1e-6)


def _time_axis(frames: int, S: int, segments: np.ndarray) -> _TimeAxis:
    return _TimeAxis(slot=np.arange(frames * S), frames=frames, S=S, segments=segments)


def test_bone_lengths_are_pulled_to_their_clips_median_with_directions_kept():
    rng = np.random.default_rng(4)
    frames, S = 6, 2
    pose = (T_POSE - T_POSE[0])[None] * rng.uniform(0.8, 1.2, size=(frames * S, 17, 1))
    pose[:, 0] = 0.0
    axis = _time_axis(frames, S, np.repeat([0, 1], 3))
    children, parents = np.arange(1, 17), np.asarray(PARENTS[1:])

    def bones(p):
        return p[:, children] - p[:, parents]

    target = axis.clip_bone_lengths(pose)
    np.testing.assert_allclose(pull_bone_lengths(pose, target, 0.0), pose, atol=1e-12)
    full = pull_bone_lengths(pose, target, 1.0)
    lengths = np.linalg.norm(bones(full), axis=-1).reshape(frames, S, 16)
    before = np.linalg.norm(bones(pose), axis=-1).reshape(frames, S, 16)
    for clip in (slice(0, 3), slice(3, 6)):  # each clip and hypothesis: its own median
        np.testing.assert_allclose(lengths[clip], np.broadcast_to(np.median(before[clip], axis=0), lengths[clip].shape), rtol=1e-9)
    unit = bones(full) / np.linalg.norm(bones(full), axis=-1, keepdims=True)
    np.testing.assert_allclose(unit, bones(pose) / np.linalg.norm(bones(pose), axis=-1, keepdims=True), atol=1e-9)
    np.testing.assert_array_equal(full[:, 0], 0.0)
    half = np.linalg.norm(bones(pull_bone_lengths(pose, target, 0.5)), axis=-1).reshape(frames, S, 16)
    np.testing.assert_allclose(half, 0.5 * (before + lengths), rtol=1e-9)


def test_video_mode_pulls_each_clips_bones_together(tiny_prior, camera_data):
    _, K, kp = camera_data(12, seed=3)
    config = LiftConfig(iterations=10, temporal_sigma=1.0, steady_size=False)
    spread = {}
    for pull in (0.0, 0.3):
        result = lift(tiny_prior, kp, K, config=replace(config, bone_length_pull=pull))
        p = result.poses3d
        lengths = np.linalg.norm(p[:, 1:] - p[:, list(PARENTS[1:])], axis=-1)
        spread[pull] = (lengths.std(axis=0) / lengths.mean(axis=0)).mean()
    assert spread[0.3] < 0.5 * spread[0.0]


def test_a_known_body_is_the_pull_target_in_both_modes(tiny_prior, camera_data):
    """LiftConfig.bone_lengths: frame by frame every frame is pulled towards the given body; in
    video mode it replaces the clip's median. Without it frame by frame pulls nothing."""
    _, K, kp = camera_data(8, seed=5)
    body = tuple(1.15 * bone_lengths(T_POSE))
    for temporal_sigma in (0.0, 1.0):
        config = LiftConfig(iterations=12, temporal_sigma=temporal_sigma, steady_size=False, bone_length_pull=0.3)
        off = np.abs(bone_lengths(lift(tiny_prior, kp, K, config=config).poses3d) - body).mean()
        on = np.abs(bone_lengths(lift(tiny_prior, kp, K, config=replace(config, bone_lengths=body)).poses3d) - body).mean()
        assert on < 0.3 * off, (temporal_sigma, on, off)
    plain = LiftConfig(iterations=12)
    np.testing.assert_array_equal(
        lift(tiny_prior, kp, K, config=plain).poses3d, lift(tiny_prior, kp, K, config=replace(plain, bone_length_pull=0.9)).poses3d
    )


def test_lift_config_takes_a_body_as_sixteen_lengths():
    assert LiftConfig(bone_lengths=np.full(16, 0.25)).bone_lengths == (0.25,) * 16
    assert LiftConfig().bone_lengths is None


def test_implausibility_is_translation_invariant_and_zero_where_no_noise_is_seen(tiny_prior):
    poses = tiny_prior.initial_poses[10]
    score = tiny_prior.implausibility(poses)
    assert isinstance(score, np.ndarray) and score.dtype == np.float32
    assert score.shape == (10,) and (score > 0).all()
    moved = poses + np.array([0.3, -0.1, 4.0], dtype=np.float32)
    np.testing.assert_allclose(tiny_prior.implausibility(moved), score, rtol=1.3e-6, atol=1e-5)
    noise = tiny_prior.predict_noise(poses, np.full((10,), 0.05, dtype=np.float32))
    np.testing.assert_allclose(score, (noise * noise).sum(axis=(1, 2)), rtol=1.3e-6, atol=1e-5)


def test_shared_and_per_frame_K_give_identical_results(tiny_prior, camera_data):
    _, K, kp = camera_data(3)
    shared = lift(tiny_prior, kp, K, config=FAST)
    per_frame = lift(tiny_prior, kp, np.broadcast_to(K, (3, 3, 3)).copy(), config=FAST)
    assert_same_result(shared, per_frame)


def test_per_frame_K_is_used(tiny_prior, camera_data):
    """Frame 1 seen with a different K: the same pose reprojects exactly only with its own K."""
    poses, K, _ = camera_data(2)
    Ks = np.stack([K, K * [[1.3], [1.3], [1.0]]])
    kp = np.stack([project_np(poses[i], Ks[i]) for i in range(2)])
    result = lift(tiny_prior, kp, Ks, config=LiftConfig(iterations=0, final_ray_projection=True))
    assert result.reprojection_error_px.max() < 0.01


def test_nan_keypoints_equal_zero_confidence(tiny_prior, camera_data):
    _, K, kp = camera_data(3)
    missing = [(0, 3), (1, 13), (1, 16), (2, 10)]
    kp_nan, kp_far, conf = kp.copy(), kp.copy(), np.ones((3, 17))
    for f, j in missing:
        kp_nan[f, j] = np.nan
        kp_far[f, j] = [-5000.0, 7000.0]  # any value: a joint with confidence 0 must not count
        conf[f, j] = 0.0
    a = lift(tiny_prior, kp_nan, K, config=FAST)
    b = lift(tiny_prior, kp_far, K, conf, config=FAST)
    assert_same_result(a, b, atol=1e-6)
    assert np.isfinite(a.poses3d).all()  # missing joints still get a 3D position


def test_frames_with_too_few_joints_are_nan_with_a_warning(tiny_prior, camera_data):
    _, K, kp = camera_data(4)
    conf = np.ones((4, 17))
    conf[1, 3:] = 0.0
    kp = kp.copy()
    kp[3, 2:] = np.nan
    with pytest.warns(UserWarning, match=r"2 frame\(s\) have fewer than 4 distinct joints.*: 1, 3$"):
        result = lift(tiny_prior, kp, K, conf, config=FAST)
    np.testing.assert_array_equal(result.valid, [True, False, True, False])
    for f in (1, 3):
        assert np.isnan(result.poses3d[f]).all() and np.isnan(result.hypotheses[f]).all()
        assert np.isnan(result.reprojection_error_px[f]).all()
    assert np.isfinite(result.poses3d[[0, 2]]).all()
    # The valid frames are lifted exactly as without the invalid ones.
    alone = lift(tiny_prior, kp[[0, 2]], K, conf[[0, 2]], config=FAST)
    np.testing.assert_allclose(result.poses3d[[0, 2]], alone.poses3d, rtol=0, atol=1e-5)


def test_no_warning_when_all_frames_valid(tiny_prior, camera_data):
    _, K, kp = camera_data(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lift(tiny_prior, kp, K, config=FAST)


def test_all_frames_invalid(tiny_prior, camera_data):
    _, K, kp = camera_data(2)
    with pytest.warns(UserWarning, match=r": 0, 1$"):
        result = lift(tiny_prior, kp, K, np.zeros((2, 17)), config=LiftConfig(hypotheses=2, iterations=3))
    assert result.poses3d.shape == (2, 17, 3) and np.isnan(result.poses3d).all()
    assert not result.valid.any()


@pytest.mark.parametrize("chunk_size", [1, 3])
def test_chunking_does_not_change_results(tiny_prior, camera_data, chunk_size):
    _, K, kp = camera_data(4, seed=2)
    config = LiftConfig(hypotheses=2, iterations=5)
    whole = lift(tiny_prior, kp, K, config=config)
    chunked = lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=2, iterations=5, chunk_size=chunk_size))
    assert_same_result(whole, chunked, atol=1e-5)


def test_same_seed_is_deterministic(tiny_prior, camera_data):
    _, K, kp = camera_data(3)
    config = LiftConfig(hypotheses=3, iterations=5, seed=7)
    assert_same_result(lift(tiny_prior, kp, K, config=config), lift(tiny_prior, kp, K, config=config))


def test_initial_poses_codebooks_and_seeded_draws(tiny_prior):
    for count in (1, 10, 50, 200):
        assert initial_poses(tiny_prior, count, seed=123) is tiny_prior.initial_poses[count]
    largest = tiny_prior.initial_poses[200]
    a, b = initial_poses(tiny_prior, 3, seed=0), initial_poses(tiny_prior, 3, seed=0)
    assert a.shape == (3, 17, 3)
    np.testing.assert_array_equal(a, b)
    draws = {tuple(initial_poses(tiny_prior, 3, seed=s)[:, 5, 0].tolist()) for s in range(5)}
    assert len(draws) > 1  # the seed matters
    for row in a:  # every start pose is one of the largest codebook's
        assert np.abs(largest - row).max(axis=(1, 2)).min() == 0
    assert initial_poses(tiny_prior, 250, seed=0).shape == (250, 17, 3)  # more than the codebook: with replacement


def test_lift_with_count_outside_codebooks_uses_seed(tiny_prior, camera_data):
    _, K, kp = camera_data(2)
    a = lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=3, iterations=0, seed=0))
    b = lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=3, iterations=0, seed=0))
    assert_same_result(a, b)
    assert a.hypotheses.shape == (2, 3, 17, 3)
    seeds = [s for s in range(5) if not np.array_equal(initial_poses(tiny_prior, 3, s), initial_poses(tiny_prior, 3, 0))]
    c = lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=3, iterations=0, seed=seeds[0]))
    assert not np.array_equal(a.hypotheses, c.hypotheses)


def test_progress_reports_every_iteration_of_every_chunk(tiny_prior, camera_data):
    _, K, kp = camera_data(3)
    calls = []
    lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=2, iterations=4, chunk_size=4), progress=lambda d, t: calls.append((d, t)))
    # 6 rows in chunks of 4 -> 2 chunks, each a start search (counted as iterations // 2 = 2 units,
    # one batch of rows here) and 4 iterations: total 2 x (2 + 4).
    assert calls == [(d, 12) for d in (2, 3, 4, 5, 6, 8, 9, 10, 11, 12)]


def test_should_cancel_before_start(tiny_prior, camera_data):
    _, K, kp = camera_data(2)
    calls = []
    with pytest.raises(LiftCancelled):
        lift(tiny_prior, kp, K, config=FAST, progress=lambda d, t: calls.append(d), should_cancel=lambda: True)
    assert calls == []


def test_should_cancel_between_iterations(tiny_prior, camera_data):
    _, K, kp = camera_data(2)
    polls, calls = [], []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) >= 4  # the poll before the start, after the start search, after iterations 1 and 2

    with pytest.raises(LiftCancelled):
        lift(tiny_prior, kp, K, config=LiftConfig(iterations=10), progress=lambda d, t: calls.append(d), should_cancel=cancel)
    assert calls == [5, 6, 7]  # the search counts as 10 // 2 units, then one per iteration


@pytest.mark.parametrize("override, expected", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_lift_rejects_bad_inputs(tiny_prior, override, expected):
    from test_inputs import KP, K

    args = dict(keypoints=KP, K=K, confidence=None) | override
    with pytest.raises(InputError) as info:
        lift(tiny_prior, args["keypoints"], args["K"], args["confidence"], config=FAST)
    for part in expected:
        assert part in str(info.value)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(hypotheses=0), "hypotheses"),
        (dict(hypotheses=-2), "hypotheses"),
        (dict(start_pool=0), "start_pool must be >= 1"),
        (dict(iterations=-1), "iterations"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(warmup_fraction=1.5), "warmup_fraction"),
        (dict(step_budget=0.0), "step_budget"),
        (dict(step_size=-1e-3), "step_size"),
        (dict(t_min=0.2, t_max=0.1), "t_min"),
        (dict(t_min=0.0), "t_min"),
        (dict(ensemble_steps="all"), "ensemble_steps"),
        (dict(mirror_from=1.5), "mirror_from"),
        (dict(mirror_from=-0.1), "mirror_from"),
        (dict(bone_length_pull=1.5), "bone_length_pull"),
        (dict(bone_length_pull=-0.1), "bone_length_pull"),
        (dict(ray_release=0.5), "ray_release"),
        (dict(ray_release=float("nan")), "ray_release"),
        (dict(ray_release_at=1.5), "ray_release_at"),
        (dict(bone_lengths=(0.2,) * 15), "bone_lengths must be 16"),
        (dict(bone_lengths=(0.2,) * 15 + (-0.1,)), "bone_lengths"),
        (dict(bone_lengths=(0.2,) * 15 + (float("nan"),)), "bone_lengths"),
        (dict(bone_lengths=("long",) * 16), "bone_lengths"),
    ],
)
def test_lift_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LiftConfig(**kwargs)


def test_initial_search_recovers_a_grid_rotation_of_the_template(tiny_prior):
    """Exact 2D of the template turned by one of the grid's rotations: with no iterations the
    search alone must find that rotation and the translation (reprojection error ~0)."""
    cfg = LiftConfig(iterations=0, start_pool=1, yaw_steps=24, pitch_deg=(-20.0, 0.0, 20.0, 40.0), roll_deg=(-45.0, 0.0, 20.0, 45.0, 90.0))
    grid = rotation_grid(cfg.yaw_steps, cfg.pitch_deg, cfg.roll_deg)
    n_pitch, n_roll = len(cfg.pitch_deg), len(cfg.roll_deg)
    # (yaw, pitch, roll) indices: 75 deg, 20, 20; 255 deg, 40, 90; the identity.
    picks = [(y * n_pitch + p) * n_roll + r for y, p, r in [(5, 2, 2), (17, 3, 4), (0, 1, 1)]]
    template = tiny_prior.initial_poses[1][0].astype(np.float64)
    poses = np.stack([template @ grid[k].T + [0.2, -0.1, 4.5] for k in picks])
    K = np.array([[1100.0, 0.0, 500.0], [0.0, 1100.0, 500.0], [0.0, 0.0, 1.0]])
    result = lift(tiny_prior, project_np(poses, K), K, config=cfg)
    assert result.reprojection_error_px.max() < 0.01
    np.testing.assert_allclose(result.poses3d, poses, atol=1e-4)


def test_final_ray_projection_fits_visible_joints_exactly(tiny_prior, camera_data):
    _, K, kp = camera_data(3)
    conf = np.ones((3, 17))
    conf[0, 5] = 0.0
    result = lift(tiny_prior, kp, K, conf, config=LiftConfig(iterations=5, final_ray_projection=True))
    assert result.reprojection_error_px.max() < 0.01
    reprojected = project_np(result.poses3d.astype(np.float64), K)
    np.testing.assert_allclose(reprojected[conf > 0], kp[conf > 0], atol=0.01)


def test_start_pool_searches_every_codebook_pose(tiny_prior, camera_data):
    """With iterations=0 a start pool of 10 ends where the best of the 10 hypotheses' searches ends."""
    _, K, kp = camera_data(3)
    pooled = lift(tiny_prior, kp, K, config=LiftConfig(iterations=0, start_pool=10))
    separate = lift(tiny_prior, kp, K, config=LiftConfig(iterations=0, hypotheses=10, selection="reprojection"))
    assert pooled.hypotheses.shape == (3, 1, 17, 3)
    np.testing.assert_allclose(pooled.reprojection_error_px[:, 0], separate.reprojection_error_px.min(1), rtol=1e-5)
    np.testing.assert_allclose(pooled.poses3d, separate.poses3d, atol=1e-5)


def test_start_pool_without_its_codebook_searches_the_largest_smaller_one(tiny_prior, camera_data):
    """A prior built before a codebook size was shipped still lifts, with a warning naming both sizes."""
    _, K, kp = camera_data(2)
    ten = lift(tiny_prior, kp, K, config=LiftConfig(iterations=0, start_pool=10))
    with pytest.warns(UserWarning, match=r"no codebook of 40 start poses .* searching its 10"):
        forty = lift(tiny_prior, kp, K, config=LiftConfig(iterations=0, start_pool=40))
    np.testing.assert_array_equal(forty.poses3d, ten.poses3d)
    no_single = PosePrior(tiny_prior.members, tiny_prior.sde, {10: tiny_prior.initial_poses[10]})
    with pytest.raises(ValueError, match="start_pool=5 is smaller than every codebook"):
        lift(no_single, kp, K, config=LiftConfig(iterations=0, start_pool=5))


def test_adam_reference_start(tiny_prior, camera_data):
    """The authors' start: pelvis on its ray (exact 2D), rotation about the optical axis only."""
    _, K, kp = camera_data(2)
    # The start pool belongs to the grid search: the reference starts from the mean pose either way.
    result = lift(tiny_prior, kp, K, config=LiftConfig(iterations=0, initial_search="adam"))
    mean_start = lift(tiny_prior, kp, K, config=LiftConfig(iterations=0, initial_search="adam", start_pool=1))
    np.testing.assert_array_equal(result.poses3d, mean_start.poses3d)
    assert np.isfinite(result.poses3d).all()
    np.testing.assert_allclose(project_np(result.poses3d[:, 0].astype(np.float64), K), kp[:, 0], atol=1e-2)
    assert ((result.poses3d[:, 0, 2] >= 1.5) & (result.poses3d[:, 0, 2] <= 6.0)).all()
    # Only rotated about z: depths relative to the pelvis are the template's.
    template = tiny_prior.initial_poses[1][0]
    rel = result.poses3d - result.poses3d[:, :1]
    np.testing.assert_allclose(rel[..., 2], np.broadcast_to(template[:, 2], (2, 17)), atol=1e-5)
    with pytest.raises(ValueError, match="initial_search"):
        LiftConfig(initial_search="bogus")


def test_combine_hypotheses():
    base = T_POSE + [0.0, 0.0, 4.0]
    offset = np.zeros((17, 3))
    offset[5] = [0.1, 0.0, 0.0]
    hyps = np.stack([np.stack([base, base + offset, base + 2 * offset])] * 2).astype(np.float32)
    hyps[1] = np.nan  # a frame that was not lifted
    errors = np.array([[3.0, 5.0, 1.0], [np.nan] * 3], dtype=np.float32)
    implausibility = np.array([[0.5, 0.2, 0.9], [np.nan] * 3], dtype=np.float32)
    selected, poses = combine_hypotheses(hyps, errors, implausibility, "reprojection")
    assert selected[0] == 2 and np.array_equal(poses[0], hyps[0, 2])
    selected, poses = combine_hypotheses(hyps, errors, implausibility, "prior")
    assert selected[0] == 1 and np.array_equal(poses[0], hyps[0, 1])
    selected, poses = combine_hypotheses(hyps, errors, implausibility[:, ::-1], "medoid")
    assert selected[0] == 1 and np.array_equal(poses[0], hyps[0, 1])
    selected, poses = combine_hypotheses(hyps, errors, implausibility, "mean")
    np.testing.assert_allclose(poses[0], hyps[0].mean(0), atol=1e-6)
    assert selected[0] == 1
    for method in ("prior", "reprojection", "medoid", "mean"):
        assert np.isnan(combine_hypotheses(hyps, errors, implausibility, method)[1][1]).all()


@pytest.mark.parametrize("selection", ["medoid", "mean"])
def test_lift_selection_methods(tiny_prior, camera_data, selection):
    _, K, kp = camera_data(2)
    result = lift(tiny_prior, kp, K, config=LiftConfig(hypotheses=3, iterations=3, selection=selection))
    expected_selected, expected = combine_hypotheses(result.hypotheses, result.reprojection_error_px, result.implausibility, selection)
    np.testing.assert_array_equal(result.selected, expected_selected)
    np.testing.assert_allclose(result.poses3d, expected, atol=1e-6)
    with pytest.raises(ValueError, match="selection"):
        LiftConfig(selection="best")


def test_loop_schedule_with_a_zero_noise_network(tiny_prior):
    """A network predicting no noise makes each denoising step a pure scaling by
    1 + dt * beta(t_i) / 2 about the pelvis. From an exact start, re-solving the translation keeps
    the 2D fit exact, so the answer is the start scaled by the product of those factors over the
    schedule t_i = linspace(t_max, t_min, n) with dt = step_budget / n (or step_size)."""
    (net,) = tiny_prior.members
    net.params["output.weight"][:] = 0.0
    net.params["output.bias"][:] = 0.0
    assert not tiny_prior.predict_noise(tiny_prior.initial_poses[10], np.full(10, 0.1, dtype=np.float32)).any()
    grid = rotation_grid(24, (0.0,), (0.0,))
    start = tiny_prior.initial_poses[1][0].astype(np.float64) @ grid[3].T + [0.1, -0.2, 4.0]
    K = np.array([[1100.0, 0.0, 500.0], [0.0, 1100.0, 500.0], [0.0, 0.0, 1.0]])
    kp = project_np(start[None], K)
    # (With a warm-up longer than one iteration the fixed translation would bend the scaling.)
    for n, step_size, warmup in [(5, None, 0.2), (8, 0.05, 0.0)]:
        config = LiftConfig(
            iterations=n, step_size=step_size, warmup_fraction=warmup, start_pool=1, pitch_deg=(0.0,),
            focal_anneal_start=1.0, translation_refinement=0,  # the paper's loop: fixed rays, closed-form T
        )
        result = lift(tiny_prior, kp, K, config=config)
        dt = step_size if step_size is not None else 0.7 / n
        factor = np.prod([1 + dt * 0.5 * tiny_prior.sde.beta(t) for t in np.linspace(0.12, 0.01, n)])
        np.testing.assert_allclose(result.poses3d[0], factor * start, atol=1e-4)
        assert result.reprojection_error_px.max() < 0.01


def test_loop_calls_the_prior_on_the_documented_schedule(tiny_prior, camera_data, monkeypatch):
    """Diffusion time falls linearly from t_max to t_min, dt = step_budget / iterations, the prior
    always sees pelvis-relative poses, and from mirror_from on every other step sees the mirror image."""
    calls = []
    original = tiny_prior.denoise

    def spy(poses, t, dt, member=None, mirrored=False):
        calls.append((t, dt, np.abs(poses[:, 0]).max().item(), member, mirrored))
        return original(poses, t, dt, member, mirrored)

    monkeypatch.setattr(tiny_prior, "denoise", spy)
    _, K, kp = camera_data(2)
    lift(tiny_prior, kp, K, config=LiftConfig(iterations=6, t_max=0.2, t_min=0.02, step_budget=0.9))
    ts, dts, pelvis, members, mirrored = zip(*calls)
    np.testing.assert_allclose(ts, np.linspace(0.2, 0.02, 6))
    np.testing.assert_allclose(dts, 0.9 / 6)
    assert max(pelvis) == 0.0
    assert members == (0,) * 6 and mirrored == (False, False, False, False, True, False)


def test_denoiser_turns_alternate_the_networks_and_mirror_every_other_turn():
    turns = denoiser_turns(LiftConfig(iterations=12), members=2)
    assert [m for m, _ in turns] == [0, 1] * 6
    # From iteration 6 (mirror_from 0.5) every other turn of both networks is mirrored.
    assert [f for _, f in turns] == [False] * 6 + [False, False, True, True, False, False]
    assert denoiser_turns(LiftConfig(iterations=12, mirror_from=1.0), members=2) == [(0, False), (1, False)] * 6
    every = denoiser_turns(LiftConfig(iterations=4, ensemble_steps="mean", mirror_from=0.0), members=2)
    assert every == [(None, False), (None, True), (None, False), (None, True)]
    assert denoiser_turns(LiftConfig(iterations=0), members=2) == []


def test_alternating_networks_lift_as_their_mean_does(shipped_prior):
    """One network per step, in turn, ends where every network at every step does: far closer
    than either network alone (the bundled walk, frame by frame, without mirroring)."""
    walk = np.load(EXAMPLE)
    frames = np.arange(0, 90, 9)
    kp, K = walk["keypoints"][frames], walk["K"]
    config = LiftConfig(mirror_from=1.0, iterations=100)
    pair = shipped_prior.for_mode("frame")
    mean = lift(pair, kp, K, config=replace(config, ensemble_steps="mean")).poses3d
    alternate = lift(pair, kp, K, config=config).poses3d
    alone = lift(replace(pair, members=pair.members[:1]), kp, K, config=config).poses3d

    def distance(a, b):
        return np.linalg.norm((a - a[:, :1]) - (b - b[:, :1]), axis=-1).mean()

    assert len(pair.members) == 2
    assert distance(alternate, mean) < 0.3 * distance(alone, mean)


def test_frame_with_all_joints_on_one_pixel_is_invalid(tiny_prior):
    """A frame whose visible keypoints coincide has no shape to lift: NaN and a warning."""
    from zedo_core import validate_inputs

    kp = np.tile(np.array([[500.0, 400.0]]), (2, 17, 1))
    kp[1] += np.random.default_rng(0).normal(0, 50, size=(17, 2))
    inputs = validate_inputs(kp, np.array([[1000.0, 0, 500], [0, 1000, 500], [0, 0, 1]]))
    assert inputs.valid.tolist() == [False, True]


def test_loop_rays_follow_the_focal_continuation(tiny_prior, camera_data, monkeypatch):
    """The loop projects onto rays of a camera whose focal length goes linearly from
    focal_anneal_start x f to f; the start search and the final answer use the true camera."""
    import zedo_core.lifting as lifting
    from zedo_core.geometry import unit_rays

    seen = []
    original = lifting.project_onto_rays

    def spy(pose, translation, rays, visible):
        seen.append(rays[0, 16].copy())
        return original(pose, translation, rays, visible)

    monkeypatch.setattr(lifting, "project_onto_rays", spy)
    _, K, kp = camera_data(1)
    result = lift(tiny_prior, kp, K, config=LiftConfig(iterations=5, focal_anneal_start=0.5))
    for scale, ray in zip(np.linspace(0.5, 1.0, 5), seen):
        K_s = K.copy()
        K_s[0, 0] *= scale
        K_s[1, 1] *= scale
        expected = unit_rays(kp[:1], np.linalg.inv(K_s))[0, 16]
        np.testing.assert_allclose(ray, expected, atol=1e-6)
    assert result.reprojection_error_px.max() < 50.0  # measured against the true camera


def test_progress_covers_the_start_search_and_is_monotonic(tiny_prior, camera_data):
    """With the pooled search (200 start poses x 72 rotations) 4 rows fit in one search batch: 10
    frames take 3 batches, each reported, before the iterations; the count never goes back and
    ends at the total announced in every call."""
    _, K, kp = camera_data(10)
    config = LiftConfig(iterations=6)
    calls = []
    lift(tiny_prior, kp, K, config=config, progress=lambda d, t: calls.append((d, t)))
    total = 1 * (config.iterations // 2 + config.iterations)  # one window
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {total}
    assert all(a <= b for a, b in zip(done, done[1:]))
    assert done[-1] == total and 0 <= done[0]
    assert done == [1, 2, 3, 4, 5, 6, 7, 8, 9]  # 3 search batches (3 * rows_done // 10), then 6 iterations
    # Several windows: each adds its search and its iterations.
    calls.clear()
    lift(tiny_prior, kp, K, config=LiftConfig(iterations=6, chunk_size=4), progress=lambda d, t: calls.append((d, t)))
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {3 * 9} and done[-1] == 3 * 9
    assert all(a <= b for a, b in zip(done, done[1:]))
    # No iterations: the search alone (one unit); the reference Adam start reports once when done.
    calls.clear()
    lift(tiny_prior, kp[:2], K, config=LiftConfig(iterations=0), progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 1)]
    calls.clear()
    adam = LiftConfig(iterations=4, initial_search="adam")
    lift(tiny_prior, kp[:2], K, config=adam, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(d, 6) for d in range(2, 7)]


def test_cancel_during_the_start_search_stops_before_the_next_batch(tiny_prior, camera_data, monkeypatch):
    """A cancel requested while the start search runs takes effect after the batches in flight
    (one per search thread): no further batch is started and the loop never starts."""
    import zedo_core.initialization as initialization

    monkeypatch.setattr(initialization, "MAX_SEARCH_THREADS", 2)
    _, K, kp = camera_data(40)  # 10 search batches of 4 rows
    batches, denoised, progress = [], [], []
    original_refine = initialization.refine_translation_px

    def count_batches(*args, **kwargs):
        batches.append(1)
        return original_refine(*args, **kwargs)

    monkeypatch.setattr(initialization, "refine_translation_px", count_batches)
    monkeypatch.setattr(tiny_prior, "denoise", lambda *a: denoised.append(1))
    with pytest.raises(LiftCancelled):
        lift(
            tiny_prior, kp, K, config=LiftConfig(iterations=10),
            progress=lambda d, t: progress.append(d), should_cancel=lambda: len(progress) > 0,
        )
    assert 1 <= len(batches) <= 2 and not denoised  # the batch reported and the one in flight
    assert progress == [0]  # 5 units * 4 / 40 rows searched, rounded down


@pytest.mark.parametrize(
    "frames, S, fps",
    [(5000, 1, 1000.0), (160, 50, 25.0), (3000, 50, 25.0), (20000, 1, 25.0), (1, 100000, 25.0)],
)
def test_video_passes_keep_every_row_once_with_bounded_size_and_overhead(frames, S, fps):
    """Video mode's windows: every (frame, hypothesis) row is kept by exactly one pass, a pass
    holds at most max(chunk_size, 8 halos) rows, and the context frames cost at most 2x the work
    at any frame rate and hypothesis count (it used to keep about one frame per window once the
    halo passed half the chunk: a 1000 fps clip or 50 hypotheses never finished)."""
    from zedo_core.lifting import HALO_SIGMAS, _video_passes
    from zedo_core.temporal import video_sigma

    config = LiftConfig(hypotheses=S, temporal_sigma=video_sigma(fps))
    passes = _video_passes(frames, S, config)
    kept = np.concatenate([rows[keep] for rows, keep in passes])
    assert np.array_equal(np.sort(kept), np.arange(frames * S))
    halo = math.ceil(HALO_SIGMAS * config.temporal_sigma)
    assert max(rows.size for rows, _ in passes) <= max(config.chunk_size, 8 * halo * 1)  # one hypothesis per row group
    lifted = sum(rows.size for rows, _ in passes)
    assert lifted <= 2 * frames * S


def test_keypoint_smoothing_in_blocks_is_exact():
    """The whole-clip 2D smoothing runs in blocks (bounded memory) with the same result."""
    from zedo_core.temporal import fit_in_blocks, robust_fit

    rng = np.random.default_rng(3)
    x = rng.normal(size=(700, 4, 2)).cumsum(0)
    x[rng.random((700, 4)) < 0.05] = np.nan
    x[100:103, 1] += 30.0  # outliers
    labels = np.repeat([0, 1, 2], [300, 250, 150])
    whole = robust_fit(x, 3.0, labels, 0.5, degree=2)[0]
    blocks = np.full_like(x, np.nan)
    for start, stop, fit in fit_in_blocks(x, 3.0, labels, 0.5, degree=2, block=64):
        blocks[start:stop] = fit
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-9)


def test_high_frame_rate_window_samples_are_spaced():
    """Above sigma 8 a window samples every sigma // 4-th frame, so its cost per frame does not
    grow with the frame rate; at ordinary rates every frame."""
    from zedo_core.temporal import video_sigma, window_step

    assert window_step(video_sigma(25.0)) == window_step(video_sigma(60.0)) == 1
    assert window_step(video_sigma(1000.0)) == 20


def test_video_mode_memory_grows_little_with_the_clip(tiny_prior, camera_data):
    """A long clip is held once, in float32: each extra frame raises video mode's peak traced
    memory by well under what it cost when the clip was held in several float64 and float32
    copies (validated, smoothed, per pass, and the results twice)."""
    import tracemalloc

    _, K, keypoints = camera_data(n_frames=8)
    config = LiftConfig(iterations=1, start_pool=1, temporal_sigma=2.0, chunk_size=512)

    def peak_bytes(frames: int) -> int:
        clip = np.tile(keypoints, (-(-frames // len(keypoints)), 1, 1))[:frames].astype(np.float32)
        confidence = np.ones(clip.shape[:2], dtype=np.float32)
        tracemalloc.start()
        try:
            lift(tiny_prior, clip, K, confidence, config)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    per_frame = (peak_bytes(8000) - peak_bytes(2000)) / 6000
    assert per_frame < 800, f"{per_frame:.0f} bytes a frame (587 when written, 1375 before)"


def test_joints_far_above_their_frames_median_tension_are_released():
    tension = np.ones((4, 17))
    tension[:, 3] = [5.0, 3.0, 5.0, 5.0]  # frame 1: only 3x its median
    tension[:, 16] = 9.0
    visible = np.ones((4, 17), dtype=bool)
    visible[2, 16] = False  # not seen: nothing to release
    visible[3, 6:] = False  # frame 3 would keep fewer than MIN_PINNED_JOINTS (6)
    release = _joints_to_release(tension, visible, 4.0)
    expected = np.zeros((4, 17), dtype=bool)
    expected[0, [3, 16]] = expected[1, 16] = expected[2, 3] = True
    np.testing.assert_array_equal(release, expected)
    assert not _joints_to_release(np.zeros((4, 17)), visible, 4.0).any()  # no tension yet


def test_released_joints_leave_their_rays_and_still_count_in_the_reprojection_error(tiny_prior, camera_data, monkeypatch):
    _, K, kp = camera_data(3, seed=4)
    forced = np.zeros((3, 17), dtype=bool)
    forced[0, 16] = forced[2, 3] = True
    monkeypatch.setattr(lifting, "_joints_to_release", lambda tension, visible, threshold: visible & forced)
    config = LiftConfig(iterations=6, final_ray_projection=True)
    result = lift(tiny_prior, kp, K, config=config)
    np.testing.assert_array_equal(result.released[:, 0], forced)
    np.testing.assert_array_equal(result.released_in_answer, forced)
    reprojected = project_np(result.poses3d.astype(np.float64), K)
    off_ray = np.linalg.norm(reprojected - kp, axis=-1)
    assert off_ray[forced].min() > 0.5 and off_ray[~forced].max() < 0.01
    everything = reprojection_error_px(result.poses3d.astype(np.float64), kp, K, np.ones((3, 17)))
    np.testing.assert_allclose(result.reprojection_error_px[:, 0], everything, rtol=1e-3, atol=1e-3)
    assert result.reprojection_error_px[1, 0] < 0.01 < result.reprojection_error_px[0, 0]
    # Off: nothing is released, whatever the tension.
    assert not lift(tiny_prior, kp, K, config=replace(config, ray_release=0.0)).released.any()


def test_the_shipped_prior_lets_go_of_a_misdetected_ankle(shipped_prior):
    """The bundled walk with its right ankle's detections moved 58 px (about a seventh of the
    body's height in the image): the loop lets go of that ankle in many frames and of nothing else,
    and places it better than when it is kept on its ray; clean detections are all kept."""
    walk = np.load(EXAMPLE)
    frames = np.arange(0, 90, 6)
    kp, K, truth = walk["keypoints"][frames].astype(np.float64), walk["K"], walk["true_poses3d"][frames]
    moved = kp.copy()
    moved[:, 3] += (50.0, 30.0)
    released = lift(shipped_prior, moved, K)
    kept = lift(shipped_prior, moved, K, config=LiftConfig(ray_release=0.0))
    assert not lift(shipped_prior, kp, K).released.any()
    assert released.released[:, 0, 3].sum() >= 4 and released.released[:, 0].sum() == released.released[:, 0, 3].sum()

    def ankle_error(result):
        relative = result.poses3d - result.poses3d[:, :1]
        return np.linalg.norm(relative[:, 3] - (truth[:, 3] - truth[:, :1, :][:, 0]), axis=-1).mean()

    assert ankle_error(released) < 0.8 * ankle_error(kept)


@pytest.mark.parametrize("sigma, degree", [(2.0, 2), (1.0, 1), (9.0, 2)])
def test_the_loops_coupling_is_the_local_polynomial_fit_of_each_trajectory(sigma, degree):
    """Video mode's coupling builds its filter once per chunk; it must give what the temporal
    module's fit gives, with gaps, two segments, two hypotheses, sampled windows (sigma 9) and a
    diverged (NaN) row, which the fit skips as missing."""
    rng = np.random.default_rng(3)
    frames, S = 40, 2
    local = np.setdiff1d(np.arange(frames), [7, 8, 20])
    slot = (local[:, None] * S + np.arange(S)).ravel()
    segments = np.repeat([0, 1], [25, 15])
    axis = _TimeAxis(slot=slot, frames=frames, S=S, segments=segments)
    x = rng.normal(size=(len(slot), 17, 3))
    for diverged in (False, True):
        if diverged:
            x[5] = np.nan
        dense = np.full((frames * S, 17, 3), np.nan)
        dense[slot] = x
        fit, _ = robust_fit(dense.reshape(frames, S * 17, 3), sigma, segments, outlier_threshold=None, degree=degree)
        fit = fit.reshape(frames * S, 17, 3)[slot]
        np.testing.assert_allclose(axis.smooth(x, sigma, degree), np.where(np.isfinite(fit), fit, x), rtol=0, atol=1e-12)


def test_each_lifting_mode_asks_the_networks_the_prior_names_for_it(tiny_prior, camera_data, monkeypatch):
    """Frame by frame lifts with the "frame" networks, video mode and a known body with the
    "video" ones; ``prior_networks`` overrides the choice."""
    other = random_network(tiny_prior.members[0].config, seed=7)
    moded = replace(tiny_prior, members=[tiny_prior.members[0], other], modes={"frame": (0,), "video": (1,)})
    asked = []
    original = type(other).__call__

    def spy(self, x, t):
        asked.append(0 if self is moded.members[0] else 1)
        return original(self, x, t)

    monkeypatch.setattr(type(other), "__call__", spy)
    _, K, kp = camera_data(4)
    config = LiftConfig(iterations=4, start_pool=1)
    for lifting, expected in [
        (config, {0}),
        (replace(config, temporal_sigma=1.0), {1}),
        (replace(config, bone_lengths=(0.25,) * 16), {1}),
        (replace(config, prior_networks="video"), {1}),
        (replace(config, temporal_sigma=1.0, prior_networks="frame"), {0}),
        (replace(config, prior_networks="all"), {0, 1}),
    ]:
        asked.clear()
        lift(moded, kp, K, config=lifting)
        assert set(asked) == expected, lifting
    assert LiftConfig().prior_mode == "frame" and LiftConfig(temporal_sigma=2.0).prior_mode == "video"
    assert LiftConfig(bone_lengths=(0.25,) * 16).prior_mode == "video"
    assert LiftConfig(prior_networks="all").prior_mode is None
    with pytest.raises(ValueError, match="prior_networks"):
        LiftConfig(prior_networks="clip")


@pytest.mark.parametrize("video", [False, True])
def test_an_aimed_joint_is_lifted_without_and_then_turned_onto_its_ray(tiny_prior, camera_data, video):
    """LiftConfig.aimed_joints: the pose is lifted as if the joint were missing, then the joint
    (its bone's length kept) is turned onto its ray wherever the ray comes that near."""
    _, K, kp = camera_data(4, seed=6)
    head = JOINT_NAMES.index("head")
    kp = kp.copy()
    kp[:, head] += np.array([3.0, -25.0])  # a head top, above where the prior puts the head
    kp[3, head] = np.nan  # not detected in the last frame: nothing to aim at
    config = LiftConfig(iterations=8, temporal_sigma=1.0 if video else 0.0, temporal_keypoint_sigma=0.0)
    aimed = lift(tiny_prior, kp, K, config=replace(config, aimed_joints=("head",)))
    without = kp.copy()
    without[:, head] = np.nan
    plain = lift(tiny_prior, without, K, config=config)
    others = np.arange(17) != head
    np.testing.assert_allclose(aimed.poses3d[:, others], plain.poses3d[:, others], atol=1e-5)
    neck = JOINT_NAMES.index("neck")
    length = lambda poses: np.linalg.norm(poses[:, head] - poses[:, neck], axis=-1)  # noqa: E731
    np.testing.assert_allclose(length(aimed.poses3d), length(plain.poses3d), rtol=1e-4)
    off_ray = np.linalg.norm(project_np(aimed.poses3d.astype(np.float64), K)[:, head] - kp[:, head], axis=-1)
    reachable = off_ray[:3] < 0.05
    assert reachable.any()
    np.testing.assert_allclose(aimed.poses3d[3], plain.poses3d[3], atol=1e-5)
    pinned = lift(tiny_prior, kp, K, config=config)
    assert not np.allclose(pinned.poses3d[:3, others], aimed.poses3d[:3, others], atol=1e-3)


def test_only_end_joints_can_be_aimed_at():
    assert LiftConfig(aimed_joints="head").aimed_joints == ("head",)
    assert LiftConfig(aimed_joints=["left_wrist", "right_ankle"]).aimed_joints == ("left_wrist", "right_ankle")
    with pytest.raises(ValueError, match="'thorax' is not an end joint"):
        LiftConfig(aimed_joints=("thorax",))
    with pytest.raises(ValueError, match="'nose' is not an end joint"):
        LiftConfig(aimed_joints=("nose",))
