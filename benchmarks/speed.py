"""Lifting speed, measured in one run on this machine:

- frames/s against frame count and hypotheses (the default backend: numpy on the CPU);
- numpy against torch on the CPU (the same code on either kind of array), on the same batch;
- our defaults against the authors' setting (1000 iterations + 500 Adam steps of the initial
  rotation optimiser, one score network as theirs) on the same batch;
- video mode's cost: 50 hypotheses against frame by frame, and a 1000 fps clip against a 25 fps
  clip of the same length (per frame), both with few iterations; at the default iterations,
  video mode against frame by frame, and with its bone-length pull and its last step (steady
  size) each turned off;
- frame by frame with the ray release (LiftConfig.ray_release) turned off;
- one network of the ensemble per denoising step (LiftConfig.ensemble_steps, the default) against
  every network at every step.

Input: the bundled example clip, tiled to the needed length.

    python benchmarks/speed.py [--repeats 3] [--json reports/speed.json]
    python benchmarks/speed.py --device cuda      # needs PyTorch with CUDA
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from zedo_core import LiftConfig, PosePrior, lift, load_prior
from zedo_core.prior import torch_available
from zedo_core.temporal import video_sigma

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
    return replace(prior, members=prior.members[:1], modes={})


def _synchronize(prior: PosePrior) -> None:
    if prior.device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def timed(prior: PosePrior, frames: int, config: LiftConfig, repeats: int) -> float:
    keypoints, K, confidence = clip(frames)
    best = float("inf")
    for _ in range(repeats):
        _synchronize(prior)
        start = time.perf_counter()
        lift(prior, keypoints, K, confidence, config)
        _synchronize(prior)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, nargs="+", default=[1, 10, 100, 500])
    parser.add_argument("--hypotheses", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--hypotheses-frames", type=int, default=20)
    parser.add_argument("--compare-frames", type=int, default=500)
    parser.add_argument("--video-iterations", type=int, default=20, help="iterations of the video-mode comparisons")
    parser.add_argument("--high-fps-frames", type=int, default=2000, help="clip length of the 1000 vs 25 fps comparison")
    parser.add_argument("--repeats", type=int, default=1, help="best of this many runs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    prior = load_prior(device=args.device)
    ours = LiftConfig()
    networks = len(prior.members_for("frame"))  # the frame-by-frame runs' ensemble
    lift(prior, *clip(2), replace(ours, iterations=5))  # warm-up
    threads = None
    if torch_available():
        import torch

        threads = torch.get_num_threads()
    report: dict = {
        "device": prior.device,
        "backend": prior.backend,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "defaults": {"iterations": ours.iterations, "initial_search": ours.initial_search},
    }
    print(f"{prior.backend} on {prior.device} ({os.cpu_count()} CPUs); defaults: {ours.iterations} iterations, {ours.initial_search} start search")

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
    ours_s = timed(prior, n, ours, args.repeats)
    if prior.backend == "numpy" and torch_available():
        torch_prior = prior.to("cpu", backend="torch")
        lift(torch_prior, *clip(2), replace(ours, iterations=5))
        torch_s = timed(torch_prior, n, ours, args.repeats)
        report["backends"] = {"frames": n, "numpy_seconds": ours_s, "torch_cpu_seconds": torch_s, "numpy_speed_vs_torch": torch_s / ours_s}
        print(
            f"\nsame {n}-frame batch, S=1, CPU: numpy {ours_s:.2f} s, torch {torch_s:.2f} s ({threads} threads): "
            f"numpy runs at {torch_s / ours_s:.2f}x torch's speed"
        )

    unreleased_s = timed(prior, n, replace(ours, ray_release=0.0), args.repeats)
    report["ray_release"] = {"frames": n, "seconds": ours_s, "without_ray_release_seconds": unreleased_s, "cost": ours_s / unreleased_s}
    print(f"\nsame {n}-frame batch, S=1: without the ray release {unreleased_s:.2f} s (the release costs {ours_s / unreleased_s:.3f}x)")

    every_network_s = timed(prior, n, replace(ours, ensemble_steps="mean", mirror_from=1.0), args.repeats)
    report["ensemble_steps"] = {
        "frames": n, "networks": networks, "alternate_seconds": ours_s, "every_network_every_step_seconds": every_network_s,
        "speedup": every_network_s / ours_s,
    }  # fmt: skip
    print(
        f"\nsame {n}-frame batch, S=1: every network at every step (the loop before session 12) {every_network_s:.2f} s; "
        f"one network per step, in turn (default) {ours_s:.2f} s: {every_network_s / ours_s:.2f}x faster"
    )

    single = first_network_only(prior)
    ours_single_s = timed(single, n, ours, args.repeats)
    start_search_s = timed(prior, n, replace(ours, iterations=0), args.repeats)
    authors_s = timed(single, n, AUTHORS, args.repeats)
    report["comparison"] = {
        "frames": n,
        "networks": networks,
        "start_pool": ours.start_pool,
        "ours_seconds": ours_s,
        "ours_one_network_seconds": ours_single_s,
        "ours_start_search_only_seconds": start_search_s,
        "authors_setting_seconds": authors_s,
        "speedup": authors_s / ours_s,
    }
    print(
        f"\nsame {n}-frame batch, S=1: ours {ours_s:.2f} s ({n / ours_s:.1f} frames/s; "
        f"{networks} networks, one network alone {ours_single_s:.2f} s; "
        f"start search alone {start_search_s:.2f} s over {ours.start_pool} poses), "
        f"authors' setting (1000 iterations + 500 Adam steps, one network) {authors_s:.2f} s "
        f"({n / authors_s:.1f} frames/s): ours is {authors_s / ours_s:.1f}x faster"
    )

    few = replace(ours, iterations=args.video_iterations)
    S50 = replace(few, hypotheses=50)
    frame_by_frame_s = timed(prior, 160, S50, args.repeats)
    video_s = timed(prior, 160, replace(S50, temporal_sigma=video_sigma(25.0)), args.repeats)
    n = args.high_fps_frames
    fps25_s = timed(prior, n, replace(few, temporal_sigma=video_sigma(25.0)), args.repeats)
    fps1000_s = timed(prior, n, replace(few, temporal_sigma=video_sigma(1000.0)), args.repeats)
    report["video"] = {
        "iterations": few.iterations,
        "hypotheses_50_160_frames": {"frame_by_frame_seconds": frame_by_frame_s, "video_seconds": video_s, "ratio": video_s / frame_by_frame_s},
        "frame_rate": {"frames": n, "fps_25_seconds": fps25_s, "fps_1000_seconds": fps1000_s, "ratio": fps1000_s / fps25_s},
    }
    print(
        f"\nvideo mode, {few.iterations} iterations: S=50 on 160 frames {video_s:.2f} s vs frame by frame "
        f"{frame_by_frame_s:.2f} s ({video_s / frame_by_frame_s:.2f}x); {n} frames at 1000 fps {fps1000_s:.2f} s vs "
        f"25 fps {fps25_s:.2f} s ({fps1000_s / fps25_s:.2f}x per frame)"
    )
    n = args.compare_frames
    video = replace(ours, temporal_sigma=video_sigma(25.0))
    video_default_s = timed(prior, n, video, args.repeats)
    video_unsteady_s = timed(prior, n, replace(video, steady_size=False), args.repeats)
    video_unpulled_s = timed(prior, n, replace(video, bone_length_pull=0.0), args.repeats)
    report["video_defaults"] = {
        "frames": n,
        "frame_by_frame_seconds": ours_s,
        "video_seconds": video_default_s,
        "video_without_steady_size_seconds": video_unsteady_s,
        "video_vs_frame_by_frame": video_default_s / ours_s,
        "steady_size_cost": video_default_s / video_unsteady_s,
        "video_without_bone_length_pull_seconds": video_unpulled_s,
        "bone_length_pull_cost": video_default_s / video_unpulled_s,
    }
    print(
        f"\nvideo mode at the defaults, same {n}-frame batch: {video_default_s:.2f} s ({video_default_s / ours_s:.2f}x frame by "
        f"frame); without steady size {video_unsteady_s:.2f} s (steady size costs {video_default_s / video_unsteady_s:.3f}x), "
        f"without the bone-length pull {video_unpulled_s:.2f} s (the pull costs {video_default_s / video_unpulled_s:.3f}x)"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
