"""Summarise a lifted clip: reprojection error, and the 3D error when the input carries the truth.

    python examples/show_result.py IN.npz OUT.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's zedo_core, installed or not

from zedo_core import JOINT_NAMES, mpjpe, pa_mpjpe  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source, lifted = np.load(argv[0]), np.load(argv[1])
    poses = lifted["poses3d"]
    valid = np.isfinite(poses).all(axis=(1, 2))
    print(f"{len(poses)} frames, {valid.sum()} lifted, {lifted['hypotheses'].shape[1]} hypothesis(es)")
    print(f"reprojection error: mean {np.nanmean(lifted['reprojection_error_px']):.2f} px")
    pelvis = poses[valid, 0]
    print(f"pelvis depth: {pelvis[:, 2].min():.2f} .. {pelvis[:, 2].max():.2f} m from the camera")
    height = np.linalg.norm(poses[valid, 10] - (poses[valid, 3] + poses[valid, 6]) / 2, axis=-1)
    print(f"head-to-ankles: median {np.median(height):.2f} m")
    if "true_poses3d" in source.files:
        truth = source["true_poses3d"][valid]
        print(f"against the synthetic truth: MPJPE {1000 * mpjpe(poses[valid], truth).mean():.1f} mm, "
              f"PA-MPJPE {1000 * pa_mpjpe(poses[valid], truth).mean():.1f} mm, "
              f"root position error {1000 * np.linalg.norm(poses[valid, 0] - truth[:, 0], axis=-1).mean():.0f} mm")
    first = np.flatnonzero(valid)[0] if valid.any() else None
    if first is not None:
        print(f"\nframe {first} (metres, camera frame: x right, y down, z forward)")
        for name, joint in zip(JOINT_NAMES, poses[first]):
            print(f"  {name:<15}{joint[0]:>7.3f}{joint[1]:>7.3f}{joint[2]:>7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
