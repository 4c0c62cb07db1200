"""Helpers shared by the add-on tests (imported by name: pytest's conftest modules are not)."""

from __future__ import annotations

from pathlib import Path

import bpy
from mathutils import Matrix, Vector
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "walking_example.npz"


def make_clip(directory: Path, size: tuple[int, int], name: str = "footage") -> "bpy.types.MovieClip":
    """A movie clip from a single grey PNG of ``size`` (w, h)."""
    image = bpy.data.images.new(name, width=size[0], height=size[1])
    image.pixels.foreach_set(np.full(size[0] * size[1] * 4, 0.5, dtype=np.float32))
    path = directory / f"{name}.png"
    image.filepath_raw = str(path)
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)
    return bpy.data.movieclips.load(str(path))


def data_counts() -> dict[str, int]:
    """How many of each kind of data-block the file holds (to prove nothing was added)."""
    kinds = ("objects", "armatures", "actions", "cameras", "collections", "movieclips")
    return {kind: len(getattr(bpy.data, kind)) for kind in kinds}


# A character unlike the ZeDO rig: 1.6 m, A-pose (arms 45 degrees down), elbows and knees slightly
# bent, in world metres (Z up, facing -Y). name: (parent, head, tail).
A_POSE_BONES = {
    "Hips": (None, (0.0, 0.0, 0.88), (0.0, 0.0, 1.0)),
    "Spine": ("Hips", (0.0, 0.0, 1.0), (0.0, 0.0, 1.12)),
    "Spine1": ("Spine", (0.0, 0.0, 1.12), (0.0, 0.0, 1.24)),
    "Spine2": ("Spine1", (0.0, 0.0, 1.24), (0.0, 0.0, 1.36)),
    "Neck": ("Spine2", (0.0, 0.0, 1.36), (0.0, -0.01, 1.46)),
    "Head": ("Neck", (0.0, -0.01, 1.46), (0.0, -0.01, 1.60)),
    "LeftShoulder": ("Spine2", (0.03, 0.0, 1.33), (0.16, 0.0, 1.33)),
    "LeftArm": ("LeftShoulder", (0.16, 0.0, 1.33), (0.351, 0.01, 1.139)),
    "LeftForeArm": ("LeftArm", (0.351, 0.01, 1.139), (0.52, -0.06, 0.97)),
    "LeftHand": ("LeftForeArm", (0.52, -0.06, 0.97), (0.57, -0.08, 0.92)),
    "LeftUpLeg": ("Hips", (0.09, 0.0, 0.86), (0.09, -0.02, 0.47)),
    "LeftLeg": ("LeftUpLeg", (0.09, -0.02, 0.47), (0.09, 0.0, 0.08)),
    "LeftFoot": ("LeftLeg", (0.09, 0.0, 0.08), (0.09, -0.12, 0.02)),
}
A_POSE_BONES.update(
    {
        name.replace("Left", "Right"): (
            parent.replace("Left", "Right"), (-head[0], head[1], head[2]), (-tail[0], tail[1], tail[2])
        )
        for name, (parent, head, tail) in list(A_POSE_BONES.items())
        if name.startswith("Left")
    }
)
UNREAL_NAMES = {
    "Hips": "pelvis", "Spine": "spine_01", "Spine1": "spine_02", "Spine2": "spine_03", "Neck": "neck_01", "Head": "head",
    "LeftShoulder": "clavicle_l", "LeftArm": "upperarm_l", "LeftForeArm": "lowerarm_l", "LeftHand": "hand_l",
    "LeftUpLeg": "thigh_l", "LeftLeg": "calf_l", "LeftFoot": "foot_l",
}
UNREAL_NAMES.update({k.replace("Left", "Right"): v[:-2] + "_r" for k, v in list(UNREAL_NAMES.items()) if k.startswith("Left")})


