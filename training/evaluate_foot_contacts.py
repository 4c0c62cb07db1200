"""Does the foot-contact clean-up stop planted feet skating, at what cost in accuracy?

    python -m training.evaluate_foot_contacts [--subjects S9 S11] [--inputs gt detections] [--json reports/eval_foot_contacts.json]

Whole-sequence clips (every ``--frame-step``-th frame, ``--max-frames`` from the middle of each
sequence, camera ``--cameras``) are lifted in video mode, turned into world axes with the true
camera rotation (Z up; the lifted depth errors stay) and cleaned up with
:func:`zedo_core.foot_contacts.lock_planted_feet` at its defaults. Planted in truth: the true
ankle within 5 cm of its lowest height in the clip and moving under 0.1 m/s along the ground.
Reports, before and after the clean-up: foot skate (mean horizontal ankle motion per frame while
truly planted, mm/frame; the ground truth's own is the floor), MPJPE and PA-MPJPE (mm), the
acceleration error, and how well the detected contacts match the true ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from training.evaluate import H36M_FPS, build_clips, lift_clips
from training.h36m import TEST_SUBJECTS, load_cameras
from zedo_core.foot_contacts import LEGS, lock_planted_feet
from zedo_core.lifting import LiftConfig
from zedo_core.metrics import acceleration_error, mpjpe, pa_mpjpe
from zedo_core.prior import load_prior
from zedo_core.temporal import video_sigma

TRUE_CONTACT_HEIGHT_M = 0.05
TRUE_CONTACT_SPEED = 0.1  # m/s


def true_contacts(world: np.ndarray, fps: float) -> np.ndarray:
    """``(T, 2)`` frames where each true ankle is planted (see the module docstring)."""
    out = np.zeros((len(world), 2), dtype=bool)
    for side, (_, _, ankle) in enumerate(LEGS):
        height = world[:, ankle, 2]
        speed = np.zeros(len(world))
        speed[1:-1] = np.linalg.norm(world[2:, ankle, :2] - world[:-2, ankle, :2], axis=-1) * fps / 2
        speed[0], speed[-1] = speed[1], speed[-2]
        out[:, side] = (height < np.percentile(height, 5) + TRUE_CONTACT_HEIGHT_M) & (speed < TRUE_CONTACT_SPEED)
    return out


def foot_skate(world: np.ndarray, planted: np.ndarray) -> tuple[float, int]:
    """Sum of horizontal ankle motion (m) between consecutive frames both planted, and their count."""
    total, count = 0.0, 0
    for side, (_, _, ankle) in enumerate(LEGS):
        both = planted[1:, side] & planted[:-1, side]
        step = np.linalg.norm(np.diff(world[:, ankle, :2], axis=0), axis=-1)
        total += float(step[both].sum())
        count += int(both.sum())
    return total, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="Human3.6M folder (default ../shared/data/h36m)")
    parser.add_argument("--prior", default=None, help="prior file (default: the shipped one)")
    parser.add_argument("--subjects", nargs="+", default=list(TEST_SUBJECTS))
    parser.add_argument("--inputs", nargs="+", choices=["gt", "detections"], default=["gt", "detections"])
    parser.add_argument("--cameras", nargs="+", default=["0"], help="camera ids or indices 0-3 (default: the first)")
    parser.add_argument("--frame-step", type=int, default=2, help="every FRAME_STEP-th frame (2 = 25 fps)")
    parser.add_argument("--max-frames", type=int, default=128, help="frames per clip from the middle of the sequence")
    parser.add_argument("--limit", type=int, default=0, help="only the first LIMIT clips (smoke runs)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    fps = H36M_FPS / args.frame_step
    prior = load_prior(args.prior, device=args.device)
    cameras = load_cameras(args.data)
    config = LiftConfig(temporal_sigma=video_sigma(fps))
    report: dict = {"config": vars(args) | {"fps": fps, "json": str(args.json)}, "results": {}}
    summaries: list[str] = []
    for source in args.inputs:
        clips = build_clips(args.data, source, tuple(args.subjects), tuple(args.cameras), args.frame_step, args.max_frames)
        if args.limit:
            clips = clips[: args.limit]
        poses, _ = lift_clips(prior, clips, config)
        sums = {name: [0.0, 0] for name in ("truth", "lifted", "locked")}
        errors = {name: {"mpjpe": [], "pa_mpjpe": [], "accel": []} for name in ("lifted", "locked")}
        hits = np.zeros(3, dtype=np.int64)  # detected & true, detected, true
        for clip, pred in zip(clips, poses):
            subject = clip.key.split("/")[0]
            R = cameras[subject][clip.key.split("/")[-1]].R
            valid = np.isfinite(pred).all(axis=(1, 2))
            if not valid.all():
                continue
            truth_world = clip.gt3d @ R  # camera -> world axes (rows: R^T x)
            lifted_world = pred @ R
            locked = lock_planted_feet(lifted_world, fps)
            planted = true_contacts(truth_world, fps)
            for name, world in (("truth", truth_world), ("lifted", lifted_world), ("locked", locked.joints)):
                total, count = foot_skate(world, planted)
                sums[name][0] += total
                sums[name][1] += count
            locked_cam = locked.joints @ R.T
            for name, cam in (("lifted", pred), ("locked", locked_cam)):
                errors[name]["mpjpe"].append(mpjpe(cam, clip.gt3d) * 1000)
                errors[name]["pa_mpjpe"].append(pa_mpjpe(cam, clip.gt3d) * 1000)
                errors[name]["accel"].append(acceleration_error(cam, clip.gt3d) * 1000)
            hits += [int((locked.contacts & planted).sum()), int(locked.contacts.sum()), int(planted.sum())]
        result = {
            "clips": len(clips),
            "frames": int(sum(len(c.keypoints) for c in clips)),
            "foot_skate_mm_per_frame": {k: 1000 * v[0] / max(v[1], 1) for k, v in sums.items()},
            "contact_precision": float(hits[0] / max(hits[1], 1)),
            "contact_recall": float(hits[0] / max(hits[2], 1)),
        }
        for name, values in errors.items():
            result[name] = {m: float(np.nanmean(np.concatenate(v))) for m, v in values.items()}
        report["results"][source] = result
        skate = result["foot_skate_mm_per_frame"]
        summaries.append(
            f"{source}: {result['clips']} clips, {result['frames']} frames at {fps:g} fps\n"
            f"  foot skate while planted (mm/frame): truth {skate['truth']:.2f}, lifted {skate['lifted']:.2f}, "
            f"clean-up {skate['locked']:.2f}\n"
            f"  contacts found: precision {result['contact_precision']:.2f}, recall {result['contact_recall']:.2f}\n"
            f"  MPJPE / PA-MPJPE / accel: lifted {result['lifted']['mpjpe']:.1f} / {result['lifted']['pa_mpjpe']:.1f} / "
            f"{result['lifted']['accel']:.2f}, clean-up {result['locked']['mpjpe']:.1f} / {result['locked']['pa_mpjpe']:.1f} / "
            f"{result['locked']['accel']:.2f}"
        )
        print(summaries[-1], flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float))
        args.json.with_suffix(".txt").write_text("\n".join(summaries) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
