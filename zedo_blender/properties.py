"""Per-scene settings of the add-on (saved in the .blend) and per-session run state."""

from __future__ import annotations

import math

import bpy
from bpy.app.handlers import persistent
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty

from .engine import engine_module
from .skeleton import JOINT_LABELS, JOINT_NAMES


def track_property_name(joint: int) -> str:
    return f"track_{JOINT_NAMES[joint]}"


def _on_clip_changed(settings: "ZEDO_PG_settings", context: bpy.types.Context) -> None:
    clip = settings.clip
    if clip is not None:
        settings.frame_start = clip.frame_start
        settings.frame_end = clip.frame_start + max(clip.frame_duration, 1) - 1
        if clip.tracking.objects.get(settings.tracking_object) is None:
            settings.tracking_object = clip.tracking.objects.active.name


def _on_tracking_object_changed(settings: "ZEDO_PG_settings", context: bpy.types.Context) -> None:
    """A fresh mapping is filled from track names; one the user has started is left alone."""
    tracking_object = settings.tracking_object_data()
    if tracking_object is not None and not any(settings.track_names()):
        settings.auto_map(tracking_object.tracks)


class ZEDO_PG_settings(bpy.types.PropertyGroup):
    """What to estimate: which clip, which tracks are which joints, which frames, how tall."""

    clip: PointerProperty(name="Clip", type=bpy.types.MovieClip, update=_on_clip_changed)
    tracking_object: StringProperty(
        name="Tracking Object", description="The tracking object holding one person's tracks",
        update=_on_tracking_object_changed,
    )
    frame_start: IntProperty(name="Start", default=1, description="First scene frame to estimate")
    frame_end: IntProperty(name="End", default=250, description="Last scene frame to estimate")
    use_actor_height: BoolProperty(
        name="Actor Height", default=False,
        description="Scale the motion (and its distance to the camera) to the actor's standing height",
    )
    actor_height: FloatProperty(
        name="Height", default=1.75, min=0.3, soft_min=1.0, soft_max=2.2, max=3.0, unit="LENGTH",
        description="Standing height of the actor (without it, the prior's average adult is assumed)",
    )
    camera_source: EnumProperty(
        name="Focal Length",
        items=(
            ("AUTO", "Auto", "The clip's tracking camera when it has been set up, else estimated from the actor's motion, else a 60° field of view"),
            ("CLIP", "Clip Camera", "Focal length and principal point of the clip's tracking camera"),
            ("FOV", "Field of View", "Guess the focal length from a horizontal field of view (uncalibrated footage)"),
        ),
        default="AUTO",
    )
    field_of_view: FloatProperty(
        name="Field of View", default=math.radians(60.0), min=math.radians(10.0), max=math.radians(150.0),
        subtype="ANGLE", description="Horizontal field of view assumed for uncalibrated footage",
    )
    show_joints: BoolProperty(name="Joint Tracks", default=True)

    __annotations__.update(
        {
            track_property_name(j): StringProperty(name=JOINT_LABELS[j], description=f"Track of the {JOINT_LABELS[j].lower()}")
            for j in range(len(JOINT_NAMES))
        }
    )

    def track_names(self) -> list[str]:
        return [getattr(self, track_property_name(j)) for j in range(len(JOINT_NAMES))]

    def auto_map(self, tracks: bpy.types.bpy_prop_collection) -> int:
        """Map joints to tracks by name (first match wins); returns how many joints were mapped."""
        match_joint = engine_module("joint_names").match_joint
        found: dict[int, str] = {}
        for track in tracks:
            joint = match_joint(track.name)
            if joint is not None and joint not in found:
                found[joint] = track.name
        for joint, name in found.items():
            setattr(self, track_property_name(joint), name)
        return len(found)

    def tracking_object_data(self) -> bpy.types.MovieTrackingObject | None:
        if self.clip is None:
            return None
        return self.clip.tracking.objects.get(self.tracking_object) or self.clip.tracking.objects.active


class ZEDO_PG_run_state(bpy.types.PropertyGroup):
    """Progress of the running estimate (window manager; not saved)."""

    running: BoolProperty(default=False)
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(default="")


@persistent
def _reset_run_state(_file) -> None:
    """Loading a file ends any modal run: never leave the panel stuck on a progress bar."""
    for wm in bpy.data.window_managers:
        wm.zedo_run.running = False


classes = (ZEDO_PG_settings, ZEDO_PG_run_state)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.zedo = PointerProperty(type=ZEDO_PG_settings)
    bpy.types.WindowManager.zedo_run = PointerProperty(type=ZEDO_PG_run_state)
    bpy.app.handlers.load_post.append(_reset_run_state)


def unregister() -> None:
    if _reset_run_state in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_reset_run_state)
    del bpy.types.WindowManager.zedo_run
    del bpy.types.Scene.zedo
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
