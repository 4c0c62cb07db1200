"""Picture of a converted clip: the rig, seen through the created camera, over the 2D keypoints.

    python examples/render_overlay.py IN.npz OUT.blend OUT.png [--panels 6]

Opens OUT.blend (written by ``zedo_blender.batch``), projects the rig's joints through the scene
camera at a few frames and draws them over the input keypoints (zoomed on the person): green dots are
the input, orange bones the rig. Drawn with numpy and saved with Blender's image writer (no GPU needed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bpy
import numpy as np
from bpy_extras.object_utils import world_to_camera_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zedo_blender.skeleton import BONES  # noqa: E402

PANEL_SIZE = 360
KEYPOINT_COLOUR = np.array([0.2, 0.9, 0.3])
BONE_COLOUR = np.array([1.0, 0.55, 0.1])


def _stamp(canvas: np.ndarray, points: np.ndarray, radius: float, colour: np.ndarray) -> None:
    h, w, _ = canvas.shape
    r = int(np.ceil(radius))
    offsets = np.array([(dx, dy) for dx in range(-r, r + 1) for dy in range(-r, r + 1) if dx * dx + dy * dy <= radius * radius])
    for x, y in np.round(points).astype(int):
        xs, ys = x + offsets[:, 0], y + offsets[:, 1]
        keep = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        canvas[ys[keep], xs[keep]] = colour


def _line(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, radius: float, colour: np.ndarray) -> None:
    steps = max(2, int(np.linalg.norm(b - a) / 0.5))
    _stamp(canvas, a + np.linspace(0, 1, steps)[:, None] * (b - a), radius, colour)


def rig_joints_px(scene, rig, camera, frame: int) -> np.ndarray:
    """``(17, 2)`` pixel positions (origin top-left) of the rig's joints at ``frame``."""
    scene.frame_set(frame)
    width, height = scene.render.resolution_x, scene.render.resolution_y
    joints = np.zeros((17, 2))
    for bone in BONES:
        pose_bone = rig.pose.bones[bone.name]
        for joint, point in ((bone.head, pose_bone.head), (bone.tail, pose_bone.tail)):
            co = world_to_camera_view(scene, camera, rig.matrix_world @ point)
            joints[joint] = co.x * width, (1.0 - co.y) * height
    return joints


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path)
    parser.add_argument("blend", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--panels", type=int, default=6)
    args = parser.parse_args(argv)

    with np.load(args.input) as data:
        keypoints, confidence = data["keypoints"], data["confidence"] if "confidence" in data else None
    bpy.ops.wm.open_mainfile(filepath=str(args.blend))
    scene = bpy.context.scene
    rig = next(o for o in scene.objects if o.type == "ARMATURE")
    camera = scene.camera
    columns = 3
    rows = -(-args.panels // columns)
    canvas = np.full((rows * PANEL_SIZE, columns * PANEL_SIZE, 3), 0.12)
    frames = np.linspace(0, len(keypoints) - 1, args.panels).round().astype(int)
    errors = []
    for k, index in enumerate(frames):
        top, left = (k // columns) * PANEL_SIZE, (k % columns) * PANEL_SIZE
        panel = canvas[top : top + PANEL_SIZE, left : left + PANEL_SIZE]
        panel[:2], panel[:, :2] = 0.3, 0.3
        rig_px = rig_joints_px(scene, rig, camera, scene.frame_start + int(index))
        seen = np.isfinite(keypoints[index]).all(1) & (confidence[index] > 0 if confidence is not None else True)
        errors.append(np.linalg.norm(rig_px[seen] - keypoints[index][seen], axis=1))
        # Zoom on the person: a square around the keypoints and the rig, with a margin.
        points = np.concatenate([keypoints[index][seen], rig_px])
        centre = 0.5 * (points.min(0) + points.max(0))
        side = 1.25 * (points.max(0) - points.min(0)).max()
        to_panel = lambda xy: (xy - centre + side / 2) * (PANEL_SIZE / side)  # noqa: E731
        for bone in BONES:
            _line(panel, to_panel(rig_px[bone.head]), to_panel(rig_px[bone.tail]), 2.5, BONE_COLOUR)
        _stamp(panel, to_panel(keypoints[index][seen]), 3.5, KEYPOINT_COLOUR)
    image = bpy.data.images.new("overlay", width=canvas.shape[1], height=canvas.shape[0])
    rgba = np.concatenate([canvas[::-1], np.ones(canvas.shape[:2] + (1,))], axis=2)  # Blender rows go bottom-up
    image.pixels.foreach_set(rgba.astype(np.float32).ravel())
    args.png.parent.mkdir(parents=True, exist_ok=True)
    image.filepath_raw = str(args.png.resolve())
    image.file_format = "PNG"
    image.save()
    all_errors = np.concatenate(errors)
    print(f"wrote {args.png}: rig vs keypoints at {len(frames)} frames: {all_errors.mean():.1f} px mean, {all_errors.max():.1f} px max")
    return 0


if __name__ == "__main__":
    sys.exit(main())
