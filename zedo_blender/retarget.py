"""Retarget a ZeDO rig's motion onto the user's rig, baked into a new action on that rig.

How: every mapped bone of the target gets the world rotation the ZeDO bone has made since its
rest pose, applied to the target bone's own rest orientation after aligning the two rest poses
(the whole body first, then each limb by the shortest turn that lays the target's rest segment
on the ZeDO one). So a limb of the target points where the ZeDO limb points, and no twist about
the limb appears, however the two rigs roll their bones or whatever their rest poses (T or A).
Where the target's rest limb is bent, its upper arm (thigh) is also turned about its length so
the elbow (knee) bends about the target's own hinge. The neck and head follow how far the ZeDO
neck and head leave a neutral carriage (the ZeDO bones run through the nose, not along the neck).
Spines and necks mapped to several bones share the turn. Feet are kept level, turned with the leg.
The pelvis position follows the ZeDO pelvis, scaled by the ratio of leg lengths, and is lifted or
lowered on each frame so the lower ankle is as high above the ground as the ZeDO one (scaled).

The target is probed once in Blender (at rest, with the map's custom properties set): which
mapped bone carries which, through whatever constraints the rig uses (Rigify's MCH bones), and
with what fixed offset. The motion is then solved in numpy for all frames at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Matrix, Quaternion

from .animation import ActionWriter, action_frame_range, quaternion_matrices, sample_pose
from .bone_maps import FEET, FOOT_OF_LEG, ROOT, BoneMap
from .motion import _frame, _swing, _unit, continuous_quaternions, matrices_to_quaternions
from .skeleton import BONE_NAMES, BONES

ORIENTED = ("Hips", "Spine")  # fully oriented ZeDO bones (pelvis and chest); the others are directions
SOURCE_PARENT = {b.name: b.parent for b in BONES}
LEGS = (("LeftUpLeg", "LeftLeg"), ("RightUpLeg", "RightLeg"))
HINGES = LEGS + (("LeftArm", "LeftForeArm"), ("RightArm", "RightForeArm"))
# The ZeDO Neck (thorax -> nose) and Head (nose -> head top) bones do not run along the neck and
# the head: the nose sits in front of the head. Their directions in the chest frame (x: the body's
# left, y: its back, z: up the spine) for a neutral head carriage: the median over Human3.6M's
# training subjects' upright actions (tools/neutral_head.py; about 42 degrees forward and 30
# back). The target's rest neck and head are matched to these, so a target does not hang its
# head 40 degrees forward; lateral components are left out (the body is symmetric).
NEUTRAL_HEAD = {"Neck": (0.0, -0.669, 0.743), "Head": (0.0, 0.489, 0.870)}
MIN_REST_BEND_DEG = 1.0
# The test rotation for probing which bone carries which: a generic axis, 40 degrees.
_PROBE_AXIS, _PROBE_ANGLE = (0.36, 0.48, 0.8), 0.7


class RetargetError(ValueError):
    """The source or target cannot be used; the message names the rig, bone or frame."""


def _rot(m: np.ndarray) -> np.ndarray:
    """The rotation part of ``(..., 4, 4)`` or ``(..., 3, 3)`` matrices (columns normalised)."""
    r = m[..., :3, :3]
    return r / np.linalg.norm(r, axis=-2, keepdims=True)


def _hom(rotation: np.ndarray, translation: np.ndarray | None = None) -> np.ndarray:
    m = np.zeros(rotation.shape[:-2] + (4, 4))
    m[..., :3, :3] = rotation
    m[..., 3, 3] = 1.0
    if translation is not None:
        m[..., :3, 3] = translation
    return m


def _apply(m: np.ndarray, point: np.ndarray) -> np.ndarray:
    """``(..., 4, 4)`` matrices applied to a point ``(3,)`` or points ``(..., 3)``."""
    return (m[..., :3, :3] @ point[..., None])[..., 0] + m[..., :3, 3]


def rotation_power(rotation: np.ndarray, fraction: float) -> np.ndarray:
    """``rotation ** fraction``: the same axis, ``fraction`` of the angle (``(..., 3, 3)``)."""
    q = matrices_to_quaternions(rotation)
    angle = 2.0 * np.arccos(np.clip(q[..., 0], -1.0, 1.0))
    axis = q[..., 1:] / np.maximum(np.linalg.norm(q[..., 1:], axis=-1, keepdims=True), 1e-12)
    half = 0.5 * fraction * angle[..., None]
    return quaternion_matrices(np.concatenate([np.cos(half), np.sin(half) * axis], -1))


def yaw_of(rotation: np.ndarray) -> np.ndarray:
    """The twist of ``(..., 3, 3)`` rotations about the world's up (Z) axis: their heading alone."""
    q = matrices_to_quaternions(rotation)
    twist = np.stack([q[..., 0], np.zeros_like(q[..., 0]), np.zeros_like(q[..., 0]), q[..., 3]], -1)
    norm = np.linalg.norm(twist, axis=-1, keepdims=True)
    twist = np.where(norm > 1e-9, twist / np.maximum(norm, 1e-12), [1.0, 0.0, 0.0, 0.0])
    return quaternion_matrices(twist)


