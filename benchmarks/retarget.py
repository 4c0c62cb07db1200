"""Retargeting onto a Rigify rig, measured: do the rig's limbs point where the ZeDO rig's do?

    python benchmarks/retarget.py [--input examples/walking_example.npz] [--rig RIGIFY.blend]
                                  [--json reports/retarget.json] [-- BATCH OPTIONS...]

Runs ``python -m zedo_blender.batch --input IN --output OUT.blend --retarget-to RIGIFY.blend``
(without ``--rig``, a rig is first generated with Rigify from the human metarig), opens OUT.blend
and evaluates both rigs in Blender at every frame (constraints and drivers included). Measured on
Rigify's deform bones, so the figures do not depend on how the retarget drives the controls:

- limb directions: the angle between each ZeDO limb bone (upper arm, forearm, thigh, shin) and
  the Rigify segment over the same joints (``DEF-upper_arm.L`` head to ``DEF-forearm.L`` head...);
- feet heights: the ankles' heights above the ground (ZeDO ``LeftLeg`` tail, Rigify
  ``DEF-foot.L`` head);
- the retarget's own time (redone three times on the opened file, best kept);
- foot sliding: on the frames where a ZeDO ankle is planted (within 3 cm of its lowest height and
  moving less than 1 cm a frame), how far the ankles move horizontally per frame on either rig.

Prints median / 90th percentile / max per limb and over all limbs and frames, and the issue's
done-when (median < 10 deg, 90th percentile < 25 deg, feet heights within 15 cm).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tools.rigify_rig import make_rigify_rig  # noqa: E402
from zedo_blender import retarget  # noqa: E402
from zedo_blender.skeleton import BONE_NAMES  # noqa: E402

# ZeDO bone -> Rigify deform segment (head of the first bone -> head of the second).
SEGMENTS = {
    "LeftArm": ("DEF-upper_arm.L", "DEF-forearm.L"),
    "LeftForeArm": ("DEF-forearm.L", "DEF-hand.L"),
    "RightArm": ("DEF-upper_arm.R", "DEF-forearm.R"),
    "RightForeArm": ("DEF-forearm.R", "DEF-hand.R"),
    "LeftUpLeg": ("DEF-thigh.L", "DEF-shin.L"),
    "LeftLeg": ("DEF-shin.L", "DEF-foot.L"),
    "RightUpLeg": ("DEF-thigh.R", "DEF-shin.R"),
    "RightLeg": ("DEF-shin.R", "DEF-foot.R"),
}
ANKLES = {"LeftLeg": "DEF-foot.L", "RightLeg": "DEF-foot.R"}
DONE_WHEN = {"median_deg": 10.0, "p90_deg": 25.0, "feet_m": 0.15}


def measure(blend: Path) -> dict:
    """Open ``blend`` and compare its ZeDO rig and Rigify rig at every frame of the scene."""
    bpy.ops.wm.open_mainfile(filepath=str(blend))
    armatures = [o for o in bpy.data.objects if o.type == "ARMATURE"]
    zedo = next(o for o in armatures if all(name in o.data.bones for name in BONE_NAMES))
    rigify = next(o for o in armatures if "DEF-upper_arm.L" in o.data.bones)
    scene = bpy.context.scene
    angles, heights_zedo, heights_rigify, ankles_zedo, ankles_rigify = [], [], [], [], []
    for frame in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(frame)
        zw, rw, zp, rp = zedo.matrix_world, rigify.matrix_world, zedo.pose.bones, rigify.pose.bones
        row = []
        for name, (first, second) in SEGMENTS.items():
            a = np.array(zw @ zp[name].tail) - np.array(zw @ zp[name].head)
            b = np.array(rw @ rp[second].head) - np.array(rw @ rp[first].head)
            row.append(np.degrees(np.arccos(np.clip(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), -1.0, 1.0))))
        angles.append(row)
        ankles_zedo.append([np.array(zw @ zp[name].tail) for name in ANKLES])
        ankles_rigify.append([np.array(rw @ rp[bone].head) for bone in ANKLES.values()])
        heights_zedo.append([a[2] for a in ankles_zedo[-1]])
        heights_rigify.append([a[2] for a in ankles_rigify[-1]])
    action = rigify.animation_data.action.name if rigify.animation_data and rigify.animation_data.action else None
    seconds = []  # the retarget alone, redone in this process
    for _ in range(3):
        started = time.perf_counter()
        retarget.retarget(bpy.context, zedo, rigify)
        seconds.append(time.perf_counter() - started)
    angles = np.array(angles)
    feet = np.abs(np.array(heights_rigify) - np.array(heights_zedo))
    ankles_zedo, ankles_rigify = np.array(ankles_zedo), np.array(ankles_rigify)  # (N, 2, 3)
    speed_zedo = np.linalg.norm(np.diff(ankles_zedo[..., :2], axis=0), axis=-1)
    speed_rigify = np.linalg.norm(np.diff(ankles_rigify[..., :2], axis=0), axis=-1)
    low = ankles_zedo[1:, :, 2] < ankles_zedo[..., 2].min(axis=0) + 0.03
    planted = low & (speed_zedo < 0.01)
    per_limb = {
        name: {"median_deg": float(np.median(angles[:, i])), "p90_deg": float(np.percentile(angles[:, i], 90)),
               "max_deg": float(angles[:, i].max())}
        for i, name in enumerate(SEGMENTS)
    }
    return {
        "frames": int(angles.shape[0]),
        "zedo_rig": zedo.name,
        "rigify_rig": rigify.name,
        "action": action,
        "limbs": per_limb,
        "all_limbs": {"median_deg": float(np.median(angles)), "p90_deg": float(np.percentile(angles, 90)),
                      "max_deg": float(angles.max())},
        "feet_height_difference_m": {"median": float(np.median(feet)), "max": float(feet.max())},
        "retarget_seconds_best_of_3": round(min(seconds), 2),
        "planted_ankle_frames": int(planted.sum()),
        "planted_ankle_speed_m_per_frame": {"zedo": float(speed_zedo[planted].mean()), "rigify": float(speed_rigify[planted].mean())},
        "feet_height_zedo_min_m": float(np.min(heights_zedo)),
        "feet_height_rigify_min_m": float(np.min(heights_rigify)),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    batch_options = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", type=Path, default=REPO_ROOT / "examples" / "walking_example.npz")
    parser.add_argument("--rig", type=Path, default=None, help="a Rigify rig .blend (default: generate one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rig = args.rig or make_rigify_rig(Path(tmp) / "rigify_rig.blend")
        output = Path(tmp) / "retargeted.blend"
        command = [sys.executable, "-m", "zedo_blender.batch", *batch_options, "--input", str(args.input),
                   "--output", str(output), "--retarget-to", str(rig)]
        print("$", " ".join(command[1:]), flush=True)
        started = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
        process = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        if process.returncode != 0:
            print(process.stdout[-2000:], process.stderr[-2000:], sep="\n", file=sys.stderr)
            return process.returncode
        print(process.stdout.strip().splitlines()[-1])
        figures = measure(output)
        figures["batch_seconds"] = round(time.perf_counter() - started, 1)
        figures["command"] = " ".join(["python", "-m", "zedo_blender.batch", *batch_options, "--input", str(args.input),
                                       "--output", "OUT.blend", "--retarget-to", str(args.rig or "RIGIFY.blend")])
    print(f"\n{figures['frames']} frames, ZeDO rig '{figures['zedo_rig']}' -> Rigify rig '{figures['rigify_rig']}'")
    print(f"{'limb':14s} {'median':>8s} {'p90':>8s} {'max':>8s}   (degrees, Rigify deform bones)")
    for name, row in figures["limbs"].items():
        print(f"{name:14s} {row['median_deg']:8.2f} {row['p90_deg']:8.2f} {row['max_deg']:8.2f}")
    total, feet = figures["all_limbs"], figures["feet_height_difference_m"]
    print(f"{'all limbs':14s} {total['median_deg']:8.2f} {total['p90_deg']:8.2f} {total['max_deg']:8.2f}")
    print(f"feet heights: |Rigify - ZeDO| median {100 * feet['median']:.1f} cm, max {100 * feet['max']:.1f} cm")
    sliding = figures["planted_ankle_speed_m_per_frame"]
    print(f"planted ankles ({figures['planted_ankle_frames']} foot-frames) move {100 * sliding['zedo']:.2f} cm/frame on the "
          f"ZeDO rig, {100 * sliding['rigify']:.2f} cm/frame on the Rigify rig")
    print(f"the retarget alone: {figures['retarget_seconds_best_of_3']:.2f} s (best of 3, {figures['frames']} frames)")
    passed = (total["median_deg"] < DONE_WHEN["median_deg"] and total["p90_deg"] < DONE_WHEN["p90_deg"]
              and feet["max"] < DONE_WHEN["feet_m"])
    figures["done_when"] = {**DONE_WHEN, "passed": bool(passed)}
    print("done-when (median < 10 deg, p90 < 25 deg, feet within 15 cm):", "PASSED" if passed else "FAILED")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
