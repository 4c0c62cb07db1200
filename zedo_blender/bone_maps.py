"""Which bones of the user's rig play which bones of the ZeDO rig: built-in maps and JSON bone maps.

A bone map names, for each ZeDO bone, the bone (or chain of bones) of the target rig that
follows it. Built in: Rigify (its FK controls; the IK/FK switches are set to FK), Mixamo
(``mixamorig:`` names, any prefix or none) and the Unreal mannequin (UE4 and UE5 names). Any
other rig gets a JSON bone map (a file, or a text block in the .blend)::

    {
      "name": "My rig",
      "bones": {"Hips": "pelvis", "Spine": ["spine_01", "spine_02"], "LeftArm": "upperarm_l", ...},
      "ends": {"LeftForeArm": "hand_l"},
      "properties": {"upper_arm_parent.L": {"IK_FK": 1.0}}
    }

``bones``: ZeDO bone -> target bone, or a chain of target bones (parent first) that shares the
rotation (spines, necks); "" or null leaves a bone unmapped. ``Hips`` is required: it carries the root motion. ``LeftFoot`` /
``RightFoot`` (no ZeDO bone of their own) name feet that are kept level, turned with the leg.
``ends`` (optional): the target bone whose head ends a segment, where the bone's own tail does
not (rigs imported from FBX often point their bones elsewhere); by default the head of the bone
mapped from the ZeDO bone's child, else the bone's tail. ``properties`` (optional): custom
properties of pose bones set (and keyed) for the retarget, such as IK/FK switches. A flat
``{"Hips": "pelvis", ...}`` object is read as ``bones``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .skeleton import BONE_NAMES

FEET = ("LeftFoot", "RightFoot")
FOOT_OF_LEG = {"LeftFoot": "LeftLeg", "RightFoot": "RightLeg"}
SOURCE_NAMES: tuple[str, ...] = BONE_NAMES + FEET
ROOT = "Hips"
# A built-in map is only offered for a rig that has all of these.
CORE = ("Hips", "LeftUpLeg", "LeftLeg", "RightUpLeg", "RightLeg", "LeftArm", "LeftForeArm", "RightArm", "RightForeArm")
# The ZeDO bone whose head ends each segment (the rest end at a hand or foot, or the head top).
_CHILD = {
    "Neck": "Head", "LeftShoulder": "LeftArm", "LeftArm": "LeftForeArm", "RightShoulder": "RightArm",
    "RightArm": "RightForeArm", "LeftUpLeg": "LeftLeg", "RightUpLeg": "RightLeg",
}


class BoneMapError(ValueError):
    """A bone map that cannot be used; the message names the map, the bone and what is wrong."""


@dataclass(frozen=True)
class BoneMap:
    """ZeDO bone -> target bone chain, segment ends and custom properties (see the module doc)."""

    name: str
    bones: dict[str, tuple[str, ...]]
    ends: dict[str, str] = field(default_factory=dict)
    properties: dict[str, dict[str, float]] = field(default_factory=dict)

    def target_bones(self) -> list[str]:
        return [name for chain in self.bones.values() for name in chain]

    def end_bone(self, source: str) -> str | None:
        """The target bone whose head ends ``source``'s segment, or None (the bone's own tail)."""
        if source in self.ends:
            return self.ends[source]
        child = _CHILD.get(source)
        return self.bones[child][0] if child in self.bones else None

    def check(self, bone_names, rig_name: str) -> None:
        """Raise :class:`BoneMapError` unless every bone the map names is in the rig."""
        present = set(bone_names)
        for source, chain in self.bones.items():
            for name in chain:
                if name not in present:
                    raise BoneMapError(f"bone map '{self.name}': bone '{name}' (for {source}) is not in armature '{rig_name}'")
        for source, name in self.ends.items():
            if name not in present:
                raise BoneMapError(f"bone map '{self.name}': end bone '{name}' (for {source}) is not in armature '{rig_name}'")
        for name in self.properties:
            if name not in present:
                raise BoneMapError(f"bone map '{self.name}': bone '{name}' (properties) is not in armature '{rig_name}'")

    def to_json(self) -> str:
        bones = {s: (c[0] if len(c) == 1 else list(c)) for s, c in self.bones.items()}
        data = {"name": self.name, "bones": bones, "ends": self.ends, "properties": self.properties}
        return json.dumps(data, indent=2) + "\n"


def parse_bone_map(text: str, origin: str) -> BoneMap:
    """A :class:`BoneMap` from JSON ``text``; ``origin`` (a file or text block name) prefixes errors."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BoneMapError(f"{origin}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(data, dict):
        raise BoneMapError(f"{origin}: a bone map is a JSON object, got {type(data).__name__}")
    if "bones" not in data:
        data = {"bones": data}
    unknown_keys = set(data) - {"name", "bones", "ends", "properties"}
    if unknown_keys:
        raise BoneMapError(f"{origin}: unknown key(s) {', '.join(sorted(unknown_keys))} (expected bones, ends, properties, name)")
    name = str(data.get("name", origin))
    expected = ", ".join(SOURCE_NAMES)

    def source_name(key) -> str:
        if key not in SOURCE_NAMES:
            raise BoneMapError(f"{origin}: unknown ZeDO bone '{key}' (expected one of {expected})")
        return key

    bones: dict[str, tuple[str, ...]] = {}
    if not isinstance(data["bones"], dict):
        raise BoneMapError(f"{origin}: 'bones' must be an object of ZeDO bone -> target bone(s)")
    for key, value in data["bones"].items():
        if value in ("", None, []):  # left empty (a template's unmapped bone)
            source_name(key)
            continue
        chain = (value,) if isinstance(value, str) else value
        if not isinstance(chain, (list, tuple)) or not chain or not all(isinstance(v, str) and v for v in chain):
            raise BoneMapError(f"{origin}: '{key}' must name a target bone or a list of target bones, got {value!r}")
        bones[source_name(key)] = tuple(chain)
    if ROOT not in bones:
        raise BoneMapError(f"{origin}: '{ROOT}' must be mapped (its bone carries the root motion)")
    ends = {}
    for key, value in dict(data.get("ends") or {}).items():
        if not isinstance(value, str):
            raise BoneMapError(f"{origin}: ends: '{key}' must name a target bone, got {value!r}")
        ends[source_name(key)] = value
    properties: dict[str, dict[str, float]] = {}
    for bone, values in dict(data.get("properties") or {}).items():
        if not isinstance(values, dict) or not all(isinstance(v, (int, float)) for v in values.values()):
            raise BoneMapError(f"{origin}: properties: '{bone}' must be an object of property name -> number")
        properties[bone] = {k: float(v) for k, v in values.items()}
    return BoneMap(name, bones, ends, properties)


