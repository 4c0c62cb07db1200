"""Evaluate lifting on Human3.6M S9 + S11 (all four cameras, every 640th frame by default).

Inputs: (a) ground-truth 2D (pinhole projection of the 3D joints) and/or (b) the real
Stacked-Hourglass detections mapped to the 17 joints. Prints MPJPE and PA-MPJPE (mm) per action
and their mean for each hypothesis count, with the oracle minimum and the oracle-free answer when
S > 1, and frames/s. Writes a JSON report.

    python -m training.evaluate --inputs gt detections --hypotheses 1 10 50 --json reports/eval.json
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from training.h36m import TEST_SUBJECTS, load_cameras, load_detections, load_poses, project
from zedo_core.layouts import to_h36m
from zedo_core.lifting import LiftConfig, lift
from zedo_core.metrics import mpjpe, pa_mpjpe
from zedo_core.prior import load_prior

# --mapping -> the zedo_core.layouts layout that adapts the Stacked-Hourglass (MPII 16) detections.
# "thorax" (default, layout "mpii"): MPII thorax on the H36M thorax, which the data README measures
# about 10 px apart (the usual mapping puts it on the spine, 40 px off); spine and neck/nose missing.
# "usual" (layout "mpii_usual"): the lifting literature's mapping (MPII thorax -> spine, upper neck
# -> thorax). The detections carry no confidences: every mapped joint gets 1.
MAPPINGS = {"thorax": "mpii", "usual": "mpii_usual"}


@dataclass
class Samples:
    keys: list[str]  # "S9/Walking 1/54138969"
    actions: list[str]
    frames: np.ndarray
    gt3d: np.ndarray  # (N,17,3) metres, camera frame
    keypoints: np.ndarray  # (N,17,2)
    confidence: np.ndarray  # (N,17)
    K: np.ndarray  # (N,3,3)


def action_name(sequence: str) -> str:
    """'Walking 1' -> 'Walking'; 'WalkDog' and 'WalkingDog' are one action."""
    name = re.sub(r"\s*\d+$", "", sequence)
    return {"WalkingDog": "WalkDog", "TakingPhoto": "Photo"}.get(name, name)


def build_samples(
    data_dir: str | None, source: str, stride: int, mapping: str = "thorax", subjects: tuple[str, ...] = TEST_SUBJECTS
) -> Samples:
    """Every ``stride``-th frame of every sequence and camera of ``subjects``, with ground-truth
    2D (``source="gt"``) or the Stacked-Hourglass detections mapped by ``mapping``."""
    poses = load_poses(data_dir, subjects)
    cameras = load_cameras(data_dir)
    detections = load_detections(data_dir) if source == "detections" else {}
    keys, actions, frames, gt, kps, confs, Ks = [], [], [], [], [], [], []
    for seq_key, world in poses.items():
        subject, sequence = seq_key.split("/")
        for cam_id, cam in cameras[subject].items():
            idx = np.arange(0, len(world), stride)
            cam3d = cam.world_to_camera_m(world[idx])
            if source == "gt":
                kp = project(cam3d, cam.K)
                conf = np.ones(kp.shape[:2])
            else:
                det_key = f"{seq_key}/{cam_id}"
                if det_key not in detections:
                    continue
                det = detections[det_key]
                idx = idx[idx < len(det)]
                cam3d = cam3d[: len(idx)]
                kp, conf = to_h36m(det[idx], layout=MAPPINGS[mapping])
                kp = np.where(conf[..., None] > 0, kp, 0.0)  # missing joints: 0 px with confidence 0
            keys += [f"{seq_key}/{cam_id}"] * len(idx)
            actions += [action_name(sequence)] * len(idx)
            frames.append(idx)
            gt.append(cam3d)
            kps.append(kp)
            confs.append(conf)
            Ks.append(np.broadcast_to(cam.K, (len(idx), 3, 3)))
    if not keys:
        raise SystemExit(f"error: no {source} samples for subjects {', '.join(subjects)}")
    return Samples(keys, actions, np.concatenate(frames), np.concatenate(gt), np.concatenate(kps), np.concatenate(confs), np.concatenate(Ks))


@dataclass
class Clip:
    """Consecutive frames of one sequence seen by one camera."""

    key: str  # "S9/Walking 1/54138969"
    action: str
    frames: np.ndarray  # (T,) frame numbers in the 50 fps sequence
    gt3d: np.ndarray  # (T,17,3) metres, camera frame
    keypoints: np.ndarray  # (T,17,2)
    confidence: np.ndarray  # (T,17)
    K: np.ndarray  # (3,3)


def build_clips(
    data_dir: str | None,
    source: str,
    subjects: tuple[str, ...] = TEST_SUBJECTS,
    cameras: tuple[str, ...] | None = None,
    frame_step: int = 1,
    max_frames: int = 0,
    mapping: str = "thorax",
) -> list[Clip]:
    """One clip per sequence and camera of ``subjects``: every ``frame_step``-th frame (1 = 50 fps),
    at most ``max_frames`` of them (0 = all) taken from the middle of the sequence, with
    ground-truth 2D (``source="gt"``) or the Stacked-Hourglass detections mapped by ``mapping``.
    ``cameras``: camera ids, or indices 0-3 in the order of ``cameras.json`` (default: all four)."""
    poses = load_poses(data_dir, subjects)
    all_cameras = load_cameras(data_dir)
    detections = load_detections(data_dir) if source == "detections" else {}
    clips = []
    for seq_key, world in poses.items():
        subject, sequence = seq_key.split("/")
        for index, (cam_id, cam) in enumerate(all_cameras[subject].items()):
            if cameras is not None and cam_id not in cameras and str(index) not in cameras:
                continue
            length = len(world)
            if source == "detections":
                det_key = f"{seq_key}/{cam_id}"
                if det_key not in detections:
                    continue
                length = min(length, len(detections[det_key]))
            idx = np.arange(0, length, frame_step)
            if max_frames and len(idx) > max_frames:
                first = (len(idx) - max_frames) // 2
                idx = idx[first : first + max_frames]
            cam3d = cam.world_to_camera_m(world[idx])
            if source == "gt":
                kp, conf = project(cam3d, cam.K), np.ones((len(idx), 17))
            else:
                kp, conf = to_h36m(detections[det_key][idx], layout=MAPPINGS[mapping])
                kp = np.where(conf[..., None] > 0, kp, 0.0)  # missing joints: 0 px with confidence 0
            clips.append(Clip(f"{seq_key}/{cam_id}", action_name(sequence), idx, cam3d, kp, conf, cam.K.copy()))
    if not clips:
        raise SystemExit(f"error: no {source} clips for subjects {', '.join(subjects)}")
    return clips


def _summary(values_mm: np.ndarray) -> dict:
    return {
        "mean": float(np.mean(values_mm)),
        "median": float(np.median(values_mm)),
        "p90": float(np.percentile(values_mm, 90)),
    }


def score(samples: Samples, hypotheses: np.ndarray, selected_poses: np.ndarray) -> dict:
    """Per-action and overall errors in mm for the oracle-free answer and the oracle minimum."""
    gt = samples.gt3d[:, None]
    per_hyp_mpjpe = mpjpe(hypotheses, gt) * 1000
    per_hyp_pa = pa_mpjpe(hypotheses, gt) * 1000
    results = {
        "answer": {"mpjpe": mpjpe(selected_poses, samples.gt3d) * 1000, "pa_mpjpe": pa_mpjpe(selected_poses, samples.gt3d) * 1000},
        "oracle": {"mpjpe": per_hyp_mpjpe.min(1), "pa_mpjpe": per_hyp_pa.min(1)},
    }
    actions = np.array(samples.actions)
    report = {}
    for kind, metrics in results.items():
        report[kind] = {
            "per_action": {
                a: {m: float(v[actions == a].mean()) for m, v in metrics.items()} for a in sorted(set(samples.actions))
            },
            **{m: _summary(v) for m, v in metrics.items()},
        }
        # The field's "mean" is the mean over actions of the per-action means.
        for m in metrics:
            report[kind][m]["action_mean"] = float(np.mean([report[kind]["per_action"][a][m] for a in report[kind]["per_action"]]))
    return report


def print_table(title: str, report: dict, show_oracle: bool) -> None:
    kinds = ["answer", "oracle"] if show_oracle else ["answer"]
    header = f"{'action':<14}" + "".join(f"{k + ' MPJPE':>16}{k + ' PA':>13}" for k in kinds)
    print(f"\n{title}\n{header}")
    for a in report["answer"]["per_action"]:
        row = "".join(f"{report[k]['per_action'][a]['mpjpe']:>16.1f}{report[k]['per_action'][a]['pa_mpjpe']:>13.1f}" for k in kinds)
        print(f"{a:<14}{row}")
    for stat in ("action_mean", "mean", "median", "p90"):
        row = "".join(f"{report[k]['mpjpe'][stat]:>16.1f}{report[k]['pa_mpjpe'][stat]:>13.1f}" for k in kinds)
        print(f"{stat.upper():<14}{row}")


def apply_overrides(config: LiftConfig, items: list[str]) -> LiftConfig:
    """``["start_pool=50", "pitch_deg=(0.0, 15.0)"]`` -> a config with those fields replaced."""
    for item in items:
        field, _, value = item.partition("=")
        if field not in LiftConfig.__dataclass_fields__:
            raise SystemExit(f"error: --set {item}: LiftConfig has no field {field!r}")
        config = replace(config, **{field: ast.literal_eval(value)})
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="Human3.6M folder (default ../shared/data/h36m)")
    parser.add_argument("--prior", default=None, help="prior file (default: the shipped one)")
    parser.add_argument("--inputs", nargs="+", choices=["gt", "detections"], default=["gt", "detections"])
    parser.add_argument("--hypotheses", nargs="+", type=int, default=[1, 10, 50])
    parser.add_argument("--iterations", type=int, default=LiftConfig.iterations)
    parser.add_argument("--stride", type=int, default=640, help="evaluate every STRIDE-th frame")
    parser.add_argument("--subjects", nargs="+", default=list(TEST_SUBJECTS), help="subjects to evaluate (default S9 S11)")
    parser.add_argument("--mapping", choices=sorted(MAPPINGS), default="thorax", help="detector joint mapping")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first LIMIT samples (smoke runs)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a LiftConfig field")
    args = parser.parse_args(argv)

    prior = load_prior(args.prior, device=args.device)
    config = LiftConfig(iterations=args.iterations, seed=args.seed)
    config = apply_overrides(config, args.set)
    full = {
        "command": "python -m training.evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": {**config.__dict__, "stride": args.stride, "mapping": args.mapping, "subjects": args.subjects, "device": str(prior.device)},
        "prior": prior.metadata,
        "results": {},
    }
    for source in args.inputs:
        samples = build_samples(args.data, source, args.stride, args.mapping, tuple(args.subjects))
        if args.limit:
            samples = Samples(*(getattr(samples, f)[: args.limit] for f in Samples.__dataclass_fields__))
        for S in args.hypotheses:
            started = time.perf_counter()
            result = lift(prior, samples.keypoints, samples.K, samples.confidence, replace(config, hypotheses=S))
            seconds = time.perf_counter() - started
            report = score(samples, result.hypotheses, result.poses3d)
            report.update(frames=len(samples.keys), seconds=seconds, frames_per_second=len(samples.keys) / seconds)
            full["results"][f"{source}/S={S}"] = report
            print_table(f"== {source} 2D, S={S}: {len(samples.keys)} frames, {seconds:.1f} s, {len(samples.keys) / seconds:.2f} frames/s (mm)", report, S > 1)
            sys.stdout.flush()
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(full, indent=2, default=str))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
