"""Real footage end to end: the Pose2Sim balancing clip -> .blend with the video, pictures, error.

    python examples/real_clip_demo.py [--out build] [--docs docs] [--iterations 200]

1. Converts ``examples/pose2sim`` (raw OpenPose folder, calibration, video) with the batch
   converter into ``OUT/real_clip.blend``: the rig keyed on all frames, the calibrated camera, the
   video as its movie clip and the camera's background.
2. Renders with Blender's Workbench engine (on the CPU, headless):
   ``OUT/real_clip_overlay.png``, the rig over four video frames seen through the clip's camera,
   and ``OUT/real_clip_3d.png``, the same frames in 3D from the side (the filming camera to the
   right) and from the front (orthographic, from a little above), so depth shows.
3. Prints the rig's error against the four-camera triangulation of the same detections
   (``../shared/data/pose2sim/triangulated_openpose_0-100.trc``; skipped with a message when absent).

``--docs DIR`` also copies the pictures there (the README's). Needs the ``bpy`` module.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix, Vector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bmesh  # importable once bpy is

from zedo_blender import batch
from zedo_blender.motion import CV_TO_BLENDER_CAMERA
from zedo_blender.skeleton import BONES, JOINT_NAMES
from zedo_core.camera_files import read_camera
from zedo_core.metrics import mpjpe, pa_mpjpe

CLIP = ROOT / "examples" / "pose2sim"
SHARED = ROOT.parent / "shared" / "data" / "pose2sim"
OVERLAY_FRAMES = (1, 34, 67, 100)
OVERLAY_SCALE = 0.2  # of the 1080 x 1920 video, per panel (a README-sized picture)
OVERLAY_KEEP = 0.7  # of each frame's height, from the top: the person, not the platform below him
PANEL_3D = (270, 300)  # per frame and view
RIG_COLOUR = (1.0, 0.45, 0.05, 1.0)
START_COLOUR, END_COLOUR = np.array([0.15, 0.45, 1.0]), np.array([1.0, 0.45, 0.05])
# The 13 joints both skeletons define alike (the pelvis as the hips' midpoint in both).
COMPARED = ("right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle", "left_shoulder",
            "left_elbow", "left_wrist", "right_shoulder", "right_elbow", "right_wrist")  # fmt: skip
TRC_NAMES = {"right_hip": "RHip", "right_knee": "RKnee", "right_ankle": "RAnkle", "left_hip": "LHip", "left_knee": "LKnee",
             "left_ankle": "LAnkle", "left_shoulder": "LShoulder", "left_elbow": "LElbow", "left_wrist": "LWrist",
             "right_shoulder": "RShoulder", "right_elbow": "RElbow", "right_wrist": "RWrist"}  # fmt: skip


# ------------------------------------------------------------------------------------------ geometry


def rig_joints_world(scene: bpy.types.Scene, rig: bpy.types.Object, frame: int) -> np.ndarray:
    """``(17, 3)`` world positions of the rig's joints at ``frame``."""
    scene.frame_set(frame)
    joints = np.zeros((17, 3))
    for bone in BONES:
        pose_bone = rig.pose.bones[bone.name]
        joints[bone.head] = rig.matrix_world @ pose_bone.head
        joints[bone.tail] = rig.matrix_world @ pose_bone.tail
    return joints


def stick_figure(name: str, joints: np.ndarray, colour, radius: float = 0.025) -> bpy.types.Object:
    """A mesh of cylinders along the bones and balls on the joints (armatures do not render)."""
    bm = bmesh.new()
    for bone in BONES:
        a, b = Vector(joints[bone.head]), Vector(joints[bone.tail])
        length = (b - a).length
        if length < 1e-6:
            continue
        rotation = Vector((0, 0, 1)).rotation_difference((b - a).normalized()).to_matrix().to_4x4()
        matrix = Matrix.Translation((a + b) / 2) @ rotation
        bmesh.ops.create_cone(bm, cap_ends=True, segments=12, radius1=radius, radius2=radius, depth=length, matrix=matrix)
    for point in joints:
        bmesh.ops.create_uvsphere(bm, u_segments=12, v_segments=8, radius=1.5 * radius, matrix=Matrix.Translation(Vector(point)))
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    obj = bpy.data.objects.new(name, mesh)
    obj.color = colour
    bpy.context.scene.collection.objects.link(obj)
    return obj


