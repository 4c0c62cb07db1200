"""Shared fixtures: a tiny in-memory prior, the shipped prior, synthetic cameras, Human3.6M data."""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # test this checkout's zedo_core and training, however pytest is started

from zedo_core.inputs import InputError
from zedo_core.network import NetworkConfig, ScoreNetwork
from zedo_core.prior import PosePrior, load_prior
from zedo_core.sde import SubVPSDE

try:  # torch is optional (training, the CUDA path); the engine's tests run without it
    import torch
except ImportError:
    torch = None
else:
    # The tests' tensors are tiny: one thread is as fast, and it avoids OpenMP threads spinning
    # against any other busy process on small machines (10-50x slower with 2 threads next to a job).
    torch.set_num_threads(1)

DEFAULT_H36M_DIR = REPO_ROOT.parent / "shared" / "data" / "h36m"
DEFAULT_POSE2SIM_DIR = REPO_ROOT.parent / "shared" / "data" / "pose2sim"

# A standing person facing the camera, arms out (T-pose), pelvis at the origin, metres.
# Camera axes: x right, y down, z forward; facing the camera means the person's right side is on
# the image's left (-x) and the nose points towards the camera (-z).
T_POSE = np.array(
    [
        [0.00, 0.00, 0.00],  # 0 pelvis
        [-0.13, 0.00, 0.00],  # 1 right hip
        [-0.13, 0.43, -0.04],  # 2 right knee
        [-0.13, 0.86, 0.00],  # 3 right ankle
        [0.13, 0.00, 0.00],  # 4 left hip
        [0.13, 0.43, -0.04],  # 5 left knee
        [0.13, 0.86, 0.00],  # 6 left ankle
        [0.00, -0.23, 0.01],  # 7 spine
        [0.00, -0.48, 0.00],  # 8 thorax
        [0.00, -0.56, -0.09],  # 9 neck / nose
        [0.00, -0.68, -0.02],  # 10 head
        [0.15, -0.45, 0.00],  # 11 left shoulder
        [0.42, -0.45, -0.02],  # 12 left elbow
        [0.68, -0.45, -0.05],  # 13 left wrist
        [-0.15, -0.45, 0.00],  # 14 right shoulder
        [-0.42, -0.45, -0.02],  # 15 right elbow
        [-0.68, -0.45, -0.05],  # 16 right wrist
    ]
)

K_SYNTH = np.array([[1100.0, 0.0, 500.0], [0.0, 1100.0, 500.0], [0.0, 0.0, 1.0]])


def _codebook(count: int, seed: int, scale: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    poses = T_POSE[None] + rng.normal(scale=scale, size=(count, 17, 3))
    poses -= poses[:, :1]
    return poses.astype(np.float32)


def random_network(config: NetworkConfig, seed: int = 0) -> ScoreNetwork:
    """A network with PyTorch-like random initial weights (uniform in +-1/sqrt(fan_in)), seeded."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in config.parameter_shapes().items():
        if name == "input_mean" or (".norm" in name or "out_norm" in name) and name.endswith("bias"):
            value = np.zeros(shape)
        elif name == "input_std" or (".norm" in name or "out_norm" in name) and name.endswith("weight"):
            value = np.ones(shape)
        else:
            fan_in = shape[1] if len(shape) == 2 else config.parameter_shapes()[name.replace("bias", "weight")][1]
            value = rng.uniform(-1.0, 1.0, size=shape) / math.sqrt(fan_in)
        params[name] = value.astype(np.float32)
    return ScoreNetwork(config, params)


TINY_NETWORK = NetworkConfig(width=64, num_blocks=1, time_embedding_dim=32, groups=8)


def make_tiny_prior() -> PosePrior:
    initial = {
        1: T_POSE[None].astype(np.float32),
        10: _codebook(10, seed=10),
        50: _codebook(50, seed=50),
        200: _codebook(200, seed=200),
    }
    return PosePrior(members=[random_network(TINY_NETWORK)], sde=SubVPSDE(), initial_poses=initial, metadata={"note": "test prior"})


@pytest.fixture
def tiny_prior() -> PosePrior:
    return make_tiny_prior()


@pytest.fixture
def tiny_prior_file(tmp_path: Path) -> Path:
    return make_tiny_prior().save(tmp_path / "tiny_prior.npz")


@pytest.fixture(scope="session")
def shipped_prior() -> PosePrior:
    return load_prior(device="cpu")


def one_line_input_error(call, *args) -> str:
    """The InputError ``call(*args)`` raises; fails on any other exception or a multi-line message."""
    with pytest.raises(InputError) as info:
        call(*args)
    message = str(info.value)
    assert message and "\n" not in message, message
    return message


def rotation_y(angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    return np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])


def project_np(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ np.swapaxes(K, -1, -2)
    return uvw[..., :2] / uvw[..., 2:3]


def synthetic_camera_data(n_frames: int = 3, seed: int = 0):
    """``(poses3d (N,17,3) metres camera frame, K (3,3), keypoints (N,17,2))``: the T-pose turned
    about the vertical, slightly perturbed, 4-5 m in front of the camera, and its exact projection."""
    rng = np.random.default_rng(seed)
    poses = []
    for i in range(n_frames):
        pose = T_POSE @ rotation_y(20.0 * i - 15.0).T + rng.normal(scale=0.02, size=(17, 3))
        pose -= pose[:1]
        translation = np.array([rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2), rng.uniform(4.0, 5.0)])
        poses.append(pose + translation)
    poses3d = np.stack(poses)
    return poses3d, K_SYNTH.copy(), project_np(poses3d, K_SYNTH)


@pytest.fixture
def camera_data():
    """Factory ``camera_data(n_frames=3, seed=0)`` -> ``(poses3d, K, keypoints)``; see
    :func:`synthetic_camera_data`."""
    return synthetic_camera_data


@pytest.fixture(scope="session")
def h36m_dir() -> Path:
    """The shared Human3.6M folder (``ZEDO_H36M`` overrides); skips the test when it is absent."""
    path = Path(os.environ.get("ZEDO_H36M", DEFAULT_H36M_DIR)).resolve()
    if not (path / "poses3d_world_mm.npz").is_file():
        pytest.skip(f"Human3.6M data not found at {path}; set ZEDO_H36M to the folder holding poses3d_world_mm.npz")
    return path


@pytest.fixture(scope="session")
def pose2sim_dir() -> Path:
    """The shared Pose2Sim clip (``ZEDO_POSE2SIM`` overrides); skips the test when it is absent."""
    path = Path(os.environ.get("ZEDO_POSE2SIM", DEFAULT_POSE2SIM_DIR)).resolve()
    if not (path / "calibration.toml").is_file():
        pytest.skip(f"Pose2Sim data not found at {path}; set ZEDO_POSE2SIM to the folder holding calibration.toml")
    return path
