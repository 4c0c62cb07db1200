"""A/B of :func:`zedo_core.intrinsics.estimate_focal` between two checkouts, on every whole
sequence x camera of the training subjects (ground-truth 2D, optionally + noise; 50 fps).

    cd CHECKOUT_A && python PATH/TO/training/compare_focal_estimates.py dump a.json [--subjects S1 S5] [--noise 3]
    cd CHECKOUT_B && python PATH/TO/training/compare_focal_estimates.py dump b.json [--subjects S1 S5] [--noise 3]
    python training/compare_focal_estimates.py compare a.json b.json

``dump`` uses the ``zedo_core`` and ``training`` of the current directory (so one copy of this script
serves an older checkout too). ``compare`` reports the per-clip focal differences, the agreement of
the fallback decisions and reasons, and lists the clips that differ. Held-out subjects (S9, S11)
are refused: nothing is chosen on them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

TRAINING_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")


def dump(out: Path, subjects: tuple[str, ...], noise_px: float) -> None:
    sys.path.insert(0, str(Path.cwd()))
    import zedo_core.intrinsics as intrinsics
    from training.h36m import load_cameras, load_poses, project

    print(f"estimate_focal from {intrinsics.__file__}", file=sys.stderr)
    poses, cameras = load_poses(None, subjects), load_cameras(None)
    rows, started = {}, time.perf_counter()
    for seq_key, world in poses.items():
        for cam_id, cam in cameras[seq_key.split("/")[0]].items():
            key = f"{seq_key}/{cam_id}"
            keypoints = project(cam.world_to_camera_m(world), cam.K)
            if noise_px:
                rng = np.random.default_rng(sum(map(ord, key)))  # the same noise in every checkout
                keypoints = keypoints + rng.normal(0.0, noise_px, keypoints.shape)
            clock = time.perf_counter()
            found = intrinsics.estimate_focal(keypoints, None, (cam.width, cam.height), fps=50.0)
            rows[key] = {
                "frames": len(keypoints), "estimated": found.estimated, "focal_px": found.focal_px,
                "true_focal_px": float(cam.K[0, 0]), "reason": found.reason, "uncertainty": found.uncertainty,
                "pitch_deg": found.pitch_deg, "seconds": time.perf_counter() - clock,
            }
    print(f"{len(rows)} clips in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    out.write_text(json.dumps(rows, indent=1) + "\n")


def compare(path_a: Path, path_b: Path) -> None:
    a, b = json.loads(path_a.read_text()), json.loads(path_b.read_text())
    if a.keys() != b.keys():
        raise SystemExit(f"{path_a} and {path_b} hold different clips")
    keys = list(a)
    ratio = np.array([abs(a[k]["focal_px"] / b[k]["focal_px"] - 1.0) for k in keys])
    est_a, est_b = (np.array([d[k]["estimated"] for k in keys]) for d in (a, b))

    def head(reason: str) -> str:  # the reason without its figures
        return reason.split(" (")[0]

    same_reason = np.array([head(a[k]["reason"]) == head(b[k]["reason"]) for k in keys])
    print(
        f"{len(keys)} clips: estimated {est_a.sum()} ({path_a.name}) vs {est_b.sum()} ({path_b.name}); "
        f"same decision {np.sum(est_a == est_b)}/{len(keys)}, same reason {same_reason.sum()}/{len(keys)}"
    )
    both = est_a & est_b
    if both.any():
        r = ratio[both]
        print(f"  focal on the {both.sum()} clips both estimate: |ratio - 1| max {r.max():.1e}, median {np.median(r):.1e}")
    print(f"  focal on all clips (fallbacks included): |ratio - 1| max {ratio.max():.1e}, median {np.median(ratio):.1e}")
    pairs = [(a[k]["uncertainty"], b[k]["uncertainty"]) for k in keys]
    pairs = np.array([p for p in pairs if None not in p])
    if len(pairs):
        diff = np.abs(pairs[:, 0] - pairs[:, 1])
        near = pairs[:, 0] < 0.2  # within reach of the gate (MAX_LOG_UNCERTAINTY = 0.1)
        print(
            f"  uncertainty on the {len(pairs)} clips with one: |difference| median {np.median(diff):.1e}; "
            f"max {diff[near].max() if near.any() else float('nan'):.1e} on the {near.sum()} below 0.2, {diff.max():.1e} overall"
        )
    seconds = [np.mean([d[k]["seconds"] for k in keys]) for d in (a, b)]
    print(f"  estimate_focal seconds per clip: {seconds[0]:.3f} vs {seconds[1]:.3f}")
    for k, r, same in zip(keys, ratio, same_reason):
        if not same or r > 1e-3:
            print(f"  differs: {k}: {a[k]['focal_px']:.1f} px ({a[k]['reason']}) vs {b[k]['focal_px']:.1f} px ({b[k]['reason']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("dump", help="estimate every clip with the current directory's zedo_core")
    run.add_argument("out", type=Path)
    run.add_argument("--subjects", nargs="+", default=list(TRAINING_SUBJECTS))
    run.add_argument("--noise", type=float, default=0.0, help="Gaussian noise on the 2D keypoints, px (seeded per clip)")
    both = commands.add_parser("compare", help="compare two dumps")
    both.add_argument("a", type=Path)
    both.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.command == "dump":
        held_out = sorted(set(args.subjects) - set(TRAINING_SUBJECTS))
        if held_out:
            parser.error(f"only the training subjects {' '.join(TRAINING_SUBJECTS)}; got {' '.join(held_out)}")
        dump(args.out, tuple(args.subjects), args.noise)
    else:
        compare(args.a, args.b)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
