"""Reading the shared Pose2Sim demo (``../shared/data/pose2sim``): four calibrated cameras, OpenPose
BODY_25B detections of one man, and his 3D joints triangulated from the four views.

Formats are described in ``<data>/README.md``. The triangulation comes from the same detector, so
it is a multi-view consistency reference, not ground truth.

How its markers become the 17 joints (:func:`reference_joints`): hips, knees, ankles, shoulders,
elbows and wrists are the markers of those names; pelvis = midpoint of the hips (Human3.6M's
definition); neck/nose = ``Nose``; head = ``Head`` (BODY_25B's head top, where Human3.6M's head
joint sits); thorax and spine by the rules ``zedo_core.layouts`` uses to derive them from 2D
shoulders and hips (thorax = mid-shoulders + 0.12 x (mid-shoulders - mid-hips), spine = midpoint
of pelvis and thorax), so the reference and the lifted input define them alike. BODY_25B's
``Neck`` (the upper neck) and the feet markers are not used.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from zedo_core.layouts import THORAX_ABOVE_SHOULDERS
from zedo_core.skeleton import JOINT_NAMES, NUM_JOINTS

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "pose2sim"
FPS = 60.0
CALIBRATION_FILE = "calibration.toml"
TRC_FILE = "triangulated_openpose_0-100.trc"
DETECTIONS_DIR = "openpose_main_person"
COCO_KEYPOINTS = 17  # BODY_25B's first 17 keypoints are COCO-17's

# Human3.6M joint -> the .trc marker it is (the rest are derived; module docstring).
_MARKERS = {
    "right_hip": "RHip", "right_knee": "RKnee", "right_ankle": "RAnkle",
    "left_hip": "LHip", "left_knee": "LKnee", "left_ankle": "LAnkle",
    "neck": "Nose", "head": "Head",
    "left_shoulder": "LShoulder", "left_elbow": "LElbow", "left_wrist": "LWrist",
    "right_shoulder": "RShoulder", "right_elbow": "RElbow", "right_wrist": "RWrist",
}  # fmt: skip
_J = {name: i for i, name in enumerate(JOINT_NAMES)}


class Pose2SimError(ValueError):
    """A file of the Pose2Sim folder that cannot be read; the message names it."""


@dataclass(frozen=True)
class Camera:
    """A calibrated camera: ``x_cam = R x_world + t`` (OpenCV), metres; pinhole ``K``."""

    name: str  # "cam01"
    R: np.ndarray  # (3, 3)
    t: np.ndarray  # (3,)
    K: np.ndarray  # (3, 3)
    size: tuple[int, int]  # (width, height) px
    distortion: np.ndarray  # k1, k2, p1, p2 (tiny here; not applied)


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    path = (Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR).resolve()
    for name in (CALIBRATION_FILE, TRC_FILE, DETECTIONS_DIR):
        if not (path / name).exists():
            raise FileNotFoundError(f"Pose2Sim data not found: {path / name} does not exist")
    return path


def load_cameras(data_dir: str | Path | None) -> dict[str, Camera]:
    """``{"cam01": Camera, ...}`` from ``calibration.toml`` (sections ``cam_01`` ...)."""
    path = resolve_data_dir(data_dir) / CALIBRATION_FILE
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise Pose2SimError(f"{path}: cannot read ({exc})") from None
    cameras = {}
    for section, c in raw.items():
        if not section.startswith("cam_"):
            continue
        try:
            name = "cam" + section.split("_", 1)[1]
            cameras[name] = Camera(
                name=name,
                R=Rotation.from_rotvec(np.asarray(c["rotation"], dtype=np.float64)).as_matrix(),
                t=np.asarray(c["translation"], dtype=np.float64),
                K=np.asarray(c["matrix"], dtype=np.float64),
                size=(int(c["size"][0]), int(c["size"][1])),
                distortion=np.asarray(c["distortions"], dtype=np.float64),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise Pose2SimError(f"{path}: section [{section}] is malformed ({exc!r})") from None
    if not cameras:
        raise Pose2SimError(f"{path}: no [cam_NN] sections")
    return dict(sorted(cameras.items()))


def load_trc(data_dir: str | Path | None) -> dict[str, np.ndarray]:
    """The triangulated markers ``{name: (F, 3)}`` in the calibration's world frame (metres, Z up).

    The file is Y up for OpenSim: the calibration's world point is (Z, X, Y) of the file's (X, Y, Z)
    (data README, checked by reprojection)."""
    path = resolve_data_dir(data_dir) / TRC_FILE
    lines = path.read_text().splitlines()
    try:
        names = [n for n in lines[3].split("\t")[2:] if n.strip()]
        rows = np.array([[float(v) for v in line.split("\t")[2:]] for line in lines[5:] if line.strip()])
    except (IndexError, ValueError) as exc:
        raise Pose2SimError(f"{path}: not a .trc marker file ({exc})") from None
    if rows.ndim != 2 or rows.shape[1] != 3 * len(names):
        raise Pose2SimError(f"{path}: {len(names)} markers but rows of shape {rows.shape}")
    xyz = rows.reshape(len(rows), len(names), 3)[..., [2, 0, 1]]
    return {name: xyz[:, i] for i, name in enumerate(names)}


def reference_joints(markers: dict[str, np.ndarray]) -> np.ndarray:
    """The 17 joints ``(F, 17, 3)`` from the triangulated markers (module docstring)."""
    missing = sorted(set(_MARKERS.values()) - set(markers))
    if missing:
        raise Pose2SimError(f"the .trc file lacks marker(s) {', '.join(missing)}")
    frames = len(next(iter(markers.values())))
    joints = np.full((frames, NUM_JOINTS, 3), np.nan)
    for name, marker in _MARKERS.items():
        joints[:, _J[name]] = markers[marker]
    mid_hips = 0.5 * (joints[:, _J["right_hip"]] + joints[:, _J["left_hip"]])
    mid_shoulders = 0.5 * (joints[:, _J["right_shoulder"]] + joints[:, _J["left_shoulder"]])
    joints[:, _J["pelvis"]] = mid_hips
    joints[:, _J["thorax"]] = mid_shoulders + THORAX_ABOVE_SHOULDERS * (mid_shoulders - mid_hips)
    joints[:, _J["spine"]] = 0.5 * (mid_hips + joints[:, _J["thorax"]])
    return joints


def load_detections(
    data_dir: str | Path | None, camera: str, count: int = COCO_KEYPOINTS
) -> tuple[np.ndarray, np.ndarray]:
    """The main person's first ``count`` BODY_25B keypoints ``(F, count, 2)`` px (NaN = missing;
    17: COCO-17, 25: all of BODY_25B) and confidences ``(F, count)`` from
    ``openpose_main_person/<camera>_json/*.json`` (one file per frame, in order; a frame without a
    person has every joint missing)."""
    folder = resolve_data_dir(data_dir) / DETECTIONS_DIR / f"{camera}_json"
    files = sorted(folder.glob("*.json"))
    if not files:
        raise Pose2SimError(f"{folder}: no .json files")
    keypoints = np.full((len(files), count, 2), np.nan)
    confidence = np.zeros((len(files), count))
    for f, file in enumerate(files):
        try:
            people = json.loads(file.read_text())["people"]
            # No person, or an empty one ({}), is a frame without detections.
            if people and people[0].get("pose_keypoints_2d"):
                triplets = np.asarray(people[0]["pose_keypoints_2d"], dtype=np.float64).reshape(-1, 3)[:count]
                score = np.clip(triplets[:, 2], 0.0, 1.0)
                keypoints[f] = np.where((score > 0)[:, None], triplets[:, :2], np.nan)
                confidence[f] = score
        except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:
            raise Pose2SimError(f"{file}: not an OpenPose keypoint file ({exc!r})") from None
    return keypoints, confidence


def to_camera(points_world: np.ndarray, camera: Camera) -> np.ndarray:
    """World points ``(..., 3)`` -> ``camera``'s frame (x right, y down, z forward), metres."""
    return points_world @ camera.R.T + camera.t
