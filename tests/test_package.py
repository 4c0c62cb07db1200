"""The package's import surface: public names resolve, and the torch-free parts load without torch."""

from __future__ import annotations

import subprocess
import sys

import zedo_core


def test_every_public_name_resolves():
    for name in zedo_core.__all__:
        assert getattr(zedo_core, name) is not None
    assert set(dir(zedo_core)) >= set(zedo_core.__all__)


def test_file_and_layout_modules_do_not_import_torch():
    code = (
        "import sys, zedo_core.layouts, zedo_core.keypoint_files, zedo_core.joint_names, zedo_core.skeleton\n"
        "import zedo_core.camera_files, zedo_core.distortion\n"
        "import zedo_core\n"
        "zedo_core.to_h36m, zedo_core.read_keypoints, zedo_core.match_joint, zedo_core.read_camera\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
