"""ZeDO: lift 2D human keypoints to 3D with a diffusion pose prior inside an optimisation loop.

    >>> from zedo_core import load_prior, lift, LiftConfig
    >>> prior = load_prior()                       # the shipped prior, CUDA when present
    >>> result = lift(prior, keypoints, K)         # keypoints (N,17,2) px, K (3,3) or (N,3,3)
    >>> result.poses3d                             # (N,17,3) metres, camera frame

The engine never imports Blender; see ``zedo_blender`` for the add-on.
"""

from .inputs import InputError, validate_inputs
from .lifting import LiftCancelled, LiftConfig, LiftResult, lift
from .metrics import mpjpe, pa_mpjpe
from .prior import PosePrior, PriorLoadError, load_prior
from .skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS

__all__ = [
    "InputError",
    "JOINT_NAMES",
    "LiftCancelled",
    "LiftConfig",
    "LiftResult",
    "NUM_JOINTS",
    "PARENTS",
    "PosePrior",
    "PriorLoadError",
    "lift",
    "load_prior",
    "mpjpe",
    "pa_mpjpe",
    "validate_inputs",
]
__version__ = "0.1.0"
