"""Intrinsics for uncalibrated footage: the field-of-view guess and the focal-length estimate."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from zedo_core import InputError
from zedo_core.intrinsics import (
    DEFAULT_FOV_DEG,
    LEAN_LEVER_M,
    FocalEstimate,
    estimate_focal,
    focal_from_fov,
    fov_from_focal,
    intrinsics_from_focal,
    intrinsics_from_fov,
    upright_frames,
)


def test_focal_from_field_of_view():
    assert focal_from_fov(1000, 90.0) == pytest.approx(500.0)
    # A 36 mm wide sensor behind a 26 mm lens (a phone's main camera) sees about 69 degrees.
    assert focal_from_fov(3600, 2 * math.degrees(math.atan(18 / 26))) == pytest.approx(2600.0)
    assert fov_from_focal(1000, 500.0) == pytest.approx(90.0)


def test_intrinsics_centre_the_principal_point():
    K = intrinsics_from_fov((1920, 1080))
    assert K[0, 2] == 960 and K[1, 2] == 540 and K[0, 0] == K[1, 1]
    half_width_angle = math.degrees(math.atan(960 / K[0, 0]))
    assert 2 * half_width_angle == pytest.approx(DEFAULT_FOV_DEG)
    np.testing.assert_array_equal(K[2], [0, 0, 1])
    np.testing.assert_allclose(intrinsics_from_focal((640, 480), 800.0), [[800, 0, 320], [0, 800, 240], [0, 0, 1]])


@pytest.mark.parametrize("size, fov", [((0, 100), 60.0), ((100, 100), 0.0), ((100, 100), 180.0)])
def test_bad_sizes_and_angles_are_rejected(size, fov):
    with pytest.raises(InputError):
        intrinsics_from_fov(size, fov)


# A synthetic clip: a hand-made standing skeleton (world z up, metres, Human3.6M joint order) walking
# over the ground in front of a camera 2 m up, pitched down, with a known focal length.
STANDING = np.array(
    [
        [0.0, 0.0, 0.95], [-0.13, 0.0, 0.93], [-0.13, 0.02, 0.50], [-0.13, 0.0, 0.09],  # pelvis, right leg
        [0.13, 0.0, 0.93], [0.13, 0.02, 0.50], [0.13, 0.0, 0.09],  # left leg
        [0.0, 0.0, 1.18], [0.0, 0.0, 1.42], [0.0, 0.06, 1.55], [0.0, 0.0, 1.72],  # spine, thorax, nose, head
        [0.18, 0.0, 1.40], [0.22, 0.0, 1.12], [0.24, 0.02, 0.86],  # left arm
        [-0.18, 0.0, 1.40], [-0.22, 0.0, 1.12], [-0.24, 0.02, 0.86],  # right arm
    ]
)
SIZE = (1920, 1200)
FOCAL = 1000.0
FPS = 25.0


def _camera(pitch_deg: float) -> np.ndarray:
    t = math.radians(pitch_deg)
    forward = np.array([0.0, math.cos(t), -math.sin(t)])
    right = np.array([1.0, 0.0, 0.0])
    return np.stack([right, np.cross(forward, right), forward])  # rows: camera x (right), y (down), z


# Balancing on the right leg: the left foot raised 0.36 m, knee forward; the body shifted over the
# standing foot (mid-shoulders above the right ankle), as a balanced person stands.
ONE_LEG = STANDING.copy()
ONE_LEG[5], ONE_LEG[6] = [0.13, 0.30, 0.62], [0.13, 0.12, 0.45]
ONE_LEG[[0, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 0] -= 0.13
ONE_LEG[2, 0] -= 0.065
# Arms raised above the head.
ARMS_UP = STANDING.copy()
ARMS_UP[[12, 15]] = [[0.25, 0.0, 1.65], [-0.25, 0.0, 1.65]]
ARMS_UP[[13, 16]] = [[0.28, 0.02, 1.92], [-0.28, 0.02, 1.92]]


def _clip(
    pitch_deg: float = 15.0, frames: int = 300, moving: bool = True, lean: bool = False, noise_px: float = 0.0, seed: int = 0,
    pose=lambda i: STANDING,
):
    """Keypoints (frames, 17, 2) of the skeleton walking a smooth curve (or standing still), facing
    where it goes; ``lean``: it leans into the curve by a/g as a person does; ``pose(i)``: the
    skeleton of frame i."""
    t = np.arange(frames) / FPS
    if moving:
        path = np.column_stack([1.3 * np.sin(0.5 * t), 6.5 + 2.5 * np.sin(0.33 * t + 0.4), np.zeros(frames)])
    else:
        path = np.tile([0.3, 5.0, 0.0], (frames, 1))
    velocity = np.gradient(path, 1 / FPS, axis=0)
    acceleration = np.gradient(velocity, 1 / FPS, axis=0)
    heading = np.arctan2(velocity[:, 0], velocity[:, 1]) if moving else np.zeros(frames)
    R = _camera(pitch_deg)
    K = intrinsics_from_focal(SIZE, FOCAL)
    keypoints = np.empty((frames, 17, 2))
    for i in range(frames):
        c, s = math.cos(heading[i]), math.sin(heading[i])
        yaw = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        body = pose(i) @ yaw.T
        if lean:  # every point shifted along the acceleration in proportion to its height
            body = body + np.outer(body[:, 2] / 1.31, LEAN_LEVER_M * acceleration[i] / 9.81)
        cam = (body + path[i] - np.array([0.0, 0.0, 2.0])) @ R.T
        uvw = cam @ K.T
        keypoints[i] = uvw[:, :2] / uvw[:, 2:]
    assert np.all((keypoints > 0) & (keypoints < SIZE)), "the synthetic person left the image"
    rng = np.random.default_rng(seed)
    return keypoints + rng.normal(0.0, noise_px, keypoints.shape)


@pytest.mark.parametrize("pitch", [10.0, 15.0, 20.0])
def test_recovers_a_known_focal_length(pitch):
    estimate = estimate_focal(_clip(pitch), None, SIZE)
    assert estimate.estimated, estimate.reason
    assert estimate.focal_px == pytest.approx(FOCAL, rel=0.03)
    assert estimate.pitch_deg == pytest.approx(pitch, abs=1.0)
    assert estimate.frames_used == 300 and "upright" in estimate.reason
    np.testing.assert_allclose(estimate.intrinsics(), intrinsics_from_focal(SIZE, estimate.focal_px))


def test_the_lean_into_a_curve_is_allowed_for_with_the_frame_rate():
    keypoints = _clip(15.0, lean=True)
    with_fps = estimate_focal(keypoints, None, SIZE, fps=FPS)
    assert with_fps.estimated and with_fps.focal_px == pytest.approx(FOCAL, rel=0.03)
    without = estimate_focal(keypoints, None, SIZE)  # the lean reads as a flatter camera
    assert abs(without.focal_px / FOCAL - 1) > 2 * abs(with_fps.focal_px / FOCAL - 1)


def test_noisy_keypoints_still_give_the_focal_length():
    keypoints = _clip(15.0, frames=400, lean=True, noise_px=2.0, seed=1)
    confidence = np.ones(keypoints.shape[:2])
    confidence[::7, 3] = 0.0  # an ankle missed now and then: those frames are left out
    keypoints[::7, 3] = np.nan
    estimate = estimate_focal(keypoints, confidence, SIZE, fps=FPS)
    assert estimate.estimated, estimate.reason
    assert estimate.focal_px == pytest.approx(FOCAL, rel=0.06)
    assert estimate.frames_used < 400


def test_a_level_camera_falls_back_with_the_reason():
    estimate = estimate_focal(_clip(0.0), None, SIZE)
    assert not estimate.estimated and "level" in estimate.reason
    assert estimate.focal_px == pytest.approx(focal_from_fov(SIZE[0], DEFAULT_FOV_DEG))
    assert estimate.fov_deg == DEFAULT_FOV_DEG


def test_a_person_standing_still_falls_back():
    estimate = estimate_focal(_clip(15.0, moving=False, noise_px=1.0), None, SIZE)
    assert not estimate.estimated and "depth" in estimate.reason


def test_too_few_upright_frames_fall_back_and_say_why():
    keypoints = _clip(15.0)
    keypoints[20:, 3] = keypoints[20:, 1]  # ankles on the hips: legs folded, not upright
    keypoints[20:, 6] = keypoints[20:, 4]
    estimate = estimate_focal(keypoints, None, SIZE)
    assert not estimate.estimated and estimate.frames_used == 20
    assert estimate.reason.startswith("too few frames with the person upright (20 of 300, need 30): of 300 frames with hips, "
                                      "ankles and shoulders seen, the ankles are not below the hips")  # fmt: skip
    assert "in 280" in estimate.reason
    # Bent forward at the waist: the reason names the torso.
    keypoints = _clip(15.0)
    keypoints[:, [8, 9, 10, 11, 12, 13, 14, 15, 16]] += [150.0, 60.0]
    estimate = estimate_focal(keypoints, None, SIZE)
    assert not estimate.estimated and "the torso leans more than 20 deg off the image vertical in 300" in estimate.reason


def test_standing_on_one_leg_or_with_raised_arms_is_upright():
    """Frames on one leg (the other foot raised, the body over the standing foot) and frames with
    the arms up count as upright, and the focal length comes out of a clip that has them."""
    blocks = lambda i: (STANDING, ONE_LEG, ARMS_UP)[(i // 20) % 3]  # noqa: E731
    keypoints = _clip(15.0, pose=blocks)
    upright = upright_frames(keypoints, np.ones((300, 17)))
    assert upright.all()
    estimate = estimate_focal(keypoints, None, SIZE)
    assert estimate.estimated and estimate.frames_used == 300, estimate.reason
    assert estimate.focal_px == pytest.approx(FOCAL, rel=0.03)
    # The raised leg may not be the one the body stands on: a bent standing leg is no stance.
    crouched = ONE_LEG.copy()
    crouched[2] = [-0.6, 0.3, 0.5]  # the standing knee bent far out
    keypoints = _clip(15.0, frames=40, moving=False, pose=lambda i: crouched)
    assert not upright_frames(keypoints, np.ones((40, 17))).any()


def test_fast_and_deterministic():
    keypoints = _clip(15.0, frames=1000, lean=True, noise_px=2.0)
    started = time.perf_counter()
    first = estimate_focal(keypoints, None, SIZE, fps=FPS)
    assert time.perf_counter() - started < 1.0
    assert estimate_focal(keypoints, None, SIZE, fps=FPS) == first
    assert isinstance(first, FocalEstimate)


@pytest.mark.parametrize(
    "keypoints, confidence, size, fps, match",
    [
        (np.zeros((5, 16, 2)), None, SIZE, None, "shape"),
        (np.zeros((0, 17, 2)), None, SIZE, None, "shape"),
        (np.zeros((5, 17, 2)), np.ones((5, 16)), SIZE, None, "confidence"),
        (np.zeros((5, 17, 2)), None, (0, 720), None, "image size"),
        (np.zeros((5, 17, 2)), None, (1280,), None, "image size"),
        (np.zeros((5, 17, 2)), None, None, None, "image size"),
        (np.zeros((5, 17, 2)), None, SIZE, -25.0, "fps"),
        ([["a"]], None, SIZE, None, "numeric"),
    ],
)
def test_bad_inputs_are_rejected(keypoints, confidence, size, fps, match):
    with pytest.raises(InputError, match=match):
        estimate_focal(keypoints, confidence, size, fps=fps)


def test_the_balancing_clip_says_why_it_falls_back(pose2sim_dir):
    """The Pose2Sim clip: a man balancing on a beam, his torso leaning 27 deg from the vertical
    (median, four-camera triangulation), filmed from 3 m by a camera 22 deg down. Too few frames
    stand upright, and the reason says which rules reject them."""
    from zedo_core.keypoint_files import read_keypoints

    sequence = read_keypoints(pose2sim_dir / "openpose" / "cam01_json").to_h36m()
    estimate = estimate_focal(sequence.keypoints, sequence.confidence, (1080, 1920), fps=60.0)
    assert not estimate.estimated
    assert estimate.reason.startswith("too few frames with the person upright (")
    assert "of 99 frames with hips, ankles and shoulders seen" in estimate.reason
    assert "torso lengths long in the image" in estimate.reason and "the torso leans more than 20 deg" in estimate.reason
