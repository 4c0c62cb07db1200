"""Reading the shared CMU mocap pack (``../shared/data/cmu``) and filming it with virtual cameras.

The pack holds CMU Graphics Lab mocap trials as the 17 Human3.6M joints (world frame, Z up, mm,
30 fps); its joint conventions differ from Human3.6M's (``<data>/README.md``). Never copied into
the project.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "cmu"
POSES_FILE = "cmu_h36m17_30fps.npz"
FPS = 30.0
# A prior may mix in CMU poses (``training.train --cmu-fraction``) only from these subjects; the
# others stay held out for validation (``training.validate --cmu-subjects``): people, and the
# walks and runs of subjects 7-9, the prior has never seen.
TRAIN_SUBJECTS = (1, 2, 3, 5, 6)
HELD_OUT_SUBJECTS = (7, 8, 9, 131)


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    path = (Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR).resolve()
    if not (path / POSES_FILE).is_file():
        raise FileNotFoundError(f"CMU data not found: {path / POSES_FILE} does not exist")
    return path


def load_trials(data_dir: str | Path | None) -> dict[str, np.ndarray]:
    """World-frame joints in metres, ``{"02_01": (F, 17, 3)}``, every trial of the pack."""
    path = resolve_data_dir(data_dir) / POSES_FILE
    with np.load(path) as archive:
        if "trial_ids" not in archive.files:
            raise ValueError(f"{path}: missing key 'trial_ids'")
        trials = {}
        for trial in archive["trial_ids"].tolist():
            poses = archive[trial]
            if poses.ndim != 3 or poses.shape[1:] != (17, 3):
                raise ValueError(f"{path}: key {trial!r} must have shape (F, 17, 3), got {poses.shape}")
            trials[trial] = poses.astype(np.float64) / 1000.0
    return trials


def subject_of(trial: str) -> int:
    """The CMU subject of a trial id (``"131_03"`` -> 131)."""
    return int(trial.split("_")[0])


def training_poses(data_dir: str | Path | None, subjects: tuple[int, ...] = TRAIN_SUBJECTS) -> np.ndarray:
    """Every frame of the given subjects' trials, pelvis-relative world poses in metres ``(M, 17, 3)``
    (world Z up, as Human3.6M's)."""
    if set(subjects) & set(HELD_OUT_SUBJECTS):
        raise ValueError(f"CMU subjects {HELD_OUT_SUBJECTS} are held out for validation, got {subjects}")
    trials = load_trials(data_dir)
    chosen = [poses for trial, poses in sorted(trials.items()) if subject_of(trial) in subjects]
    if not chosen:
        raise ValueError(f"no CMU trials of subjects {subjects}")
    poses = np.concatenate(chosen)
    return poses - poses[:, :1]


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """World -> camera rotation ``(3, 3)`` of a level-rolled camera at ``eye`` looking at
    ``target`` (world Z up; camera x right, y down, z forward): ``x_cam = R (x - eye)``."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward])


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """Pinhole ``K`` with the principal point at the image centre and a horizontal field of view."""
    f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[f, 0.0, width / 2], [0.0, f, height / 2], [0.0, 0.0, 1.0]])
