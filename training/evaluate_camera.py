"""What real footage costs: an unknown focal length, and metric scale from the actor's height.

    python -m training.evaluate_camera [--subjects S9 S11] [--fov 40 50 60 70] [--json reports/eval_camera.json]

On every ``--stride``-th frame (ground-truth 2D, one hypothesis, default settings):

- **Unknown focal length**: lift with the true intrinsics and with intrinsics guessed from a
  horizontal field of view (principal point at the image centre), for each ``--fov``; reports
  MPJPE / PA-MPJPE, the guessed focal length's error against the true one, and the two cues a
  focal-length search could use without ground truth: the reprojection error after the loop and
  the spread of bone lengths over each video.
- **Metric scale**: the absolute pelvis position error (mm, camera frame) and its depth component,
  without a height (the prior's average body) and with each subject's true standing height
  (measured on its ground-truth skeleton with :func:`zedo_core.scale.standing_height`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from training.evaluate import build_samples
from training.h36m import TEST_SUBJECTS, load_cameras, load_poses
from zedo_core import LiftConfig, lift, load_prior
from zedo_core.intrinsics import intrinsics_from_fov
from zedo_core.metrics import mpjpe, pa_mpjpe
from zedo_core.scale import scale_to_height, standing_height
from zedo_core.skeleton import PARENTS


def _mm(values: np.ndarray) -> float:
    return round(float(np.mean(values)) * 1000.0, 1)


def _bone_spread(poses: np.ndarray, keys: list[str]) -> float:
    """Mean over videos and bones of the bone length's coefficient of variation across frames."""
    keys = np.array(keys)
    spreads = []
    for key in np.unique(keys):
        clip = poses[keys == key]
        lengths = np.stack([np.linalg.norm(clip[:, j] - clip[:, p], axis=-1) for j, p in enumerate(PARENTS) if p >= 0], 1)
        if len(clip) > 1:
            spreads.append(np.mean(lengths.std(0) / lengths.mean(0)))
    return float(np.mean(spreads))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--prior", default=None, help="prior file (default: the shipped one)")
    parser.add_argument("--subjects", nargs="+", default=list(TEST_SUBJECTS))
    parser.add_argument("--stride", type=int, default=640)
    parser.add_argument("--fov", type=float, nargs="+", default=[60.0], help="guessed horizontal fields of view (degrees)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    prior = load_prior(args.prior, device="cpu")
    samples = build_samples(args.data, "gt", args.stride, subjects=tuple(args.subjects))
    cameras = load_cameras(args.data)
    sizes = {f"{s}/{c}": (cam.width, cam.height) for s, cams in cameras.items() for c, cam in cams.items()}
    image_size = np.array([sizes[f"{k.split('/')[0]}/{k.split('/')[2]}"] for k in samples.keys], dtype=np.float64)
    config = LiftConfig()
    report: dict = {"subjects": args.subjects, "frames": len(samples.keys), "stride": args.stride}

    started = time.time()
    known = lift(prior, samples.keypoints, samples.K, samples.confidence, config=config)
    report["true_focal"] = {"mpjpe_mm": _mm(mpjpe(known.poses3d, samples.gt3d)), "pa_mpjpe_mm": _mm(pa_mpjpe(known.poses3d, samples.gt3d))}
    report["guessed_focal"] = []
    for fov in args.fov:
        K = np.stack([intrinsics_from_fov(tuple(size), fov) for size in image_size])
        guessed = lift(prior, samples.keypoints, K, samples.confidence, config=config)
        focal_error = np.abs(K[:, 0, 0] / samples.K[:, 0, 0] - 1.0)
        report["guessed_focal"].append(
            {
                "fov_deg": fov,
                "focal_error_percent": round(100 * float(np.mean(focal_error)), 1),
                "mpjpe_mm": _mm(mpjpe(guessed.poses3d, samples.gt3d)),
                "pa_mpjpe_mm": _mm(pa_mpjpe(guessed.poses3d, samples.gt3d)),
                # What could betray a wrong focal length without ground truth:
                "reprojection_px": round(float(np.mean(guessed.reprojection_error_px)), 3),
                "bone_length_spread": round(_bone_spread(guessed.poses3d, samples.keys), 4),
            }
        )

    # Metric scale with the true K: root (pelvis) position error without and with the true height.
    heights = {s: standing_height(np.concatenate(list(load_poses(args.data, (s,)).values()))[::50] / 1000.0) for s in args.subjects}
    subjects = np.array([k.split("/")[0] for k in samples.keys])
    scaled = np.empty_like(known.poses3d)
    for subject, height in heights.items():
        rows = subjects == subject
        scaled[rows] = scale_to_height(known.poses3d[rows], height)[0]

    def root_errors(poses: np.ndarray) -> dict:
        diff = poses[:, 0] - samples.gt3d[:, 0]
        return {"root_position_mm": _mm(np.linalg.norm(diff, axis=-1)), "root_depth_mm": _mm(np.abs(diff[:, 2]))}

    report["heights_m"] = {s: round(h, 3) for s, h in heights.items()}
    report["height_of_prior_m"] = round(standing_height(known.poses3d), 3)
    report["without_height"] = root_errors(known.poses3d)
    report["with_true_height"] = root_errors(scaled)
    report["seconds"] = round(time.time() - started, 1)

    print(f"{report['frames']} frames of {', '.join(args.subjects)} (every {args.stride}th), ground-truth 2D, S=1")
    print(f"  true focal length:            MPJPE {report['true_focal']['mpjpe_mm']:6.1f}  PA-MPJPE {report['true_focal']['pa_mpjpe_mm']:6.1f} mm")
    for row in report["guessed_focal"]:
        print(
            f"  guessed from {row['fov_deg']:.0f} deg FoV (focal off by {row['focal_error_percent']:.0f}%): "
            f"MPJPE {row['mpjpe_mm']:6.1f}  PA-MPJPE {row['pa_mpjpe_mm']:6.1f} mm; "
            f"reprojection {row['reprojection_px']:.2f} px, bone-length spread {100 * row['bone_length_spread']:.2f}%"
        )
    print(f"  subjects' heights {report['heights_m']}; lifted bodies without a height: {report['height_of_prior_m']} m")
    for name in ("without_height", "with_true_height"):
        row = report[name]
        print(f"  root position error {name.replace('_', ' ')}: {row['root_position_mm']:.0f} mm (depth {row['root_depth_mm']:.0f} mm)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
