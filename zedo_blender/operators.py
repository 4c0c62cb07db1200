"""Operators: Estimate 3D Pose (threaded, cancellable), Auto-Map joints, Retarget, New Bone Map, Save Body."""

from __future__ import annotations

import json
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.io_utils import ExportHelper

from . import bone_maps
from . import estimate as estimate_module
from . import retarget as retarget_module
from .engine import EngineUnavailable, engine_module
from .jobs import EngineJob, ModalRun
from .preferences import estimate_settings
from .skeleton import NUM_JOINTS


def _engine_error_types() -> tuple[type[BaseException], ...]:
    from .engine import core

    zedo = core()
    return (zedo.InputError, ValueError)


def _redraw_panels(context: bpy.types.Context) -> None:
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in {"CLIP_EDITOR", "VIEW_3D"}:
                area.tag_redraw()


class ZEDO_OT_estimate_pose(bpy.types.Operator):
    """Lift the mapped 2D tracks to 3D and key the motion onto a new rig, with a matching camera"""

    bl_idname = "zedo.estimate_pose"
    bl_label = "Estimate 3D Pose"
    bl_options = {"REGISTER", "UNDO"}

    _run: ModalRun | None = None
    _request = None
    _timer = None

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if context.window_manager.zedo_run.running:
            cls.poll_message_set("An estimate is already running")
            return False
        if context.mode != "OBJECT":
            cls.poll_message_set("Switch to Object Mode first")
            return False
        reason = estimate_module.readiness(context.scene.zedo)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    def _gather(self, context: bpy.types.Context):
        try:
            return estimate_module.gather_request(context, context.scene.zedo, estimate_settings(context))
        except (estimate_module.NotReady, ValueError) as error:
            self.report({"ERROR"}, str(error))
            return None

    def _finish(self, context: bpy.types.Context, lift_result) -> set[str]:
        request = self._request
        try:
            result = estimate_module.apply_request(context, request, lift_result)
        except ValueError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        except ReferenceError:  # the clip was deleted while the engine ran
            self.report({"ERROR"}, "The movie clip was removed during the estimate: nothing was added")
            return {"CANCELLED"}
        warning = estimate_module.skipped_frames_message(request, lift_result)
        if warning:
            self.report({"WARNING"}, warning)
        released = estimate_module.released_markers_message(request, lift_result)
        if released:
            self.report({"INFO"}, released)
        self.report(
            {"INFO"},
            f"Keyed {result.keyed_frames} frames onto '{result.armature.name}' (action '{result.action.name}', "
            f"height {result.height_m:.2f} m{'; lifted with the Body file' if request.bone_lengths is not None else ''})",
        )
        return {"FINISHED"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Blocking run, for scripts and headless use."""
        request = self._gather(context)
        if request is None:
            return {"CANCELLED"}
        self._request = request
        try:
            lift_result = request.run()
        except EngineUnavailable as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        except _engine_error_types() as error:
            self.report({"ERROR"}, f"Bad input for the engine: {error}")
            return {"CANCELLED"}
        return self._finish(context, lift_result)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        request = self._gather(context)
        if request is None:
            return {"CANCELLED"}
        try:
            from .engine import core

            core().load_prior  # import the engine here, on the main thread, so a broken install is reported at once
        except EngineUnavailable as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        self._request = request
        self._run = ModalRun(EngineJob(request.run).start())
        wm = context.window_manager
        run = wm.zedo_run
        run.running, run.progress, run.status, run.cancelling = True, 0.0, "Starting", False
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _stop_ui(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        run = wm.zedo_run
        run.running, run.progress, run.status, run.cancelling = False, 0.0, "", False
        context.workspace.status_text_set(None)
        _redraw_panels(context)

    def _show_progress(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        job = self._run.job
        percent = int(100 * job.fraction)
        wm.zedo_run.progress = job.fraction
        wm.zedo_run.status = self._run.status_text()
        wm.zedo_run.cancelling = job.cancelled
        wm.progress_update(percent)
        hint = "" if job.cancelled else "  (Esc to cancel)"
        context.workspace.status_text_set(f"ZeDO: {wm.zedo_run.status} {percent}%{hint}")
        _redraw_panels(context)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        run = self._run
        if event.type == "ESC" and event.value == "PRESS":
            run.escape()  # returns at once; the timer below sees the worker stop
            self._show_progress(context)
            return {"RUNNING_MODAL"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        state = run.tick()
        if state == ModalRun.RUNNING:
            self._show_progress(context)
            return {"RUNNING_MODAL"}
        self._stop_ui(context)
        if state == ModalRun.CANCELLED:
            self.report({"INFO"}, "Estimate cancelled: nothing was changed")
            return {"CANCELLED"}
        if state == ModalRun.ABANDONED:
            self.report({"WARNING"}, "Estimate cancelled: nothing was changed (the engine is still finishing in the background)")
            return {"CANCELLED"}
        if state == ModalRun.FAILED:
            error = run.job.error
            if isinstance(error, _engine_error_types()):
                self.report({"ERROR"}, f"Bad input for the engine: {error}")
            else:
                self.report({"ERROR"}, f"Estimate failed: {error}")
            return {"CANCELLED"}
        return self._finish(context, run.job.result)


class ZEDO_OT_auto_map_tracks(bpy.types.Operator):
    """Map joints to tracks by their names (e.g. "LeftShoulder", "l_shoulder", COCO or Human3.6M names)"""

    bl_idname = "zedo.auto_map_tracks"
    bl_label = "Auto-Map Joints"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        settings = context.scene.zedo
        if settings.tracking_object_data() is None:
            cls.poll_message_set("Choose a clip with a tracking object first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.zedo
        mapped = settings.auto_map(settings.tracking_object_data().tracks)
        self.report({"INFO"}, f"Mapped {mapped} of {NUM_JOINTS} joints from track names")
        return {"FINISHED"}


def resolve_bone_map(settings, target: bpy.types.Object) -> bone_maps.BoneMap:
    """The bone map the panel's choice gives for ``target``; raises :class:`bone_maps.BoneMapError`."""
    names = target.data.bones.keys()
    kind = settings.bone_map
    if kind == "AUTO":
        found = bone_maps.detect(names)
        if found is None:
            raise bone_maps.BoneMapError(
                f"no built-in bone map fits '{target.name}' (Rigify, Mixamo, Unreal names): choose Text and make a bone map"
            )
        return found
    if kind == "TEXT":
        text = settings.bone_map_text
        if text is None:
            raise bone_maps.BoneMapError("choose the text block with the bone map (New makes one)")
        bone_map = bone_maps.parse_bone_map(text.as_string(), f"text '{text.name}'")
    else:
        bone_map = bone_maps.fit(bone_maps.built_in(kind, names), names)
        if bone_maps.ROOT not in bone_map.bones:
            raise bone_maps.BoneMapError(f"'{target.name}' has none of the {bone_map.name} map's hips bones")
    bone_map.check(names, target.name)
    return bone_map


class ZEDO_OT_retarget(bpy.types.Operator):
    """Bake the ZeDO rig's motion onto the target rig as a new action (limbs pointing the same way, root motion scaled to the target, feet on the ground)"""

    bl_idname = "zedo.retarget"
    bl_label = "Retarget to Rig"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        reason = retarget_readiness(context)
        if reason:
            cls.poll_message_set(reason)
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.zedo
        source, target = settings.retarget_source, settings.retarget_target
        try:
            bone_map = resolve_bone_map(settings, target)
            done = retarget_module.retarget(context, source, target, bone_map)
        except (bone_maps.BoneMapError, retarget_module.RetargetError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        # A few frames evaluated in Blender (constraints included): how closely the limbs follow.
        first, last = done.frames
        frames = np.unique(np.linspace(first, last, min(12, last - first + 1)).round().astype(int))
        checked = retarget_module.check(context, source, target, bone_map, frames)
        worst = float(checked.angles_deg.max()) if checked.angles_deg.size else 0.0
        mapped = len(bone_map.target_bones())
        self.report(
            {"INFO"},
            f"Retargeted frames {first}-{last} onto '{target.name}' as action '{done.action.name}' ({bone_map.name} map, "
            f"{mapped} bones, scale {done.scale:.2f}); limbs within {worst:.1f}° of the ZeDO rig",
        )
        if worst > 5.0:
            loose = f" (bones {', '.join(done.nonrigid)} follow their parents loosely)" if done.nonrigid else ""
            self.report({"WARNING"}, f"Some limbs of '{target.name}' are up to {worst:.0f}° off the ZeDO rig{loose}")
        return {"FINISHED"}


def retarget_readiness(context: bpy.types.Context) -> str | None:
    """Why Retarget cannot run yet, or None (cheap: no bone map parsing)."""
    settings = context.scene.zedo
    if context.mode != "OBJECT":
        return "Switch to Object Mode first"
    if settings.retarget_source is None:
        return "Choose the ZeDO rig (an estimate fills it in)"
    if settings.retarget_target is None:
        return "Choose your character's armature as the target rig"
    if settings.retarget_target == settings.retarget_source:
        return "The target must be another armature than the ZeDO rig"
    return None


class ZEDO_OT_new_bone_map(bpy.types.Operator):
    """Make a text block with a JSON bone map for the target rig to edit: the built-in map that fits it, else every ZeDO bone to fill in"""

    bl_idname = "zedo.new_bone_map"
    bl_label = "New Bone Map"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.zedo
        target = settings.retarget_target
        found = bone_maps.detect(target.data.bones.keys()) if target is not None else None
        if found is not None:
            text_body = found.to_json()
        else:
            template = {"name": target.name if target else "my rig", "bones": {name: "" for name in bone_maps.SOURCE_NAMES}}
            text_body = json.dumps(template, indent=2) + "\n"
        text = bpy.data.texts.new("ZeDO bone map.json")
        text.from_string(text_body)
        settings.bone_map = "TEXT"
        settings.bone_map_text = text
        self.report({"INFO"}, f"Edit text block '{text.name}' in the Text Editor (ZeDO bone -> your bone), then Retarget")
        return {"FINISHED"}


def body_rig(context: bpy.types.Context) -> bpy.types.Object | None:
    """The estimated rig whose body Save Body writes: the active object if it is one, else the
    panel's ZeDO rig."""
    for obj in (context.active_object, context.scene.zedo.retarget_source):
        if obj is not None and estimate_module.BODY_PROPERTY in obj.keys():
            return obj
    return None


class ZEDO_OT_save_body(bpy.types.Operator, ExportHelper):
    """Save the actor's body (bone lengths) of an estimated rig, to lift other footage of the same actor with it (Body)"""

    bl_idname = "zedo.save_body"
    bl_label = "Save Body"
    filename_ext = ".json"
    filter_glob: bpy.props.StringProperty(default="*.json", options={"HIDDEN"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if body_rig(context) is None:
            cls.poll_message_set("Estimate a pose first: Save Body writes the body of an estimated ZeDO rig")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        rig = body_rig(context)
        lengths = np.asarray(rig[estimate_module.BODY_PROPERTY], dtype=np.float64)
        path = Path(bpy.path.abspath(self.filepath))
        safe_io, body = engine_module("safe_io"), engine_module("body")
        try:
            safe_io.write_outputs([(path, lambda tmp: body.write_body(tmp, lengths))], utf8_paths=True)
        except (ValueError, safe_io.WriteError) as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        context.scene.zedo.body_file = str(path)
        self.report({"INFO"}, f"Saved the body of '{rig.name}' to {path}; it is now the Body for the next estimate")
        return {"FINISHED"}


classes = (ZEDO_OT_estimate_pose, ZEDO_OT_auto_map_tracks, ZEDO_OT_retarget, ZEDO_OT_new_bone_map, ZEDO_OT_save_body)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
