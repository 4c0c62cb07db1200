"""The package's import surface: public names resolve, and the engine loads and lifts without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import zedo_core

REPO_ROOT = Path(__file__).resolve().parents[1]

# Lifts two frames of the bundled example with the shipped prior, numpy backend.
_LIFT_EXAMPLE = (
    "import numpy as np\n"
    "d = np.load('examples/walking_example.npz')\n"
    "config = zedo_core.LiftConfig(iterations=2)\n"
    "result = zedo_core.lift(prior, d['keypoints'][:2], d['K'], d['confidence'][:2], config=config)\n"
    "assert np.isfinite(result.poses3d).all() and result.poses3d.shape == (2, 17, 3)\n"
)

# As if torch were not installed: the path finder no longer sees it, so ``import torch`` raises
# ModuleNotFoundError and ``importlib.util.find_spec("torch")`` is None (a ``None`` entry in
# sys.modules would instead break scipy, which looks torch up there).
_HIDE_TORCH = (
    "import sys\n"
    "class HideTorch:\n"
    "    def __init__(self, finder):\n"
    "        self.finder = finder\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == 'torch' or name.startswith('torch.'):\n"
    "            return None\n"
    "        return self.finder.find_spec(name, path, target)\n"
    "sys.meta_path[:] = [HideTorch(f) if getattr(f, '__name__', '') == 'PathFinder' else f for f in sys.meta_path]\n"
    "try:\n"
    "    import torch\n"
    "except ModuleNotFoundError:\n"
    "    pass\n"
    "else:\n"
    "    raise AssertionError('torch is still importable')\n"
)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)


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
        "assert sys.modules.get('torch') is None, 'torch was imported'\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr


def test_lifting_on_the_cpu_does_not_import_torch():
    """Even where torch is installed, the numpy backend never imports it (Blender's Python may
    hold a torch that does not work)."""
    code = (
        "import sys, zedo_core\n"
        "prior = zedo_core.load_prior(device='cpu')\n"
        "assert prior.backend == 'numpy' and prior.device == 'cpu'\n"
        + _LIFT_EXAMPLE
        + "assert sys.modules.get('torch') is None, 'torch was imported'\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr


def test_the_engine_works_where_torch_cannot_be_imported():
    """``import torch`` fails (as in Blender without wheels): the shipped prior loads with the
    default device, lifts, and asking for CUDA says PyTorch is missing in one line."""
    code = (
        _HIDE_TORCH
        + "import zedo_core\n"
        "from zedo_core.prior import resolve_device\n"
        "prior = zedo_core.load_prior()\n"
        "assert prior.backend == 'numpy' and prior.device == 'cpu', (prior.backend, prior.device)\n"
        + _LIFT_EXAMPLE
        + "try:\n"
        "    resolve_device('cuda')\n"
        "except RuntimeError as exc:\n"
        "    assert 'PyTorch is not installed' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('cuda without torch did not raise')\n"
    )
    done = _run(code)
    assert done.returncode == 0, done.stderr