def _sides(left: dict[str, tuple[str, ...]], swap) -> dict[str, tuple[str, ...]]:
    """``left`` (Left* ZeDO bones) plus the mirrored Right* entries, names mapped by ``swap``."""
    both = dict(left)
    for source, chain in left.items():
        both[source.replace("Left", "Right")] = tuple(swap(name) for name in chain)
    return both


def _rigify() -> BoneMap:
    swap = lambda n: n.replace(".L", ".R")  # noqa: E731
    limbs = _sides(
        {
            "LeftShoulder": ("shoulder.L",), "LeftArm": ("upper_arm_fk.L",), "LeftForeArm": ("forearm_fk.L",),
            "LeftUpLeg": ("thigh_fk.L",), "LeftLeg": ("shin_fk.L",), "LeftFoot": ("foot_fk.L",),
        },
        swap,
    )
    bones = {"Hips": ("torso",), "Spine": ("chest",), "Neck": ("neck",), "Head": ("head",), **limbs}
    ends = {"LeftForeArm": "hand_fk.L", "RightForeArm": "hand_fk.R", "LeftLeg": "foot_fk.L", "RightLeg": "foot_fk.R"}
    # IK/FK 1 = FK; the FK limbs, neck and head follow their parents (rigid, as the ZeDO rig).
    limb = {"IK_FK": 1.0, "FK_limb_follow": 0.0}
    properties = {
        "upper_arm_parent.L": limb, "upper_arm_parent.R": limb, "thigh_parent.L": limb, "thigh_parent.R": limb,
        "torso": {"neck_follow": 1.0, "head_follow": 1.0},
    }
    return BoneMap("Rigify", bones, ends, properties)


