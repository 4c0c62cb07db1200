"""From camera-frame joints to an upright skeleton motion: scene frame, rest pose, bone rotations.

Pure numpy (no bpy), so the maths is tested without Blender. Conventions:

- Engine (computer-vision) camera frame: x right, y down, z forward, metres.
- World (Blender): Z up, the ground plane at Z = 0; the camera looks along +Y (horizontally).
- Rest pose: a T-pose facing -Y (Blender's front view), the character's left on +X.
- Rotations are 3x3 matrices acting on column vectors; quaternions are (w, x, y, z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine import engine_module
from .skeleton import (
    BONE_NAMES,
    BONES,
    HIP_JOINTS,
    ROOT_BONE,
    LEFT_ANKLE,
    LEFT_HIP,
    LEFT_SHOULDER,
    NUM_JOINTS,
    PELVIS,
    RIGHT_ANKLE,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    SPINE,
    THORAX,
)

# Ankle joint above the sole, as a fraction of standing height (the engine's definition of height).
ANKLE_HEIGHT_FRACTION: float = engine_module("scale").ANKLE_HEIGHT_FRACTION

# Blender's camera looks down its local -Z with +Y up; the engine's camera looks down +z, y down.
CV_TO_BLENDER_CAMERA = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class SceneFrame:
    """A rigid placement of the engine's camera frame in the world: ``p_world = rotation @ p_cam + translation``."""

    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def to_world(self, points_cam: np.ndarray) -> np.ndarray:
        return points_cam @ self.rotation.T + self.translation

    def camera_matrix_world(self) -> np.ndarray:
        """4x4 world matrix of a Blender camera at the engine camera's optical centre."""
        matrix = np.eye(4)
        matrix[:3, :3] = self.rotation @ CV_TO_BLENDER_CAMERA
        matrix[:3, 3] = self.translation
        return matrix


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 1e-12, n, 1.0)


def valid_frames(poses: np.ndarray) -> np.ndarray:
    """``(N,)`` mask of frames whose 17 joints are all finite."""
    return np.isfinite(poses).all(axis=(1, 2))


@dataclass(frozen=True)
class Proportions:
    """A body's fixed measures: bone lengths (metres) and the hip joints' offsets ``(2, 3)`` (left,
    right) from the pelvis in the pelvis frame (x lateral, y = z cross x, z up the spine). The hips
    are measured, not mirrored: a pelvis that is not square to the spine is kept as it is."""

    lengths: dict[str, float]
    hip_offsets: np.ndarray


def body_proportions(poses: np.ndarray) -> Proportions:
    """Median bone lengths (left and right averaged) and hip offset over the valid frames."""
    good = poses[valid_frames(poses)]
    if len(good) == 0:
        raise ValueError("no frame has all 17 joints")

    def median_length(a: int, b: int) -> float:
        return float(np.median(np.linalg.norm(good[:, b] - good[:, a], axis=-1)))

    raw = {bone.name: median_length(bone.head, bone.tail) for bone in BONES}
    lengths = {name: 0.5 * (raw[name] + raw[bone.mirror]) if bone.mirror else raw[name] for name, bone in zip(raw, BONES)}
    pelvis_frame = _frame(good[:, SPINE] - good[:, PELVIS], good[:, LEFT_HIP] - good[:, RIGHT_HIP])
    to_local = np.swapaxes(pelvis_frame, -1, -2)
    offsets = [np.median((to_local @ (good[:, hip] - good[:, PELVIS])[..., None])[..., 0], axis=0) for hip in (LEFT_HIP, RIGHT_HIP)]
    return Proportions(lengths, np.stack(offsets))


def standing_height(proportions: Proportions) -> float:
    """Standing height: ankle height + shin + thigh + pelvis height above the hips + spine chain
    to the head top."""
    ln = proportions.lengths
    chain = sum(ln[name] for name in ("LeftLeg", "LeftUpLeg", "Hips", "Spine", "Neck", "Head"))
    return (chain - proportions.hip_offsets[:, 2].mean()) / (1.0 - ANKLE_HEIGHT_FRACTION)


