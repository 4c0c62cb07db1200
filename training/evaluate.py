"""Evaluate lifting on Human3.6M S9 + S11 (all four cameras, every 640th frame by default, or
``--random-frames N`` drawn uniformly at random from every frame).

Inputs: (a) ground-truth 2D (pinhole projection of the 3D joints) and/or (b) the real
Stacked-Hourglass detections mapped to the 17 joints. Prints MPJPE and PA-MPJPE (mm) per action
and their mean for each hypothesis count, with the oracle minimum and the oracle-free answer when
S > 1, and frames/s. Writes a JSON report.

    python -m training.evaluate --inputs gt detections --hypotheses 1 10 50 --json reports/eval.json

Sequence mode (--sequences): consecutive frames instead of single ones. One clip per sequence and
camera (every --frame-step-th frame, at most --max-frames from the middle of the sequence), lifted
frame by frame and in video mode (LiftConfig.temporal_sigma; clips never see each other). Adds
the acceleration error (mm/frame^2 at the clip's frame rate: mean over joints and frames of
|a_pred - a_true|, a = x[t+1] - 2 x[t] + x[t-1], pelvis-aligned). The defaults (S9 + S11, 4
cameras, 25 fps, 64 frames = 2.6 s per clip: 15k frames per input and mode) take about 15
minutes on one CPU thread for both inputs and both modes.

    python -m training.evaluate --sequences --json reports/eval_h36m_sequences.json
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

from training.h36m import TEST_SUBJECTS, load_cameras, load_detections, load_poses, project
from zedo_core.layouts import to_h36m
from zedo_core.lifting import LiftConfig, lift
from zedo_core.metrics import acceleration_error, mpjpe, pa_mpjpe
from zedo_core.prior import load_prior
from zedo_core.temporal import video_sigma

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


def draw_starts(lengths: list[int], count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """``count`` distinct ``(item, start)`` pairs uniformly over all valid starts of the items."""
    lengths = np.maximum(np.asarray(lengths), 0)
    total = int(lengths.sum())
    if total == 0:
        raise ValueError("no clip fits in the data")
    flat = np.sort(rng.choice(total, size=min(count, total), replace=False))
    bounds = np.cumsum(lengths)
    items = np.searchsorted(bounds, flat, side="right")
    starts = flat - np.concatenate([[0], bounds[:-1]])[items]
    return list(zip(items.tolist(), starts.tolist()))


def build_samples(
    data_dir: str | None,
    source: str,
    stride: int,
    mapping: str = "thorax",
    subjects: tuple[str, ...] = TEST_SUBJECTS,
    random_frames: int = 0,
    seed: int = 0,
) -> Samples:
    """Every ``stride``-th frame of every sequence and camera of ``subjects`` — or, with
    ``random_frames``, that many frames drawn uniformly at random (seeded, without replacement)
    from all of their frames — with ground-truth 2D (``source="gt"``) or the Stacked-Hourglass
    detections mapped by ``mapping`` (then only frames that have detections)."""
    poses = load_poses(data_dir, subjects)
    cameras = load_cameras(data_dir)
    detections = load_detections(data_dir) if source == "detections" else {}
    items = []  # (sequence key, camera id, camera, frames available)
    for seq_key, world in poses.items():
        for cam_id, cam in cameras[seq_key.split("/")[0]].items():
            det_key = f"{seq_key}/{cam_id}"
            if source == "gt":
                items.append((seq_key, cam_id, cam, len(world)))
            elif det_key in detections:
                items.append((seq_key, cam_id, cam, min(len(world), len(detections[det_key]))))
    if random_frames:
        total = sum(item[3] for item in items)
        if random_frames > total:
            raise SystemExit(f"error: --random-frames {random_frames} is more than the {total} {source} frames")
        drawn = np.array(draw_starts([item[3] for item in items], random_frames, np.random.default_rng(seed)))
    keys, actions, frames, gt, kps, confs, Ks = [], [], [], [], [], [], []
    for i, (seq_key, cam_id, cam, available) in enumerate(items):
        sequence = seq_key.split("/")[1]
        idx = drawn[drawn[:, 0] == i, 1] if random_frames else np.arange(0, available, stride)
        if len(idx) == 0:
            continue
        cam3d = cam.world_to_camera_m(poses[seq_key][idx])
        if source == "gt":
            kp = project(cam3d, cam.K)
            conf = np.ones(kp.shape[:2])
        else:
            kp, conf = to_h36m(detections[f"{seq_key}/{cam_id}"][idx], layout=MAPPINGS[mapping])
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


H36M_FPS = 50.0


def score_clips(clips: list[Clip], poses: list[np.ndarray]) -> dict:
    """Per-action and overall MPJPE, PA-MPJPE (mm) and acceleration error (mm/frame^2) of lifted
    clips; per action, the mean over that action's frames ("action_mean": mean over actions)."""
    metrics = {"mpjpe": [], "pa_mpjpe": [], "accel": []}
    actions = []
    for clip, pred in zip(clips, poses):
        metrics["mpjpe"].append(mpjpe(pred, clip.gt3d) * 1000)
        metrics["pa_mpjpe"].append(pa_mpjpe(pred, clip.gt3d) * 1000)
        metrics["accel"].append(acceleration_error(pred, clip.gt3d) * 1000)
        actions += [clip.action] * len(pred)
    values = {m: np.concatenate(v) for m, v in metrics.items()}
    actions = np.array(actions)
    names = sorted(set(actions.tolist()))
    report: dict = {"per_action": {a: {m: float(np.nanmean(v[actions == a])) for m, v in values.items()} for a in names}}
    for m, v in values.items():
        finite = v[np.isfinite(v)]
        report[m] = {
            "action_mean": float(np.mean([report["per_action"][a][m] for a in names])),
            "mean": float(finite.mean()),
            "median": float(np.median(finite)),
            "p90": float(np.percentile(finite, 90)),
        }
    report["invalid_frames"] = int(np.isnan(values["mpjpe"]).sum())
    return report


