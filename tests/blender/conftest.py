"""Fixtures for the add-on tests: real headless Blender (the PyPI ``bpy`` module)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module (headless Blender) is not installed: pip install bpy")

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = REPO_ROOT / "examples" / "walking_example.npz"


@pytest.fixture(scope="session")
def addon():
    """The add-on, registered once for the session (as Blender does when it is enabled)."""
    import zedo_blender

    zedo_blender.register()
    yield zedo_blender
    zedo_blender.unregister()


@pytest.fixture
def empty_scene(addon):
    """A factory-fresh empty scene for each test."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


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


@pytest.fixture(scope="session")
def example():
    with np.load(EXAMPLE) as data:
        return {k: data[k] for k in data.files}
