"""The focal length of uncalibrated footage, estimated from the actor's motion: panel and batch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from addon.helpers import make_clip
from zedo_blender import batch, estimate
from zedo_blender.skeleton import JOINT_NAMES
from zedo_blender.tracks import write_keypoints

SIZE = (1920, 1080)
FOCAL = 1100.0
# A standing skeleton (world z up, metres, Human3.6M order).
STANDING = np.array(
    [
        [0.0, 0.0, 0.95], [-0.13, 0.0, 0.93], [-0.13, 0.02, 0.50], [-0.13, 0.0, 0.09],
        [0.13, 0.0, 0.93], [0.13, 0.02, 0.50], [0.13, 0.0, 0.09],
        [0.0, 0.0, 1.18], [0.0, 0.0, 1.42], [0.0, 0.06, 1.55], [0.0, 0.0, 1.72],
        [0.18, 0.0, 1.40], [0.22, 0.0, 1.12], [0.24, 0.02, 0.86],
        [-0.18, 0.0, 1.40], [-0.22, 0.0, 1.12], [-0.24, 0.02, 0.86],
    ]
)


def walking_keypoints(frames: int = 120) -> np.ndarray:
    """The skeleton walking a straight diagonal at constant speed (no lean), away from a camera
    2 m up and pitched 15 degrees down; pixels (frames, 17, 2)."""
    s = np.linspace(0.0, 1.0, frames)[:, None]
    path = (1 - s) * np.array([-1.5, 4.0, 0.0]) + s * np.array([1.5, 9.0, 0.0])
    t = math.radians(15.0)
    forward, right = np.array([0.0, math.cos(t), -math.sin(t)]), np.array([1.0, 0.0, 0.0])
    R = np.stack([right, np.cross(forward, right), forward])
    cam = (STANDING[None] + path[:, None] - np.array([0.0, 0.0, 2.0])) @ R.T
    keypoints = FOCAL * cam[..., :2] / cam[..., 2:] + np.array(SIZE) / 2
    assert np.all((keypoints > 0) & (keypoints < SIZE))
    return keypoints


def test_batch_estimates_the_focal_length_when_the_input_has_no_camera(tmp_path, addon, capsys):
    np.savez(tmp_path / "walk.npz", keypoints=walking_keypoints(), image_size=np.array(SIZE), fps=np.array(25.0))
    _, jobs = batch.parse_args(["--input", str(tmp_path / "walk.npz"), "--output", str(tmp_path / "o.blend")])
    prepared = batch.prepare(jobs[0])
    assert prepared.K[0, 0] == pytest.approx(FOCAL, rel=0.05)
    assert "estimated from the actor's motion" in prepared.camera
    # A clip that does not determine it (five frames) gets the 60 degree guess, with the reason.
    np.savez(tmp_path / "short.npz", keypoints=walking_keypoints()[:5], image_size=np.array(SIZE))
    _, jobs = batch.parse_args(["--input", str(tmp_path / "short.npz"), "--output", str(tmp_path / "o.blend")])
    prepared = batch.prepare(jobs[0])
    assert prepared.K[0, 0] == pytest.approx(960 / math.tan(math.radians(30)))
    assert "guessed (60° field of view): too few" in prepared.camera
    # --focal and --fov still win over the estimate.
    _, jobs = batch.parse_args(["--input", str(tmp_path / "walk.npz"), "--focal", "700", "--output", str(tmp_path / "o.blend")])
    assert batch.prepare(jobs[0]).K[0, 0] == 700.0


def test_panel_estimates_from_the_tracks_of_an_uncalibrated_clip(empty_scene, tmp_path):
    clip = make_clip(tmp_path, SIZE)
    keypoints = walking_keypoints()
    tracks = clip.tracking.objects.active.tracks
    write_keypoints(clip, tracks, list(JOINT_NAMES), keypoints, np.ones(keypoints.shape[:2]), 1)
    settings = empty_scene.zedo
    settings.clip = clip
    settings.frame_start, settings.frame_end = 1, len(keypoints)
    choice = estimate.choose_camera(settings)
    assert choice.estimated and not choice.calibrated
    assert choice.description.startswith("Estimated from the actor's motion:")
    assert choice.K[0, 0] == pytest.approx(FOCAL, rel=0.05) and choice.K[0, 2] == SIZE[0] / 2
    assert estimate.choose_camera(settings, exact=False).description == choice.description  # the panel's cached look-up
    settings.camera_source = "FOV"  # the user's own field of view is kept
    choice = estimate.choose_camera(settings)
    assert not choice.estimated and "chosen" in choice.description
    assert choice.K[0, 0] == pytest.approx(960 / math.tan(math.radians(30)))
    settings.camera_source = "AUTO"
    settings.frame_end = 10  # too short to tell: the guess, with the reason
    choice = estimate.choose_camera(settings)
    assert not choice.estimated and choice.description.startswith("Guessed (60° field of view): too few")
