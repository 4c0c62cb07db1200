"""Measure video mode's design choices on clips of *training* subjects (never S9/S11).

Clips: consecutive frames of randomly chosen sequence/camera pairs (every --frame-step-th frame,
--max-frames from the middle of the sequence), lifted all in one call with one segment per clip.
Two 2D inputs: the ground-truth projection, and a detector-like corruption of it (seeded): 3 px
Gaussian jitter on every joint, 3% of the joints moved 50 px, the legs swapped left/right on 2% of
the frames, spine and neck/nose missing (as with the MPII layout). The held-out check uses the
prior trained without S8:

    python -m training.temporal_ablation --prior runs/holdout_s8/prior.pt --subjects S8 --json reports/temporal_ablation_s8_holdout.json

Columns: MPJPE (mean, median, p90), PA-MPJPE, acceleration error (mm/frame^2 at the clips' frame
rate), the share of frames whose body faces more than 90 degrees away from the truth (the
"start pose facing the wrong way" failure that a vote on the start orientation would address),
and seconds.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from training.evaluate import H36M_FPS, Clip, build_clips, lift_clips
from training.h36m import TRAIN_SUBJECTS
from zedo_core.lifting import LiftConfig
from zedo_core.metrics import acceleration_error, mpjpe, pa_mpjpe
from zedo_core.prior import load_prior
from zedo_core.temporal import smooth_trajectories


def _linear(sigma: float, **more) -> dict:
    """The first design: local lines, translation at sigma, 2D smoothing at 2 sigma."""
    return {"temporal_sigma": sigma, "temporal_degree": 1, "temporal_keypoint_degree": 1,
            "temporal_translation_sigma": sigma, "temporal_keypoint_sigma": 2 * sigma, **more}


def _quadratic(sigma: float, **more) -> dict:
    return {"temporal_sigma": sigma, "temporal_degree": 2, "temporal_translation_sigma": 1.0, "temporal_keypoint_sigma": 2.0,
            "temporal_keypoint_degree": 1, **more}


# name -> (LiftConfig overrides, robust post-smoothing sigma of the result or 0); sigmas in frames
# at 25 fps, scaled with the frame rate.
VARIANTS: dict[str, tuple[dict, float]] = {
    "frame by frame": ({}, 0.0),
    "(a) frame by frame + robust smoothing of the result, sigma 2": ({}, 2.0),
    "(a) frame by frame + robust smoothing of the result, sigma 3": ({}, 3.0),
    "(b) in the loop, sigma 0.5": (_linear(0.5), 0.0),
    "(b) in the loop, sigma 0.75": (_linear(0.75), 0.0),
    "(b) in the loop, sigma 1": (_linear(1.0), 0.0),
    "(b) in the loop, sigma 1.5": (_linear(1.5), 0.0),
    "(b) sigma 1, no 2D smoothing": (_linear(1.0, temporal_keypoint_sigma=0.0), 0.0),
    "(b) sigma 1, 2D smoothing sigma 1": (_linear(1.0, temporal_keypoint_sigma=1.0), 0.0),
    "(b) sigma 1, 2D smoothing sigma 3": (_linear(1.0, temporal_keypoint_sigma=3.0), 0.0),
    "(b) sigma 1, translation sigma 2": (_linear(1.0, temporal_translation_sigma=2.0), 0.0),
    "(b) quadratic, sigma 1.5": (_quadratic(1.5), 0.0),
    "(b) quadratic, sigma 2": (_quadratic(2.0), 0.0),
    "(b) quadratic, sigma 2, quadratic 2D sigma 3": (_quadratic(2.0, temporal_keypoint_sigma=3.0, temporal_keypoint_degree=2), 0.0),
    "video mode defaults (temporal_sigma = video_sigma(fps))": ({"temporal_sigma": 2.0}, 0.0),
}
SCALED = ("temporal_sigma", "temporal_keypoint_sigma", "temporal_translation_sigma")


def corrupt(clips: list[Clip], seed: int = 1) -> list[Clip]:
    """The detector-like corruption of the module docstring."""
    rng = np.random.default_rng(seed)
    out = []
    for clip in clips:
        T = len(clip.keypoints)
        kp = clip.keypoints + rng.normal(scale=3.0, size=clip.keypoints.shape)
        moved = rng.random((T, 17)) < 0.03
        angle = rng.uniform(0, 2 * np.pi, (T, 17))
        kp = kp + moved[..., None] * 50.0 * np.stack([np.cos(angle), np.sin(angle)], -1)
        swap = rng.random(T) < 0.02
        left, right = [4, 5, 6], [1, 2, 3]
        swapped = kp.copy()
        swapped[np.ix_(swap, left)], swapped[np.ix_(swap, right)] = kp[np.ix_(swap, right)], kp[np.ix_(swap, left)]
        conf = clip.confidence.copy()
        conf[:, [7, 9]] = 0.0
        out.append(replace(clip, keypoints=swapped, confidence=conf))
    return out


def facing_yaw_deg(poses: np.ndarray) -> np.ndarray:
    """Heading of the body (hips and shoulders, right to left) about the camera's y axis."""
    v = (poses[..., 4, :] - poses[..., 1, :]) + (poses[..., 11, :] - poses[..., 14, :])
    return np.degrees(np.arctan2(v[..., 2], v[..., 0]))


