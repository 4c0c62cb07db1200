"""Fixtures for the add-on tests: real headless Blender (the PyPI ``bpy`` module)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

bpy = pytest.importorskip("bpy", reason="the bpy module (headless Blender) is not installed: make test installs it")

from addon.helpers import EXAMPLE  # noqa: E402


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


@pytest.fixture(scope="session")
def example():
    with np.load(EXAMPLE) as data:
        return {k: data[k] for k in data.files}


# Blender 4.5's bpy module can hang in its own shutdown after Rigify has generated a rig (never on
# 5.x). The report is complete by then, so the process ends at once with pytest's exit status.
_exit_status = None


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


def pytest_unconfigure(config):
    if _exit_status is not None and bpy.app.version < (5, 0, 0):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