def _body_up(poses_cam: np.ndarray) -> np.ndarray:
    spine = _unit(poses_cam[:, THORAX] - poses_cam[:, PELVIS])
    legs = _unit(
        0.5 * (poses_cam[:, LEFT_HIP] + poses_cam[:, RIGHT_HIP]) - 0.5 * (poses_cam[:, LEFT_ANKLE] + poses_cam[:, RIGHT_ANKLE])
    )
    up = _unit((spine + legs).sum(axis=0))
    return up if np.linalg.norm(up) > 0.5 else np.array([0.0, -1.0, 0.0])  # no consensus: the camera's up


def estimate_up(poses_cam: np.ndarray, min_travel_m: float = 0.3, max_tilt_deg: float = 20.0) -> np.ndarray:
    """The world's up direction in the camera frame.

    First the body's own up (mean unit spine and leg directions over valid frames). When the person
    travels, the lowest ankle of every frame traces the ground: the up is then tilted to be square
    to that track (a plane fit when the track covers an area, else only along the travel
    direction), so a walk stays on the ground plane instead of drifting up or down. A ground fit
    more than ``max_tilt_deg`` away from the body's up is not trusted."""
    good = poses_cam[valid_frames(poses_cam)]
    body_up = _body_up(good)
    ankles = good[:, [LEFT_ANKLE, RIGHT_ANKLE]]
    feet = ankles[np.arange(len(good)), np.argmin(ankles @ body_up, axis=1)]
    if len(feet) < 3:
        return body_up
    centred = feet - feet.mean(axis=0)
    spread, axes = np.linalg.eigh(centred.T @ centred / len(feet))
    spread = np.sqrt(np.maximum(spread, 0.0))
    if spread[2] < min_travel_m:
        return body_up
    if spread[1] >= min_travel_m:
        up = axes[:, 0] * np.sign(axes[:, 0] @ body_up)
    else:
        travel = axes[:, 2]
        up = _unit(body_up - (body_up @ travel) * travel)
    if np.degrees(np.arccos(np.clip(up @ body_up, -1.0, 1.0))) > max_tilt_deg:
        return body_up
    return up


def scene_frame(poses_cam: np.ndarray) -> SceneFrame:
    """Place the camera so the person stands upright (Z up) on the ground plane Z = 0, the pelvis
    of the first valid frame above the world origin, and the camera looking along +Y."""
    good = poses_cam[valid_frames(poses_cam)]
    if len(good) == 0:
        raise ValueError("no frame has all 17 joints")
    ez = estimate_up(good)
    forward = np.array([0.0, 0.0, 1.0])
    ey = forward - forward.dot(ez) * ez
    if np.linalg.norm(ey) < 1e-6:  # camera looking straight down or up
        ey = np.array([0.0, -1.0, 0.0]) - ez[1] * ez
    ey = _unit(ey)
    ex = np.cross(ey, ez)
    rotation = np.stack([ex, ey, ez])  # rows: world axes in camera coordinates
    rotated = good @ rotation.T
    ankle_height = ANKLE_HEIGHT_FRACTION * standing_height(body_proportions(good))
    ankles = np.minimum(rotated[:, LEFT_ANKLE, 2], rotated[:, RIGHT_ANKLE, 2])
    ground = float(np.percentile(ankles, 5)) - ankle_height
    translation = np.array([-rotated[0, PELVIS, 0], -rotated[0, PELVIS, 1], -ground])
    return SceneFrame(rotation=rotation, translation=translation)


def rest_joints(proportions: Proportions) -> np.ndarray:
    """``(17, 3)`` joints of a T-pose with these proportions, feet on the ground, facing -Y."""
    ln = proportions.lengths
    up, left = np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0])
    hips = proportions.hip_offsets  # the pelvis frame at rest has the world's axes
    joints = np.zeros((NUM_JOINTS, 3))
    ankle = ANKLE_HEIGHT_FRACTION * standing_height(proportions)
    joints[PELVIS] = (ankle + ln["LeftLeg"] + ln["LeftUpLeg"] - hips[:, 2].mean()) * up
    joints[LEFT_HIP] = joints[PELVIS] + hips[0]
    joints[RIGHT_HIP] = joints[PELVIS] + hips[1]
    for bone in BONES:
        if bone.chain == "leg":
            direction = -up
        elif bone.chain == "arm":
            direction = left if bone.side == "left" else -left
        else:
            direction = up
        joints[bone.tail] = joints[bone.head] + ln[bone.name] * direction
    return joints


