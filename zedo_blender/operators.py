"""Operators: Estimate 3D Pose (threaded, cancellable), Auto-Map joints, Import keypoints."""

from __future__ import annotations

import bpy

from . import estimate as estimate_module
from .engine import EngineUnavailable
from .jobs import EngineJob
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

    _job: EngineJob | None = None
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
        self.report(
            {"INFO"},
            f"Keyed {result.keyed_frames} frames onto '{result.armature.name}' (action '{result.action.name}', "
            f"height {result.height_m:.2f} m)",
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
        self._job = EngineJob(request.run).start()
        wm = context.window_manager
        wm.zedo_run.running, wm.zedo_run.progress, wm.zedo_run.status = True, 0.0, "Estimating 3D pose"
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _stop_ui(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        wm.zedo_run.running, wm.zedo_run.progress, wm.zedo_run.status = False, 0.0, ""
        context.workspace.status_text_set(None)
        _redraw_panels(context)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        job = self._job
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            self._stop_ui(context)
            self.report({"INFO"}, "Estimate cancelled: nothing was changed")
            return {"CANCELLED"}
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        wm = context.window_manager
        percent = int(100 * job.fraction)
        wm.zedo_run.progress = job.fraction
        wm.progress_update(percent)
        context.workspace.status_text_set(f"ZeDO: estimating 3D pose {percent}%  (Esc to cancel)")
        _redraw_panels(context)
        if not job.done:
            return {"RUNNING_MODAL"}
        self._stop_ui(context)
        if job.error is not None:
            self.report({"ERROR"}, f"Estimate failed: {job.error}")
            return {"CANCELLED"}
        return self._finish(context, job.result)


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


classes = (ZEDO_OT_estimate_pose, ZEDO_OT_auto_map_tracks)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
