"""Peak memory of `python -m zedo_core lift --video` against clip length: each length runs in a
fresh process (the bundled example clip tiled to length, few iterations: memory does not depend
on them), and its peak resident size is read from the operating system.

    python benchmarks/memory.py [--frames 20000 100000] [--iterations 2] [--json reports/memory.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "walking_example.npz"

CHILD = """
import resource, sys
from zedo_core.cli import main
code = main(sys.argv[1:])
print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def peak_mb(frames: int, iterations: int, folder: Path, video: bool) -> float:
    data = dict(np.load(EXAMPLE))
    reps = -(-frames // len(data["keypoints"]))
    clip = folder / f"clip_{frames}.npz"
    np.savez(
        clip,
        keypoints=np.tile(data["keypoints"], (reps, 1, 1))[:frames],
        confidence=np.tile(data["confidence"], (reps, 1))[:frames],
        K=data["K"], fps=data["fps"], image_size=data["image_size"],
    )
    command = [sys.executable, "-c", CHILD, "lift", str(clip), str(folder / f"out_{frames}.npz"), "--iterations", str(iterations)]
    if video:
        command.append("--video")
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("PEAK_KB"))
    return int(line.split()[1]) / 1024.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, nargs="+", default=[20_000, 100_000])
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--no-video", action="store_true", help="frame by frame instead of video mode")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for frames in args.frames:
            peak = peak_mb(frames, args.iterations, Path(tmp), not args.no_video)
            rows.append({"frames": frames, "peak_mb": peak})
            print(f"{frames:>8} frames: peak {peak:.0f} MB", flush=True)
    ratio = rows[-1]["peak_mb"] / rows[0]["peak_mb"]
    print(f"{rows[-1]['frames']} vs {rows[0]['frames']} frames: {ratio:.2f}x the peak memory")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"video": not args.no_video, "iterations": args.iterations, "rows": rows, "ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
