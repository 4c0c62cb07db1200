"""The add-on's door to the engine: ``zedo_core`` bundled inside the extension, or installed.

Imported lazily, so the add-on registers (and its panel can explain what is missing) even where
PyTorch is not installed.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import numpy as np


class EngineUnavailable(RuntimeError):
    """The engine (or PyTorch) cannot be imported; the message says what to install."""


def _engine_package() -> str:
    bundled = f"{__package__}.zedo_core"
    return bundled if importlib.util.find_spec(bundled) is not None else "zedo_core"


def engine_module(name: str) -> ModuleType:
    """A torch-free engine module (``"skeleton"``, ``"layouts"``, ``"keypoint_files"``...)."""
    return importlib.import_module(f"{_engine_package()}.{name}")


@functools.cache
def torch_missing_reason() -> str | None:
    """Why the engine cannot run here (PyTorch not installed), or None; cheap after the first call."""
    if importlib.util.find_spec("torch") is None:
        return "PyTorch is not installed: install the ZeDO extension build for your platform"
    return None


def core() -> ModuleType:
    """The ``zedo_core`` package: the copy bundled in the extension when present, else the installed one."""
    try:
        module = importlib.import_module(_engine_package())
        module.lift  # the package imports torch lazily: touch it here
        return module
    except ModuleNotFoundError as error:
        if error.name == "torch":
            raise EngineUnavailable(
                "PyTorch is not installed in Blender's Python: install the ZeDO extension build for "
                "your platform (it bundles PyTorch)"
            ) from error
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
        _priors[device] = core().load_prior(device=device)
    return _priors[device]


def estimate(
    keypoints: np.ndarray,
    K: np.ndarray,
    confidence: np.ndarray | None,
    settings: EstimateSettings,
    progress: Callable[[int, int], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    fps: float | None = None,
):
    """Lift ``(N, 17, 2)`` keypoints of one clip at ``fps`` to 3D with the engine; returns its
    ``LiftResult``. Raises the engine's ``InputError`` for bad input and ``LiftCancelled`` when
    cancelled."""
    zedo = core()
    prior = load_prior(settings.device)
    temporal_sigma = engine_module("temporal").video_sigma(fps) if settings.video and len(keypoints) > 1 else 0.0
    config = zedo.LiftConfig(
        hypotheses=settings.hypotheses, iterations=settings.iterations, seed=settings.seed, temporal_sigma=temporal_sigma
    )
    return zedo.lift(prior, keypoints, K, confidence, config=config, progress=progress, should_cancel=should_cancel)
