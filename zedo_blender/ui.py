"""Sidebar panels: tab "ZeDO" in the Movie Clip Editor and in the 3D Viewport."""

from __future__ import annotations

import bpy

from . import bone_maps
from .estimate import choose_camera, readiness
from .operators import resolve_bone_map, retarget_readiness
from .properties import track_property_name
from .skeleton import JOINT_LABELS, NUM_JOINTS


def draw_estimate_ui(layout: bpy.types.UILayout, context: bpy.types.Context, show_joints: bool = True) -> None:
    """The shared panel body: clip, tracking object, joint table, camera, frames, height, button."""
    settings = context.scene.zedo
    run = context.window_manager.zedo_run
    layout.use_property_split = True
    layout.use_property_decorate = False

    col = layout.column()
    col.template_ID(settings, "clip", open="clip.open")
    clip = settings.clip
    if clip is not None:
        col.operator("zedo.import_keypoints", text="Import 2D Keypoints…", icon="IMPORT")
    if clip is not None:
        col.prop_search(settings, "tracking_object", clip.tracking, "objects", icon="OBJECT_DATA")
        chosen = clip.tracking.objects.get(settings.tracking_object)
        if chosen is not None and chosen.is_camera:
            col.label(text="('Camera' is the clip's default set of tracks, not a camera)", icon="INFO")

    tracking_object = settings.tracking_object_data()
    if show_joints and tracking_object is not None:
        box = layout.box()
        header = box.row()
        header.prop(settings, "show_joints", icon="TRIA_DOWN" if settings.show_joints else "TRIA_RIGHT", emboss=False)
        header.operator("zedo.auto_map_tracks", text="Auto-Map", icon="LINKED")
        if settings.show_joints:
            table = box.column(align=True)
            table.use_property_split = True
            for joint in range(NUM_JOINTS):
                table.prop_search(
                    settings, track_property_name(joint), tracking_object, "tracks", text=JOINT_LABELS[joint], icon="TRACKER"
                )

    if clip is not None and clip.size[0] > 0:
        camera = choose_camera(settings, exact=False)
        box = layout.box()
        box.prop(settings, "camera_source")
        if settings.camera_source != "CLIP":
            row = box.row()
            row.active = camera.uses_field_of_view  # greyed out while a calibrated or estimated focal length is used
            row.prop(settings, "field_of_view")
        box.label(text=camera.description, icon="CAMERA_DATA" if camera.calibrated else "INFO")
        if not camera.calibrated:
            box.label(text="For true depth, set the focal length under Track > Camera")
        K, (width, height) = camera.K, camera.image_size
        box.label(text=f"Principal point {K[0, 2]:.0f}, {K[1, 2]:.0f} px; image {width} x {height} px")

    col = layout.column(align=True)
    col.prop(settings, "frame_start")
    col.prop(settings, "frame_end")
    row = layout.row(heading="Actor Height")
    row.prop(settings, "use_actor_height", text="")
    sub = row.row()
    sub.active = settings.use_actor_height
    sub.prop(settings, "actor_height", text="")
    row = layout.row(align=True)
    row.prop(settings, "body_file")
    row.operator("zedo.save_body", text="", icon="EXPORT")

    if run.running:
        hint = "" if run.cancelling else "  (Esc cancels)"
        layout.progress(factor=run.progress, type="BAR", text=f"{run.status} {int(100 * run.progress)}%{hint}")
        return
    reason = readiness(settings)
    if reason is None and context.mode != "OBJECT":
        reason = "Switch to Object Mode first"
    column = layout.column()
    column.scale_y = 1.5
    column.enabled = reason is None
    column.operator("zedo.estimate_pose", icon="ARMATURE_DATA")
    if reason:
        layout.label(text=reason, icon="ERROR" if getattr(reason, "error", False) else "INFO")


def draw_retarget_ui(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The retarget panel body: ZeDO rig, target rig, bone map, button and what the map found."""
    settings = context.scene.zedo
    layout.use_property_split = True
    layout.use_property_decorate = False
    col = layout.column()
    col.prop(settings, "retarget_source", icon="ARMATURE_DATA")
    col.prop(settings, "retarget_target", icon="OUTLINER_OB_ARMATURE")
    col.prop(settings, "bone_map")
    if settings.bone_map == "TEXT":
        row = col.row(align=True)
        row.prop(settings, "bone_map_text", text="Text")
        row.operator("zedo.new_bone_map", text="", icon="ADD")
    target = settings.retarget_target
    status, icon = None, "INFO"
    if target is not None and target.type == "ARMATURE":
        try:
            bone_map = resolve_bone_map(settings, target)
            mapped = [s for s in bone_maps.SOURCE_NAMES if s in bone_map.bones]
            status = f"{bone_map.name} map: {len(mapped)} of {len(bone_maps.SOURCE_NAMES)} ZeDO bones placed"
        except bone_maps.BoneMapError as error:
            status, icon = str(error), "ERROR"
    reason = retarget_readiness(context)
    column = layout.column()
    column.scale_y = 1.3
    column.enabled = reason is None and icon != "ERROR"
    column.operator("zedo.retarget", icon="ACTION")
    if reason:
        layout.label(text=reason, icon="INFO")
    elif status:
        layout.label(text=status, icon=icon)
    if settings.bone_map != "TEXT":
        layout.operator("zedo.new_bone_map", text="Edit as Bone Map Text", icon="TEXT")


class ZEDO_PT_clip_estimate(bpy.types.Panel):
    bl_idname = "ZEDO_PT_clip_estimate"
    bl_label = "Estimate 3D Pose"
    bl_space_type = "CLIP_EDITOR"
    bl_region_type = "UI"
    bl_category = "ZeDO"

    def draw(self, context: bpy.types.Context) -> None:
        draw_estimate_ui(self.layout, context)


class ZEDO_PT_view3d_estimate(bpy.types.Panel):
    bl_idname = "ZEDO_PT_view3d_estimate"
    bl_label = "Estimate 3D Pose"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ZeDO"

    def draw(self, context: bpy.types.Context) -> None:
        draw_estimate_ui(self.layout, context)


class ZEDO_PT_view3d_retarget(bpy.types.Panel):
    bl_idname = "ZEDO_PT_view3d_retarget"
    bl_label = "Retarget to Your Rig"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "ZeDO"

    def draw(self, context: bpy.types.Context) -> None:
        draw_retarget_ui(self.layout, context)


classes = (ZEDO_PT_clip_estimate, ZEDO_PT_view3d_estimate, ZEDO_PT_view3d_retarget)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
