"""Measure the design choices of the lifting loop on a validation set of *training* subjects.

Choices are made here, never on the test subjects S9/S11 (the prior has seen these poses, so the
absolute numbers are optimistic; the comparisons are what count). Ground-truth 2D, all cameras.

    python -m training.ablation [--samples 300] [--stride 640] [--json reports/ablation.json]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from training.evaluate import build_samples
from training.h36m import TRAIN_SUBJECTS
from zedo_core.lifting import LiftConfig, combine_hypotheses, lift
from zedo_core.metrics import mpjpe, pa_mpjpe
from zedo_core.prior import load_prior

VARIANTS: dict[str, dict] = {
    "defaults": {},
    "1000 iterations (reference)": {"iterations": 1000},
    "authors' initial optimiser (Adam, z rotation)": {"initial_search": "adam"},
    "grid without start pool (mean pose only)": {"start_pool": 1},
    "grid, yaw only": {"pitch_deg": (0.0,)},
    "grid + pitch and roll +-90": {"pitch_deg": (-20.0, 0.0, 20.0, 40.0), "roll_deg": (-90.0, -45.0, 0.0, 45.0, 90.0)},
    "warm-up 10%": {"warmup_fraction": 0.1},
    "warm-up 30%": {"warmup_fraction": 0.3},
    "warm-up 15%": {"warmup_fraction": 0.15},
    "warm-up 25%": {"warmup_fraction": 0.25},
    "grid with 36 yaw steps": {"yaw_steps": 36},
    "start pool of 10 poses": {"start_pool": 10},
    "start pool of 50 poses (the previous default)": {"start_pool": 50},
    "start pool of 100 poses": {"start_pool": 100},
    "start pool of 200 poses": {"start_pool": 200},
    "start pool of 400 poses": {"start_pool": 400},
    "start pool of 800 poses": {"start_pool": 800},
    "final ray projection": {"final_ray_projection": True},
    "no focal continuation (fixed rays, as the paper)": {"focal_anneal_start": 1.0},
    "focal continuation from 0.8 f": {"focal_anneal_start": 0.8},
    "focal continuation from 0.4 f": {"focal_anneal_start": 0.4},
    "focal continuation from 0.5 f": {"focal_anneal_start": 0.5},
    "focal continuation from 0.7 f": {"focal_anneal_start": 0.7},
    "closed-form translation only (as the paper)": {"translation_refinement": 0},
    "paper's schedule (t 0.1 -> 0.01, dt 1/n)": {"t_max": 0.1, "step_budget": 1.0},
    "t 0.1 -> 0.01, dt 0.7/n": {"t_max": 0.1},
    "t 0.15 -> 0.01, dt 0.7/n": {"t_max": 0.15},
    "t 0.12 -> 0.01, dt 0.6/n": {"step_budget": 0.6},
    "t 0.12 -> 0.01, dt 0.8/n": {"step_budget": 0.8},
    "t 0.12 -> 0.01, dt 0.5/n": {"step_budget": 0.5},
    "t 0.12 -> 0.005, dt 0.7/n": {"t_min": 0.005},
    "t 0.12 -> 0.02, dt 0.7/n": {"t_min": 0.02},
    "paper's loop (fixed rays, closed-form T, its schedule)": {
        "focal_anneal_start": 1.0, "translation_refinement": 0, "t_max": 0.1, "step_budget": 1.0,
    },
    "S=10": {"hypotheses": 10},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--prior", default=None)
    parser.add_argument("--samples", type=int, default=300, help="random frames of the validation set")
    parser.add_argument("--stride", type=int, default=640, help="take every stride-th frame of each sequence first")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", nargs="*", default=None, help="run only these variant names")
    parser.add_argument(
        "--subjects", nargs="+", default=list(TRAIN_SUBJECTS),
        help="validation subjects (training subjects only; e.g. S8 with a prior trained on S1 S5 S6 S7)",
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    if set(args.subjects) - set(TRAIN_SUBJECTS):
        parser.error("design choices are measured on training subjects only, never on S9/S11")
    samples = build_samples(args.data, "gt", args.stride, subjects=tuple(args.subjects))
    idx = np.random.default_rng(0).choice(len(samples.keys), min(args.samples, len(samples.keys)), replace=False)
    gt = samples.gt3d[idx]
    prior = load_prior(args.prior, device=args.device)
    report = {}
    print(f"{len(idx)} validation frames from {', '.join(args.subjects)} (ground-truth 2D); mm")
    print(f"{'variant':<56}{'MPJPE':>7}{'median':>8}{'p90':>7}{'PA':>7}{'s':>6}")
    for name, overrides in VARIANTS.items():
        if args.only is not None and name not in args.only:
            continue
        config = replace(LiftConfig(), **overrides)
        started = time.perf_counter()
        result = lift(prior, samples.keypoints[idx], samples.K[idx], samples.confidence[idx], config)
        seconds = time.perf_counter() - started
        m, p = mpjpe(result.poses3d, gt) * 1000, pa_mpjpe(result.poses3d, gt) * 1000
        row = {"mpjpe": m.mean(), "median": np.median(m), "p90": np.percentile(m, 90), "pa_mpjpe": p.mean(), "seconds": seconds}
        print(f"{name:<56}{row['mpjpe']:>7.1f}{row['median']:>8.1f}{row['p90']:>7.1f}{row['pa_mpjpe']:>7.1f}{seconds:>6.0f}")
        if config.hypotheses > 1:
            per_hyp = mpjpe(result.hypotheses, gt[:, None]) * 1000
            row["oracle_mpjpe"] = per_hyp.min(1).mean()
            print(f"{'  oracle minimum':<56}{row['oracle_mpjpe']:>7.1f}")
            for method in ("prior", "reprojection", "medoid", "mean"):
                _, chosen = combine_hypotheses(result.hypotheses, result.reprojection_error_px, result.implausibility, method)
                cm, cp = mpjpe(chosen, gt) * 1000, pa_mpjpe(chosen, gt) * 1000
                row[f"selection_{method}"] = {"mpjpe": cm.mean(), "pa_mpjpe": cp.mean()}
                print(f"{'  selection: ' + method:<56}{cm.mean():>7.1f}{np.median(cm):>8.1f}{np.percentile(cm, 90):>7.1f}{cp.mean():>7.1f}")
        report[name] = {"overrides": {k: str(v) for k, v in overrides.items()}, **{k: (float(v) if not isinstance(v, dict) else v) for k, v in row.items()}}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