# --------------------------------------------------------------------------------------- rendering


def workbench(scene: bpy.types.Scene, size: tuple[int, int], transparent: bool, percentage: int = 100) -> None:
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = percentage
    scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    scene.render.film_transparent = transparent
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    scene.view_settings.view_transform = "Standard"
    shading = scene.display.shading
    shading.light, shading.color_type = "STUDIO", "OBJECT"
    shading.show_shadows, shading.show_cavity = False, False
    scene.display.render_aa = "8"


def render_to_array(scene: bpy.types.Scene, path: Path) -> np.ndarray:
    """Render ``scene`` to ``path`` and return its pixels ``(H, W, 4)`` top row first."""
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True, scene=scene.name)
    return load_png(path)


def load_png(path: Path) -> np.ndarray:
    image = bpy.data.images.load(str(path))
    width, height = image.size
    pixels = np.empty(width * height * 4, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    bpy.data.images.remove(image)
    return pixels.reshape(height, width, 4)[::-1]


def save_png(pixels: np.ndarray, path: Path) -> None:
    height, width = pixels.shape[:2]
    image = bpy.data.images.new(path.stem, width=width, height=height, alpha=False)
    rgba = np.concatenate([pixels[..., :3], np.ones((height, width, 1))], axis=2)[::-1]
    image.pixels.foreach_set(rgba.astype(np.float32).ravel())
    path.parent.mkdir(parents=True, exist_ok=True)
    image.filepath_raw = str(path)
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)


def footage_frame(video: Path, frame: int, size: tuple[int, int], percentage: int, path: Path) -> np.ndarray:
    """Video frame ``frame`` (1-based) of ``size`` at ``percentage``, rendered by the sequencer of
    a scratch scene."""
    scene = bpy.data.scenes.get("footage") or bpy.data.scenes.new("footage")
    scene.render.resolution_x, scene.render.resolution_y = size  # before the strip: it fits to this
    scene.render.resolution_percentage = percentage
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"
    editor = scene.sequence_editor or scene.sequence_editor_create()
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    if not strips:
        strips.new_movie("video", str(video), channel=1, frame_start=1, fit_method="FIT")
    scene.frame_set(frame)
    return render_to_array(scene, path)


def overlay(scene, rig, video: Path, out: Path, scratch: Path) -> Path:
    """The rig through the clip's camera over the video, at a few frames side by side."""
    size = (scene.render.resolution_x, scene.render.resolution_y)
    percentage = round(100 * OVERLAY_SCALE)
    workbench(scene, size, transparent=True, percentage=percentage)
    panels = []
    for frame in OVERLAY_FRAMES:
        figure = stick_figure(f"rig_{frame}", rig_joints_world(scene, rig, frame), RIG_COLOUR, radius=0.03)
        rig_layer = render_to_array(scene, scratch / f"rig_{frame}.png")
        bpy.data.objects.remove(figure)
        video_layer = footage_frame(video, frame, size, percentage, scratch / f"video_{frame}.png")
        alpha = rig_layer[..., 3:4]
        keep = round(OVERLAY_KEEP * rig_layer.shape[0])
        panels.append((rig_layer[..., :3] * alpha + video_layer[..., :3] * (1 - alpha))[:keep])
        panels.append(np.ones((keep, 4, 3)))  # a white gap
    path = out / "real_clip_overlay.png"
    save_png(np.concatenate(panels[:-1], axis=1), path)
    return path


