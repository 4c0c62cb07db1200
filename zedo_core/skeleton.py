"""The 17-joint Human3.6M skeleton the prior is trained on."""

from __future__ import annotations

from .arrays import Array, namespace

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


def joints_from_bones(root: Array, bones: Array) -> Array:
    """Joints ``(B, 17, 3)`` from the root ``(B, 3)`` and the 16 bone vectors ``(B, 16, 3)``
    (child minus parent, in ``BONE_CHILDREN`` order), placed down the kinematic chain."""
    joints = [root]
    for bone, parent in enumerate(BONE_PARENTS):
        joints.append(joints[parent] + bones[:, bone])
    return namespace(root).stack(joints, 1)

# Index of each joint's mirror image (left <-> right), used for flip augmentation.
FLIP_PERMUTATION: tuple[int, ...] = (0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13)

PELVIS, RIGHT_HIP, LEFT_HIP, THORAX = 0, 1, 4, 8
