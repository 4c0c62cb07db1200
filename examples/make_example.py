"""Make the bundled example ``walking_example.npz``: a procedural walk, filmed by a virtual camera.

No recorded data goes into it: the motion is a hand-written walk cycle (sinusoidal hip, knee,
shoulder and elbow angles on a 17-joint skeleton with adult proportions), the camera a 1080p
pinhole at eye level. The 2D keypoints get 1.5 px of seeded noise like a good detector, and the
left wrist is hidden behind the body for a few frames (confidence 0). The true 3D joints are stored
beside the input so ``show_result.py`` can report the error.

    python examples/make_example.py          # rewrites examples/walking_example.npz
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FPS = 30
FRAMES = 90
CYCLE_S = 1.1
SPEED_MPS = 1.2
HEADING_DEG = 30.0  # walking direction, from the camera's right towards the camera's far side


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _limb(pitch: float) -> np.ndarray:
    """Unit vector pointing down, swung forward (towards +y, the body's front) by ``pitch``."""
    return np.array([0.0, np.sin(pitch), -np.cos(pitch)])


def walk_pose(time_s: float) -> np.ndarray:
    """World joints ``(17, 3)`` in metres (z up) of the walk at ``time_s``, Human3.6M order."""
    phase = 2 * np.pi * time_s / CYCLE_S
    deg = np.deg2rad
    pelvis = np.array([0.0, 0.0, 0.93 + 0.02 * np.cos(2 * phase)])
    body_yaw = deg(5.0) * np.sin(phase)
    # Body frame: x = the person's right, y = forward, z = up.
    joints = np.zeros((17, 3))
    joints[0] = 0.0
    for side, hip_index, sign, offset in (("right", 1, 1.0, 0.0), ("left", 4, -1.0, np.pi)):
        hip = np.array([sign * 0.13, 0.0, -0.02])
        swing = deg(25.0) * np.sin(phase + offset)
        knee_bend = deg(8.0) + deg(35.0) * max(0.0, np.sin(phase + offset + 1.2))
        knee = hip + 0.44 * _limb(swing)
        ankle = knee + 0.44 * _limb(swing - knee_bend)
        joints[hip_index : hip_index + 3] = (hip, knee, ankle)
    spine = np.array([0.0, 0.02, 0.23])
    thorax = spine + np.array([0.0, 0.03, 0.25])
    nose = thorax + np.array([0.0, 0.08, 0.10])
    head = thorax + np.array([0.0, 0.02, 0.22])
    joints[7:11] = (spine, thorax, nose, head)
    for shoulder_index, sign, offset in ((11, -1.0, 0.0), (14, 1.0, np.pi)):
        shoulder = thorax + np.array([sign * 0.16, -0.02, -0.02])
        swing = deg(20.0) * np.sin(phase + offset)
        elbow = shoulder + 0.28 * _limb(swing)
        wrist = elbow + 0.25 * _limb(swing + deg(20.0) + deg(10.0) * np.sin(phase + offset))
        joints[shoulder_index : shoulder_index + 3] = (shoulder, elbow, wrist)
    heading = deg(HEADING_DEG)
    # Body front (+y) turned to the walking direction (world x rotated by the heading).
    to_world = _rot_z(heading - np.pi / 2 + body_yaw)
    travel = SPEED_MPS * time_s * np.array([np.cos(heading), np.sin(heading), 0.0])
    return joints @ to_world.T + pelvis + travel + np.array([-1.6, 0.0, 0.0])


def camera() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intrinsics ``K``, world->camera rotation and camera centre of a 1080p eye-level camera."""
    K = np.array([[1500.0, 0.0, 960.0], [0.0, 1500.0, 540.0], [0.0, 0.0, 1.0]])
    level = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # world z up -> camera y down, looking +y
    R = _rot_x(np.deg2rad(8.0)) @ level  # pitched 8 degrees down
    centre = np.array([0.0, -6.0, 1.6])
    return K, R, centre


def make(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    K, R, centre = camera()
    world = np.stack([walk_pose(i / FPS) for i in range(FRAMES)])
    cam = (world - centre) @ R.T
    uvw = cam @ K.T
    keypoints = uvw[..., :2] / uvw[..., 2:3] + rng.normal(0.0, 1.5, size=(FRAMES, 17, 2))
    confidence = np.clip(rng.normal(0.9, 0.05, size=(FRAMES, 17)), 0.5, 1.0)
    confidence[40:48, 13] = 0.0  # left wrist hidden behind the body
    keypoints[40:48, 13] = np.nan
    np.savez_compressed(
        path,
        keypoints=keypoints.astype(np.float32),
        K=K.astype(np.float32),
        confidence=confidence.astype(np.float32),
        image_size=np.array([1920, 1080], dtype=np.int32),
        fps=np.array(FPS, dtype=np.float32),
        true_poses3d=cam.astype(np.float32),
    )


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "walking_example.npz"
    make(out)
    print(f"wrote {out}")