def views_3d(scene, rig, out: Path, scratch: Path) -> Path:
    """The overlay's frames in 3D: from the side (top row) and from the front (bottom row),
    orthographic, all panels at one scale around the whole motion."""
    poses = {f: rig_joints_world(scene, rig, f) for f in range(scene.frame_start, scene.frame_end + 1)}
    for obj in [o for o in scene.objects if o.type == "MESH"]:
        bpy.data.objects.remove(obj)
    camera = scene.camera
    everything = np.concatenate(list(poses.values()))
    low, high = everything.min(0), everything.max(0)
    centre = 0.5 * (low + high)
    # The filming camera's horizontal viewing direction: depth runs along it.
    forward = np.array(camera.matrix_world.to_3x3() @ Vector((0, 0, -1)))
    forward[2] = 0.0
    forward /= np.linalg.norm(forward)
    mesh = bpy.data.meshes.new("ground")
    bm = bmesh.new()
    bmesh.ops.create_circle(bm, cap_ends=True, segments=48, radius=1.0)
    bm.to_mesh(mesh)
    bm.free()
    floor = bpy.data.objects.new("ground", mesh)
    floor.location = (centre[0], centre[1], 0.0)
    floor.color = (1.0, 1.0, 1.0, 1.0)
    scene.collection.objects.link(floor)
    workbench(scene, PANEL_3D, transparent=False)
    scene.world = scene.world or bpy.data.worlds.new("world")
    scene.world.color = (1.0, 1.0, 1.0)
    span = 1.15 * max(float(np.linalg.norm(high[:2] - low[:2])) + 0.6, float(high[2]) + 0.3) * PANEL_3D[0] / PANEL_3D[1]
    look_at = np.array([centre[0], centre[1], 0.45 * high[2]])
    rows = []
    for label, direction in (("side, camera \u2192", np.cross(forward, [0.0, 0.0, 1.0])), ("front", forward)):
        view = bpy.data.objects.new(label, bpy.data.cameras.new(label))
        view.data.type, view.data.ortho_scale, view.data.sensor_fit = "ORTHO", span, "HORIZONTAL"
        elevation = math.radians(10.0)
        position = look_at - 10.0 * (math.cos(elevation) * direction - math.sin(elevation) * np.array([0.0, 0.0, 1.0]))
        view.location = Vector(position)
        view.rotation_euler = Vector(look_at - position).to_track_quat("-Z", "Y").to_euler()
        scene.collection.objects.link(view)
        scene.camera = view
        row = []
        for i, frame in enumerate(OVERLAY_FRAMES):
            t = i / max(1, len(OVERLAY_FRAMES) - 1)
            figure = stick_figure(f"pose_{frame}", poses[frame], (*((1 - t) * START_COLOUR + t * END_COLOUR), 1.0))
            caption = caption_for(view, f"{label}, frame {frame}", span)
            row.append(render_to_array(scene, scratch / "view.png")[..., :3])
            row.append(np.ones((PANEL_3D[1], 4, 3)))
            bpy.data.objects.remove(caption)
            bpy.data.objects.remove(figure)
        rows.append(np.concatenate(row[:-1], axis=1))
        rows.append(np.ones((4, rows[-1].shape[1], 3)))
        bpy.data.objects.remove(view)
    scene.camera = camera
    bpy.data.objects.remove(floor)
    path = out / "real_clip_3d.png"
    save_png(np.concatenate(rows[:-1], axis=0), path)
    return path


def caption_for(view: bpy.types.Object, text: str, span: float) -> bpy.types.Object:
    """``text`` in the top-left corner of the orthographic camera ``view`` spanning ``span`` m."""
    curve = bpy.data.curves.new(text, type="FONT")
    curve.body = text
    curve.size = 0.06 * span
    obj = bpy.data.objects.new(text, curve)
    obj.color = (0.1, 0.1, 0.1, 1.0)
    obj.parent = view
    height = span * PANEL_3D[1] / PANEL_3D[0]
    obj.location = (-0.46 * span, 0.5 * height - 0.09 * span, -1.0)
    bpy.context.scene.collection.objects.link(obj)
    return obj


