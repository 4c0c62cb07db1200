"""A Rigify rig as a user makes one: the human metarig, "Generate Rig", saved to a .blend.

    python tools/rigify_rig.py OUT.blend

Needs the ``bpy`` module (Rigify ships with Blender). The file holds the metarig and the
generated rig (object "rig"), as after the usual workflow; the retargeting tests and
``benchmarks/retarget.py`` use it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import bpy


def make_rigify_rig(path: Path) -> Path:
    """Generate a Rigify rig from the human metarig into ``path`` (the current file is replaced
    by an empty one first); returns ``path``."""
    import addon_utils  # Blender's, importable once bpy is

    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("rigify", default_set=True)
    try:
        bpy.ops.object.armature_human_metarig_add()
        bpy.ops.pose.rigify_generate()
    finally:
        addon_utils.disable("rigify", default_set=True)
        # Rigify 5.0 leaves a load_post handler behind that fails on every later file load.
        for handler in list(bpy.app.handlers.load_post):
            if getattr(handler, "__module__", "").startswith("rigify"):
                bpy.app.handlers.load_post.remove(handler)
    rig = bpy.data.objects.get("rig")
    if rig is None or rig.type != "ARMATURE":
        raise RuntimeError("Rigify did not generate an armature named 'rig'")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bpy.ops.wm.save_as_mainfile(filepath=str(path.resolve()), copy=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path, help=".blend to write")
    args = parser.parse_args(argv)
    make_rigify_rig(args.output)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Blender 4.5's bpy module can hang in its own shutdown after Rigify generated a rig.
    os._exit(code)
