"""Video mode at a clip's ends, measured on the bundled walk (its true poses are inside):

    python benchmarks/clip_end.py [--set FIELD=VALUE ...] [--frame-by-frame] [--json OUT.json]

Lifts ``examples/walking_example.npz`` (90 frames at 30 fps, walking away from the camera) with
the shipped prior in video mode (``LiftConfig(temporal_sigma=video_sigma(fps))``, ``--set``
overrides any field) and prints, for the first 8 frames, the middle
and the last 8 frames: the pelvis speed (mm/frame) against the truth's, the pelvis depth error,
the same after scaling the whole lifted clip about the camera centre by the one factor that fits
the true pelvis path best (a single camera cannot know the body's size, so a clip's path is only
known up to that factor) and the pelvis-aligned pose error (mm). The "clip-end lurch" of issue 11
is the last 8 frames' speed running ahead of the truth's and their depth error ramping
(docs/validation.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training.evaluate import apply_overrides  # noqa: E402
from zedo_core import load_prior  # noqa: E402
from zedo_core.lifting import LiftConfig, lift  # noqa: E402
from zedo_core.temporal import video_sigma  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "walking_example.npz"
END = 8


def measure(config: LiftConfig) -> dict:
    """Speeds and errors of the walk lifted with ``config``, per part of the clip."""
    data = np.load(EXAMPLE)
    result = lift(load_prior(device="cpu"), data["keypoints"], data["K"], data["confidence"], config)
    poses, truth = result.poses3d.astype(np.float64), data["true_poses3d"].astype(np.float64)
    speed = np.linalg.norm(np.diff(poses[:, 0], axis=0), axis=-1) * 1000
    true_speed = np.linalg.norm(np.diff(truth[:, 0], axis=0), axis=-1) * 1000
    depth = np.abs(poses[:, 0, 2] - truth[:, 0, 2]) * 1000
    clip_scale = float((poses[:, 0] * truth[:, 0]).sum() / (poses[:, 0] ** 2).sum())
    scaled_depth = np.abs(clip_scale * poses[:, 0, 2] - truth[:, 0, 2]) * 1000
    pose = np.linalg.norm((poses - poses[:, :1]) - (truth - truth[:, :1]), axis=-1).mean(-1) * 1000
    parts = {"first": slice(0, END), "middle": slice(END, -END), "last": slice(-END, None)}
    return {
        name: {
            "pelvis_speed_mm": float(speed[part].mean()),
            "true_pelvis_speed_mm": float(true_speed[part].mean()),
            "depth_error_mm": float(depth[part].mean()),
            "scaled_depth_error_mm": float(scaled_depth[part].mean()),
            "pose_error_mm": float(pose[part].mean()),
        }
        for name, part in parts.items()
    } | {
        "last_frame_depth_error_mm": float(depth[-1]),
        "last_frame_scaled_depth_error_mm": float(scaled_depth[-1]),
        "clip_scale": clip_scale,
        "mpjpe_mm": float(pose.mean()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a LiftConfig field")
    parser.add_argument("--frame-by-frame", action="store_true", help="without video mode, for comparison")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    fps = float(np.load(EXAMPLE)["fps"])
    config = LiftConfig(temporal_sigma=0.0 if args.frame_by_frame else video_sigma(fps))
    try:
        config = apply_overrides(config, args.set)
    except (ValueError, SyntaxError) as exc:
        raise SystemExit(f"error: --set {' '.join(args.set)}: {exc}") from None
    report = measure(config)
    print(f"{'frames':<8}{'speed':>8}{'truth':>8}{'depth err':>11}{'one scale':>11}{'pose err':>10}  (mm, mm/frame)")
    for name in ("first", "middle", "last"):
        row = report[name]
        print(
            f"{name:<8}{row['pelvis_speed_mm']:>8.1f}{row['true_pelvis_speed_mm']:>8.1f}"
            f"{row['depth_error_mm']:>11.0f}{row['scaled_depth_error_mm']:>11.0f}{row['pose_error_mm']:>10.1f}"
        )
    print(
        f"last frame's depth error {report['last_frame_depth_error_mm']:.0f} mm "
        f"({report['last_frame_scaled_depth_error_mm']:.0f} after the clip's scale, {report['clip_scale']:.3f}); "
        f"MPJPE {report['mpjpe_mm']:.1f} mm"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"set": args.set, "video": not args.frame_by_frame, **report}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