@dataclass
class SourceMotion:
    """The ZeDO rig's bones in world space: rest ``(4, 4)`` and posed ``(N, 4, 4)`` matrices."""

    frames: np.ndarray
    rest: dict[str, np.ndarray]
    pose: dict[str, np.ndarray]
    bone_lengths: dict[str, float]  # armature units

    def head(self, name: str, posed: bool = True) -> np.ndarray:
        return (self.pose[name] if posed else self.rest[name])[..., :3, 3]

    def tail(self, name: str, posed: bool = True) -> np.ndarray:
        return _apply(self.pose[name] if posed else self.rest[name], np.array([0.0, self.bone_lengths[name], 0.0]))

    def length(self, name: str) -> float:
        """World length of bone ``name``."""
        return float(np.linalg.norm(self.tail(name, False) - self.head(name, False)))

    def rotation(self, name: str) -> np.ndarray:
        """``(N, 3, 3)`` world rotation of bone ``name`` since its rest pose."""
        return _rot(self.pose[name]) @ _rot(self.rest[name]).T


def read_source(armature: bpy.types.Object, frames: np.ndarray | None = None) -> SourceMotion:
    """The motion of a ZeDO rig (bones named as :data:`skeleton.BONE_NAMES`) at ``frames``
    (default: every frame of its action's range)."""
    missing = [name for name in BONE_NAMES if name not in armature.data.bones]
    if armature.type != "ARMATURE" or missing:
        raise RetargetError(f"'{armature.name}' is not a ZeDO rig (no bone {', '.join(missing[:3]) or 'at all'})")
    if frames is None:
        found = action_frame_range(armature)
        if found is None:
            raise RetargetError(f"rig '{armature.name}' has no keyed motion to retarget")
        frames = np.arange(found[0], found[1] + 1)
    world = np.array(armature.matrix_world)
    posed = sample_pose(armature, frames, list(BONE_NAMES))
    bones = armature.data.bones
    return SourceMotion(
        frames=np.asarray(frames),
        rest={name: world @ np.array(bones[name].matrix_local) for name in BONE_NAMES},
        pose={name: world @ posed[name] for name in BONE_NAMES},
        bone_lengths={name: bones[name].length for name in BONE_NAMES},
    )


@dataclass
class TargetModel:
    """The target rig as probed at rest: its mapped bones (carriers first) with their evaluated
    armature-space rest matrices, the mapped bone each one follows, and segment end points."""

    bones: list[str]
    rest: dict[str, np.ndarray]  # (4, 4) armature space, evaluated at rest
    anchor: dict[str, str | None]  # the mapped bone that carries each one (None: nothing mapped above)
    world: np.ndarray  # (4, 4) the object's matrix_world
    ends: dict[str, np.ndarray]  # armature-space rest end point of each mapped bone's segment
    rotation_modes: dict[str, str]
    nonrigid: list[str] = field(default_factory=list)  # bones that do not follow their carrier rigidly

    @property
    def rotation_world(self) -> np.ndarray:
        return _rot(self.world)

    @property
    def scale_world(self) -> float:
        return float(np.cbrt(abs(np.linalg.det(self.world[:3, :3]))))


