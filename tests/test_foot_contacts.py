"""Foot-contact clean-up: planted ankles pinned, legs bent by two-bone IK, swings untouched."""

from __future__ import annotations

import numpy as np
import pytest

from zedo_core import InputError
from zedo_core.foot_contacts import FootLockConfig, lock_planted_feet, two_bone_ik

FPS = 50.0


def synthetic_walk(frames: int = 200, noise_m: float = 0.01, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """World joints (Z up) of a stick figure walking along +X at 1.2 m/s: each foot is planted for
    60% of a 1.2 s stride and swings (2 m/s or so, lifted 10 cm) for the rest; ankles and knees
    carry ``noise_m`` of jitter as lifting would. Returns the joints and the true stance mask (N, 2)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / FPS
    stride, period = 1.44, 1.2
    joints = np.zeros((frames, 17, 3))
    pelvis = np.stack([1.2 * t, np.zeros_like(t), np.full_like(t, 0.95)], axis=-1)
    joints[:, 0] = pelvis
    stance = np.zeros((frames, 2), dtype=bool)
    for side, (hip, knee, ankle, lateral, phase_shift) in enumerate([(1, 2, 3, -0.1, 0.0), (4, 5, 6, 0.1, 0.5)]):
        phase = (t / period + phase_shift) % 1.0
        cycle = np.floor(t / period + phase_shift)
        planted = phase < 0.6
        stance[:, side] = planted
        # Footprint of the current / next step; during swing the foot moves from one to the next.
        foot_x = np.where(planted, cycle * stride, cycle * stride + stride * (phase - 0.6) / 0.4)
        foot_x = foot_x - phase_shift * stride + 0.3
        lift = np.where(planted, 0.0, 0.1 * np.sin(np.pi * (phase - 0.6) / 0.4))
        joints[:, ankle] = np.stack([foot_x, np.full_like(t, lateral), 0.08 + lift], axis=-1)
        joints[:, hip] = pelvis + [0.0, lateral, 0.0]
        joints[:, knee] = 0.5 * (joints[:, hip] + joints[:, ankle]) + [0.06, 0.0, 0.0]
        joints[:, [knee, ankle]] += rng.normal(0.0, noise_m, (frames, 2, 3))
    for j, offset in zip(range(7, 17), np.linspace(0.2, 0.7, 10)):
        joints[:, j] = pelvis + [0.0, 0.0, offset]
    return joints, stance


def _interior(mask: np.ndarray, margin: int) -> np.ndarray:
    inner = mask.copy()
    for shift in range(1, margin + 1):
        inner[shift:] &= mask[:-shift]
        inner[:-shift] &= mask[shift:]
    return inner


@pytest.mark.parametrize("move_body", [True, False])
def test_planted_ankles_stop_sliding_and_legs_keep_their_lengths(move_body):
    joints, stance = synthetic_walk()
    result = lock_planted_feet(joints, FPS, config=FootLockConfig(move_body=move_body))
    for side, (hip, knee, ankle) in enumerate([(1, 2, 3), (4, 5, 6)]):
        inner = _interior(stance[:, side], 6)
        # Within each planted stretch the pinned ankle does not move; before, it jittered by ~1 cm.
        cycles = np.cumsum(np.diff(np.concatenate([[0], inner.astype(int)])) == 1)
        for c in np.unique(cycles[inner]):
            frames = inner & (cycles == c)
            before = joints[frames, ankle, :2].std(0).max()
            after = result.joints[frames, ankle, :2].std(0).max()
            assert after < 0.002 < before
        # The detected contacts are the true stances (a few frames off at the edges at most).
        detected = result.contacts[:, side]
        overlap = (detected & stance[:, side]).sum() / (detected | stance[:, side]).sum()
        assert overlap > 0.75
        # Bone lengths of every frame are the input's.
        for a, b in ((hip, knee), (knee, ankle)):
            np.testing.assert_allclose(
                np.linalg.norm(result.joints[:, a] - result.joints[:, b], axis=-1),
                np.linalg.norm(joints[:, a] - joints[:, b], axis=-1),
                atol=1e-9,
            )
    # Besides bending the legs the body only moves as a whole (move_body), or not at all; the
    # middle of a swing is untouched (no foot is planted there when the body does not move).
    untouched = [j for j in range(17) if j not in (2, 3, 5, 6)]
    shift = result.joints[:, :1] - joints[:, :1]
    np.testing.assert_allclose(result.joints[:, untouched], joints[:, untouched] + shift, atol=1e-12)
    if move_body:
        assert np.abs(shift).max() > 1e-3
    else:
        assert not shift.any()
        swing = _interior(~stance[:, 0], 8)
        np.testing.assert_array_equal(result.joints[swing][:, [2, 3]], joints[swing][:, [2, 3]])


def test_lock_blends_in_without_jumps():
    joints, _ = synthetic_walk(noise_m=0.004)
    result = lock_planted_feet(joints, FPS)
    # Frame-to-frame ankle steps stay within what the motion itself does (plus the noise).
    steps_after = np.linalg.norm(np.diff(result.joints[:, [3, 6]], axis=0), axis=-1)
    steps_before = np.linalg.norm(np.diff(joints[:, [3, 6]], axis=0), axis=-1)
    assert steps_after.max() < steps_before.max() + 0.02


def test_two_bone_ik_reaches_reachable_targets_and_clamps_the_rest():
    rng = np.random.default_rng(1)
    hip = rng.normal(size=(50, 3))
    knee = hip + rng.normal(size=(50, 3)) * 0.3
    ankle = knee + rng.normal(size=(50, 3)) * 0.3
    thigh, shin = (np.linalg.norm(knee - hip, axis=-1), np.linalg.norm(ankle - knee, axis=-1))
    direction = rng.normal(size=(50, 3))
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    reach = np.abs(thigh - shin) + rng.uniform(0.05, 0.95, 50) * (thigh + shin - np.abs(thigh - shin))
    target = hip + reach[:, None] * direction
    new_knee, new_ankle = two_bone_ik(hip, knee, ankle, target)
    np.testing.assert_allclose(new_ankle, target, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(new_knee - hip, axis=-1), thigh, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(new_ankle - new_knee, axis=-1), shin, atol=1e-6)
    far = hip + 3.0 * (thigh + shin)[:, None] * direction
    _, stretched = two_bone_ik(hip, knee, ankle, far)
    np.testing.assert_allclose(np.linalg.norm(stretched - hip, axis=-1), thigh + shin, atol=1e-5)


def test_nan_frames_are_left_alone_and_break_contacts():
    joints, _ = synthetic_walk()
    joints[100:103] = np.nan
    result = lock_planted_feet(joints, FPS)
    assert np.isnan(result.joints[100:103]).all()
    assert not result.contacts[100:103].any()
    assert np.isfinite(result.joints[:100]).all() and np.isfinite(result.joints[103:]).all()


def test_still_person_is_one_contact_per_foot_and_nothing_moves_far():
    joints, _ = synthetic_walk(frames=60, noise_m=0.0)
    joints[:] = joints[0]
    result = lock_planted_feet(joints, FPS)
    assert result.contacts.all()
    np.testing.assert_allclose(result.joints, joints, atol=1e-9)


@pytest.mark.parametrize(
    "joints, fps, up, match",
    [
        (np.zeros((10, 16, 3)), FPS, (0, 0, 1), "shape"),
        (np.zeros((10, 17, 3)), 0.0, (0, 0, 1), "fps"),
        (np.zeros((10, 17, 3)), FPS, (0, 0, 0), "up"),
    ],
)
def test_bad_inputs_are_named(joints, fps, up, match):
    with pytest.raises(InputError, match=match):
        lock_planted_feet(joints, fps, up)


def test_config_thresholds_decide_what_is_planted():
    joints, _ = synthetic_walk()
    strict = lock_planted_feet(joints, FPS, config=FootLockConfig(max_speed=0.01))
    assert not strict.contacts.any()
    np.testing.assert_array_equal(strict.joints, joints)
