"""Reading the shared Human3.6M files: 3D joints, cameras and Stacked-Hourglass detections.

Formats are described in ``<data>/README.md``. Nothing here is ever copied into the project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "h36m"
TRAIN_SUBJECTS: tuple[str, ...] = ("S1", "S5", "S6", "S7", "S8")
TEST_SUBJECTS: tuple[str, ...] = ("S9", "S11")
POSES_FILE = "poses3d_world_mm.npz"
CAMERAS_FILE = "cameras.json"
DETECTIONS_FILE = "sh_detections_test_px.npz"


@dataclass(frozen=True)
class Camera:
    """A calibrated Human3.6M camera: ``X_cam = R (X_world - center)``, pinhole ``K``."""

    id: str
    R: np.ndarray  # (3, 3) world -> camera
    center_mm: np.ndarray  # (3,)
    K: np.ndarray  # (3, 3)
    width: int
    height: int

    def world_to_camera_m(self, points_mm: np.ndarray) -> np.ndarray:
        """World millimetres ``(..., 3)`` -> camera-frame metres ``(..., 3)``."""
        return ((points_mm - self.center_mm) @ self.R.T) / 1000.0


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    path = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
    path = path.resolve()
    if not (path / POSES_FILE).is_file():
        raise FileNotFoundError(f"Human3.6M data not found: {path / POSES_FILE} does not exist")
    return path


def load_poses(data_dir: str | Path | None, subjects: tuple[str, ...]) -> dict[str, np.ndarray]:
    """World-frame 3D joints in mm, ``{"S9/Walking 1": (N, 17, 3)}``, for the given subjects."""
    path = resolve_data_dir(data_dir)
    with np.load(path / POSES_FILE) as archive:
        return {k: archive[k].astype(np.float64) for k in sorted(archive.files) if k.split("/")[0] in subjects}


def load_cameras(data_dir: str | Path | None) -> dict[str, dict[str, Camera]]:
    """``{subject: {camera_id: Camera}}``."""
    path = resolve_data_dir(data_dir)
    raw = json.loads((path / CAMERAS_FILE).read_text())
    cameras: dict[str, dict[str, Camera]] = {}
    for subject, cams in raw.items():
        cameras[subject] = {}
        for cam_id, c in cams.items():
            K = np.array([[c["f_px"][0], 0.0, c["c_px"][0]], [0.0, c["f_px"][1], c["c_px"][1]], [0.0, 0.0, 1.0]])
            cameras[subject][cam_id] = Camera(
                id=cam_id,
                R=np.asarray(c["R_world_to_cam"], dtype=np.float64),
                center_mm=np.asarray(c["center_world_mm"], dtype=np.float64),
                K=K,
                width=int(c["width"]),
                height=int(c["height"]),
            )
    return cameras


def load_detections(data_dir: str | Path | None) -> dict[str, np.ndarray]:
    """Stacked-Hourglass detections, ``{"S9/Walking 1/54138969": (N, 16, 2)}`` px, MPII order."""
    path = resolve_data_dir(data_dir)
    with np.load(path / DETECTIONS_FILE) as archive:
        return {k: archive[k].astype(np.float64) for k in archive.files}


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pinhole projection of camera-frame points ``(..., 3)`` -> pixels ``(..., 2)``."""
    uvw = points_cam @ K.T
    return uvw[..., :2] / uvw[..., 2:3]
