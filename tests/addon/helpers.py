"""Helpers shared by the add-on tests (imported by name: pytest's conftest modules are not)."""

from __future__ import annotations

from pathlib import Path

import bpy
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