def _frame(up: np.ndarray, lateral: np.ndarray) -> np.ndarray:
    """Orthonormal frames ``(..., 3, 3)`` with columns (lateral', forward, up): up exact, lateral
    made orthogonal to it. Used to orient the pelvis and the chest."""
    z = _unit(up)
    x = _unit(lateral - (lateral * z).sum(-1, keepdims=True) * z)
    y = np.cross(z, x)
    return np.stack([x, y, z], axis=-1)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc rotations ``(..., 3, 3)`` taking unit vectors ``a`` onto unit vectors ``b``."""
    v = np.cross(a, b)
    c = (a * b).sum(-1)
    vx = np.zeros(a.shape[:-1] + (3, 3))
    vx[..., 0, 1], vx[..., 0, 2] = -v[..., 2], v[..., 1]
    vx[..., 1, 0], vx[..., 1, 2] = v[..., 2], -v[..., 0]
    vx[..., 2, 0], vx[..., 2, 1] = -v[..., 1], v[..., 0]
    opposite = c < -1.0 + 1e-9
    k = 1.0 / np.where(opposite, 1.0, 1.0 + c)
    rot = np.eye(3) + vx + (vx @ vx) * k[..., None, None]
    if opposite.any():  # 180 degrees: turn about any axis perpendicular to a
        axis = _unit(np.cross(a[opposite], np.where(np.abs(a[opposite, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])))
        rot[opposite] = 2.0 * axis[:, :, None] * axis[:, None, :] - np.eye(3)
    return rot


def global_rotations(poses_world: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """``(N, len(BONES), 3, 3)`` rotation of every bone relative to the rest pose, in world axes.

    The pelvis and chest are fully oriented (up along the spine, lateral along hips / shoulders);
    every other bone is the shortest swing from where its parent carries it onto the observed
    direction, so no twist is invented."""
    n = poses_world.shape[0]
    result = np.zeros((n, len(BONES), 3, 3))
    names = [b.name for b in BONES]
    for i, bone in enumerate(BONES):
        if bone.name == "Hips":
            observed = _frame(poses_world[:, SPINE] - poses_world[:, PELVIS], poses_world[:, LEFT_HIP] - poses_world[:, RIGHT_HIP])
            at_rest = _frame(rest[SPINE] - rest[PELVIS], rest[LEFT_HIP] - rest[RIGHT_HIP])
            result[:, i] = observed @ at_rest.T
            continue
        if bone.name == "Spine":
            observed = _frame(
                poses_world[:, THORAX] - poses_world[:, SPINE],
                poses_world[:, LEFT_SHOULDER] - poses_world[:, RIGHT_SHOULDER],
            )
            at_rest = _frame(rest[THORAX] - rest[SPINE], rest[LEFT_SHOULDER] - rest[RIGHT_SHOULDER])
            result[:, i] = observed @ at_rest.T
            continue
        parent = result[:, names.index(bone.parent)]
        carried = parent @ _unit(rest[bone.tail] - rest[bone.head])
        observed = _unit(poses_world[:, bone.tail] - poses_world[:, bone.head])
        result[:, i] = _swing(carried, observed) @ parent
    return result


def forward_kinematics(rest: np.ndarray, rotations: np.ndarray, root: np.ndarray) -> np.ndarray:
    """Joint positions ``(N, 17, 3)`` of the rest skeleton posed by :func:`global_rotations` with the
    pelvis at ``root`` ``(N, 3)``; the inverse of the fit up to bone lengths."""
    joints = np.zeros(rotations.shape[:1] + (NUM_JOINTS, 3))
    joints[:, PELVIS] = root
    hips = rotations[:, BONE_NAMES.index(ROOT_BONE)]
    for hip in HIP_JOINTS:
        joints[:, hip] = root + hips @ (rest[hip] - rest[PELVIS])
    for i, bone in enumerate(BONES):
        joints[:, bone.tail] = joints[:, bone.head] + rotations[:, i] @ (rest[bone.tail] - rest[bone.head])
    return joints


def rig_motion(
    poses_world: np.ndarray, valid: np.ndarray, rest: np.ndarray, lock_feet_fps: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Bone rotations (:func:`global_rotations`) and pelvis positions ``(M, 3)`` of the ``valid``
    frames of world joints ``(N, 17, 3)``. With ``lock_feet_fps`` (the footage's frame rate)
    planted feet are pinned first (``zedo_core.foot_contacts``: the body moves and the legs bend)
    on the joints the rig really has (rest bone lengths), and the rotations are fitted again, so
    the keyed feet, not only the lifted joints, stop sliding."""
    rotations = global_rotations(poses_world[valid], rest)
    root = poses_world[valid, PELVIS]
    if not lock_feet_fps:
        return rotations, root
    rig_joints = np.full(poses_world.shape, np.nan)
    rig_joints[valid] = forward_kinematics(rest, rotations, root)
    locked = engine_module("foot_contacts").lock_planted_feet(rig_joints, lock_feet_fps).joints[valid]
    return global_rotations(locked, rest), locked[:, PELVIS]


