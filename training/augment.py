"""Training poses for the prior: world poses seen from random cameras, randomly mirrored.

Every random draw comes from the ``generator`` passed in, on its device (a CUDA generator draws on
the GPU), so a batch is made where the poses are."""

from __future__ import annotations

import math

import torch

from zedo_core.geometry import rotation_matrices
from zedo_core.skeleton import (
    BONE_CHILDREN,
    BONE_PARENTS,
    FLIP_PERMUTATION,
    LEFT_HIP,
    PARENTS,
    PELVIS,
    RIGHT_HIP,
    joints_from_bones,
    mirror,
)

# World (Human3.6M: z up) -> a level camera looking along world +y (camera: x right, y down, z forward).
_LEVEL_CAMERA = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


def random_view_rotations(
    n: int,
    generator: torch.Generator,
    pitch_deg: tuple[float, float] = (-15.0, 45.0),
    roll_deg: tuple[float, float] = (-10.0, 10.0),
) -> torch.Tensor:
    """``(n, 3, 3)`` world -> camera rotations: any heading, a camera pitched down by ``pitch_deg``
    (negative looks up) and rolled by ``roll_deg``; covers tripod and handheld footage."""
    def uniform() -> torch.Tensor:
        return torch.rand(n, generator=generator, dtype=torch.float64, device=generator.device)

    yaw = uniform() * 2 * math.pi
    pitch = torch.deg2rad(pitch_deg[0] + uniform() * (pitch_deg[1] - pitch_deg[0]))
    roll = torch.deg2rad(roll_deg[0] + uniform() * (roll_deg[1] - roll_deg[0]))
    # Heading about world z, then the level camera, then pitch (about camera x; positive looks down), then roll.
    level = _LEVEL_CAMERA.to(yaw.device)
    return rotation_matrices("z", roll) @ rotation_matrices("x", pitch) @ level @ rotation_matrices("z", yaw)


