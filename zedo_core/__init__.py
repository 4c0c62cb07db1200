"""ZeDO: lift 2D human keypoints to 3D with a diffusion pose prior inside an optimisation loop.

    >>> from zedo_core import load_prior, lift, LiftConfig
    >>> prior = load_prior()                       # the shipped prior: numpy, or CUDA where PyTorch has it
    >>> result = lift(prior, keypoints, K)         # keypoints (N,17,2) px, K (3,3) or (N,3,3)
    >>> result.poses3d                             # (N,17,3) metres, camera frame

Detector keypoints (COCO, OpenPose BODY_25 / BODY_25B, MediaPipe, MPII) reach the 17 joints
through ``to_h36m`` (``zedo_core.layouts``); ``read_keypoints`` reads them from files and
``read_camera`` reads calibration files (K, image size, lens distortion; ``apply_camera``). The engine never
imports Blender; see ``zedo_blender`` for the add-on.
"""

import importlib
from typing import TYPE_CHECKING

# Public name -> defining module. Imported on first use (PEP 562), so importing the package is
# cheap: the Blender add-on draws its panels and reads files before anyone asks for a pose.
_EXPORTS = {
    "median_bone_lengths": "body",
    "read_body": "body",
    "write_body": "body",
    "CameraCalibration": "camera_files",
    "apply_camera": "camera_files",
    "read_camera": "camera_files",
    "read_cameras": "camera_files",
    "distort_points": "distortion",
    "undistort_points": "distortion",
    "InputError": "inputs",
    "validate_inputs": "inputs",
    "FootLockConfig": "foot_contacts",
    "lock_planted_feet": "foot_contacts",
    "FocalEstimate": "intrinsics",
    "estimate_focal": "intrinsics",
    "intrinsics_from_fov": "intrinsics",
    "joint_aliases": "joint_names",
    "match_joint": "joint_names",
    "KeypointSequence": "keypoint_files",
    "read_keypoints": "keypoint_files",
    "LAYOUTS": "layouts",
    "Layout": "layouts",
    "LayoutError": "layouts",
    "detect_layout": "layouts",
    "layout_for_joint_count": "layouts",
    "to_h36m": "layouts",
    "LiftCancelled": "lifting",
    "LiftConfig": "lifting",
    "LiftResult": "lifting",
    "lift": "lifting",
    "mpjpe": "metrics",
    "pa_mpjpe": "metrics",
    "PosePrior": "prior",
    "PriorLoadError": "prior",
    "load_prior": "prior",
    "JOINT_NAMES": "skeleton",
    "NUM_JOINTS": "skeleton",
    "PARENTS": "skeleton",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_EXPORTS))


if TYPE_CHECKING:  # for type checkers and IDEs
    from .body import median_bone_lengths, read_body, write_body
    from .camera_files import CameraCalibration, apply_camera, read_camera, read_cameras
    from .distortion import distort_points, undistort_points
    from .foot_contacts import FootLockConfig, lock_planted_feet
    from .inputs import InputError, validate_inputs
    from .intrinsics import FocalEstimate, estimate_focal, intrinsics_from_fov
    from .joint_names import joint_aliases, match_joint
    from .keypoint_files import KeypointSequence, read_keypoints
    from .layouts import LAYOUTS, Layout, LayoutError, detect_layout, layout_for_joint_count, to_h36m
    from .lifting import LiftCancelled, LiftConfig, LiftResult, lift
    from .metrics import mpjpe, pa_mpjpe
    from .prior import PosePrior, PriorLoadError, load_prior
    from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

__all__ = [
    "CameraCalibration",
    "FocalEstimate",
    "FootLockConfig",
    "InputError",
    "JOINT_NAMES",
    "KeypointSequence",
    "LAYOUTS",
    "Layout",
    "LayoutError",
    "LiftCancelled",
    "LiftConfig",
    "LiftResult",
    "NUM_JOINTS",
    "PARENTS",
    "PosePrior",
    "PriorLoadError",
    "apply_camera",
    "detect_layout",
    "distort_points",
    "estimate_focal",
    "intrinsics_from_fov",
    "joint_aliases",
    "layout_for_joint_count",
    "lift",
    "lock_planted_feet",
    "load_prior",
    "match_joint",
    "median_bone_lengths",
    "mpjpe",
    "pa_mpjpe",
    "read_body",
    "read_camera",
    "read_cameras",
    "read_keypoints",
    "to_h36m",
    "undistort_points",
    "validate_inputs",
    "write_body",
]
__version__ = "0.1.0"