def print_sequence_table(title: str, report: dict) -> None:
    print(f"\n{title}\n{'action':<14}{'MPJPE':>9}{'PA-MPJPE':>10}{'accel':>9}")
    for a, row in report["per_action"].items():
        print(f"{a:<14}{row['mpjpe']:>9.1f}{row['pa_mpjpe']:>10.1f}{row['accel']:>9.2f}")
    for stat in ("action_mean", "mean", "median", "p90"):
        print(f"{stat.upper():<14}{report['mpjpe'][stat]:>9.1f}{report['pa_mpjpe'][stat]:>10.1f}{report['accel'][stat]:>9.2f}")


def lift_clips(prior, clips: list[Clip], config: LiftConfig) -> tuple[list[np.ndarray], float]:
    """Lift every clip in one call (video mode: one segment per clip); poses per clip, seconds."""
    lengths = [len(c.keypoints) for c in clips]
    keypoints = np.concatenate([c.keypoints for c in clips])
    confidence = np.concatenate([c.confidence for c in clips])
    K = np.concatenate([np.broadcast_to(c.K, (n, 3, 3)) for c, n in zip(clips, lengths)])
    segments = np.repeat(np.arange(len(clips)), lengths)
    started = time.perf_counter()
    result = lift(prior, keypoints, K, confidence, config, segments=segments)
    seconds = time.perf_counter() - started
    return np.split(result.poses3d, np.cumsum(lengths)[:-1]), seconds


