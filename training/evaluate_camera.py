"""What real footage costs: an unknown focal length, and metric scale from the actor's height.

    python -m training.evaluate_camera [--subjects S9 S11] [--fov 40 50 60 70] [--json reports/eval_camera.json]
    python -m training.evaluate_camera --estimate-focal --json reports/eval_focal.json   (+ .txt)

On every ``--stride``-th frame (ground-truth 2D, one hypothesis, default settings):

- **Unknown focal length**: lift with the true intrinsics and with intrinsics guessed from a
  horizontal field of view (principal point at the image centre), for each ``--fov``; reports
  MPJPE / PA-MPJPE, the guessed focal length's error against the true one, and the two cues a
  focal-length search could use without ground truth: the reprojection error after the loop and
  the spread of bone lengths over each video.
- **Estimated focal length** (``--estimate-focal``): :func:`zedo_core.intrinsics.estimate_focal` on
  every whole sequence and camera of ``--subjects`` (50 fps), from ground-truth 2D and from the
  Stacked-Hourglass detections (layout ``mpii``); reports the focal error (median / mean over the
  sequences the estimator answers, and with its 60 degree fallback counted too), the share that falls
  back and why; then lifts the ``--stride`` frames with each frame's sequence estimate (fallbacks
  included) and reports MPJPE / PA-MPJPE next to the true and guessed intrinsics.
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
from training.evaluate import MAPPINGS
from training.h36m import TEST_SUBJECTS, load_cameras, load_detections, load_poses, project
from zedo_core import LiftConfig, lift, load_prior
from zedo_core.intrinsics import estimate_focal, intrinsics_from_focal, intrinsics_from_fov
from zedo_core.layouts import to_h36m
from zedo_core.metrics import mpjpe, pa_mpjpe
from zedo_core.scale import scale_to_height, standing_height
from zedo_core.skeleton import bone_lengths


def _mm(values: np.ndarray) -> float:
    return round(float(np.mean(values)) * 1000.0, 1)


def _bone_spread(poses: np.ndarray, keys: list[str]) -> float:
    """Mean over videos and bones of the bone length's coefficient of variation across frames."""
    keys = np.array(keys)
    spreads = []
    for key in np.unique(keys):
        clip = poses[keys == key]
        lengths = bone_lengths(clip)
        if len(clip) > 1:
            spreads.append(np.mean(lengths.std(0) / lengths.mean(0)))
    return float(np.mean(spreads))


def estimate_sequences(data_dir: str | None, subjects: tuple[str, ...], source: str) -> dict[str, dict]:
    """``{"S9/Walking 1/54138969": {...}}``: the focal estimate of every whole sequence and camera
    from ground-truth 2D (``source="gt"``) or the Stacked-Hourglass detections."""
    poses = load_poses(data_dir, subjects)
    cameras = load_cameras(data_dir)
    detections = load_detections(data_dir) if source == "detections" else {}
    out = {}
    for seq_key, world in poses.items():
        subject = seq_key.split("/")[0]
        for cam_id, cam in cameras[subject].items():
            key = f"{seq_key}/{cam_id}"
            if source == "gt":
                keypoints, confidence = project(cam.world_to_camera_m(world), cam.K), None
            elif key in detections:
                keypoints, confidence = to_h36m(detections[key], layout=MAPPINGS["thorax"])
            else:
                continue
            started = time.perf_counter()
            found = estimate_focal(keypoints, confidence, (cam.width, cam.height), fps=50.0)
            out[key] = {
                "frames": len(keypoints),
                "estimated": found.estimated,
                "focal_px": round(found.focal_px, 1),
                "true_focal_px": round(float(cam.K[0, 0]), 1),
                "error_percent": round(100 * (found.focal_px / cam.K[0, 0] - 1), 2),
                "reason": found.reason,
                "seconds": round(time.perf_counter() - started, 3),
            }
    return out


