"""How the loop copes with detector-like 2D noise: ground-truth 2D with added noise, our loop
against the paper's.

    python -m training.evaluate_noise --prior runs/holdout_s8/prior.pt --subjects S8

Two corruptions of the ground-truth 2D, seeded: Gaussian noise on every joint (``--sigma`` px), and
outliers (``--outliers`` of the joints moved by a Gaussian of ``--outlier-px``). Training subjects
only by default (S8 with a prior trained on S1 S5 S6 S7 is the held-out check).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from training.evaluate import apply_overrides, build_samples
from zedo_core import LiftConfig, lift, load_prior
from zedo_core.metrics import mpjpe, pa_mpjpe

LOOPS = {
    "ours": LiftConfig(),
    "paper's loop": LiftConfig(focal_anneal_start=1.0, translation_refinement=0, t_max=0.1, step_budget=1.0),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None)
    parser.add_argument("--prior", default=None)
    parser.add_argument("--subjects", nargs="+", default=["S8"])
    parser.add_argument("--sigma", type=float, default=4.0)
    parser.add_argument("--outliers", type=float, default=0.08)
    parser.add_argument("--outlier-px", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE",
        help="override a LiftConfig field of our loop (repeatable), e.g. --set start_pool=50",
    )
    parser.add_argument("--ours-only", action="store_true", help="skip the paper's loop")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    loops = {"ours": apply_overrides(LOOPS["ours"], args.set)}
    if not args.ours_only:
        loops["paper's loop"] = LOOPS["paper's loop"]

    prior = load_prior(args.prior, device="cpu")
    samples = build_samples(args.data, "gt", 640, subjects=tuple(args.subjects))
    rng = np.random.default_rng(args.seed)
    gaussian = samples.keypoints + rng.normal(scale=args.sigma, size=samples.keypoints.shape)
    outliers = samples.keypoints.copy()
    moved = rng.random(outliers.shape[:2]) < args.outliers
    outliers[moved] += rng.normal(scale=args.outlier_px, size=(int(moved.sum()), 2))
    inputs = {"clean": samples.keypoints, f"gaussian {args.sigma:g} px": gaussian, f"{100 * args.outliers:g}% outliers": outliers}
    report = {}
    print(f"{len(samples.keys)} frames of {', '.join(args.subjects)}; MPJPE / PA-MPJPE mm")
    for loop_name, config in loops.items():
        for input_name, keypoints in inputs.items():
            result = lift(prior, keypoints, samples.K, samples.confidence, config=config)
            errors = (float(mpjpe(result.poses3d, samples.gt3d).mean() * 1000), float(pa_mpjpe(result.poses3d, samples.gt3d).mean() * 1000))
            report[f"{loop_name} / {input_name}"] = {"mpjpe_mm": round(errors[0], 1), "pa_mpjpe_mm": round(errors[1], 1)}
            print(f"  {loop_name:14s} {input_name:16s} {errors[0]:6.1f} / {errors[1]:5.1f}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