def evaluate_sequences(args: argparse.Namespace, prior, config: LiftConfig, full: dict) -> None:
    fps = H36M_FPS / args.frame_step
    sigma = args.temporal_sigma if args.temporal_sigma is not None else video_sigma(fps)
    modes = {"frame": replace(config, temporal_sigma=0.0), "video": replace(config, temporal_sigma=sigma)}
    cameras = tuple(args.cameras) if args.cameras else None
    full["config"].update(frame_step=args.frame_step, fps=fps, max_frames=args.max_frames, cameras=args.cameras, temporal_sigma_video=sigma)
    summary = []
    for source in args.inputs:
        clips = build_clips(args.data, source, tuple(args.subjects), cameras, args.frame_step, args.max_frames, args.mapping)
        if args.limit:
            clips = clips[: args.limit]
        frames = sum(len(c.keypoints) for c in clips)
        for mode in args.modes:
            poses, seconds = lift_clips(prior, clips, modes[mode])
            report = score_clips(clips, poses)
            report.update(clips=len(clips), frames=frames, seconds=seconds, frames_per_second=frames / seconds,
                          frame_step=args.frame_step, fps=fps, temporal_sigma=modes[mode].temporal_sigma)
            full["results"][f"{source}/{mode}"] = report
            print_sequence_table(
                f"== {source} 2D, {mode}{f' (temporal_sigma {sigma:g} frames)' if mode == 'video' else ''}: {len(clips)} clips, "
                f"{frames} frames at {fps:g} fps, {seconds:.1f} s, {frames / seconds:.1f} frames/s "
                f"(mm; accel mm/frame^2 at {fps:g} fps)", report)
            summary.append((source, mode, report))
            sys.stdout.flush()
    print(f"\n== summary (mean over actions; accel at {fps:g} fps)\n{'input':<12}{'mode':<7}{'MPJPE':>8}{'PA-MPJPE':>10}{'accel':>8}{'frames/s':>10}")
    for source, mode, r in summary:
        print(f"{source:<12}{mode:<7}{r['mpjpe']['action_mean']:>8.1f}{r['pa_mpjpe']['action_mean']:>10.1f}{r['accel']['action_mean']:>8.2f}{r['frames_per_second']:>10.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="Human3.6M folder (default ../shared/data/h36m)")
    parser.add_argument("--prior", default=None, help="prior file (default: the shipped one)")
    parser.add_argument("--inputs", nargs="+", choices=["gt", "detections"], default=["gt", "detections"])
    parser.add_argument("--hypotheses", nargs="+", type=int, default=None, help="(default 1 10 50; 1 with --sequences)")
    parser.add_argument("--iterations", type=int, default=LiftConfig.iterations)
    parser.add_argument("--stride", type=int, default=640, help="evaluate every STRIDE-th frame")
    parser.add_argument("--random-frames", type=int, default=0, metavar="N",
                        help="instead of --stride: N frames drawn uniformly at random (seeded by --seed)")
    parser.add_argument("--subjects", nargs="+", default=list(TEST_SUBJECTS), help="subjects to evaluate (default S9 S11)")
    parser.add_argument("--mapping", choices=sorted(MAPPINGS), default="thorax", help="detector joint mapping")
    parser.add_argument("--limit", type=int, default=0, help="evaluate only the first LIMIT samples (smoke runs)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a LiftConfig field")
    sequences = parser.add_argument_group(
        "sequence mode", "whole clips, frame by frame against video mode; the defaults take about 15 minutes on one CPU thread"
    )
    sequences.add_argument("--sequences", action="store_true", help="evaluate consecutive frames of every sequence and camera")
    sequences.add_argument("--cameras", nargs="+", default=None, help="camera ids or indices 0-3 (default: all four)")
    sequences.add_argument("--frame-step", type=int, default=2, help="every FRAME_STEP-th frame: 1 = 50 fps, 2 = 25 fps (default)")
    sequences.add_argument("--max-frames", type=int, default=64, help="frames per clip, from the middle of the sequence (0 = all; default 64)")
    sequences.add_argument("--modes", nargs="+", choices=["frame", "video"], default=["frame", "video"])
    sequences.add_argument("--temporal-sigma", type=float, default=None,
                           help="video mode's LiftConfig.temporal_sigma in frames (default: temporal.video_sigma of the clips' frame rate)")
    args = parser.parse_args(argv)
    if args.frame_step < 1 or args.max_frames < 0:
        parser.error("--frame-step must be >= 1 and --max-frames >= 0")
    if args.hypotheses is None:
        args.hypotheses = [1] if args.sequences else [1, 10, 50]

    prior = load_prior(args.prior, device=args.device)
    config = LiftConfig(iterations=args.iterations, seed=args.seed)
    config = apply_overrides(config, args.set)
    full = {
        "command": "python -m training.evaluate " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": {**config.__dict__, "stride": args.stride, "random_frames": args.random_frames, "mapping": args.mapping, "subjects": args.subjects, "device": str(prior.device)},
        "prior": prior.metadata,
        "results": {},
    }
    if args.sequences:
        evaluate_sequences(args, prior, replace(config, hypotheses=args.hypotheses[0]), full)
    for source in args.inputs if not args.sequences else []:
        samples = build_samples(args.data, source, args.stride, args.mapping, tuple(args.subjects), args.random_frames, args.seed)
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
