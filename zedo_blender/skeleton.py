"""The armature the add-on builds: 14 bones over the engine's 17 joints, named for retargeting.

Bone names follow Mixamo (without the ``mixamorig:`` prefix), which most retargeting tools map
automatically; ``zedo_blender.retarget`` bakes the motion onto Rigify, Mixamo, Unreal or any rig
(``zedo_blender.bone_maps``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .engine import engine_module

JOINT_NAMES: tuple[str, ...] = engine_module("skeleton").JOINT_NAMES
NUM_JOINTS = len(JOINT_NAMES)
# Where each joint's marker goes, for someone tracking by hand: a short label for the panel row
# and a description shown on hover (Human3.6M's joint definitions, as zedo_core.layouts derives them).
_MARKERS: dict[str, tuple[str, str]] = {
    "pelvis": ("Pelvis (Mid-Hips)", "Midway between the two hip joints, on the body's centre line"),
    "spine": ("Spine (Mid-Back)", "Halfway between the pelvis and the thorax markers, on the body's centre line"),
    "thorax": ("Thorax (Neck Base)", "Just above the midpoint of the shoulders: the base of the neck, at the collarbones"),
    "neck": ("Nose", "The tip of the nose (the 'neck/nose' joint of the 17-joint skeleton sits in front of the head)"),
    "head": ("Head Top", "The top of the head (the crown), above the ears"),
}
for _side in ("left", "right"):
    _Side = _side.title()
    _MARKERS.update(
        {
            f"{_side}_hip": (f"{_Side} Hip", f"The {_side} hip joint: where the thigh meets the pelvis, at the side of the groin"),
            f"{_side}_knee": (f"{_Side} Knee", f"The centre of the {_side} knee joint, seen from the camera"),
            f"{_side}_ankle": (f"{_Side} Ankle", f"The {_side} ankle joint (between the ankle bones), not the heel or toes"),
            f"{_side}_shoulder": (f"{_Side} Shoulder", f"The {_side} shoulder joint: the top of the upper arm, not the collarbone"),
            f"{_side}_elbow": (f"{_Side} Elbow", f"The centre of the {_side} elbow joint"),
            f"{_side}_wrist": (f"{_Side} Wrist", f"The centre of the {_side} wrist, where the hand meets the forearm"),
        }
    )
JOINT_LABELS: tuple[str, ...] = tuple(_MARKERS[name][0] for name in JOINT_NAMES)
JOINT_DESCRIPTIONS: tuple[str, ...] = tuple(_MARKERS[name][1] for name in JOINT_NAMES)
_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
PELVIS, RIGHT_HIP, RIGHT_KNEE, RIGHT_ANKLE = (_INDEX[n] for n in ("pelvis", "right_hip", "right_knee", "right_ankle"))
LEFT_HIP, LEFT_KNEE, LEFT_ANKLE = (_INDEX[n] for n in ("left_hip", "left_knee", "left_ankle"))
SPINE, THORAX, NECK, HEAD = (_INDEX[n] for n in ("spine", "thorax", "neck", "head"))
LEFT_SHOULDER, LEFT_ELBOW, LEFT_WRIST = (_INDEX[n] for n in ("left_shoulder", "left_elbow", "left_wrist"))
RIGHT_SHOULDER, RIGHT_ELBOW, RIGHT_WRIST = (_INDEX[n] for n in ("right_shoulder", "right_elbow", "right_wrist"))


@dataclass(frozen=True)
class Bone:
    """A bone from joint ``head`` to joint ``tail``; ``chain`` and ``side`` shape the T-pose."""

    name: str
    head: int
    tail: int
    parent: str | None
    chain: str  # "torso", "leg" or "arm"
    side: str = ""  # "left", "right" or "" (centre)
    mirror: str | None = None


# Parents come before children.
BONES: tuple[Bone, ...] = (
    Bone("Hips", PELVIS, SPINE, None, "torso"),
    Bone("Spine", SPINE, THORAX, "Hips", "torso"),
    Bone("Neck", THORAX, NECK, "Spine", "torso"),
    Bone("Head", NECK, HEAD, "Neck", "torso"),
    Bone("LeftUpLeg", LEFT_HIP, LEFT_KNEE, "Hips", "leg", "left", "RightUpLeg"),
    Bone("LeftLeg", LEFT_KNEE, LEFT_ANKLE, "LeftUpLeg", "leg", "left", "RightLeg"),
    Bone("RightUpLeg", RIGHT_HIP, RIGHT_KNEE, "Hips", "leg", "right", "LeftUpLeg"),
    Bone("RightLeg", RIGHT_KNEE, RIGHT_ANKLE, "RightUpLeg", "leg", "right", "LeftLeg"),
    Bone("LeftShoulder", THORAX, LEFT_SHOULDER, "Spine", "arm", "left", "RightShoulder"),
    Bone("LeftArm", LEFT_SHOULDER, LEFT_ELBOW, "LeftShoulder", "arm", "left", "RightArm"),
    Bone("LeftForeArm", LEFT_ELBOW, LEFT_WRIST, "LeftArm", "arm", "left", "RightForeArm"),
    Bone("RightShoulder", THORAX, RIGHT_SHOULDER, "Spine", "arm", "right", "LeftShoulder"),
    Bone("RightArm", RIGHT_SHOULDER, RIGHT_ELBOW, "RightShoulder", "arm", "right", "LeftArm"),
    Bone("RightForeArm", RIGHT_ELBOW, RIGHT_WRIST, "RightArm", "arm", "right", "LeftForeArm"),
)
BONE_NAMES: tuple[str, ...] = tuple(b.name for b in BONES)
ROOT_BONE = "Hips"

# Hip joints are not bone ends of their own: they ride on the pelvis (Hips bone) at this side.
HIP_JOINTS = {LEFT_HIP: "left", RIGHT_HIP: "right"}