class TargetState:
    """The target's pose, custom properties and action, saved to be put back if anything fails."""

    _CHANNELS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")

    def __init__(self, armature: bpy.types.Object, bone_map: BoneMap) -> None:
        self.armature = armature
        self.pose = {pb.name: [tuple(getattr(pb, c)) for c in self._CHANNELS] for pb in armature.pose.bones}
        self.properties = {
            (bone, key): armature.pose.bones[bone].get(key) for bone, values in bone_map.properties.items() for key in values
        }
        data = armature.animation_data
        self.had_animation_data = data is not None
        self.action = data.action if data is not None else None
        self.slot = getattr(data, "action_slot", None) if data is not None else None

    def clear(self, bone_map: BoneMap) -> None:
        """Rest pose (every bone), the map's properties set, no action (so nothing overrides them)."""
        armature = self.armature
        if armature.animation_data is not None:
            armature.animation_data.action = None
        for pb in armature.pose.bones:
            _reset(pb)
        for bone, values in bone_map.properties.items():
            for key, value in values.items():
                armature.pose.bones[bone][key] = value

    def restore(self) -> None:
        armature = self.armature
        for pb in armature.pose.bones:
            for channel, value in zip(self._CHANNELS, self.pose[pb.name]):
                setattr(pb, channel, value)
        for (bone, key), value in self.properties.items():
            if value is None:
                armature.pose.bones[bone].pop(key, None)
            else:
                armature.pose.bones[bone][key] = value
        if self.had_animation_data:
            data = armature.animation_data or armature.animation_data_create()
            data.action = self.action
            if self.slot is not None and hasattr(data, "action_slot"):
                data.action_slot = self.slot
        elif armature.animation_data is not None:
            armature.animation_data_clear()


def _reset(pose_bone: bpy.types.PoseBone) -> None:
    pose_bone.location = (0.0, 0.0, 0.0)
    pose_bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
    pose_bone.rotation_euler = (0.0, 0.0, 0.0)
    pose_bone.rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
    pose_bone.scale = (1.0, 1.0, 1.0)


def probe_target(context: bpy.types.Context, armature: bpy.types.Object, bone_map: BoneMap) -> TargetModel:
    """Probe the target (already at rest with the map's properties set, see :class:`TargetState`):
    rotate each mapped bone in turn and see which mapped bones follow."""
    view_layer = context.view_layer
    mapped = bone_map.target_bones()
    end_bones = {bone_map.end_bone(s) for s in bone_map.bones} - {None}
    pose_bones = armature.pose.bones

    def evaluate() -> dict[str, np.ndarray]:
        view_layer.update()
        return {name: np.array(pose_bones[name].matrix) for name in set(mapped) | end_bones}

    rest = evaluate()
    size = max(1e-6, max(np.abs(m[:3, 3]).max() for m in rest.values()))
    moves: dict[str, set[str]] = {}
    rigid_error: dict[tuple[str, str], float] = {}
    probe = Quaternion(_PROBE_AXIS, _PROBE_ANGLE).to_matrix().to_4x4()
    for a in mapped:
        pose_bones[a].matrix_basis = probe
        moved = evaluate()
        _reset(pose_bones[a])
        moves[a] = set()
        for b in mapped:
            if b == a:
                continue
            if np.abs(moved[b][:3, :3] - rest[b][:3, :3]).max() > 1e-6 or np.abs(moved[b][:3, 3] - rest[b][:3, 3]).max() > 1e-6 * size:
                moves[a].add(b)
                carried = _rot(moved[a]) @ _rot(rest[a]).T @ _rot(rest[b])
                rigid_error[(a, b)] = float(np.degrees(np.arccos(np.clip((np.trace(carried.T @ _rot(moved[b])) - 1) / 2, -1, 1))))
    evaluate()
    order = sorted(mapped, key=lambda name: -len(moves[name]))
    anchor: dict[str, str | None] = {}
    nonrigid = []
    for b in mapped:
        carriers = [a for a in mapped if b in moves[a]]
        anchor[b] = min(carriers, key=lambda a: len(moves[a])) if carriers else None
        if anchor[b] is not None and rigid_error[(anchor[b], b)] > 0.5:
            nonrigid.append(b)
    ends = {}
    for source, chain in bone_map.bones.items():
        for name in chain:
            length = armature.data.bones[name].length
            ends[name] = _apply(rest[name], np.array([0.0, length, 0.0]))
        end_bone = bone_map.end_bone(source)
        if end_bone is not None and len(chain) == 1 and np.linalg.norm(rest[end_bone][:3, 3] - rest[chain[0]][:3, 3]) > 1e-4 * size:
            ends[chain[-1]] = rest[end_bone][:3, 3].copy()
    return TargetModel(
        bones=order,
        rest={name: rest[name] for name in mapped},
        anchor=anchor,
        world=np.array(armature.matrix_world),
        ends=ends,
        rotation_modes={name: pose_bones[name].rotation_mode for name in mapped},
        nonrigid=nonrigid,
    )


