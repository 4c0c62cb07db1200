"""Track and bone names -> the 17 joints."""

from __future__ import annotations

import pytest

from zedo_core.joint_names import joint_aliases, match_joint, normalise_joint_name
from zedo_core.layouts import LAYOUTS
from zedo_core.skeleton import JOINT_NAMES

J = {name: i for i, name in enumerate(JOINT_NAMES)}

SPELLINGS = {
    "left_shoulder": [
        "LeftShoulder", "l_shoulder", "left_shoulder", "L_Shoulder", "lshoulder", "shoulder.L", "shoulder_l",
        "LShoulder", "Left Shoulder", "LEFT_SHOULDER", "shoulder_left", "ShoulderLeft", "L.Shoulder", "left-shoulder",
        "mixamorig:LeftArm", "upper_arm.L", "DEF-upper_arm.L", "ORG-upper_arm.L.001", "Armature|LeftArm",
    ],
    "right_shoulder": ["RightShoulder", "RShoulder", "r_shoulder", "shoulder.R", "right_shoulder", "RightArm"],
    "left_elbow": ["LElbow", "left_elbow", "l_elbow", "LeftForeArm", "forearm.L", "elbow_l", "Bip01 L Forearm"],
    "right_elbow": ["RElbow", "right_elbow", "RightForeArm", "lowerarm_r", "CC_Base_R_Forearm"],
    "left_wrist": ["LWrist", "left_wrist", "l_wrist", "LeftHand", "hand.L", "Left Hand", "wrist.L.002"],
    "right_wrist": ["RWrist", "right_wrist", "r_wrist", "RightHand", "hand_r"],
    "left_hip": ["LHip", "left_hip", "l_hip", "LeftUpLeg", "thigh.L", "DEF-thigh.L", "CC_Base_L_Thigh", "LeftUpperLeg"],
    "right_hip": ["RHip", "right_hip", "r_hip", "RightUpLeg", "thigh.R", "Bip01 R Thigh", "hip_right"],
    "left_knee": ["LKnee", "left_knee", "l_knee", "LeftLeg", "shin.L", "Bip01 L Calf", "LeftLowerLeg", "knee_L"],
    "right_knee": ["RKnee", "right_knee", "r_knee", "RightLeg", "mixamorig:RightLeg", "shin.R"],
    "left_ankle": ["LAnkle", "left_ankle", "l_ankle", "LeftFoot", "foot.L", "LFoot", "ankle_l"],
    "right_ankle": ["RAnkle", "right_ankle", "r_ankle", "RightFoot", "RFoot", "foot.R"],
    "pelvis": [
        "Pelvis", "pelvis", "Hip", "Hips", "mixamorig:Hips", "MidHip", "mid_hip", "root", "Bip01 Pelvis", "HipCenter",
    ],
    "spine": ["Spine", "spine", "Spine1", "SpineMid", "spine.001"],
    "thorax": ["Thorax", "thorax", "Chest", "UpperChest", "SpineShoulder", "neck_base", "ShoulderCenter"],
    "neck": ["Neck", "neck", "Neck/Nose", "nose", "Nose", "upper_neck"],
    "head": ["Head", "head", "head_top", "HeadTop_End", "mixamorig:HeadTop_End", "Top of Head", "crown"],
}  # fmt: skip
CASES = [(name, joint) for joint, names in SPELLINGS.items() for name in names]


@pytest.mark.parametrize("name, joint", CASES, ids=[c[0] for c in CASES])
def test_spellings_match_their_joint(name, joint):
    assert match_joint(name) == J[joint]


@pytest.mark.parametrize(
    "name",
    ["left_eye", "REye", "LEar", "nose_tip", "LBigToe", "RHeel", "left_pinky", "mouth_left", "LeftHandIndex1",
     "", "   ", "L", "r", "Track", "Track.001", "default", "legs", "joint_11", "11", "eye.L"],
)  # fmt: skip
def test_other_names_match_nothing(name):
    assert match_joint(name) is None


def test_the_engine_names_round_trip():
    assert [match_joint(name) for name in JOINT_NAMES] == list(range(len(JOINT_NAMES)))


@pytest.mark.parametrize("layout", ["coco", "body25", "coco18", "mediapipe", "mpii"])
def test_layout_names_match_the_joint_they_feed(layout):
    spec = LAYOUTS[layout]
    for joint, source, _ in spec.direct:
        assert match_joint(spec.joint_names[source]) == joint, spec.joint_names[source]


def test_aliases_are_normalised_and_a_copy():
    aliases = joint_aliases()
    assert len(aliases) > 150
    assert all(key == normalise_joint_name(key) and 0 <= joint < 17 for key, joint in aliases.items())
    assert set(aliases.values()) == set(range(17))
    assert aliases["leftshoulder"] == aliases["shoulderl"] == J["left_shoulder"]
    aliases["leftshoulder"] = 0
    assert match_joint("LeftShoulder") == J["left_shoulder"]


def test_normalisation():
    assert normalise_joint_name("mixamorig:Left_Shoulder.001") == "leftshoulder"
    assert normalise_joint_name(" DEF-thigh.L ") == "thighl"
    assert normalise_joint_name("Neck/Nose") == "necknose"
    assert normalise_joint_name("Bip01 L Calf") == "lcalf"
