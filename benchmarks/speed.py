"""Lifting speed: frames/s against frame count and hypotheses, and our defaults against the
authors' setting (1000 iterations + 500 Adam steps of the initial rotation optimiser, one score
network as theirs) on the same batch, measured in one run. Input: the bundled example clip, tiled
to the needed length.

    python benchmarks/speed.py [--device cpu] [--json reports/speed.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from zedo_core import LiftConfig, PosePrior, lift, load_prior

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "walking_example.npz"
# The authors' released setting: 1000 iterations, Adam start, fixed rays, closed-form translation.
AUTHORS = LiftConfig(
    iterations=1000, initial_search="adam", focal_anneal_start=1.0, translation_refinement=0, t_max=0.1, step_budget=1.0
)


def clip(frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    data = np.load(EXAMPLE)
    reps = -(-frames // len(data["keypoints"]))
    keypoints = np.tile(data["keypoints"], (reps, 1, 1))[:frames]
    confidence = np.tile(data["confidence"], (reps, 1))[:frames]
    return keypoints, data["K"], confidence


def first_network_only(prior: PosePrior) -> PosePrior:
    """The same prior with only its first score network (the paper's prior is one network)."""
    return replace(prior, network=prior.members[0])


def timed(prior, frames: int, config: LiftConfig, repeats: int) -> float:
    keypoints, K, confidence = clip(frames)
    best = float("inf")
    for _ in range(repeats):
        if prior.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        lift(prior, keypoints, K, confidence, config)
        if prior.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--hypotheses", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--hypotheses-frames", type=int, default=20)
    parser.add_argument("--compare-frames", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    prior = load_prior(device=args.device)
    ours = LiftConfig()
    lift(prior, *clip(2), replace(ours, iterations=5))  # warm-up
    report: dict = {
        "device": str(prior.device),
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "defaults": {"iterations": ours.iterations, "initial_search": ours.initial_search},
    }
    print(f"device {prior.device}, {torch.get_num_threads()} threads; defaults: {ours.iterations} iterations, {ours.initial_search} start search")

    print("\nframes  S=1 seconds  frames/s")
    report["frames"] = []
    for n in args.frames:
        seconds = timed(prior, n, ours, args.repeats)
        report["frames"].append({"frames": n, "seconds": seconds, "frames_per_second": n / seconds})
        print(f"{n:>6}  {seconds:>11.2f}  {n / seconds:>8.1f}")

    n = args.hypotheses_frames
    print(f"\nhypotheses ({n} frames)  seconds  frames/s")
    report["hypotheses"] = []
    for S in args.hypotheses:
        seconds = timed(prior, n, replace(ours, hypotheses=S), args.repeats)
        report["hypotheses"].append({"hypotheses": S, "frames": n, "seconds": seconds, "frames_per_second": n / seconds})
        print(f"{S:>24}  {seconds:>7.2f}  {n / seconds:>8.1f}")

    n = args.compare_frames
    single = first_network_only(prior)
    ours_s = timed(prior, n, ours, args.repeats)
    ours_single_s = timed(single, n, ours, args.repeats)
    start_search_s = timed(prior, n, replace(ours, iterations=0), args.repeats)
    pool_50_s = timed(prior, n, replace(ours, start_pool=50), args.repeats)
    start_search_50_s = timed(prior, n, replace(ours, iterations=0, start_pool=50), args.repeats)
    authors_s = timed(single, n, AUTHORS, args.repeats)
    report["comparison"] = {
        "frames": n,
        "networks": len(prior.members),
        "start_pool": ours.start_pool,
        "ours_seconds": ours_s,
        "ours_one_network_seconds": ours_single_s,
        "ours_start_search_only_seconds": start_search_s,
        "ours_start_pool_50_seconds": pool_50_s,
        "ours_start_search_only_pool_50_seconds": start_search_50_s,
        "authors_setting_seconds": authors_s,
        "speedup": authors_s / ours_s,
    }
    print(
        f"\nsame {n}-frame batch, S=1: ours {ours_s:.2f} s ({n / ours_s:.1f} frames/s; "
        f"{len(prior.members)} networks, one network alone {ours_single_s:.2f} s; "
        f"start search alone {start_search_s:.2f} s over {ours.start_pool} poses, {start_search_50_s:.2f} s over 50; "
        f"the whole run with 50 poses {pool_50_s:.2f} s), "
        f"authors' setting (1000 iterations + 500 Adam steps, one network) {authors_s:.2f} s "
        f"({n / authors_s:.1f} frames/s): ours is {authors_s / ours_s:.1f}x faster"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