@dataclass
class RetargetSolution:
    """Pose-bone bases for every mapped target bone at every frame, and what was measured."""

    frames: np.ndarray
    rotations: dict[str, np.ndarray]  # (N, 3, 3) basis rotations
    root: str
    root_location: np.ndarray  # (N, 3) basis location of the root bone
    scale: float  # target size / ZeDO size (leg lengths)


def source_rotations(motion: SourceMotion) -> dict[str, np.ndarray]:
    """``(N, 3, 3)`` world rotation of every ZeDO bone to hand on to the target: since its rest
    pose, except for ``Neck`` and ``Head``, whose rotations are taken from their neutral carriage
    (:data:`NEUTRAL_HEAD`), each relative to its parent's."""
    rotations = {name: motion.rotation(name) for name in BONE_NAMES}
    for name, neutral in NEUTRAL_HEAD.items():
        parent = rotations[SOURCE_PARENT[name]]
        direction = _unit(motion.tail(name) - motion.head(name))
        local = (np.swapaxes(parent, -1, -2) @ direction[..., None])[..., 0]
        rotations[name] = parent @ _swing(np.broadcast_to(_unit(np.array(neutral)), local.shape), local)
    return rotations


def _body_frame(pelvis: np.ndarray, neck: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return _frame(neck - pelvis, left - right)


def _target_point(model: TargetModel, bone_map: BoneMap, source: str, posed: dict | None = None) -> np.ndarray:
    """World head of the first target bone mapped from ``source`` (rest, or ``posed`` matrices)."""
    name = bone_map.bones[source][0]
    m = posed[name] if posed is not None else model.rest[name]
    return _apply(model.world, m[..., :3, 3])


def _alignment(motion: SourceMotion, model: TargetModel, bone_map: BoneMap) -> np.ndarray:
    """World rotation that turns the target's rest body to face and stand as the ZeDO rest body."""
    needed = ("LeftUpLeg", "RightUpLeg")
    top = next((s for s in ("Neck", "Head") if s in bone_map.bones), None)
    if top is None or not all(s in bone_map.bones for s in needed):
        return np.eye(3)
    source = _body_frame(
        0.5 * (motion.head("LeftUpLeg", False) + motion.head("RightUpLeg", False)),
        motion.head(top, False), motion.head("LeftUpLeg", False), motion.head("RightUpLeg", False),
    )
    left, right = (_target_point(model, bone_map, s) for s in needed)
    target = _body_frame(0.5 * (left + right), _target_point(model, bone_map, top), left, right)
    return source @ target.T


def _leg_lengths(motion: SourceMotion, model: TargetModel, bone_map: BoneMap) -> tuple[float, float] | None:
    """Summed thigh + shin lengths (world units) of the ZeDO rig and of the target, over mapped legs."""
    source = target = 0.0
    for thigh, shin in LEGS:
        if thigh not in bone_map.bones or shin not in bone_map.bones:
            continue
        source += motion.length(thigh) + motion.length(shin)
        hip = _target_point(model, bone_map, thigh)
        knee = _target_point(model, bone_map, shin)
        ankle = _apply(model.world, model.ends[bone_map.bones[shin][-1]])
        target += np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)
    return (source, target) if source > 0 else None