def local_rotations(global_rot: np.ndarray, bone_rest_matrices: np.ndarray) -> np.ndarray:
    """Pose-bone (``matrix_basis``) rotations from world-axis rotations.

    With ``M`` a bone's rest orientation in armature space and ``G`` its world rotation, the basis
    rotation is ``M^T G_parent^T G M`` (the parent's rotation is already applied by Blender)."""
    names = [b.name for b in BONES]
    local = np.zeros_like(global_rot)
    for i, bone in enumerate(BONES):
        relative = global_rot[:, i]
        if bone.parent:
            relative = np.swapaxes(global_rot[:, names.index(bone.parent)], -1, -2) @ relative
        m = bone_rest_matrices[i]
        local[:, i] = m.T @ relative @ m
    return local


def matrices_to_quaternions(rot: np.ndarray) -> np.ndarray:
    """``(..., 3, 3)`` rotations -> ``(..., 4)`` unit quaternions (w, x, y, z)."""
    m = rot
    trace = m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]
    candidates = np.stack(
        [
            np.stack([1 + trace, m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]], -1),
            np.stack([m[..., 2, 1] - m[..., 1, 2], 1 + 2 * m[..., 0, 0] - trace, m[..., 0, 1] + m[..., 1, 0], m[..., 0, 2] + m[..., 2, 0]], -1),
            np.stack([m[..., 0, 2] - m[..., 2, 0], m[..., 0, 1] + m[..., 1, 0], 1 + 2 * m[..., 1, 1] - trace, m[..., 1, 2] + m[..., 2, 1]], -1),
            np.stack([m[..., 1, 0] - m[..., 0, 1], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 2] + m[..., 2, 1], 1 + 2 * m[..., 2, 2] - trace], -1),
        ],
        axis=-2,
    )
    # Each row is 4 q_k q (k = w, x, y, z); the row with the largest diagonal term is the stable one.
    diag = np.stack([1 + trace, 1 + 2 * m[..., 0, 0] - trace, 1 + 2 * m[..., 1, 1] - trace, 1 + 2 * m[..., 2, 2] - trace], -1)
    best = np.argmax(diag, axis=-1)
    q = np.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return q * np.where(q[..., :1] < 0, -1.0, 1.0)


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """Flip signs along axis 0 so consecutive quaternions ``(N, ..., 4)`` stay in one hemisphere
    (interpolation between keys then takes the short way)."""
    q = q.copy()
    for f in range(1, len(q)):
        flip = (q[f] * q[f - 1]).sum(-1) < 0
        q[f][flip] *= -1
    return q