def _focal_summary(rows: dict[str, dict]) -> dict:
    errors = np.array([r["error_percent"] for r in rows.values()])
    estimated = np.array([r["estimated"] for r in rows.values()])
    reasons: dict[str, int] = {}
    for r in rows.values():
        if not r["estimated"]:
            head = r["reason"].split(" (")[0].split(":")[0]
            reasons[head] = reasons.get(head, 0) + 1
    summary = {
        "sequences": len(rows),
        "estimated": int(estimated.sum()),
        "fallback_share": round(float(1 - estimated.mean()), 3),
        "fallback_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "all_with_fallback": {"median_abs_error_percent": round(float(np.median(np.abs(errors))), 1), "mean_abs_error_percent": round(float(np.mean(np.abs(errors))), 1)},
        "seconds_per_sequence": round(float(np.mean([r["seconds"] for r in rows.values()])), 3),
    }
    if estimated.any():
        e = errors[estimated]
        summary["estimated_only"] = {
            "median_abs_error_percent": round(float(np.median(np.abs(e))), 1),
            "mean_abs_error_percent": round(float(np.mean(np.abs(e))), 1),
            "p90_abs_error_percent": round(float(np.percentile(np.abs(e), 90)), 1),
            "mean_signed_error_percent": round(float(np.mean(e)), 1),
            "within_10_percent": round(float(np.mean(np.abs(e) <= 10)), 3),
        }
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--prior", default=None, help="prior file (default: the shipped one)")
    parser.add_argument("--subjects", nargs="+", default=list(TEST_SUBJECTS))
    parser.add_argument("--stride", type=int, default=640)
    parser.add_argument("--fov", type=float, nargs="+", default=[60.0], help="guessed horizontal fields of view (degrees)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument(
        "--estimate-focal", action="store_true",
        help="also estimate the focal length per whole sequence and camera (ground truth and detections) and lift with it",
    )
    parser.add_argument(
        "--focal-only", action="store_true",
        help="only estimate the focal length per whole sequence and camera from ground-truth 2D and summarise (no lifting)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.focal_only:
        rows = estimate_sequences(args.data, tuple(args.subjects), "gt")
        summary = _focal_summary(rows)
        lines = [f"{', '.join(args.subjects)}, every whole sequence x camera:"] + _focal_lines("gt", summary)[:3]
        print("\n".join(lines))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({**summary, "per_sequence": rows}, indent=2) + "\n")
        return 0

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
    guessed_poses = {}
    for fov in args.fov:
        K = np.stack([intrinsics_from_fov(tuple(size), fov) for size in image_size])
        guessed = lift(prior, samples.keypoints, K, samples.confidence, config=config)
        guessed_poses[fov] = guessed.poses3d
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

    if args.estimate_focal:
        report["estimated_focal"] = {}
        for source in ("gt", "detections"):
            rows = estimate_sequences(args.data, tuple(args.subjects), source)
            K = np.stack(
                [
                    intrinsics_from_focal(tuple(size), rows[key]["focal_px"]) if key in rows else intrinsics_from_fov(tuple(size))
                    for key, size in zip(samples.keys, image_size)
                ]
            )
            lifted = lift(prior, samples.keypoints, K, samples.confidence, config=config)
            answered = np.array([rows.get(k, {}).get("estimated", False) for k in samples.keys])
            on_answered = {}
            if answered.any():
                gt = samples.gt3d[answered]
                candidates = {"estimated": lifted.poses3d, "true": known.poses3d, **{f"guess_{fov:.0f}deg": p for fov, p in guessed_poses.items()}}
                on_answered = {
                    name: {"mpjpe_mm": _mm(mpjpe(p[answered], gt)), "pa_mpjpe_mm": _mm(pa_mpjpe(p[answered], gt))}
                    for name, p in candidates.items()
                }
            report["estimated_focal"][source] = {
                **_focal_summary(rows),
                "lifting_gt2d": {
                    "frames_with_an_estimate": int(sum(rows.get(k, {}).get("estimated", False) for k in samples.keys)),
                    "focal_error_percent": round(100 * float(np.mean(np.abs(K[:, 0, 0] / samples.K[:, 0, 0] - 1.0))), 1),
                    "mpjpe_mm": _mm(mpjpe(lifted.poses3d, samples.gt3d)),
                    "pa_mpjpe_mm": _mm(pa_mpjpe(lifted.poses3d, samples.gt3d)),
                    "on_answered_frames": on_answered,
                },
                "per_sequence": rows,
            }

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

    lines = [
        f"{report['frames']} frames of {', '.join(args.subjects)} (every {args.stride}th), ground-truth 2D, S=1",
        f"  true focal length:            MPJPE {report['true_focal']['mpjpe_mm']:6.1f}  PA-MPJPE {report['true_focal']['pa_mpjpe_mm']:6.1f} mm",
    ]
    for row in report["guessed_focal"]:
        lines.append(
            f"  guessed from {row['fov_deg']:.0f} deg FoV (focal off by {row['focal_error_percent']:.0f}%): "
            f"MPJPE {row['mpjpe_mm']:6.1f}  PA-MPJPE {row['pa_mpjpe_mm']:6.1f} mm; "
            f"reprojection {row['reprojection_px']:.2f} px, bone-length spread {100 * row['bone_length_spread']:.2f}%"
        )
    lines.append(f"  subjects' heights {report['heights_m']}; lifted bodies without a height: {report['height_of_prior_m']} m")
    for name in ("without_height", "with_true_height"):
        row = report[name]
        lines.append(f"  root position error {name.replace('_', ' ')}: {row['root_position_mm']:.0f} mm (depth {row['root_depth_mm']:.0f} mm)")
    for source, row in report.get("estimated_focal", {}).items():
        lines += _focal_lines(source, row)
    print("\n".join(lines))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        args.json.with_suffix(".txt").write_text("\n".join(lines) + "\n")
    return 0


def _focal_lines(source: str, row: dict) -> list[str]:
    lines = [f"  focal estimated from {'ground-truth 2D' if source == 'gt' else 'Stacked-Hourglass detections'}: "
             f"{row['estimated']} of {row['sequences']} sequences x cameras answered ({100 * row['fallback_share']:.0f}% fall back: {row['fallback_reasons']})"]
    if "estimated_only" in row:
        e = row["estimated_only"]
        lines.append(f"    answered: |focal error| median {e['median_abs_error_percent']}%, mean {e['mean_abs_error_percent']}%, p90 {e['p90_abs_error_percent']}%, signed mean {e['mean_signed_error_percent']}%, within 10%: {100 * e['within_10_percent']:.0f}%")
    a = row["all_with_fallback"]
    lines.append(f"    all, fallbacks counted: |focal error| median {a['median_abs_error_percent']}%, mean {a['mean_abs_error_percent']}%; {row['seconds_per_sequence']} s per sequence")
    if "lifting_gt2d" not in row:
        return lines
    g = row["lifting_gt2d"]
    lines.append(f"    lifting with it: MPJPE {g['mpjpe_mm']} PA-MPJPE {g['pa_mpjpe_mm']} mm (focal off by {g['focal_error_percent']}% on average; {g['frames_with_an_estimate']} frames from answered sequences)")
    if g.get("on_answered_frames"):
        parts = [f"{name} {v['mpjpe_mm']} / {v['pa_mpjpe_mm']}" for name, v in g["on_answered_frames"].items()]
        lines.append(f"    on the {g['frames_with_an_estimate']} frames of answered sequences, MPJPE / PA-MPJPE mm: " + "; ".join(parts))
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