def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotations by ``angle`` ``(N,)`` about unit ``axis`` ``(N, 3)``."""
    half = 0.5 * angle[:, None]
    return quaternion_matrices(np.concatenate([np.cos(half), np.sin(half) * axis], 1))


def _bend_about_hinge(world_rotation: dict, model: TargetModel, bone_map: BoneMap, upper: str, lower: str) -> None:
    """Turn the target's upper limb bone about its own length so the elbow (knee) bends about the
    target's own hinge, then carry the lower bone with it and swing it onto its direction.

    The hinge is the normal of the plane of the two bones at rest, so only a rig whose rest limb
    is bent (by at least :data:`MIN_REST_BEND_DEG`) has one. Directions are unchanged. The turn
    fades in between 10 and 25 degrees of bend (a straight limb has no bend plane) and out for a
    limb bent against its hinge (more than 120 degrees away)."""
    if len(bone_map.bones.get(upper, ())) != 1 or len(bone_map.bones.get(lower, ())) != 1:
        return
    u, l = bone_map.bones[upper][0], bone_map.bones[lower][0]
    ru0, rl0 = _rot(model.rest[u]), _rot(model.rest[l])
    du0 = _unit(model.ends[u] - model.rest[u][:3, 3])
    dl0 = _unit(model.ends[l] - model.rest[l][:3, 3])
    normal = np.cross(du0, dl0)
    if np.linalg.norm(normal) < np.sin(np.radians(MIN_REST_BEND_DEG)):
        return
    hinge = ru0.T @ _unit(normal)  # in the upper bone's frame
    r_upper, r_lower = world_rotation[u], world_rotation[l]
    du = r_upper @ (ru0.T @ du0)
    dl = r_lower @ (rl0.T @ dl0)
    bend_normal = np.cross(du, dl)
    bend = np.degrees(np.arctan2(np.linalg.norm(bend_normal, axis=-1), (du * dl).sum(-1)))
    bend_normal = _unit(bend_normal)
    current = r_upper @ hinge
    phi = np.arctan2((du * np.cross(current, bend_normal)).sum(-1), (current * bend_normal).sum(-1))
    weight = np.clip((bend - 10.0) / 15.0, 0.0, 1.0) * np.clip((150.0 - np.degrees(np.abs(phi))) / 30.0, 0.0, 1.0)
    r_upper = _axis_angle(du, weight * phi) @ r_upper
    carried = r_upper @ (ru0.T @ rl0)
    world_rotation[u] = r_upper
    world_rotation[l] = _swing(carried @ (rl0.T @ dl0), dl) @ carried


def solve(motion: SourceMotion, model: TargetModel, bone_map: BoneMap) -> RetargetSolution:
    """The bases of the mapped target bones that reproduce ``motion`` (see the module doc)."""
    rt = model.rotation_world
    body = _alignment(motion, model, bone_map)
    zedo = source_rotations(motion)
    world_rotation: dict[str, np.ndarray] = {}  # (N, 3, 3) desired rotation, target armature space
    for source, chain in bone_map.bones.items():
        k = len(chain)
        for i, name in enumerate(chain, 1):
            rest_world = rt @ _rot(model.rest[name])
            if source in FEET:
                delta, align = yaw_of(zedo[FOOT_OF_LEG[source]]), body
            elif k > 1 or source in ORIENTED or source in NEUTRAL_HEAD:
                parent = zedo[SOURCE_PARENT[source] or source]
                delta = rotation_power(zedo[source] @ np.swapaxes(parent, -1, -2), i / k) @ parent
                align = body  # the target's rest neck and head stand for the neutral carriage
            else:
                target_dir = _unit(rt @ (model.ends[name] - model.rest[name][:3, 3]))
                source_dir = _unit(motion.tail(source, False) - motion.head(source, False))
                align = _swing(body @ target_dir, source_dir) @ body
                delta = zedo[source]
            world_rotation[name] = rt.T @ delta @ align @ rest_world

    for upper, lower in HINGES:
        _bend_about_hinge(world_rotation, model, bone_map, upper, lower)

    root = bone_map.bones[ROOT][0]
    if model.anchor[root] is not None:
        raise RetargetError(
            f"bone map '{bone_map.name}': the Hips bone '{root}' moves with '{model.anchor[root]}': "
            "map Hips to the rig's top-most body control"
        )
    rotations: dict[str, np.ndarray] = {}
    for name in model.bones:
        carrier = model.anchor[name]
        if carrier is None:
            rotations[name] = _rot(model.rest[name]).T @ world_rotation[name]
        else:
            offset = _rot(np.linalg.inv(model.rest[carrier]) @ model.rest[name])
            rotations[name] = offset.T @ np.swapaxes(world_rotation[carrier], -1, -2) @ world_rotation[name]

    lengths = _leg_lengths(motion, model, bone_map)
    scale = lengths[1] / lengths[0] if lengths else 1.0
    legs = [pair for pair in LEGS if pair[0] in bone_map.bones and pair[1] in bone_map.bones]
    if legs:
        pelvis_source = 0.5 * (motion.head("LeftUpLeg") + motion.head("RightUpLeg"))
        pelvis_source_rest = 0.5 * (motion.head("LeftUpLeg", False) + motion.head("RightUpLeg", False))
        pelvis_target_rest = np.mean([_target_point(model, bone_map, thigh) for thigh, _ in legs], axis=0)
    else:
        pelvis_source, pelvis_source_rest = motion.head(ROOT), motion.head(ROOT, False)
        pelvis_target_rest = _apply(model.world, model.rest[root][:3, 3])
    world_inverse = np.linalg.inv(model.world)
    pelvis_local = _apply(np.linalg.inv(model.rest[root]), _apply(world_inverse, pelvis_target_rest))

    def pose(pelvis_world: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Armature-space pose matrices of the mapped bones with the pelvis at ``pelvis_world``."""
        target = _apply(world_inverse, pelvis_world)
        root_matrix = _hom(world_rotation[root], target - (world_rotation[root] @ pelvis_local[:, None])[..., 0])
        posed = {root: root_matrix}
        for name in model.bones:
            if name == root:
                continue
            carrier = model.anchor[name]
            if carrier is None:
                posed[name] = model.rest[name] @ _hom(rotations[name])
            else:
                posed[name] = posed[carrier] @ (np.linalg.inv(model.rest[carrier]) @ model.rest[name]) @ _hom(rotations[name])
        return posed, root_matrix

    pelvis = pelvis_target_rest + scale * (pelvis_source - pelvis_source_rest)
    if legs:
        posed, _ = pose(pelvis)
        shins = [bone_map.bones[shin][-1] for _, shin in legs]
        # Each ankle (the shin's segment end) rides on its shin bone.
        ankles_local = [_apply(np.linalg.inv(model.rest[shin]), model.ends[shin]) for shin in shins]
        ankles = np.stack([_apply(model.world, _apply(posed[shin], end)) for shin, end in zip(shins, ankles_local)], 1)
        ankle_rest = np.mean([_apply(model.world, model.ends[shin])[2] for shin in shins])
        source_ankles = np.stack([motion.tail(shin)[:, 2] for _, shin in legs], 1)
        source_ankle_rest = np.mean([motion.tail(shin, False)[2] for _, shin in legs])
        wanted = ankle_rest + scale * (source_ankles.min(axis=1) - source_ankle_rest)
        pelvis = pelvis + np.outer(wanted - ankles[..., 2].min(axis=1), [0.0, 0.0, 1.0])
    _, root_matrix = pose(pelvis)
    basis = np.linalg.inv(model.rest[root]) @ root_matrix
    rotations[root] = _rot(basis)
    return RetargetSolution(motion.frames, rotations, root, basis[:, :3, 3], float(scale))


