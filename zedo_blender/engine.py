"""The add-on's door to the engine: ``zedo_core`` bundled inside the extension, or installed.

The engine runs on numpy, which every Blender ships; PyTorch is only used when it is installed and
the CUDA device is chosen. Imported lazily, so registering the add-on stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import numpy as np


class EngineUnavailable(RuntimeError):
    """The engine cannot be imported, or the chosen device cannot be used; the message says why."""


def _engine_package() -> str:
    bundled = f"{__package__}.zedo_core"
    return bundled if importlib.util.find_spec(bundled) is not None else "zedo_core"


def engine_module(name: str) -> ModuleType:
    """A torch-free engine module (``"skeleton"``, ``"layouts"``, ``"keypoint_files"``...)."""
    return importlib.import_module(f"{_engine_package()}.{name}")


def core() -> ModuleType:
    """The ``zedo_core`` package: the copy bundled in the extension when present, else the installed one."""
    try:
        module = importlib.import_module(_engine_package())
        module.lift  # the package imports its lifting modules lazily: touch them here
        return module
    except ImportError as error:
        raise EngineUnavailable(f"the ZeDO engine could not be imported: {error}") from error


@dataclass(frozen=True)
class EstimateSettings:
    """What the user chose for one run (add-on preferences or batch arguments)."""

    device: str = "auto"
    iterations: int = 200
    hypotheses: int = 1
    seed: int = 0
    # Video mode: the frames are one clip and neighbouring frames help each other.
    video: bool = True
    # Foot-contact clean-up of the keyed motion (zedo_core.foot_contacts): planted feet stay put.
    lock_feet: bool = True


_priors: dict[str, object] = {}


def load_prior(device: str = "auto"):
    """The shipped prior on ``device``, loaded once per Blender session."""
    if device not in _priors:
        try:
            _priors[device] = core().load_prior(device=device)
        except RuntimeError as error:  # e.g. CUDA chosen where PyTorch or CUDA is missing
            raise EngineUnavailable(str(error)) from error
    return _priors[device]


def estimate(
    keypoints: np.ndarray,
    K: np.ndarray,
    confidence: np.ndarray | None,
    settings: EstimateSettings,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    fps: float | None = None,
    bone_lengths: tuple[float, ...] | None = None,
    aimed_joints: tuple[str, ...] = (),
):
    """Lift ``(N, 17, 2)`` keypoints of one clip at ``fps`` to 3D with the engine; returns its
    ``LiftResult``. ``bone_lengths``: the person's known body (``LiftConfig.bone_lengths``);
    ``aimed_joints``: joints to aim at rather than pin (``LiftConfig.aimed_joints``).
    Raises the engine's ``InputError`` for bad input and ``LiftCancelled`` when cancelled."""
    zedo = core()
    prior = load_prior(settings.device)
    temporal_sigma = engine_module("temporal").video_sigma(fps) if settings.video and len(keypoints) > 1 else 0.0
    config = zedo.LiftConfig(
        hypotheses=settings.hypotheses, iterations=settings.iterations, seed=settings.seed, temporal_sigma=temporal_sigma,
        bone_lengths=bone_lengths, aimed_joints=aimed_joints,
    )
    return zedo.lift(prior, keypoints, K, confidence, config=config, progress=progress, should_cancel=should_cancel)
