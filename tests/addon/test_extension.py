"""The built extension zip passes Blender's own `extension validate`, installs into a throw-away
user folder, enables, and keys a rig through the add-on's operators, with PyTorch unavailable."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile

from addon.helpers import EXAMPLE, REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import build_extension  # noqa: E402

# Runs in a fresh Blender process. torch is blocked (as in a Blender without it) before anything
# is imported, so the test means the same in environments that have torch installed.
SCRIPT = """
import sys
sys.modules["torch"] = None
import os, bpy, numpy as np
zip_path, example = sys.argv[-2], sys.argv[-1]

# Blender's own `blender --command extension validate` handler (bl_pkg), as the extensions platform runs it.
sys.path.append(os.path.join(os.path.dirname(bpy.utils.system_resource("SCRIPTS")), "scripts", "addons_core"))
sys.path.append(os.path.join(bpy.utils.system_resource("SCRIPTS"), "addons_core"))
from bl_pkg import bl_extension_cli
code = bl_extension_cli.cli_extension_handler(["validate", zip_path])
assert code == 0, f"extension validate exit code {code}"
print("VALIDATE OK")

assert bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True) == {"FINISHED"}
module = "bl_ext.user_default.zedo_pose"
assert module in bpy.context.preferences.addons, list(bpy.context.preferences.addons.keys())
prefs = bpy.context.preferences.addons[module].preferences
assert (prefs.device, prefs.iterations, prefs.hypotheses) == ("auto", 200, 1)
prefs.iterations = 30  # keep the test short; the pipeline is the same
import importlib
engine = importlib.import_module(module + ".engine")
assert engine.core().__name__ == module + ".zedo_core", engine.core().__name__

# The panel workflow through the operators scripts use: a clip, import, auto-map, estimate.
bpy.ops.wm.read_homefile(use_empty=True)  # keeps the preferences (and the enabled extension)
data = np.load(example)
w, h = (int(v) for v in data["image_size"])
image = bpy.data.images.new("footage", width=w, height=h)
image.pixels.foreach_set(np.full(w * h * 4, 0.5, dtype=np.float32))
image.filepath_raw = os.path.join(os.getcwd(), "footage.png")
image.file_format = "PNG"
image.save()
clip = bpy.data.movieclips.load(image.filepath_raw)
scene = bpy.context.scene
scene.zedo.clip = clip
assert bpy.ops.zedo.import_keypoints(filepath=example) == {"FINISHED"}
assert bpy.ops.zedo.auto_map_tracks() == {"FINISHED"}
assert bpy.ops.zedo.estimate_pose() == {"FINISHED"}
rigs = [o for o in bpy.data.objects if o.type == "ARMATURE"]
assert len(rigs) == 1 and rigs[0].animation_data and rigs[0].animation_data.action, "no keyed rig"
frames = set()
action = rigs[0].animation_data.action
curves = action.fcurves if hasattr(action, "fcurves") else [c for layer in action.layers for strip in layer.strips for bag in strip.channelbags for c in bag.fcurves]
for curve in curves:
    frames.update(round(k.co[0]) for k in curve.keyframe_points)
assert len(frames) == len(data["keypoints"]), (len(frames), len(data["keypoints"]))
assert "torch" not in sys.modules or sys.modules["torch"] is None
import addon_utils
addon_utils.disable(module)
assert not hasattr(bpy.types.Scene, "zedo")
print("EXTENSION OK", bpy.app.version_string, sys.version.split()[0])
"""


def test_manifest_is_valid_and_platform_independent():
    manifest = tomllib.loads((REPO_ROOT / "blender_manifest.toml").read_text())
    assert manifest["blender_version_min"] == "4.2.0" and manifest["type"] == "add-on"
    assert "platforms" not in manifest and "wheels" not in manifest
    assert all(len(text) <= 64 for text in manifest["permissions"].values())


def test_zip_is_small_and_holds_the_engine_and_prior(tmp_path):
    archive = build_extension.build(tmp_path / "zedo_pose.zip")
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"blender_manifest.toml", "__init__.py", "zedo_core/__init__.py", "zedo_core/assets/prior.npz"} <= names
    assert "zedo_core/assets/prior.npz.sha256" in names
    assert not any(name.endswith((".whl", ".pt")) for name in names)
    assert archive.stat().st_size < 16e6
    # Reproducible: the same sources give the same bytes.
    again = build_extension.build(tmp_path / "again.zip")
    assert again.read_bytes() == archive.read_bytes()


def test_built_extension_validates_installs_and_estimates_without_torch(tmp_path):
    archive = build_extension.build(tmp_path / "zedo_pose.zip")
    script = tmp_path / "install.py"
    script.write_text(SCRIPT)
    # A throw-away Blender user folder, so the user's own extensions are neither used nor touched.
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"), OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    process = subprocess.run(
        [sys.executable, str(script), str(archive), str(EXAMPLE)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )
    output = process.stdout[-3000:] + process.stderr[-3000:]
    assert "VALIDATE OK" in process.stdout, output
    assert "EXTENSION OK" in process.stdout, output