def _euler_keys(rotations: np.ndarray, order: str) -> np.ndarray:
    """``(N, 3)`` Euler angles in ``order``, each frame's kept close to the previous one's."""
    result = np.zeros((len(rotations), 3))
    previous = None
    for i, rotation in enumerate(rotations):
        euler = Matrix(rotation.tolist()).to_euler(order, previous) if previous is not None else Matrix(rotation.tolist()).to_euler(order)
        result[i] = euler[:]
        previous = euler
    return result


def write_action(
    armature: bpy.types.Object, solution: RetargetSolution, model: TargetModel, bone_map: BoneMap, name: str
) -> bpy.types.Action:
    """Key ``solution`` (every mapped bone's rotation in its own rotation mode, the root's location)
    and the map's custom properties into a new action assigned to ``armature``."""
    writer = ActionWriter(armature, name)
    try:
        frames = solution.frames.astype(np.float64)
        for bone in model.bones:
            prefix = f'pose.bones["{bone}"]'
            mode = model.rotation_modes[bone]
            rotations = solution.rotations[bone]
            if mode == "QUATERNION":
                path, values = "rotation_quaternion", continuous_quaternions(matrices_to_quaternions(rotations))
            elif mode == "AXIS_ANGLE":
                q = continuous_quaternions(matrices_to_quaternions(rotations))
                angle = 2.0 * np.arccos(np.clip(q[:, :1], -1.0, 1.0))
                axis = q[:, 1:] / np.maximum(np.linalg.norm(q[:, 1:], axis=1, keepdims=True), 1e-12)
                axis[np.linalg.norm(q[:, 1:], axis=1) < 1e-9] = (0.0, 1.0, 0.0)
                path, values = "rotation_axis_angle", np.concatenate([angle, axis], 1)
            else:
                path, values = "rotation_euler", _euler_keys(rotations, mode)
            for k in range(values.shape[1]):
                writer.curve(f"{prefix}.{path}", k, bone, frames, values[:, k])
            if bone == solution.root:
                for k in range(3):
                    writer.curve(f"{prefix}.location", k, bone, frames, solution.root_location[:, k])
        for bone, values in bone_map.properties.items():
            for key, value in values.items():
                writer.curve(f'pose.bones["{bone}"]["{key}"]', 0, bone, frames[:1], np.array([value]))
    except BaseException:
        bpy.data.actions.remove(writer.action)
        raise
    return writer.action