# ------------------------------------------------------------------------------------------ metric


def read_trc(path: Path) -> tuple[list[str], np.ndarray]:
    lines = path.read_text().splitlines()
    names = [n for n in lines[3].split("\t")[2:] if n]
    rows = [[float(v) for v in line.split("\t")[2 : 2 + 3 * len(names)]] for line in lines[5:] if line.strip()]
    return names, np.array(rows).reshape(len(rows), len(names), 3)


def error_against_triangulation(scene, rig, shared: Path) -> str:
    trc = shared / "triangulated_openpose_0-100.trc"
    if not trc.is_file():
        return f"error against the four-camera triangulation: skipped ({trc} not found)"
    names, markers = read_trc(trc)
    world = markers[..., [2, 0, 1]]  # the file is Y up (OpenSim); the calibration's world is Z up
    cam = read_camera(CLIP / "calibration.toml", "cam_01")
    reference = world @ cam.rotation.T + cam.translation  # cam_01's frame (OpenCV axes), metres
    # The rig in the same frame: through the .blend's camera, Blender axes -> OpenCV axes.
    M = np.array(scene.camera.matrix_world.normalized())
    to_cv = CV_TO_BLENDER_CAMERA.T @ M[:3, :3].T
    frames = range(scene.frame_start, scene.frame_end + 1)
    rig_cam = np.stack([(rig_joints_world(scene, rig, f) - M[:3, 3]) @ to_cv.T for f in frames])
    index = [JOINT_NAMES.index(n) for n in COMPARED]
    ours = rig_cam[:, index]
    theirs = np.stack([reference[:, names.index(TRC_NAMES[n])] for n in COMPARED], axis=1)[: len(ours)]
    ours = np.concatenate([0.5 * (ours[:, [0]] + ours[:, [3]]), ours], axis=1)  # pelvis = mid-hips, first
    theirs = np.concatenate([0.5 * (theirs[:, [0]] + theirs[:, [3]]), theirs], axis=1)
    keep = np.isfinite(theirs).all(axis=(1, 2)) & np.isfinite(ours).all(axis=(1, 2))
    e = 1000 * mpjpe(ours[keep], theirs[keep]).mean()
    pa = 1000 * pa_mpjpe(ours[keep], theirs[keep]).mean()
    root = 1000 * np.linalg.norm(ours[keep, 0] - theirs[keep, 0], axis=-1).mean()
    depth = 1000 * np.abs(ours[keep, 0, 2] - theirs[keep, 0, 2]).mean()
    return (
        f"rig vs four-camera triangulation ({int(keep.sum())} frames, 13 joints, cam_01's frame): MPJPE {e:.1f} mm, "
        f"PA-MPJPE {pa:.1f} mm; pelvis position {root:.0f} mm off (depth {depth:.0f} mm)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--docs", type=Path, default=None, help="also copy the pictures into this folder")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the Pose2Sim data with the triangulation")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    scratch = out / "real_clip_frames"
    scratch.mkdir(parents=True, exist_ok=True)
    blend = out / "real_clip.blend"
    code = batch.main([
        "--iterations", str(args.iterations),
        "--input", str(CLIP / "cam01_json"), "--camera", str(CLIP / "calibration.toml"), "--camera-name", "cam_01",
        "--footage", str(CLIP / "cam01.mp4"), "--output", str(blend),
    ])  # fmt: skip
    if code:
        return code
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    scene = bpy.context.scene
    rig = next(o for o in scene.objects if o.type == "ARMATURE")
    print(error_against_triangulation(scene, rig, args.shared))
    pictures = [overlay(scene, rig, CLIP / "cam01.mp4", out, scratch), views_3d(scene, rig, out, scratch)]
    shutil.rmtree(scratch)
    for picture in pictures:
        print(f"wrote {picture}")
        if args.docs is not None:
            args.docs.mkdir(parents=True, exist_ok=True)
            shutil.copy(picture, args.docs / picture.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
