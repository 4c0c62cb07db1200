"""Training-pose augmentation: random views, mirroring, canonical orientation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")  # training needs PyTorch (the engine does not): imports below follow the skip

from training.augment import augmented_batch, canonical_poses, random_flip, random_view_rotations  # noqa: E402
from zedo_core.skeleton import FLIP_PERMUTATION, LEFT_HIP, PARENTS, RIGHT_HIP  # noqa: E402

from conftest import T_POSE  # noqa: E402

# The T-pose stood up in Human3.6M world axes (z up): camera (x, y, z) -> world (x, z, -y).
WORLD_T_POSE = torch.tensor(T_POSE, dtype=torch.float64)[:, [0, 2, 1]] * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)


def _bone_lengths(poses: torch.Tensor) -> torch.Tensor:
    return (poses[..., 1:, :] - poses[..., list(PARENTS[1:]), :]).norm(dim=-1)


def test_random_view_rotations_are_proper_and_seeded():
    R = random_view_rotations(64, torch.Generator().manual_seed(0))
    eye = torch.eye(3, dtype=torch.float64)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye.expand(64, 3, 3))
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(64, dtype=torch.float64))
    torch.testing.assert_close(R, random_view_rotations(64, torch.Generator().manual_seed(0)))
    # Pitch in [-15, 45] deg and roll in [-10, 10]: world up (+z) maps to camera up (-y), tilted at most ~46 deg.
    up = R @ torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    assert (up[:, 1] < -0.69).all()


def test_random_flip_mirrors_about_half():
    # An asymmetric pose (the T-pose is its own mirror image).
    poses = (WORLD_T_POSE + 0.05 * torch.randn(17, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)).expand(200, 17, 3)
    flipped = random_flip(poses, torch.Generator().manual_seed(0))
    changed = (flipped != poses).flatten(1).any(1)
    assert 50 < changed.sum() < 150
    mirrored = poses[0, list(FLIP_PERMUTATION)] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(flipped[changed.nonzero()[0, 0]], mirrored)


def test_augmented_batch_keeps_pelvis_and_bone_lengths():
    rng = torch.Generator().manual_seed(1)
    world = WORLD_T_POSE[None] + 0.02 * torch.randn(8, 17, 3, generator=rng, dtype=torch.float64)
    world = world - world[:, :1]
    batch = augmented_batch(world, 32, torch.Generator().manual_seed(2))
    assert batch.shape == (32, 51)
    poses = batch.reshape(32, 17, 3)
    assert poses[:, 0].abs().max() < 1e-12
    # Rotations and mirroring keep the multiset of bone lengths of the source pose.
    lengths = _bone_lengths(poses).sort(dim=-1).values
    sources = _bone_lengths(world).sort(dim=-1).values
    distance = (lengths[:, None] - sources[None]).abs().amax(-1).amin(-1)
    assert distance.max() < 1e-9


def test_canonical_poses_face_the_camera_upright():
    angles = torch.linspace(0, 6, 7, dtype=torch.float64)
    c, s = torch.cos(angles), torch.sin(angles)
    o, z = torch.ones_like(c), torch.zeros_like(c)
    turn = torch.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(7, 3, 3)  # about world z
    world = torch.einsum("bij,kj->bki", turn, WORLD_T_POSE) + torch.tensor([1.0, 2.0, 0.9], dtype=torch.float64)
    canonical = canonical_poses(world)
    expected = torch.tensor(T_POSE, dtype=torch.float64)
    torch.testing.assert_close(canonical, expected.expand(7, 17, 3))
    hips = canonical[:, LEFT_HIP] - canonical[:, RIGHT_HIP]
    assert (hips[:, 0] > 0).all()


def test_bone_scaling_keeps_mirror_bones_equal_and_within_spread():
    import torch

    from training.augment import random_bone_scaling
    from zedo_core.skeleton import FLIP_PERMUTATION, PARENTS

    poses = torch.randn(8, 17, 3, dtype=torch.float64)
    scaled = random_bone_scaling(poses, torch.Generator().manual_seed(0), 0.1)

    def lengths(p):
        return torch.stack([(p[:, j] - p[:, PARENTS[j]]).norm(dim=-1) for j in range(1, 17)], 1)

    ratio = lengths(scaled) / lengths(poses)
    assert ratio.min() >= 0.9 - 1e-9 and ratio.max() <= 1.1 + 1e-9 and (ratio - 1).abs().max() > 0.01
    mirror = [FLIP_PERMUTATION[j] - 1 for j in range(1, 17)]
    torch.testing.assert_close(ratio, ratio[:, mirror])
    assert torch.equal(random_bone_scaling(poses, torch.Generator(), 0.0), poses)


def test_part_swap_grafts_one_donor_limb_at_the_samebody_heading():
    from training.augment import SWAP_PARTS, body_heading, random_part_swap
    from zedo_core.geometry import rotation_matrices

    generator = torch.Generator().manual_seed(1)
    base = (WORLD_T_POSE + 0.05 * torch.randn(17, 3, generator=generator, dtype=torch.float64)).expand(400, 17, 3)
    donor_pose = WORLD_T_POSE + 0.05 * torch.randn(17, 3, generator=generator, dtype=torch.float64)
    # Donors: one pose turned to random headings (the swap must turn them back).
    turns = rotation_matrices("z", torch.rand(400, generator=generator, dtype=torch.float64) * 6.28)
    donors = torch.einsum("bij,kj->bki", turns, donor_pose)
    out = random_part_swap(base, donors, torch.Generator().manual_seed(0), 0.5)
    heading = body_heading(base[:1]) - body_heading(donor_pose[None])
    aligned = donor_pose @ rotation_matrices("z", heading)[0].T
    changed = (out - base).abs().sum(-1) > 1e-9
    assert 150 < changed.any(1).sum() < 250  # about half the samples
    for row in changed.any(1).nonzero()[:, 0]:
        parts = [p for p in SWAP_PARTS if set(changed[row].nonzero()[:, 0].tolist()) <= set(p[1])]
        assert len(parts) == 1, "exactly one limb changes"
        root, joints = parts[0]
        # The limb is the donor's, relative to its attachment, turned to the base pose's heading.
        torch.testing.assert_close(out[row, list(joints)] - out[row, root], (aligned[list(joints)] - aligned[root]))
    assert torch.equal(random_part_swap(base, donors, torch.Generator().manual_seed(0), 0.0), base)


def test_joint_offsets_move_only_the_listed_joints_along_their_anchor_lines():
    from training.augment import JOINT_OFFSETS, random_joint_offsets

    poses = torch.randn(500, 17, 3, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out = random_joint_offsets(poses, torch.Generator().manual_seed(0), 0.5)
    moved = (out - poses).norm(dim=-1) > 1e-12
    listed = {j for joints, _, _ in JOINT_OFFSETS for j in joints}
    assert not moved[:, [j for j in range(17) if j not in listed]].any()  # pelvis, knees, elbows stay
    for joints, anchors, (low, high) in JOINT_OFFSETS:
        anchors = anchors if isinstance(anchors, tuple) else (anchors,) * len(joints)
        factors = []
        for joint, anchor in zip(joints, anchors):
            before, after = poses[:, joint] - poses[:, anchor], out[:, joint] - poses[:, anchor]
            factor = (after * before).sum(-1) / (before * before).sum(-1)
            torch.testing.assert_close(after, factor[:, None] * before)  # on the anchor line
            factors.append(factor)
        factors = torch.stack(factors, 1)
        torch.testing.assert_close(factors, factors[:, :1].expand_as(factors))  # mirror joints alike
        changed = (factors[:, 0] - 1).abs() > 1e-12
        assert 180 < changed.sum() < 320  # about half the samples
        assert factors.min() >= low - 1e-9 and factors.max() <= high + 1e-9
        margin = 0.1 * (high - low)
        assert factors[changed, 0].min() < low + margin and factors[changed, 0].max() > high - margin
    torch.testing.assert_close(out, random_joint_offsets(poses, torch.Generator().manual_seed(0), 0.5))
    assert torch.equal(random_joint_offsets(poses, torch.Generator(), 0.0), poses)


def test_joint_offsets_commute_with_mirroring():
    """Mirroring a pose and re-drawing its joints gives the mirror image of the re-drawn pose:
    the augmentation has no left/right preference, as the flip augmentation requires."""
    from training.augment import random_joint_offsets

    poses = torch.randn(64, 17, 3, generator=torch.Generator().manual_seed(5), dtype=torch.float64)

    def mirror(p):
        return p[:, list(FLIP_PERMUTATION)] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)

    out = random_joint_offsets(mirror(poses), torch.Generator().manual_seed(1), 0.7)
    torch.testing.assert_close(out, mirror(random_joint_offsets(poses, torch.Generator().manual_seed(1), 0.7)))


def test_joint_jitter_and_batch_with_joint_offsets():
    from training.augment import random_joint_offsets

    poses = torch.zeros(4000, 17, 3, dtype=torch.float64)
    jittered = random_joint_offsets(poses, torch.Generator().manual_seed(0), 0.0, jitter=0.02)
    assert abs(float(jittered.std()) - 0.02) < 0.001
    world = (WORLD_T_POSE - WORLD_T_POSE[:1]).expand(8, 17, 3)
    plain = augmented_batch(world, 256, torch.Generator().manual_seed(2))
    offset = augmented_batch(world, 256, torch.Generator().manual_seed(2), joint_offset=0.5, joint_jitter=0.01)
    assert offset.shape == (256, 51)
    assert offset.reshape(256, 17, 3)[:, 0].abs().max() < 1e-12  # still pelvis-relative
    assert (offset - plain).abs().max() > 0.01


def test_training_batch_mixes_the_cmu_share_and_is_the_plain_recipe_without_it():
    from training.train import TrainConfig, training_batch

    h36m = WORLD_T_POSE[None].float().repeat(4, 1, 1)
    cmu = 1.5 * h36m  # every bone 1.5x as long: tells the two sources apart
    plain = TrainConfig(batch_size=64, bone_scale=0.0)
    expected = augmented_batch(h36m, 64, torch.Generator().manual_seed(5), 0.0)
    assert torch.equal(training_batch(h36m, None, plain, torch.Generator().manual_seed(5)), expected)
    assert torch.equal(training_batch(h36m, cmu, plain, torch.Generator().manual_seed(5)), expected)
    mixed = training_batch(h36m, cmu, TrainConfig(batch_size=64, bone_scale=0.0, cmu_fraction=0.25), torch.Generator().manual_seed(5))
    lengths = _bone_lengths(mixed.reshape(64, 17, 3).double()) / _bone_lengths(WORLD_T_POSE)
    assert mixed.shape == (64, 51)
    assert torch.allclose(lengths[:48], torch.ones(48, 16, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(lengths[48:], torch.full((16, 16), 1.5, dtype=torch.float64), atol=1e-5)