@dataclass
class RetargetResult:
    """What :func:`retarget` did."""

    action: bpy.types.Action
    bone_map: BoneMap
    frames: tuple[int, int]
    scale: float  # target size / ZeDO rig size
    nonrigid: list[str]  # target bones that do not follow their carrier rigidly (results approximate)


def retarget(
    context: bpy.types.Context,
    source: bpy.types.Object,
    target: bpy.types.Object,
    bone_map: BoneMap | None = None,
    action_name: str | None = None,
) -> RetargetResult:
    """Bake the motion of ZeDO rig ``source`` onto armature ``target`` as a new action.

    ``bone_map`` defaults to the built-in map that fits the target. Bones the map leaves out are
    put at rest. The target's previous action is kept (with a fake user, so saving keeps it).
    On any error the target is left as it was."""
    from .bone_maps import detect

    if target is None or target.type != "ARMATURE":
        raise RetargetError(f"'{getattr(target, 'name', target)}' is not an armature")
    if target == source:
        raise RetargetError("the target rig is the ZeDO rig itself: pick another armature")
    context.view_layer.update()  # sync the view layer with objects linked since (appended rigs)
    if context.view_layer.objects.get(target.name) is None:
        raise RetargetError(f"armature '{target.name}' is not in the view layer: link it to the scene (and include its collection)")
    if bone_map is None:
        bone_map = detect(target.data.bones.keys())
        if bone_map is None:
            raise RetargetError(
                f"no built-in bone map fits armature '{target.name}' (Rigify, Mixamo and Unreal names were tried): "
                "give a bone map"
            )
    bone_map.check(target.data.bones.keys(), target.name)
    motion = read_source(source)
    state = TargetState(target, bone_map)
    name = action_name or f"{source.name} on {target.name}"
    try:
        state.clear(bone_map)
        model = probe_target(context, target, bone_map)
        solution = solve(motion, model, bone_map)
        action = write_action(target, solution, model, bone_map, name)
    except BaseException:
        state.restore()
        raise
    if state.action is not None and state.action != action:
        state.action.use_fake_user = True
    context.view_layer.update()
    frames = (int(motion.frames[0]), int(motion.frames[-1]))
    return RetargetResult(action, bone_map, frames, solution.scale, model.nonrigid)