def _mixamo(prefix: str) -> BoneMap:
    def name(n: str) -> str:
        return prefix + n

    limbs = _sides(
        {
            "LeftShoulder": ("LeftShoulder",), "LeftArm": ("LeftArm",), "LeftForeArm": ("LeftForeArm",),
            "LeftUpLeg": ("LeftUpLeg",), "LeftLeg": ("LeftLeg",), "LeftFoot": ("LeftFoot",),
        },
        lambda n: n.replace("Left", "Right"),
    )
    bones = {"Hips": ("Hips",), "Spine": ("Spine", "Spine1", "Spine2"), "Neck": ("Neck",), "Head": ("Head",), **limbs}
    ends = {"LeftForeArm": "LeftHand", "RightForeArm": "RightHand", "LeftLeg": "LeftFoot", "RightLeg": "RightFoot"}
    return BoneMap(
        "Mixamo",
        {s: tuple(name(n) for n in chain) for s, chain in bones.items()},
        {s: name(n) for s, n in ends.items()},
    )


def _unreal() -> BoneMap:
    limbs = _sides(
        {
            "LeftShoulder": ("clavicle_l",), "LeftArm": ("upperarm_l",), "LeftForeArm": ("lowerarm_l",),
            "LeftUpLeg": ("thigh_l",), "LeftLeg": ("calf_l",), "LeftFoot": ("foot_l",),
        },
        lambda n: n[:-2] + "_r",
    )
    bones = {
        "Hips": ("pelvis",), "Spine": ("spine_01", "spine_02", "spine_03", "spine_04", "spine_05"),
        "Neck": ("neck_01", "neck_02"), "Head": ("head",), **limbs,
    }
    ends = {"LeftForeArm": "hand_l", "RightForeArm": "hand_r", "LeftLeg": "foot_l", "RightLeg": "foot_r"}
    return BoneMap("Unreal mannequin", bones, ends)


BUILT_IN = ("RIGIFY", "MIXAMO", "UNREAL")


def _mixamo_prefix(bone_names) -> str:
    """The prefix before ``Hips`` (``mixamorig:``, ``mixamorig1:``, ``Armature_``... or "")."""
    names = set(bone_names)
    for name in sorted(names):
        match = re.fullmatch(r"(.*?)Hips", name)
        if match and f"{match.group(1)}LeftUpLeg" in names:
            return match.group(1)
    return "mixamorig:"


def built_in(kind: str, bone_names=()) -> BoneMap:
    """The built-in map ``kind`` ("RIGIFY", "MIXAMO", "UNREAL"); the Mixamo prefix is read from
    ``bone_names``."""
    if kind == "RIGIFY":
        return _rigify()
    if kind == "MIXAMO":
        return _mixamo(_mixamo_prefix(bone_names))
    if kind == "UNREAL":
        return _unreal()
    raise BoneMapError(f"unknown built-in bone map '{kind}' (expected one of {', '.join(BUILT_IN)})")


def fit(bone_map: BoneMap, bone_names) -> BoneMap:
    """``bone_map`` without the bones the rig lacks (chains keep the bones present); for built-in maps."""
    present = set(bone_names)
    bones = {s: tuple(n for n in chain if n in present) for s, chain in bone_map.bones.items()}
    bones = {s: chain for s, chain in bones.items() if chain}
    ends = {s: n for s, n in bone_map.ends.items() if n in present and s in bones}
    properties = {b: p for b, p in bone_map.properties.items() if b in present}
    return BoneMap(bone_map.name, bones, ends, properties)


def detect(bone_names) -> BoneMap | None:
    """The built-in map that fits a rig with ``bone_names`` (all :data:`CORE` bones mapped), or None."""
    for kind in BUILT_IN:
        candidate = fit(built_in(kind, bone_names), bone_names)
        if all(source in candidate.bones for source in CORE):
            return candidate
    return None
