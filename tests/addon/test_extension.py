"""The built extension zip installs and enables in headless Blender (a fresh process and user folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile

from addon.helpers import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "tools"))
import build_extension  # noqa: E402

INSTALL_SCRIPT = """
import sys, bpy
zip_path = sys.argv[-1]
assert bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True) == {"FINISHED"}
module = "bl_ext.user_default.zedo_pose"
assert module in bpy.context.preferences.addons, list(bpy.context.preferences.addons.keys())
prefs = bpy.context.preferences.addons[module].preferences
assert (prefs.device, prefs.iterations, prefs.hypotheses) == ("auto", 200, 1)
assert hasattr(bpy.ops.zedo, "estimate_pose") and hasattr(bpy.types, "ZEDO_PT_clip_estimate")
import importlib
engine = importlib.import_module(module + ".engine")
assert engine.core().__name__ == module + ".zedo_core", engine.core().__name__
engine.load_prior("cpu")  # the shipped weights inside the extension
import addon_utils
addon_utils.disable(module)
assert not hasattr(bpy.types.Scene, "zedo")
print("EXTENSION OK")
"""


def test_manifest_with_wheels_is_valid_toml():
    text = build_extension.manifest_text("linux-x64", ["torch-2.13.0-cp311-none-manylinux_2_28_x86_64.whl"])
    manifest = tomllib.loads(text)
    assert manifest["platforms"] == ["linux-x64"] and manifest["wheels"][0].startswith("./wheels/torch")
    assert manifest["blender_version_min"] == "4.2.0" and manifest["type"] == "add-on"
    assert "files" in manifest["permissions"]


def test_built_extension_installs_and_enables(tmp_path):
    archive = build_extension.build(tmp_path / "zedo_pose.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert {"blender_manifest.toml", "__init__.py", "zedo_core/__init__.py", "zedo_core/assets/prior.pt"} <= set(names)
    script = tmp_path / "install.py"
    script.write_text(INSTALL_SCRIPT)
    # A throw-away Blender user folder, so the user's own extensions are neither used nor touched.
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"), OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)
    process = subprocess.run(
        [sys.executable, str(script), str(archive)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert "EXTENSION OK" in process.stdout, process.stdout[-2000:] + process.stderr[-2000:]
