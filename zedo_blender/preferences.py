"""Add-on preferences: how the engine runs (device, iterations, hypotheses, seed)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty

from .engine import EstimateSettings

DEVICES = (
    ("auto", "Auto", "CUDA when PyTorch with CUDA is installed in Blender's Python, else the CPU"),
    ("cpu", "CPU", "Run on the CPU with numpy (no extra install)"),
    ("cuda", "CUDA", "Run on an NVIDIA GPU (needs PyTorch with CUDA in Blender's Python)"),
)


class ZEDO_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    device: EnumProperty(name="Device", items=DEVICES, default="auto")
    iterations: IntProperty(
        name="Iterations", default=200, min=10, soft_max=1000, max=5000,
        description="Optimisation iterations per frame (more is slower; 200 matches 1000 in accuracy)",
    )
    hypotheses: IntProperty(
        name="Hypotheses", default=1, min=1, max=50,
        description=(
            "Start poses tried per frame; the one closest to all the others (the medoid) is kept. "
            "1 is the most accurate on people unlike the training data (see docs/research.md)"
        ),
    )
    seed: IntProperty(name="Seed", default=0, min=0, description="Seed for reproducible results")
    video: BoolProperty(
        name="Video Mode", default=True,
        description="Neighbouring frames help each other: steadier motion, detector glitches repaired",
    )
    lock_feet: BoolProperty(
        name="Lock Planted Feet", default=True,
        description="Feet that touch the ground and barely move are pinned in place (no foot sliding); "
        "the legs bend to reach",
    )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        for name in ("device", "iterations", "hypotheses", "seed", "video", "lock_feet"):
            layout.prop(self, name)


def estimate_settings(context: bpy.types.Context) -> EstimateSettings:
    """The user's engine settings; the defaults when the add-on runs without being enabled
    (e.g. imported as a module by a script)."""
    addon = context.preferences.addons.get(__package__)
    if addon is None or addon.preferences is None:
        return EstimateSettings()
    prefs = addon.preferences
    return EstimateSettings(
        device=prefs.device, iterations=prefs.iterations, hypotheses=prefs.hypotheses, seed=prefs.seed, video=prefs.video,
        lock_feet=prefs.lock_feet,
    )


classes = (ZEDO_AP_preferences,)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