def measure(clips: list[Clip], poses: list[np.ndarray]) -> dict:
    m, p, a, flipped = [], [], [], []
    for clip, pred in zip(clips, poses):
        m.append(mpjpe(pred, clip.gt3d))
        p.append(pa_mpjpe(pred, clip.gt3d))
        a.append(acceleration_error(pred, clip.gt3d))
        flipped.append(np.abs((facing_yaw_deg(pred) - facing_yaw_deg(clip.gt3d) + 180) % 360 - 180) > 90)
    m, p, a = (np.concatenate(v) * 1000 for v in (m, p, a))
    return {
        "mpjpe": float(np.nanmean(m)), "median": float(np.nanmedian(m)), "p90": float(np.nanpercentile(m, 90)),
        "pa_mpjpe": float(np.nanmean(p)), "accel": float(np.nanmean(a)), "flipped_percent": float(100 * np.concatenate(flipped).mean()),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--prior", default=None)
    parser.add_argument("--subjects", nargs="+", default=list(TRAIN_SUBJECTS))
    parser.add_argument("--clips", type=int, default=40, help="randomly chosen sequence/camera pairs")
    parser.add_argument("--frame-step", type=int, default=2)
    parser.add_argument("--max-frames", type=int, default=100)
    parser.add_argument("--inputs", nargs="+", choices=["gt", "corrupted"], default=["gt", "corrupted"])
    parser.add_argument("--only", nargs="*", default=None, help="run only these variant names")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    if set(args.subjects) & {"S9", "S11"}:
        parser.error("design choices are never measured on the test subjects S9/S11")
    torch.set_num_threads(1)

    prior = load_prior(args.prior, device="cpu")
    all_clips = build_clips(args.data, "gt", tuple(args.subjects), frame_step=args.frame_step, max_frames=args.max_frames)
    pick = np.random.default_rng(0).choice(len(all_clips), min(args.clips, len(all_clips)), replace=False)
    clips = [all_clips[i] for i in sorted(pick)]
    fps = H36M_FPS / args.frame_step
    scale = fps / 25.0
    frames = sum(len(c.keypoints) for c in clips)
    print(f"{len(clips)} clips of {', '.join(args.subjects)}, {frames} frames at {fps:g} fps; sigmas in frames at 25 fps x {scale:g}")
    print(f"{'variant':<64}{'MPJPE':>7}{'median':>8}{'p90':>7}{'PA':>7}{'accel':>8}{'flip%':>7}{'s':>6}")
    report: dict = {"clips": [c.key for c in clips], "fps": fps, "frames": frames, "results": {}}
    for source in args.inputs:
        inputs = clips if source == "gt" else corrupt(clips)
        lifted: dict[str, tuple[list[np.ndarray], float]] = {}  # the same lift for several post-smoothings
        for name, (overrides, post) in VARIANTS.items():
            if args.only is not None and name not in args.only:
                continue
            scaled = {k: (v * scale if k in SCALED else v) for k, v in overrides.items()}
            key = repr(sorted(scaled.items()))
            if key not in lifted:
                lifted[key] = lift_clips(prior, inputs, replace(LiftConfig(), **scaled))
            poses, seconds = lifted[key]
            if post:
                started = time.perf_counter()
                poses = [smooth_trajectories(p.astype(np.float64), post * scale) for p in poses]
                seconds += time.perf_counter() - started
            row = {**measure(clips, poses), "seconds": seconds, "overrides": scaled, "post_sigma": post * scale}
            report["results"][f"{source} / {name}"] = row
            print(f"{source + ' / ' + name:<64}{row['mpjpe']:>7.1f}{row['median']:>8.1f}{row['p90']:>7.1f}{row['pa_mpjpe']:>7.1f}"
                  f"{row['accel']:>8.2f}{row['flipped_percent']:>7.1f}{seconds:>6.0f}", flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