def make_a_pose_rig(name: str = "character", rename=lambda n: "mixamorig:" + n, fbx_axes: bool = True, seed: int = 0):
    """An armature with :data:`A_POSE_BONES` named by ``rename``, every bone rolled at random, and
    (``fbx_axes``) the object turned 90 degrees about X and scaled 0.01 with bones in centimetres,
    as Blender imports a Mixamo FBX. The forearms' tails point sideways, away from the hands (as
    FBX bone orientations often do): only the bone map's ends say where the forearm ends."""
    rng = np.random.default_rng(seed)
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    world = Matrix.Rotation(np.pi / 2, 4, "X") @ Matrix.Scale(0.01, 4) if fbx_axes else Matrix.Identity(4)
    obj.matrix_world = world
    to_local = world.inverted()
    view_layer = bpy.context.view_layer
    view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    for bone, (parent, head, tail) in A_POSE_BONES.items():
        edit = data.edit_bones.new(rename(bone))
        edit.head = to_local @ Vector(head)
        if bone.endswith("ForeArm"):
            tail = np.array(head) + np.array([0.0, 0.0, 0.12])  # pointing up, not at the hand
        edit.tail = to_local @ Vector(tail)
        edit.roll = float(rng.uniform(-np.pi, np.pi))
        if parent:
            edit.parent = data.edit_bones[rename(parent)]
    bpy.ops.object.mode_set(mode="OBJECT")
    return obj


ICONS = {item.identifier for item in bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items}


class RecordingLayout:
    """Stands in for ``UILayout`` in background mode; checks every property the panel draws exists
    and records what is drawn: ``label TEXT`` / ``prop NAME`` entries in ``log``, each label's icon
    in ``icons`` and the names of properties drawn greyed out (``active = False``) in ``inactive``."""

    def __init__(self, log: list[str], icons: dict | None = None, inactive: set | None = None, parent=None) -> None:
        object.__setattr__(self, "log", log)
        object.__setattr__(self, "icons", {} if icons is None else icons)
        object.__setattr__(self, "inactive", set() if inactive is None else inactive)
        object.__setattr__(self, "parent", parent)
        object.__setattr__(self, "active", True)

    def _is_active(self) -> bool:
        return self.active and (self.parent is None or self.parent._is_active())

    def _check(self, data, name: str, icon: str = "NONE") -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        assert icon in ICONS, f"no icon {icon!r}"

    def prop(self, data, name, icon="NONE", **kwargs):
        self._check(data, name, icon)
        self.log.append(f"prop {name}")
        if not self._is_active():
            self.inactive.add(name)

    def prop_search(self, data, name, search_data, search_name, icon="NONE", **kwargs):
        self._check(data, name, icon)
        self._check(search_data, search_name)
        self.log.append(f"prop_search {name}" + (f" {kwargs['text']}" if "text" in kwargs else ""))

    def template_ID(self, data, name, **kwargs):
        self._check(data, name)

    def operator(self, idname, icon="NONE", **kwargs):
        assert icon in ICONS, f"no icon {icon!r}"
        module, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, module), name), idname
        self.log.append(f"operator {idname}")

    def label(self, text="", icon="NONE", **kwargs):
        assert icon in ICONS, f"no icon {icon!r}"
        self.log.append(f"label {text}")
        self.icons[text] = icon

    def progress(self, **kwargs):
        self.log.append("progress")

    def __getattr__(self, name):  # row(), column(), box(), split()...: nested layouts
        return lambda *args, **kwargs: RecordingLayout(self.log, self.icons, self.inactive, self)

    def __setattr__(self, name, value):
        object.__setattr__(self, name, value)


def draw_panel(draw=None):
    """Draw a panel body (default: the estimate panel) on a :class:`RecordingLayout`:
    ``(log, icons, inactive)``."""
    from zedo_blender import ui

    log: list[str] = []
    layout = RecordingLayout(log)
    (draw or ui.draw_estimate_ui)(layout, bpy.context)
    return log, layout.icons, layout.inactive
