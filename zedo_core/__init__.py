"""ZeDO: lift 2D human keypoints to 3D with a diffusion pose prior inside an optimisation loop.

    >>> from zedo_core import load_prior, lift, LiftConfig
    >>> prior = load_prior()                       # the shipped prior, CUDA when present
    >>> result = lift(prior, keypoints, K)         # keypoints (N,17,2) px, K (3,3) or (N,3,3)
    >>> result.poses3d                             # (N,17,3) metres, camera frame

Detector keypoints (COCO, OpenPose BODY_25, MediaPipe, MPII) reach the 17 joints through
``to_h36m`` (``zedo_core.layouts``); ``read_keypoints`` reads them from files. The engine never
imports Blender; see ``zedo_blender`` for the add-on.
"""

from .inputs import InputError, validate_inputs
from .joint_names import joint_aliases, match_joint
from .keypoint_files import KeypointSequence, read_keypoints
from .layouts import LAYOUTS, Layout, LayoutError, layout_for_joint_count, to_h36m
from .lifting import LiftCancelled, LiftConfig, LiftResult, lift
from .metrics import mpjpe, pa_mpjpe
from .prior import PosePrior, PriorLoadError, load_prior
from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

__all__ = [
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
    "joint_aliases",
    "layout_for_joint_count",
    "lift",
    "load_prior",
    "match_joint",
    "mpjpe",
    "pa_mpjpe",
    "read_keypoints",
    "to_h36m",
    "validate_inputs",
]
__version__ = "0.1.0"
