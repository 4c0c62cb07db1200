"""The 17-joint Human3.6M skeleton the prior is trained on."""

from __future__ import annotations

from .arrays import Array, namespace, norm

JOINT_NAMES: tuple[str, ...] = (
    "pelvis",
    "right_hip",
    "right_knee",
    "right_ankle",
    "left_hip",
    "left_knee",
    "left_ankle",
    "spine",
    "thorax",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)

# Parent of each joint (-1 for the root).
PARENTS: tuple[int, ...] = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)

# The 16 bones as child and parent joint indices, children in kinematic order (every parent
# before its children). Lists, so that they index an axis of numpy arrays and torch tensors.
BONE_CHILDREN: list[int] = list(range(1, NUM_JOINTS))
BONE_PARENTS: list[int] = list(PARENTS[1:])
NUM_BONES = len(BONE_CHILDREN)
# "parent-child", e.g. "pelvis-right_hip": how files name the bones (zedo_core.body).
BONE_NAMES: tuple[str, ...] = tuple(f"{JOINT_NAMES[p]}-{JOINT_NAMES[c]}" for p, c in zip(BONE_PARENTS, BONE_CHILDREN))


def joints_from_bones(root: Array, bones: Array) -> Array:
    """Joints ``(B, 17, 3)`` from the root ``(B, 3)`` and the 16 bone vectors ``(B, 16, 3)``
    (child minus parent, in ``BONE_CHILDREN`` order), placed down the kinematic chain."""
    joints = [root]
    for bone, parent in enumerate(BONE_PARENTS):
        joints.append(joints[parent] + bones[:, bone])
    return namespace(root).stack(joints, 1)


def bone_lengths(joints: Array) -> Array:
    """The 16 bone lengths ``(..., 16)`` of joints ``(..., 17, 3)``, in ``BONE_CHILDREN`` order."""
    return norm(joints[..., BONE_CHILDREN, :] - joints[..., BONE_PARENTS, :])


def pull_bone_lengths(joints: Array, target: Array, fraction: float) -> Array:
    """Joints ``(B, 17, 3)`` with every bone's length moved ``fraction`` of the way to ``target``
    ``(B, 16)`` or ``(16,)`` (NaN: that bone kept), its direction kept and the root fixed."""
    xp = namespace(joints)
    bones = joints[:, BONE_CHILDREN] - joints[:, BONE_PARENTS]
    length = norm(bones)
    ratio = 1.0 + fraction * (target / xp.clip(length, 1e-9, None) - 1.0)
    bones = bones * xp.where(xp.isfinite(ratio), ratio, xp.ones_like(ratio))[..., None]
    return joints_from_bones(joints[:, 0], bones)


# Index of each joint's mirror image (left <-> right): flip augmentation and mirror().
FLIP_PERMUTATION: tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)


def mirror(poses: Array) -> Array:
    """The mirror image of camera-frame poses ``(B, 17, 3)`` in the camera's y-z plane: x negated,
    left and right joints swapped. Its own inverse."""
    xp = namespace(poses)
    flipped = xp.concatenate([-poses[..., :1], poses[..., 1:]], axis=-1)
    return flipped[:, list(FLIP_PERMUTATION)]


PELVIS, RIGHT_HIP, LEFT_HIP, THORAX = 0, 1, 4, 8
