"""The picture of docs/retargeting.md: the ZeDO rig and the Rigify rig it was retargeted onto.

    python tools/render_retarget_picture.py OUT.blend docs/retarget.png [--frames 8 30 52 74]

OUT.blend comes from ``python -m zedo_blender.batch ... --retarget-to RIGIFY.blend``. At each
frame the ZeDO rig (orange, its 14 bones) stands on the left and the Rigify rig (blue, its deform
bones: what a character mesh follows) on the right, each centred on its own pelvis, on a grey
floor. Rendered with Cycles on the CPU (no GPU needed), as sticks and balls built from the
evaluated bones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import bpy
import bmesh  # noqa: I001  (Blender's, importable once bpy is)
import numpy as np
from mathutils import Matrix, Vector

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zedo_blender.skeleton import BONE_NAMES  # noqa: E402

RIGIFY_BODY = ("spine", "shoulder", "upper_arm", "forearm", "hand", "thigh", "shin", "foot", "toe", "palm", "f_", "thumb")
ORANGE, BLUE = (1.0, 0.45, 0.08, 1.0), (0.15, 0.45, 1.0, 1.0)


def _material(name: str, colour) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    principled = material.node_tree.nodes["Principled BSDF"]
    principled.inputs["Base Color"].default_value = colour
    principled.inputs["Roughness"].default_value = 0.5
    return material


def _segments(rig, names) -> list[tuple[np.ndarray, np.ndarray, float]]:
    out = []
    for name in names:
        pose = rig.pose.bones[name]
        head, tail = np.array(rig.matrix_world @ pose.head), np.array(rig.matrix_world @ pose.tail)
        out.append((head, tail, 0.018 if any(k in name for k in ("f_", "thumb", "palm")) else 0.03))
    return out


def _stick_mesh(name: str, segments, offset: np.ndarray, material) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    for head, tail, radius in segments:
        head, tail = head + offset, tail + offset
        vector = Vector(tail - head)
        if vector.length < 1e-6:
            continue
        rotation = vector.to_track_quat("Z", "Y").to_matrix().to_4x4()
        centre = Matrix.Translation(Vector((head + tail) / 2))
        bmesh.ops.create_cone(bm, cap_ends=True, segments=12, radius1=radius, radius2=radius * 0.7, depth=vector.length,
                              matrix=centre @ rotation)
        for point in (head, tail):
            bmesh.ops.create_uvsphere(bm, u_segments=12, v_segments=8, radius=radius * 1.15,
                                      matrix=Matrix.Translation(Vector(point)))
    bm.to_mesh(mesh)
    bm.free()
    for polygon in mesh.polygons:
        polygon.use_smooth = True
    obj = bpy.data.objects.new(name, mesh)
    obj.data.materials.append(material)
    return obj


def render(blend: Path, output: Path, frames: list[int], samples: int = 24) -> None:
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    armatures = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    zedo = next(o for o in armatures if all(n in o.data.bones for n in BONE_NAMES))
    rigify = next(o for o in armatures if "DEF-upper_arm.L" in o.data.bones)
    rigify_bones = [b.name for b in rigify.data.bones if b.name.startswith("DEF-") and any(k in b.name for k in RIGIFY_BODY)]
    scene = bpy.context.scene
    sticks = []
    for i, frame in enumerate(frames):
        scene.frame_set(frame)
        for rig, names, colour, side in ((zedo, BONE_NAMES, ORANGE, -0.45), (rigify, rigify_bones, BLUE, 0.45)):
            segments = _segments(rig, names)
            pelvis = np.array(rig.matrix_world @ rig.pose.bones[names[0]].head)
            offset = np.array([2.1 * i + side - pelvis[0], -pelvis[1], 0.0])
            sticks.append((f"{rig.name} {frame}", segments, offset, colour))
    # A fresh scene with only the sticks, a floor, a camera and lights.
    picture = bpy.data.scenes.new("retarget picture")
    materials = {ORANGE: _material("ZeDO", ORANGE), BLUE: _material("Rigify", BLUE)}
    for name, segments, offset, colour in sticks:
        picture.collection.objects.link(_stick_mesh(name, segments, offset, materials[colour]))
    width = 2.1 * len(frames)
    bpy.ops.mesh.primitive_plane_add(size=1.0)
    floor = bpy.context.object
    bpy.context.scene.collection.objects.unlink(floor)
    picture.collection.objects.link(floor)
    floor.scale = (width + 2.0, 6.0, 1.0)
    floor.location = (width / 2 - 1.05, 1.0, 0.0)
    floor.data.materials.append(_material("floor", (0.8, 0.8, 0.8, 1.0)))
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.data.type = "ORTHO"
    camera.data.ortho_scale = width + 0.3
    camera.location = (width / 2 - 1.05, -9.0, 2.2)
    camera.rotation_euler = (np.radians(82), 0.0, 0.0)
    picture.collection.objects.link(camera)
    picture.camera = camera
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 3.0
    sun.rotation_euler = (np.radians(40), np.radians(-25), np.radians(-20))
    picture.collection.objects.link(sun)
    picture.world = bpy.data.worlds.new("sky")
    picture.world.use_nodes = True
    picture.world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.9, 0.92, 0.95, 1.0)
    picture.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.8
    picture.render.engine = "CYCLES"
    picture.cycles.device = "CPU"
    picture.cycles.samples = samples
    picture.cycles.use_denoising = True  # OpenImageDenoise on the CPU: smooth, and a small PNG
    picture.render.resolution_x, picture.render.resolution_y = 1400, int(1400 * 2.3 / (width + 0.3))
    picture.render.film_transparent = False
    picture.render.filepath = str(output.resolve())
    picture.render.image_settings.file_format = "PNG"
    picture.render.image_settings.color_mode = "RGB"
    picture.render.image_settings.compression = 100
    output.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.render.render(write_still=True, scene=picture.name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("blend", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 30, 52, 74])
    parser.add_argument("--samples", type=int, default=24)
    args = parser.parse_args(argv)
    render(args.blend, args.output, args.frames, args.samples)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
