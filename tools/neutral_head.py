"""The neutral head carriage of ``zedo_blender.retarget.NEUTRAL_HEAD``, measured on Human3.6M.

    python tools/neutral_head.py [--h36m ../shared/data/h36m]

For the training subjects (S1, S5, S6, S7, S8; never the test subjects) in upright actions
(walking, directions, greeting, waiting, posing), every 5th frame: the directions thorax -> nose
(the ZeDO rig's Neck bone) and nose -> head top (its Head bone) in the chest frame (x: the body's
left, y: its back, z: up the spine, as the ZeDO rig's Spine bone), their component-wise median,
normalised.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from zedo_core.skeleton import JOINT_NAMES  # noqa: E402

TRAINING = ("S1", "S5", "S6", "S7", "S8")
UPRIGHT = ("Walking", "WalkTogether", "Directions", "Greeting", "Waiting", "Posing")


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def chest_frames(poses: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` chest frames, columns (left, back, up): up along spine -> thorax, left along
    the shoulders made square to it."""
    j = {name: i for i, name in enumerate(JOINT_NAMES)}
    up = _unit(poses[:, j["thorax"]] - poses[:, j["spine"]])
    left = poses[:, j["left_shoulder"]] - poses[:, j["right_shoulder"]]
    left = _unit(left - (left * up).sum(-1, keepdims=True) * up)
    return np.stack([left, np.cross(up, left), up], axis=-1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--h36m", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "h36m")
    args = parser.parse_args(argv)
    j = {name: i for i, name in enumerate(JOINT_NAMES)}
    necks, heads = [], []
    with np.load(args.h36m / "poses3d_world_mm.npz") as data:
        for key in data.files:
            subject, action = key.split("/")
            if subject not in TRAINING or not action.startswith(UPRIGHT):
                continue
            poses = data[key][::5].astype(np.float64)
            to_chest = np.swapaxes(chest_frames(poses), -1, -2)
            necks.append((to_chest @ _unit(poses[:, j["neck"]] - poses[:, j["thorax"]])[..., None])[..., 0])
            heads.append((to_chest @ _unit(poses[:, j["head"]] - poses[:, j["neck"]])[..., None])[..., 0])
    for name, directions in (("Neck", np.concatenate(necks)), ("Head", np.concatenate(heads))):
        median = _unit(np.median(directions, axis=0))
        tilt = np.degrees(np.arccos(median[2]))
        print(f"{name}: {len(directions)} frames, median direction {np.round(median, 3).tolist()} ({tilt:.1f} deg from up)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
