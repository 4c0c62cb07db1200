"""The pure maths of the rig: scene frame, rest pose, bone rotations, quaternions."""

from __future__ import annotations

import numpy as np

from zedo_blender import motion
from zedo_blender.skeleton import BONES, LEFT_ANKLE, PELVIS, RIGHT_ANKLE


def _walk_cam(example) -> np.ndarray:
    return example["true_poses3d"].astype(np.float64)


def test_scene_frame_stands_person_upright_on_ground(example):
    poses = _walk_cam(example)
    frame = motion.scene_frame(poses)
    world = frame.to_world(poses)
    spine = world[:, 8] - world[:, 0]
    assert np.all(spine[:, 2] / np.linalg.norm(spine, axis=1) > 0.9)  # Z is up
    ankle_height = motion.ANKLE_HEIGHT_FRACTION * motion.standing_height(motion.body_proportions(world))
    lowest = np.minimum(world[:, LEFT_ANKLE, 2], world[:, RIGHT_ANKLE, 2])
    assert abs(np.percentile(lowest, 5) - ankle_height) < 1e-9
    np.testing.assert_allclose(world[0, PELVIS, :2], 0.0, atol=1e-9)
    rot = frame.rotation
    np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rot) > 0


def test_camera_matrix_sees_along_its_minus_z(example):
    poses = _walk_cam(example)
    frame = motion.scene_frame(poses)
    matrix = frame.camera_matrix_world()
    world = frame.to_world(poses)
    # A point in front of the engine camera (z > 0) is at negative z in Blender camera space.
    local = (world[0] - matrix[:3, 3]) @ matrix[:3, :3]
    np.testing.assert_allclose(local, poses[0] * [1, -1, -1], atol=1e-9)


def test_rig_height_matches_the_engine_height(example):
    from zedo_core.scale import scale_to_height, standing_height

    poses, _ = scale_to_height(_walk_cam(example), 1.9)
    world = motion.scene_frame(poses).to_world(poses)
    assert abs(standing_height(world) - 1.9) < 1e-9
    # The rig's height (from median bone lengths) agrees with the engine's to a few centimetres.
    assert abs(motion.standing_height(motion.body_proportions(world)) - 1.9) < 0.03


def test_rest_pose_is_a_t_pose_with_the_measured_lengths(example):
    proportions = motion.body_proportions(motion.scene_frame(_walk_cam(example)).to_world(_walk_cam(example)))
    rest = motion.rest_joints(proportions)
    for bone in BONES:
        assert abs(np.linalg.norm(rest[bone.tail] - rest[bone.head]) - proportions.lengths[bone.name]) < 1e-9
    assert rest[13, 0] > rest[11, 0] > 0 > rest[14, 0] > rest[16, 0]  # left arm along +X
    assert abs(rest[13, 2] - rest[11, 2]) < 1e-9  # arms horizontal
    assert rest[10, 2] > rest[8, 2] > rest[0, 2] > rest[3, 2]


def test_rotations_reproduce_the_joints(example):
    poses = _walk_cam(example)
    world = motion.scene_frame(poses).to_world(poses)
    rest = motion.rest_joints(motion.body_proportions(world))
    rotations = motion.global_rotations(world, rest)
    np.testing.assert_allclose(rotations @ np.swapaxes(rotations, -1, -2), np.broadcast_to(np.eye(3), rotations.shape), atol=1e-9)
    posed = motion.forward_kinematics(rest, rotations, world[:, PELVIS])
    error_mm = 1000 * np.linalg.norm(posed - world, axis=-1)
    assert error_mm.mean() < 10 and error_mm.max() < 40  # bone lengths vary a little in the walk


def test_local_rotations_compose_back_to_global():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(5, len(BONES), 4))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    global_rot = _quat_to_matrix(q)
    rest = _quat_to_matrix(rng.normal(size=(len(BONES), 4)) / 2)
    local = motion.local_rotations(global_rot, rest)
    names = [b.name for b in BONES]
    for i, bone in enumerate(BONES):
        parent = global_rot[:, names.index(bone.parent)] if bone.parent else np.eye(3)
        # Blender: posed orientation = parent_posed @ parent_rest^T @ rest @ basis.
        np.testing.assert_allclose(parent @ rest[i] @ local[:, i], global_rot[:, i] @ rest[i], atol=1e-9)


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
            np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
            np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )


def test_quaternions_round_trip_including_half_turns():
    rng = np.random.default_rng(1)
    q = rng.normal(size=(200, 4))
    q[:4] = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]]  # 180 degree turns and identity
    matrices = _quat_to_matrix(q)
    back = motion.matrices_to_quaternions(matrices)
    np.testing.assert_allclose(_quat_to_matrix(back), matrices, atol=1e-9)
    assert np.all(back[:, 0] >= 0)


def test_continuous_quaternions_take_the_short_way():
    q = np.array([[1.0, 0, 0, 0], [-0.999, -0.01, 0, 0], [0.998, 0.02, 0, 0]])
    out = motion.continuous_quaternions(q)
    assert np.all((out[1:] * out[:-1]).sum(-1) > 0)


def test_swing_handles_opposite_vectors():
    a = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    b = -a
    rot = motion._swing(a, b)
    np.testing.assert_allclose((rot @ a[..., None])[..., 0], b, atol=1e-12)


def test_frames_without_all_joints_are_left_out(example):
    poses = _walk_cam(example).copy()
    poses[3, 5] = np.nan
    assert not motion.valid_frames(poses)[3] and motion.valid_frames(poses).sum() == len(poses) - 1
    motion.scene_frame(poses)  # does not raise


def test_locked_feet_stay_put_on_the_rig_itself():
    """With a frame rate, the keyed rig's own ankles (rest bone lengths) stop sliding while planted;
    without, the rotations are the plain fit."""
    from test_foot_contacts import FPS, synthetic_walk

    world, stance = synthetic_walk(noise_m=0.01)
    valid = np.ones(len(world), dtype=bool)
    valid[50] = False  # a frame without a pose stays out
    world[50] = np.nan
    rest = motion.rest_joints(motion.body_proportions(world[valid]))
    plain, plain_root = motion.rig_motion(world, valid, rest)
    np.testing.assert_allclose(plain, motion.global_rotations(world[valid], rest))
    np.testing.assert_array_equal(plain_root, world[valid, PELVIS])
    locked, locked_root = motion.rig_motion(world, valid, rest, lock_feet_fps=FPS)
    assert locked.shape == plain.shape and locked_root.shape == plain_root.shape
    for rotations, root, locked_run in ((plain, plain_root, False), (locked, locked_root, True)):
        rig = motion.forward_kinematics(rest, rotations, root)
        planted = stance[valid, 0]
        planted[1:] &= planted[:-1]
        planted[:-1] &= planted[1:]  # away from the stance edges
        slide = np.linalg.norm(np.diff(rig[:, RIGHT_ANKLE, :2], axis=0), axis=-1)[planted[1:] & planted[:-1]]
        if not locked_run:
            before = slide.mean()
        else:  # pinned inside each contact; a little motion is left where the lock fades in and out
            assert np.median(slide) < 1e-6 and slide.mean() < 0.4 * before