def random_flip(poses: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror half of the camera-frame poses ``(B, 17, 3)``: negate x and swap left/right joints."""
    flip = torch.rand(poses.shape[0], generator=generator, device=generator.device) < 0.5
    return torch.where(flip[:, None, None], mirror(poses), poses)


def random_bone_scaling(poses: torch.Tensor, generator: torch.Generator, spread: float) -> torch.Tensor:
    """Scale every bone of ``(B, 17, 3)`` poses by a factor in [1 - spread, 1 + spread], the same
    for a bone and its mirror image, so the prior meets body proportions beyond the 5 subjects."""
    if spread <= 0:
        return poses
    draws = torch.rand(poses.shape[0], len(PARENTS), generator=generator, device=generator.device)
    factors = 1.0 + spread * (2.0 * draws - 1.0)
    factors = 0.5 * (factors + factors[:, list(FLIP_PERMUTATION)])
    bones = factors[:, BONE_CHILDREN, None].to(poses.dtype) * (poses[:, BONE_CHILDREN] - poses[:, BONE_PARENTS])
    return joints_from_bones(poses[:, 0], bones)


# Where other datasets, rigs and detectors put joints that Human3.6M puts elsewhere: each entry
# moves the joints alone (nothing else moves) along the line from an anchor joint, to a factor
# of their distance from it drawn in [low, high]. Mirror joints share one factor. The ranges span
# the conventions the issue tracker measured against Human3.6M (median bone lengths; issue 11) and
# the CMU pack's (../shared/data/cmu/README.md), with a little room on the Human3.6M side:
JOINT_OFFSETS = (
    # hip width 97-277 mm in three held-out sets against 248; CMU pelvis-hip 85 against 133 (0.64)
    ((1, 4), 0, (0.4, 1.15)),
    # shins 372-410 mm against 469 (0.79-0.87); CMU 429 against 450 (0.95)
    ((3, 6), (2, 5), (0.8, 1.05)),
    # shoulder width 201-363 mm against 332 (0.61-1.09); CMU thorax-shoulder 199 against 151 (1.32)
    ((11, 14), 8, (0.6, 1.35)),
    # CMU thorax-neck 144 against 121 (1.19)
    ((9,), 8, (0.85, 1.25)),
    # CMU head top 289 mm above the thorax against about 236 (1.22)
    ((10,), 8, (0.85, 1.25)),
    # detectors' and rigs' spine joints lie anywhere on the back
    ((7,), 0, (0.8, 1.2)),
    # a thorax at the mid-shoulders (OpenPose "Neck") lies 59 mm lower (layouts.py)
    ((8,), 0, (0.88, 1.05)),
    # CMU forearm (radius) 186 against 252 (0.74)
    ((13, 16), (12, 15), (0.75, 1.05)),
)


def random_joint_offsets(
    poses: torch.Tensor, generator: torch.Generator, probability: float, jitter: float = 0.0
) -> torch.Tensor:
    """Re-draw ``(B, 17, 3)`` poses (any frame, metres) in other skeleton conventions: each entry of
    :data:`JOINT_OFFSETS` applies to a sample with ``probability``, moving its joints alone along the
    line from their anchor (``anchor + f (joint - anchor)``, ``f`` uniform in the entry's range, one
    ``f`` for a joint and its mirror image); then every joint moves by an isotropic Gaussian of
    ``jitter`` metres (marker placement). Unlike :func:`random_bone_scaling` the children stay:
    the same body, its joints marked elsewhere. All moves read the original pose."""
    if probability <= 0 and jitter <= 0:
        return poses
    n = poses.shape[0]
    out = poses.clone()
    if probability > 0:
        for joints, anchors, (low, high) in JOINT_OFFSETS:
            anchors = anchors if isinstance(anchors, tuple) else (anchors,) * len(joints)
            apply = torch.rand(n, generator=generator, device=generator.device) < probability
            factor = low + (high - low) * torch.rand(n, generator=generator, device=generator.device)
            factor = torch.where(apply, factor, torch.ones_like(factor)).to(poses.dtype)[:, None]
            for joint, anchor in zip(joints, anchors):
                out[:, joint] = poses[:, anchor] + factor * (poses[:, joint] - poses[:, anchor])
    if jitter > 0:
        out = out + jitter * torch.randn(out.shape, generator=generator, device=generator.device).to(poses.dtype)
    return out


# Limbs that random_part_swap exchanges: (attachment joint, joints that move with the limb).
SWAP_PARTS = (
    (11, (12, 13)),  # left arm, from the left shoulder
    (14, (15, 16)),  # right arm
    (8, (9, 10)),  # head, from the thorax
    (0, (1, 2, 3, 4, 5, 6)),  # both legs, from the pelvis
)


def body_heading(world_rel_m: torch.Tensor) -> torch.Tensor:
    """Heading (radians about world z) of the right -> left hip line of world poses ``(B, 17, 3)``."""
    hips = world_rel_m[:, LEFT_HIP] - world_rel_m[:, RIGHT_HIP]
    return torch.atan2(hips[:, 1], hips[:, 0])


def random_part_swap(
    poses: torch.Tensor, donors: torch.Tensor, generator: torch.Generator, probability: float
) -> torch.Tensor:
    """With ``probability``, give each world pose ``(B, 17, 3)`` one limb (an arm, the head or both
    legs; see :data:`SWAP_PARTS`) of its donor pose ``(B, 17, 3)``, turned about the vertical to the
    same heading and attached at the same joint: pose combinations the 5 subjects never made.
    World frame (z up), so a donor's hanging arm still hangs."""
    if probability <= 0:
        return poses
    n = poses.shape[0]
    swap = torch.rand(n, generator=generator, device=generator.device) < probability
    part = torch.randint(0, len(SWAP_PARTS), (n,), generator=generator, device=generator.device)
    turn = rotation_matrices("z", (body_heading(poses) - body_heading(donors)).double()).to(poses.dtype)
    donors = torch.einsum("bij,bkj->bki", turn, donors)
    out = poses.clone()
    for index, (root, joints) in enumerate(SWAP_PARTS):
        rows = swap & (part == index)
        if rows.any():
            limb = donors[rows][:, list(joints)] - donors[rows][:, root : root + 1]
            columns = torch.tensor(joints, device=poses.device)
            out[rows.nonzero()[:, 0][:, None], columns] = poses[rows][:, root : root + 1] + limb
    return out


def augmented_batch(
    world_rel_m: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    bone_scale: float = 0.0,
    part_swap: float = 0.0,
    joint_offset: float = 0.0,
    joint_jitter: float = 0.0,
) -> torch.Tensor:
    """A batch ``(B, 51)`` of pelvis-relative camera-frame poses in metres from world poses
    ``(M, 17, 3)`` (pelvis-relative, metres). ``joint_offset`` and ``joint_jitter``: see
    :func:`random_joint_offsets` (the pelvis is re-centred afterwards)."""
    def draw_poses() -> torch.Tensor:
        index = torch.randint(0, len(world_rel_m), (batch_size,), generator=generator, device=generator.device)
        return world_rel_m[index]

    poses = draw_poses()
    if part_swap > 0:
        donors = draw_poses()
        poses = random_part_swap(poses, donors, generator, part_swap)
    rot = random_view_rotations(batch_size, generator).to(world_rel_m.dtype)
    poses = random_bone_scaling(poses, generator, bone_scale)
    if joint_offset > 0 or joint_jitter > 0:
        poses = random_joint_offsets(poses, generator, joint_offset, joint_jitter)
        poses = poses - poses[:, PELVIS : PELVIS + 1]
    poses = torch.einsum("bij,bkj->bki", rot, poses)
    return random_flip(poses, generator).reshape(batch_size, -1)


def canonical_poses(world_rel_m: torch.Tensor) -> torch.Tensor:
    """Rotate world poses about the vertical so the hips face a level camera, in camera axes.

    The person faces the camera (towards -z) with the right hip on the image's left (-x).
    """
    rot = _LEVEL_CAMERA.to(world_rel_m) @ rotation_matrices("z", -body_heading(world_rel_m))
    posed = torch.einsum("bij,bkj->bki", rot, world_rel_m)
    return posed - posed[:, PELVIS : PELVIS + 1]
