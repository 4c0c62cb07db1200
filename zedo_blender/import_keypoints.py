"""File > Import > 2D Keypoints: detector output into Movie Clip tracks, one track per joint.

Reads the engine ``.npz``, COCO keypoint JSON and OpenPose JSON (a folder of per-frame files) in
any layout the engine knows, converts them to the engine's 17 joints, and creates a new tracking
object (one person) with a track per joint, so detections can be fixed by hand before estimating.
What the file knows about the footage is used too: its camera ``K`` sets up the clip's tracking
camera (scaled to the clip's size) and its frame rate becomes the scene's.
An optional calibration file (Pose2Sim / anipose TOML, OpenCV YAML / XML) sets the clip's camera
instead: focal length (mm over the clip camera's sensor width), principal point, pixel aspect and
radial lens distortion, which the estimate then uses.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from .clip_camera import clip_camera_values, set_clip_camera
from .engine import engine_module
from .estimate import AIMED_TRACKS, CAMERA_FILE_FOCAL, CAMERA_FROM_FILE
from .properties import track_property_name
from .skeleton import JOINT_NAMES
from .tracks import write_keypoints


def _layout_items(self, context):
    items = [("auto", "Auto", "From the file (17 joints: Human3.6M in .npz, COCO in JSON)")]
    for name, layout in engine_module("layouts").LAYOUTS.items():
        items.append((name, name, layout.description))
    return items


def target_clip(context: bpy.types.Context) -> bpy.types.MovieClip | None:
    """The clip of the Movie Clip Editor in use, else the one chosen in the ZeDO panel."""
    space = context.space_data
    if space is not None and space.type == "CLIP_EDITOR" and space.clip is not None:
        return space.clip
    return context.scene.zedo.clip


class ZEDO_OT_import_keypoints(bpy.types.Operator, ImportHelper):
    """Import 2D keypoints (engine .npz, COCO JSON, OpenPose JSON) as tracks of the movie clip"""

    bl_idname = "zedo.import_keypoints"
    bl_label = "Import 2D Keypoints"
    bl_options = {"REGISTER", "UNDO"}

    filter_glob: StringProperty(default="*.npz;*.json", options={"HIDDEN"})
    layout: EnumProperty(name="Layout", items=_layout_items, description="Keypoint layout of the file")
    openpose_folder: BoolProperty(
        name="Whole OpenPose Folder", default=True,
        description="For an OpenPose JSON file (one frame), read every frame file in its folder",
    )
    calibration: StringProperty(
        name="Calibration", subtype="FILE_PATH", default="",
        description="Optional camera calibration (Pose2Sim/anipose .toml, OpenCV .yml/.xml): sets the clip's camera",
    )
    camera_name: StringProperty(
        name="Camera Name", default="",
        description="Which camera of the calibration file, when it holds several (default: the one named like the keypoint file)",
    )
    frame_start: IntProperty(name="Start Frame", default=1, description="Scene frame of the file's first frame")
    min_confidence: FloatProperty(
        name="Min Confidence", default=0.1, min=0.0, max=1.0,
        description="Markers below this detector confidence are imported muted (disabled)",
    )
    use_file_camera: BoolProperty(
        name="Camera from File", default=True,
        description="Set the clip's tracking camera (focal length, principal point) from the file's K, when it has one",
    )
    use_file_fps: BoolProperty(
        name="Frame Rate from File", default=True,
        description="Set the scene's frame rate from the file's, when it has one (image sequences have none of their own)",
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if target_clip(context) is None:
            cls.poll_message_set("Open the footage in the Movie Clip Editor (or choose it in the ZeDO panel) first")
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        clip = target_clip(context)
        if clip is not None:
            self.frame_start = clip.frame_start
        return ImportHelper.invoke(self, context, event)

    def execute(self, context: bpy.types.Context) -> set[str]:
        files = engine_module("keypoint_files")
        path = Path(bpy.path.abspath(self.filepath))
        if self.openpose_folder and files.is_openpose_file(path):
            path = path.parent
        clip = target_clip(context)
        try:
            sequence = files.read_keypoints(path, None if self.layout == "auto" else self.layout).to_h36m()
        except ValueError as error:  # the engine's InputError: one line naming the problem
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        if clip.size[0] <= 0:
            self.report({"ERROR"}, f"Blender cannot read the frames of clip '{clip.name}' ({clip.filepath}): nothing imported")
            return {"CANCELLED"}
        camera = camera_values = None
        try:
            if self.calibration:
                camera = engine_module("camera_files").read_camera(
                    Path(bpy.path.abspath(self.calibration)), self.camera_name or None, hint=path.name
                )
                scaled = camera.scaled_to(tuple(clip.size))
                camera_values = clip_camera_values(
                    scaled.K, tuple(clip.size), scaled.distortion, scaled.fisheye, clip.tracking.camera.sensor_width
                )
        except ValueError as error:  # the engine's InputError: one line naming the problem
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        for note in sequence.notes:
            self.report({"INFO"}, note)
        keypoints = sequence.keypoints
        sx = sy = 1.0
        if sequence.image_size is not None and tuple(sequence.image_size) != tuple(clip.size):
            sx, sy = clip.size[0] / sequence.image_size[0], clip.size[1] / sequence.image_size[1]
            keypoints = keypoints * np.array([sx, sy])
            self.report(
                {"WARNING"},
                f"Keypoints were detected on {sequence.image_size[0]}x{sequence.image_size[1]} images; "
                f"scaled to the clip's {clip.size[0]}x{clip.size[1]}",
            )
        tracking_object = clip.tracking.objects.new(path.stem)
        try:
            write_keypoints(
                clip, tracking_object.tracks, list(JOINT_NAMES), keypoints, sequence.confidence,
                self.frame_start, self.min_confidence,
            )
        except BaseException:
            clip.tracking.objects.remove(tracking_object)
            raise
        if sequence.aimed:  # its tracks are named by joint (write_keypoints)
            if clip.get(AIMED_TRACKS) is None:
                clip[AIMED_TRACKS] = {}
            clip[AIMED_TRACKS][tracking_object.name] = ",".join(sequence.aimed)
        settings = context.scene.zedo
        settings.clip = clip
        settings.tracking_object = tracking_object.name
        for joint, name in enumerate(JOINT_NAMES):
            setattr(settings, track_property_name(joint), name if tracking_object.tracks.get(name) else "")
        settings.frame_start = self.frame_start
        settings.frame_end = self.frame_start + sequence.num_frames - 1
        notes = []
        if camera_values is not None:  # a calibration file outranks the keypoint file's own K
            set_clip_camera(clip, camera_values)
            clip[CAMERA_FROM_FILE] = f"{Path(self.calibration).name} [{camera.name}]"
            clip[CAMERA_FILE_FOCAL] = float(clip.tracking.camera.focal_length_pixels)
            notes.append(f"clip camera from {camera.name}: {clip.tracking.camera.focal_length:.1f} mm lens")
            if sequence.K is not None and self.use_file_camera:
                notes.append(f"{path.name}'s own K set aside for the calibration's")
        elif sequence.K is not None and self.use_file_camera:
            notes.append(self._set_clip_camera(clip, sequence.K, (sx, sy), path.name))
        if sequence.fps and self.use_file_fps:
            notes.append(self._set_scene_fps(context.scene, clip, float(sequence.fps)))
        self.report(
            {"INFO"},
            f"Imported {sequence.num_frames} frames into tracking object '{tracking_object.name}' of '{clip.name}'"
            + "".join(f"; {note}" for note in notes if note),
        )
        return {"FINISHED"}

    def _set_clip_camera(self, clip: bpy.types.MovieClip, K: np.ndarray, scale: tuple[float, float], name: str) -> str:
        """The clip's tracking camera from the file's ``K`` (per-frame K: the first frame's)."""
        K = np.asarray(K, dtype=np.float64)
        if K.ndim == 3:
            if not np.allclose(K, K[:1], rtol=1e-3):
                self.report({"WARNING"}, f"{name} has a camera per frame (zoom): the clip camera takes the first frame's")
            K = K[0]
        fx, fy = K[0, 0] * scale[0], K[1, 1] * scale[1]
        cx, cy = K[0, 2] * scale[0], K[1, 2] * scale[1]
        camera = clip.tracking.camera
        camera.focal_length_pixels = fx
        camera.pixel_aspect = fy / fx
        camera.principal_point_pixels = (cx, clip.size[1] - cy)  # Blender's origin is bottom-left
        clip[CAMERA_FROM_FILE] = name
        clip[CAMERA_FILE_FOCAL] = float(camera.focal_length_pixels)
        return f"clip camera from the file (focal length {fx:.0f} px)"

    def _set_scene_fps(self, scene: bpy.types.Scene, clip: bpy.types.MovieClip, fps: float) -> str:
        """The scene's frame rate from the file's, unless the clip (a movie) knows its own."""
        if clip.fps > 0:
            if abs(clip.fps - fps) > 0.01:
                self.report({"WARNING"}, f"The file says {fps:g} fps, the movie clip {clip.fps:g} fps: the clip's rate is kept")
            return ""
        scene.render.fps = max(1, round(fps))
        scene.render.fps_base = scene.render.fps / fps
        return f"scene frame rate {fps:g} fps from the file"


def menu_import(self, context: bpy.types.Context) -> None:
    self.layout.operator(ZEDO_OT_import_keypoints.bl_idname, text="2D Keypoints for ZeDO (.npz, .json)")


classes = (ZEDO_OT_import_keypoints,)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