@dataclass
class RetargetCheck:
    """Evaluated at frames: the angle between each ZeDO limb and the target's, and ankle heights."""

    segments: list[str]  # ZeDO bones compared
    angles_deg: np.ndarray  # (N, len(segments))
    twist_deg: np.ndarray  # (N, len(segments)) turn of each target bone about its own length (pose basis)
    ankles_source: np.ndarray  # (N, 2) world heights, left and right
    ankles_target: np.ndarray  # (N, 2)


# Compared by check(): the limbs and shoulders (Neck and Head are matched to a neutral carriage,
# not to their directions, see NEUTRAL_HEAD).
DIRECTION_BONES = tuple(b.name for b in BONES if b.name not in ORIENTED and b.name not in NEUTRAL_HEAD)


def check(context: bpy.types.Context, source, target, bone_map: BoneMap, frames) -> RetargetCheck:
    """Evaluate both rigs in Blender (``frame_set``, constraints and drivers included) at
    ``frames`` and compare: each mapped ZeDO limb's (and shoulder's) direction with its target
    segment's (head of the target bone to its segment end), and the ankles' heights."""
    scene = context.scene
    current = scene.frame_current
    segments = [s for s in DIRECTION_BONES if s in bone_map.bones and len(bone_map.bones[s]) == 1]
    legs = [(s, bone_map.bones[s][-1]) for s in ("LeftLeg", "RightLeg") if s in bone_map.bones]
    angles, twists, ankles_source, ankles_target = [], [], [], []
    source_world, target_world = source.matrix_world, target.matrix_world
    pose_s, pose_t = source.pose.bones, target.pose.bones

    def segment_end(source_bone: str):
        chain = bone_map.bones[source_bone]
        end = bone_map.end_bone(source_bone)
        return target_world @ (pose_t[end].head if end is not None else pose_t[chain[-1]].tail)

    try:
        for frame in frames:
            scene.frame_set(int(frame))
            row = []
            for s in segments:
                a = np.array(source_world @ pose_s[s].tail) - np.array(source_world @ pose_s[s].head)
                b = np.array(segment_end(s)) - np.array(target_world @ pose_t[bone_map.bones[s][0]].head)
                cos = a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12)
                row.append(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
            angles.append(row)
            twists.append([_twist_deg(pose_t[bone_map.bones[s][0]].matrix_basis.to_quaternion()) for s in segments])
            ankles_source.append([(source_world @ pose_s[s].tail).z for s, _ in legs])
            ankles_target.append([segment_end(s).z for s, _ in legs])
    finally:
        scene.frame_set(current)
    return RetargetCheck(segments, np.array(angles), np.array(twists), np.array(ankles_source), np.array(ankles_target))


def _twist_deg(q: Quaternion) -> float:
    """The angle of ``q``'s turn about the bone's own axis (local Y), in degrees, -180..180."""
    angle = 2.0 * np.degrees(np.arctan2(q.y, q.w))
    return float((angle + 180.0) % 360.0 - 180.0)
