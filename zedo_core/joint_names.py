"""Track and bone names -> the 17 joints: match a user's 2D tracks (or a rig's bones) to the prior's.

    >>> match_joint("shoulder.L"), match_joint("mixamorig:RightUpLeg"), match_joint("left_eye")
    (11, 1, None)

A name is normalised (namespace such as ``mixamorig:`` and Blender's ``.001`` dropped, rig prefixes
``DEF-``/``ORG-``/``MCH-``/``CC_Base_``/``Bip01`` dropped, lower case, separators removed) and looked
up among the spellings below; sided joints accept ``left``/``l``/``right``/``r`` before or after the
name (``LeftArm``, ``L_Shoulder``, ``lshoulder``, ``shoulder.L``, ``shoulder_left``).

Where conventions disagree, the engine's own names win, so ``match_joint(JOINT_NAMES[i]) == i``:
``neck`` is joint 9 (Human3.6M 'Neck/Nose', the engine's "neck"), although OpenPose's and Mixamo's
"Neck" sit lower, at the base of the neck (nearer the thorax); ``head`` is joint 10 (top of head,
Human3.6M's "Head"), although Mixamo's "Head" bone starts at the base of the skull. Eyes, ears,
toes, heels and fingers are no joint of the prior and match nothing.
"""

from __future__ import annotations

import re

from .skeleton import JOINT_NAMES

# Joints without a side: index -> spellings (normalised: lower case, no separators).
_CENTRE = {
    JOINT_NAMES.index("pelvis"): (
        "pelvis", "hip", "hips", "midhip", "root", "hipcenter", "hipcentre", "spinebase", "pelviscenter",
    ),
    JOINT_NAMES.index("spine"): ("spine", "spine1", "spinemid", "spinemiddle", "midspine"),
    JOINT_NAMES.index("thorax"): (
        "thorax", "chest", "upperchest", "neckbase", "baseofneck", "lowerneck", "spineshoulder",
        "shouldercenter", "shouldercentre", "midshoulder", "midshoulders", "sternum",
    ),
    JOINT_NAMES.index("neck"): ("neck", "necknose", "nose", "upperneck"),
    JOINT_NAMES.index("head"): (
        "head", "headtop", "tophead", "topofhead", "headtopend", "headend", "headsite", "crown", "vertex",
    ),
}  # fmt: skip

# Joints with a side: (left index, right index) -> spellings without the side.
_SIDED = {
    (JOINT_NAMES.index("left_shoulder"), JOINT_NAMES.index("right_shoulder")): ("shoulder", "arm", "upperarm", "uparm"),
    (JOINT_NAMES.index("left_elbow"), JOINT_NAMES.index("right_elbow")): ("elbow", "forearm", "lowerarm", "lowarm"),
    (JOINT_NAMES.index("left_wrist"), JOINT_NAMES.index("right_wrist")): ("wrist", "hand"),
    (JOINT_NAMES.index("left_hip"), JOINT_NAMES.index("right_hip")): ("hip", "upleg", "upperleg", "thigh"),
    (JOINT_NAMES.index("left_knee"), JOINT_NAMES.index("right_knee")): (
        "knee", "leg", "lowerleg", "lowleg", "shin", "calf",
    ),
    (JOINT_NAMES.index("left_ankle"), JOINT_NAMES.index("right_ankle")): ("ankle", "foot"),
}  # fmt: skip

_SIDE_WORDS = (("left", "l"), ("right", "r"))


def _build_aliases() -> dict[str, int]:
    aliases: dict[str, int] = {}

    def add(key: str, joint: int) -> None:
        if aliases.setdefault(key, joint) != joint:  # a clash would make a spelling ambiguous
            raise AssertionError(f"joint alias {key!r} names joints {aliases[key]} and {joint}")

    for joint, spellings in _CENTRE.items():
        for spelling in spellings:
            add(spelling, joint)
    for joints, spellings in _SIDED.items():
        for joint, words in zip(joints, _SIDE_WORDS):
            for spelling in spellings:
                for word in words:
                    add(word + spelling, joint)
                    add(spelling + word, joint)
    return aliases


_ALIASES = _build_aliases()
_NAMESPACE = re.compile(r"^.*[:|]")  # "mixamorig:LeftArm", "Armature|Hips"
_DUPLICATE = re.compile(r"\.\d{3}$")  # Blender's "Track.001"
_RIG_PREFIX = re.compile(r"^(?:(?:def|org|mch)[-_.]|cc[_ ]?base[-_. ]*|bip0*1[-_. ]*)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[^a-z0-9]+")


def normalise_joint_name(name: str) -> str:
    """The lookup key of a track or bone name: ``"mixamorig:Left_Shoulder.001"`` -> ``"leftshoulder"``."""
    name = _DUPLICATE.sub("", _NAMESPACE.sub("", name.strip()))
    return _SEPARATORS.sub("", _RIG_PREFIX.sub("", name).lower())


def joint_aliases() -> dict[str, int]:
    """Every spelling :func:`match_joint` knows, normalised (see :func:`normalise_joint_name`),
    mapped to its joint index in ``JOINT_NAMES``. A fresh dict: changing it changes nothing here."""
    return dict(_ALIASES)


def match_joint(track_name: str) -> int | None:
    """The index in ``JOINT_NAMES`` of the joint ``track_name`` names, or None when it names none."""
    return _ALIASES.get(normalise_joint_name(track_name))
