"""ZeDO Pose for Blender: estimate 3D human motion from 2D keypoint tracks and key it onto a rig.

A Blender extension (see ``blender_manifest.toml``). The engine lives in ``zedo_core`` (bundled
inside the built extension); this package only reads the scene, runs the engine and writes the result.
"""

from __future__ import annotations

from . import import_keypoints, operators, preferences, properties, ui

_modules = (preferences, properties, operators, import_keypoints, ui)


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    for module in reversed(_modules):
        module.unregister()
