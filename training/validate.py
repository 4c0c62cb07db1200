"""Validation across datasets: what users bring (other people, skeletons, detectors), one table.

    python -m training.validate [--prior PATH] [--frames 300] [--seed 0] [--video] [--known-body]
                                [--sets s8 s8_mixed cmu pose2sim ...] [--set FIELD=VALUE ...]
                                [--noise FIELD=VALUE ...] [--json reports/validate.json]

Prints MPJPE, PA-MPJPE (mm) and the share of joints within 150 mm of the truth (pelvis-aligned,
as MPJPE) for every set, and writes them, per group, to ``--json``. Choose designs on these sets,
never on Human3.6M S9/S11 (``training.evaluate``). A set whose data folder is absent is skipped
with the reason. The sets (``--frames`` frames each, seeded; every S8 set uses the same frames):

- ``s8``: Human3.6M S8 (``--subject``), ground-truth 2D, all four cameras, frames drawn uniformly
  at random from every sequence and camera (not every 640th frame). S8 is held out only for a
  prior trained without it (``training.train --subjects S1 S5 S6 S7``); the shipped prior has
  seen S8.
- ``s8_hips``, ``s8_shins``, ``s8_shoulders``, ``s8_torso``, ``s8_mixed``: the same frames with
  S8's skeleton re-drawn in another convention (:data:`CONVENTIONS`; joints moved alone, the
  truth re-drawn alike), then projected: what another dataset's or rig's joints look like.
  ``s8_mixed`` applies all four at once (a CMU- or MPI-like skeleton).
- ``s8_noise``: the same frames with detector-like 2D noise (:class:`DetectorNoise`; ``--noise``
  changes its fields, e.g. ``--noise outlier_rate=0 --noise swap_rate=0 --noise missing_rate=0``
  for the jitter alone).
- ``cmu``: ``../shared/data/cmu`` (CMU mocap as the 17 joints, other people and conventions)
  filmed by virtual cameras: 1920 x 1080 px, 60 degree horizontal field of view, at heights
  :data:`CMU_HEIGHTS_M` and distances :data:`CMU_DISTANCES_M` drawn per clip, any heading, aimed
  at the person. Only the trials of ``--cmu-subjects``: by default the subjects no prior may be
  trained on (``training.cmu.HELD_OUT_SUBJECTS``: the shipped prior mixes in the others;
  ``training.train --cmu-fraction``).
- ``pose2sim``: ``../shared/data/pose2sim``, real OpenPose detections (BODY_25B's first 17
  keypoints as COCO through ``zedo_core.layouts``, with their confidences; ``--pose2sim-layout
  body25b``: all 25, the head top too, as the CLI reads these files) of each of the four
  calibrated cameras lifted alone, against the four-view triangulation put into that camera's
  frame (``training.pose2sim`` says how its markers become the 17 joints). All 100 frames of
  every camera, whatever ``--frames``; a row per camera.
- ``pose2sim_clean``: the same cameras and frames as a perfect detector of the same layout
  would see them: the triangulation projected into each camera (confidence 1) for every joint
  the detections give (all but the head top). Against ``pose2sim`` it splits that set's error
  into the detector's share and the lifting's own.

``--known-body`` lifts ``cmu``, ``pose2sim`` and ``pose2sim_clean`` with a known body
(``LiftConfig.bone_lengths``) measured as a user could, from other footage of the same person
lifted in video mode (``zedo_core.body.median_bone_lengths``): each Pose2Sim camera with the body
of the other three cameras' lifts, each CMU subject with the body of its own clips in a second
draw (``--seed`` + 1, same ``--frames`` and clip length; it may share frames with the first). The
other sets are one person per clip and are lifted as usual.

Frame by frame (default) the frames are single, independent. ``--video`` draws the S8 and CMU
sets as clips of ``--clip-seconds`` (S8 at 25 fps, every 2nd frame; CMU at 30 fps) instead and
lifts every set twice: frame by frame and in video mode
(``LiftConfig(temporal_sigma=zedo_core.temporal.video_sigma(fps))``, one segment per clip); the
frame rows are then on the clips' frames. The default run (10 sets, 300 frames each) takes a
minute or two on two idle CPU cores; ``--frames`` scales it.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from training import cmu, pose2sim
from training.evaluate import H36M_FPS, Clip, action_name, apply_overrides, draw_starts, lift_clips
from training.h36m import TRAIN_SUBJECTS, load_cameras, load_poses, project
from zedo_core.body import median_bone_lengths
from zedo_core.layouts import get_layout, to_h36m
from zedo_core.lifting import LiftConfig
from zedo_core.metrics import acceleration_error, mpjpe, pa_mpjpe, pck, procrustes_align, root_path_error
from zedo_core.prior import PriorLoadError, load_prior
from zedo_core.skeleton import JOINT_NAMES, bone_lengths
from zedo_core.temporal import video_sigma

# Other skeleton conventions for the s8_* sets: name -> entries (joints moved alone, their anchors,
# factor ranges). A joint goes to ``anchor + f (joint - anchor)`` of the original pose, ``f``
# uniform in one of the ranges (chosen with equal odds), one draw per clip shared by mirror joints.
# The numbers (issue 11; ../shared/data/cmu/README.md), against Human3.6M:
# - hips: hip width 97 and 129 mm in two held-out sets against 248 (0.39, 0.52); CMU pelvis-hip
#   85 against 133 (0.64).
# - shins: 372-410 mm against 469 (0.79-0.87).
# - shoulders: shoulder width 201-363 against 332 (0.61-1.09); CMU thorax-shoulder 199 against
#   151 (1.32): narrower or wider.
# - torso: CMU thorax-neck 144 against 121 (1.19) and head top about 1.22 x as far above the
#   thorax; a thorax at the mid-shoulders lies 59 mm (about 0.12 of pelvis-thorax) lower
#   (zedo_core.layouts); the spine anywhere near its place.
_HIPS = ((1, 4), (0, 0), ((0.4, 0.7),))
_SHINS = ((3, 6), (2, 5), ((0.8, 0.9),))
_SHOULDERS = ((11, 14), (8, 8), ((0.65, 0.8), (1.15, 1.3)))
_TORSO = (
    ((7,), (0,), ((0.85, 1.15),)),  # spine, along pelvis -> spine
    ((8,), (0,), ((0.88, 1.0),)),  # thorax, lower
    ((9,), (8,), ((1.1, 1.25),)),  # neck/nose, along thorax -> neck
    ((10,), (8,), ((1.1, 1.25),)),  # head, along thorax -> head
)
CONVENTIONS: dict[str, tuple] = {
    "hips": (_HIPS,),
    "shins": (_SHINS,),
    "shoulders": (_SHOULDERS,),
    "torso": _TORSO,
    "mixed": (_HIPS, _SHINS, _SHOULDERS, *_TORSO),
}


@dataclass(frozen=True)
class DetectorNoise:
    """Detector-like corruption of 2D keypoints (the ``s8_noise`` set), per frame, seeded."""

    sigma_px: float = 5.0  # Gaussian jitter on every joint
    outlier_rate: float = 0.03  # joints moved far ...
    outlier_px: tuple[float, float] = (20.0, 80.0)  # ... by this many px, any direction
    swap_rate: float = 0.02  # frames with the left/right knee+ankle or elbow+wrist swapped
    missing_rate: float = 0.03  # joints not detected (confidence 0)


CMU_HEIGHTS_M = (0.5, 1.2, 2.0, 3.0)
CMU_DISTANCES_M = (3.0, 4.5, 6.5)
CMU_IMAGE = (1920, 1080)
CMU_HFOV_DEG = 60.0
S8_VIDEO_FRAME_STEP = 2  # 25 fps clips, as training.evaluate --sequences
SET_NAMES = (
    "s8", "s8_hips", "s8_shins", "s8_shoulders", "s8_torso", "s8_mixed", "s8_noise", "cmu", "pose2sim", "pose2sim_clean",
)  # fmt: skip


@dataclass
class ValidationSet:
    """Clips (one frame each when drawn frame by frame) of one set; ``group`` of a clip is its
    ``action`` field (S8 action, CMU camera height and distance, Pose2Sim camera)."""

    name: str
    description: str
    clips: list[Clip]
    fps: float
    info: dict = field(default_factory=dict)
    aimed: tuple[str, ...] = ()  # joints aimed at, not pinned (its layout's: LiftConfig.aimed_joints)


def _rng(seed: int, name: str) -> np.random.Generator:
    """One stream per set and purpose, so a set's draw does not depend on which others run."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


# ---------------------------------------------------------------------------------------- sets


def h36m_clips(
    data_dir: str | None, subject: str, frames: int, clip_len: int, frame_step: int, seed: int
) -> list[Clip]:
    """``ceil(frames / clip_len)`` clips of ``clip_len`` frames (every ``frame_step``-th) of
    ``subject``, starts drawn uniformly over every sequence and camera; ground-truth 2D."""
    poses = load_poses(data_dir, (subject,))
    if not poses:
        raise ValueError(f"no Human3.6M sequences of {subject}")
    cameras = load_cameras(data_dir)[subject]
    entries = [(key, cam_id) for key in poses for cam_id in cameras]
    span = (clip_len - 1) * frame_step + 1
    lengths = [len(poses[key]) - span + 1 for key, _ in entries]
    clips = []
    for item, start in draw_starts(lengths, math.ceil(frames / clip_len), _rng(seed, f"h36m/{subject}")):
        key, cam_id = entries[item]
        cam = cameras[cam_id]
        idx = start + frame_step * np.arange(clip_len)
        gt3d = cam.world_to_camera_m(poses[key][idx])
        clips.append(Clip(f"{key}/{cam_id}", action_name(key.split("/")[1]), idx, gt3d, project(gt3d, cam.K),
                          np.ones((clip_len, 17)), cam.K.copy()))  # fmt: skip
    return clips


def redraw(poses: np.ndarray, entries: tuple, rng: np.random.Generator) -> np.ndarray:
    """``poses`` ``(T, 17, 3)`` (one body) with the joints of every ``(joints, anchors, ranges)``
    entry moved alone to ``anchor + f (joint - anchor)``; all moves read the original pose."""
    out = poses.copy()
    for joints, anchors, ranges in entries:
        low, high = ranges[rng.integers(len(ranges))]
        factor = rng.uniform(low, high)
        for joint, anchor in zip(joints, anchors):
            out[:, joint] = poses[:, anchor] + factor * (poses[:, joint] - poses[:, anchor])
    return out


def describe(convention: str) -> list[dict]:
    """``CONVENTIONS[convention]`` with joint names, for the report."""
    return [
        {
            "joints": [JOINT_NAMES[j] for j in joints],
            "anchors": [JOINT_NAMES[a] for a in anchors],
            "factor_ranges": [list(r) for r in ranges],
        }
        for joints, anchors, ranges in CONVENTIONS[convention]
    ]


def convention_clips(clips: list[Clip], convention: str, seed: int) -> list[Clip]:
    """The clips' bodies re-drawn in ``convention`` (one draw per clip) and projected again."""
    rng = _rng(seed, f"convention/{convention}")
    out = []
    for clip in clips:
        gt3d = redraw(clip.gt3d, CONVENTIONS[convention], rng)
        out.append(replace(clip, gt3d=gt3d, keypoints=project(gt3d, clip.K)))
    return out


def corrupt(
    keypoints: np.ndarray, confidence: np.ndarray, noise: DetectorNoise, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints ``(T, 17, 2)`` and confidences with :class:`DetectorNoise` applied (missing
    joints: NaN, confidence 0)."""
    T = len(keypoints)
    kp = keypoints + rng.normal(scale=noise.sigma_px, size=keypoints.shape)
    moved = rng.random((T, 17)) < noise.outlier_rate
    angle = rng.uniform(0.0, 2 * np.pi, (T, 17))
    distance = rng.uniform(*noise.outlier_px, (T, 17))
    kp += (moved * distance)[..., None] * np.stack([np.cos(angle), np.sin(angle)], -1)
    swap = rng.random(T) < noise.swap_rate
    legs = rng.random(T) < 0.5
    for rows, (left, right) in ((swap & legs, ([5, 6], [2, 3])), (swap & ~legs, ([12, 13], [15, 16]))):
        kp[np.ix_(rows, left + right)] = kp[np.ix_(rows, right + left)]
    conf = confidence.copy()
    conf[rng.random((T, 17)) < noise.missing_rate] = 0.0
    kp[conf <= 0] = np.nan
    return kp, conf


def noise_clips(clips: list[Clip], noise: DetectorNoise, seed: int) -> list[Clip]:
    rng = _rng(seed, "noise")
    out = []
    for clip in clips:
        keypoints, confidence = corrupt(clip.keypoints, clip.confidence, noise, rng)
        out.append(replace(clip, keypoints=keypoints, confidence=confidence))
    return out


def cmu_clips(
    data_dir: str | None, frames: int, clip_len: int, seed: int, subjects: tuple[int, ...] | None = None
) -> list[Clip]:
    """CMU clips filmed by virtual cameras (module docstring): one camera per clip, fixed, at a
    drawn height and horizontal distance (plus however far the pelvis wanders in the clip) from
    the clip's mean pelvis, any heading, aimed at the mean pelvis. ``subjects``: only their trials
    (None: every trial)."""
    trials = cmu.load_trials(data_dir)
    names = sorted(name for name in trials if subjects is None or cmu.subject_of(name) in subjects)
    if not names:
        raise ValueError(f"no CMU trials of subjects {subjects}")
    rng = _rng(seed, "cmu")
    K = cmu.intrinsics(*CMU_IMAGE, CMU_HFOV_DEG)
    clips = []
    for item, start in draw_starts([len(trials[n]) - clip_len + 1 for n in names], math.ceil(frames / clip_len), rng):
        world = trials[names[item]][start : start + clip_len]
        height, distance = rng.choice(CMU_HEIGHTS_M), rng.choice(CMU_DISTANCES_M)
        heading = rng.uniform(0.0, 2 * np.pi)
        centre = world[:, 0].mean(0)
        wander = np.linalg.norm(world[:, 0, :2] - centre[:2], axis=-1).max()
        eye = np.array([*(centre[:2] + (distance + wander) * np.array([np.cos(heading), np.sin(heading)])), height])
        R = cmu.look_at(eye, centre)
        gt3d = (world - eye) @ R.T
        idx = start + np.arange(clip_len)
        group = f"height {height:g} m, distance {distance:g} m"
        clips.append(Clip(f"cmu/{names[item]}", group, idx, gt3d, project(gt3d, K), np.ones((clip_len, 17)), K.copy()))
    return clips


# How the Pose2Sim detections are read: BODY_25B's first 17 keypoints as COCO-17 (default), or all
# 25 as BODY_25B (what the CLI reads from these files: the head top too).
POSE2SIM_LAYOUTS = ("coco", "body25b")


def pose2sim_clips(data_dir: str | None, layout: str = "coco") -> tuple[list[Clip], dict]:
    """One clip per camera: its detections (``layout``, :data:`POSE2SIM_LAYOUTS`, -> 17 joints)
    and the triangulation in its frame."""
    cameras = pose2sim.load_cameras(data_dir)
    reference = pose2sim.reference_joints(pose2sim.load_trc(data_dir))
    clips, reprojection = [], {}
    for name, camera in cameras.items():
        keypoints, confidence = pose2sim.load_detections(data_dir, name, get_layout(layout).num_joints)
        if len(keypoints) != len(reference):
            raise pose2sim.Pose2SimError(
                f"{name}: {len(keypoints)} detection frames but {len(reference)} triangulated frames"
            )
        kp17, conf17 = to_h36m(keypoints, confidence, layout=layout)
        gt3d = pose2sim.to_camera(reference, camera)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # joints never detected
            reprojection[name] = round(float(np.nanmedian(np.linalg.norm(project(gt3d, camera.K) - kp17, axis=-1))), 1)
        clips.append(Clip(f"pose2sim/{name}", name, np.arange(len(kp17)), gt3d, kp17, conf17, camera.K.copy()))
    return clips, {"layout": layout, "median_reprojection_px_of_the_triangulation": reprojection}


def reprojected_clips(clips: list[Clip]) -> list[Clip]:
    """``clips`` as a perfect detector of the same layout would see them: every joint the clip's
    detections ever give, at its truth's projection with confidence 1; the others missing."""
    out = []
    for c in clips:
        given = (c.confidence > 0).any(axis=0)
        keypoints = np.where(given[:, None], project(c.gt3d, c.K), np.nan)
        out.append(replace(c, keypoints=keypoints, confidence=np.broadcast_to(given, c.confidence.shape).astype(float)))
    return out


def detector_noise(items: list[str]) -> DetectorNoise:
    """``["swap_rate=0", "sigma_px=2.5"]`` -> the ``s8_noise`` corruption with those fields replaced
    (``--noise``: e.g. one kind of corruption alone)."""
    noise = DetectorNoise()
    for item in items:
        name, _, value = item.partition("=")
        if name not in DetectorNoise.__dataclass_fields__:
            raise SystemExit(f"error: --noise {item}: DetectorNoise has no field {name!r}")
        try:
            noise = replace(noise, **{name: ast.literal_eval(value)})
        except (ValueError, SyntaxError) as exc:
            raise SystemExit(f"error: --noise {item}: {exc}") from None
    return noise


def build_sets(args: argparse.Namespace) -> tuple[list[ValidationSet], dict[str, str]]:
    """The requested sets, and ``{set: reason}`` for those skipped (data absent or unreadable)."""
    wanted, sets, skipped = list(dict.fromkeys(args.sets)), [], {}
    s8_names = [n for n in wanted if n.startswith("s8")]
    if s8_names:
        clip_len = max(1, round(args.clip_seconds * H36M_FPS / S8_VIDEO_FRAME_STEP)) if args.video else 1
        step = S8_VIDEO_FRAME_STEP if args.video else 1
        fps = H36M_FPS / step
        try:
            base = h36m_clips(args.h36m, args.subject, args.frames, clip_len, step, args.seed)
        except (FileNotFoundError, OSError, ValueError, KeyError) as exc:
            skipped.update({n: f"Human3.6M: {exc}" for n in s8_names})
        else:
            where = f"Human3.6M {args.subject}"
            for name in s8_names:
                if name == "s8":
                    sets.append(ValidationSet(name, f"{where}, ground-truth 2D", base, fps))
                elif name == "s8_noise":
                    noise = detector_noise(args.noise)
                    clips = noise_clips(base, noise, args.seed)
                    info = {"noise": noise.__dict__}
                    sets.append(ValidationSet(name, f"{where}, detector-like 2D noise", clips, fps, info))
                else:
                    convention = name.removeprefix("s8_")
                    clips = convention_clips(base, convention, args.seed)
                    info = {"convention": describe(convention)}
                    sets.append(ValidationSet(name, f"{where}, {convention} re-drawn", clips, fps, info))
    if "cmu" in wanted:
        clip_len = max(1, round(args.clip_seconds * cmu.FPS)) if args.video else 1
        try:
            clips = cmu_clips(args.cmu, args.frames, clip_len, args.seed, tuple(args.cmu_subjects))
        except (FileNotFoundError, OSError, ValueError, KeyError) as exc:
            skipped["cmu"] = f"CMU: {exc}"
        else:
            info = {"heights_m": CMU_HEIGHTS_M, "distances_m": CMU_DISTANCES_M, "subjects": list(args.cmu_subjects)}
            info.update(image=CMU_IMAGE, hfov_deg=CMU_HFOV_DEG)
            sets.append(ValidationSet("cmu", "CMU mocap, virtual cameras, ground-truth 2D", clips, cmu.FPS, info))
    p2s_names = [n for n in wanted if n.startswith("pose2sim")]
    if p2s_names:
        try:
            clips, info = pose2sim_clips(args.pose2sim, args.pose2sim_layout)
        except (FileNotFoundError, OSError, ValueError, KeyError) as exc:
            skipped.update({n: f"Pose2Sim: {exc}" for n in p2s_names})
        else:
            aimed = get_layout(args.pose2sim_layout).aimed
            if "pose2sim" in wanted:
                description = "Pose2Sim, OpenPose detections vs 4-view triangulation"
                sets.append(ValidationSet("pose2sim", description, clips, pose2sim.FPS, info, aimed))
            if "pose2sim_clean" in wanted:
                description = "Pose2Sim, the triangulation reprojected (no detector) vs itself"
                sets.append(ValidationSet("pose2sim_clean", description, reprojected_clips(clips), pose2sim.FPS, {}, aimed))
    order = {n: i for i, n in enumerate(wanted)}
    sets.sort(key=lambda s: order[s.name])
    return sets, skipped


# ---------------------------------------------------------------------------------- known body

KNOWN_BODY_SETS = ("cmu", "pose2sim", "pose2sim_clean")


def person_of(vset: ValidationSet, clip: Clip) -> str:
    """Whose body a clip of a ``KNOWN_BODY_SETS`` set gets: its Pose2Sim camera (the body comes
    from the other cameras) or its CMU subject."""
    if vset.name.startswith("pose2sim"):
        return clip.action
    return f"subject {cmu.subject_of(clip.key.split('/', 1)[1])}"


def known_bodies(prior, vset: ValidationSet, config: LiftConfig, args: argparse.Namespace) -> tuple[dict[str, np.ndarray], str]:
    """``{person: (16,) bone lengths}`` for the clips of ``vset`` from other footage of the same
    person lifted in video mode, and where it came from (module docstring)."""
    video = replace(config, temporal_sigma=video_sigma(vset.fps), bone_lengths=None)
    if vset.name.startswith("pose2sim"):
        poses, _ = lift_clips(prior, vset.clips, video)
        bodies = {
            person_of(vset, clip): median_bone_lengths(np.concatenate([p for other, p in zip(vset.clips, poses) if other is not clip]))
            for clip in vset.clips
        }  # fmt: skip
        return bodies, "the other cameras' video-mode lifts of the same 2D"
    clip_len = max(1, round(args.clip_seconds * cmu.FPS))
    others = cmu_clips(args.cmu, args.frames, clip_len, args.seed + 1, tuple(args.cmu_subjects))
    poses, _ = lift_clips(prior, others, video)
    bodies: dict[str, list[np.ndarray]] = {}
    for clip, p in zip(others, poses):
        bodies.setdefault(person_of(vset, clip), []).append(p)
    source = f"video-mode lifts of {len(others)} clips of {clip_len} frames drawn with seed {args.seed + 1}"
    return {person: median_bone_lengths(np.concatenate(ps)) for person, ps in bodies.items()}, source


def lift_with_bodies(prior, vset: ValidationSet, config: LiftConfig, bodies: dict[str, np.ndarray]) -> tuple[list[np.ndarray], float]:
    """:func:`lift_clips` with each clip's person's body; a person without one is lifted without."""
    poses: list[np.ndarray | None] = [None] * len(vset.clips)
    seconds = 0.0
    people = [person_of(vset, clip) for clip in vset.clips]
    for person in dict.fromkeys(people):
        which = [i for i, p in enumerate(people) if p == person]
        body = bodies.get(person)
        group_config = replace(config, bone_lengths=None if body is None else tuple(body))
        lifted, took = lift_clips(prior, [vset.clips[i] for i in which], group_config)
        seconds += took
        for i, p in zip(which, lifted):
            poses[i] = p
    return poses, seconds


# ------------------------------------------------------------------------------------- scoring


def score(clips: list[Clip], poses: list[np.ndarray]) -> dict:
    """MPJPE, PA-MPJPE (mm), % of joints within 150 mm, per group and overall (and per joint);
    frames the loop could not lift (fewer than 4 joints) are counted as ``invalid`` and left out."""
    gt = np.concatenate([c.gt3d for c in clips])
    pred = np.concatenate(poses)
    groups = np.concatenate([[c.action] * len(c.gt3d) for c in clips])
    valid = np.isfinite(pred).all(axis=(1, 2))
    per_frame = {
        "mpjpe": mpjpe(pred[valid], gt[valid]) * 1000,
        "pa_mpjpe": pa_mpjpe(pred[valid], gt[valid]) * 1000,
        "pck150": pck(pred[valid], gt[valid]) * 100,
    }
    accel = [acceleration_error(p, c.gt3d) * 1000 for c, p in zip(clips, poses) if len(c.gt3d) >= 3]
    root_path = [root_path_error(p, c.gt3d) * 1000 for c, p in zip(clips, poses) if len(c.gt3d) >= 3]
    pelvis_aligned = (pred[valid] - pred[valid, :1]) - (gt[valid] - gt[valid, :1])
    aligned = procrustes_align(pred[valid], gt[valid]) - gt[valid]
    per_joint = {
        name: {"mpjpe": round(float(np.linalg.norm(pelvis_aligned[:, j], axis=-1).mean() * 1000), 1),
               "pa_mpjpe": round(float(np.linalg.norm(aligned[:, j], axis=-1).mean() * 1000), 1)}
        for j, name in enumerate(JOINT_NAMES)
    } if valid.any() else {}  # fmt: skip

    def summary(mask: np.ndarray) -> dict:
        row = {"frames": int(mask.sum()), "invalid": int((~valid[mask]).sum())}
        keep = mask[valid]
        row.update({m: round(float(v[keep].mean()), 2) if keep.any() else None for m, v in per_frame.items()})
        row["mpjpe_median"] = round(float(np.median(per_frame["mpjpe"][keep])), 2) if keep.any() else None
        # Standard error of the mean MPJPE over frames (frames of one clip are not independent:
        # in clip runs this understates it).
        values = per_frame["mpjpe"][keep]
        row["mpjpe_se"] = round(float(values.std(ddof=1) / np.sqrt(len(values))), 2) if len(values) > 1 else None
        return row

    report = summary(np.ones(len(gt), bool))
    if valid.any():  # the lifted body's size against the truth's: total bone length, median over frames
        report["size_ratio"] = round(float(np.median(bone_lengths(pred[valid]).sum(-1) / bone_lengths(gt[valid]).sum(-1))), 3)
    report["per_joint"] = per_joint
    if accel:
        report["accel_mm_per_frame2"] = round(float(np.nanmean(np.concatenate(accel))), 3)
        report["root_path_mm"] = round(float(np.nanmean(np.concatenate(root_path))), 2)
    report["groups"] = {g: summary(groups == g) for g in sorted(set(groups.tolist()))}
    return report


def _row(name: str, mode: str, r: dict, seconds: float | str = "") -> str:
    cells = [f"{r[m]:>9.1f}" if r[m] is not None else f"{'-':>9}" for m in ("mpjpe", "pa_mpjpe", "pck150")]
    secs = f"{seconds:>9.1f}" if isinstance(seconds, float) else f"{seconds:>9}"
    invalid = f" ({r['invalid']} not lifted)" if r["invalid"] else ""
    return f"{name:<16}{mode:<7}{r['frames']:>7}{cells[0]}{cells[1]}{cells[2]}{secs}{invalid}"


HEADER = f"{'set':<16}{'mode':<7}{'frames':>7}{'MPJPE':>9}{'PA-MPJPE':>9}{'<150mm %':>9}{'seconds':>9}"


def run(args: argparse.Namespace, progress: Callable[[str], None] = print) -> dict:
    """Build the sets, lift them, score them; the JSON report (and the table through ``progress``)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        config = apply_overrides(LiftConfig(seed=args.seed), args.set)
    except (ValueError, SyntaxError) as exc:
        raise SystemExit(f"error: --set {' '.join(args.set)}: {exc}") from None
    prior = load_prior(args.prior, device=args.device)
    sets, skipped = build_sets(args)
    modes = ("frame", "video") if args.video else ("frame",)
    report: dict = {
        "command": "python -m training.validate " + " ".join(args.argv),
        "config": {**config.__dict__, "frames": args.frames, "seed": args.seed, "video": args.video,
                   "known_body": args.known_body,
                   "clip_seconds": args.clip_seconds if args.video else None, "subject": args.subject,
                   "device": str(prior.device)},
        "prior": prior.metadata,
        "sets": {},
        "skipped": skipped,
    }  # fmt: skip
    for name, reason in skipped.items():
        progress(f"skipped {name}: {reason}")
    progress(HEADER)
    lines = []
    base_config = config
    aim_given = any(item.split("=", 1)[0].strip() == "aimed_joints" for item in args.set)  # --set overrides layouts
    for vset in sets:
        entry = {"description": vset.description, "fps": vset.fps, "clips": len(vset.clips), **vset.info, "results": {}}
        config = base_config if aim_given else replace(base_config, aimed_joints=vset.aimed)
        if config.aimed_joints:
            entry["aimed_joints"] = list(config.aimed_joints)
        bodies = None
        if args.known_body and vset.name in KNOWN_BODY_SETS:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*fewer than 4 distinct joints.*")
                bodies, source = known_bodies(prior, vset, config, args)
            entry["known_body"] = {"source": source, "bone_lengths_m": {k: [round(float(x), 4) for x in v] for k, v in bodies.items()}}
        elif args.known_body:
            progress(f"{vset.name}: lifted without a known body (one person per clip)")
        for mode in modes:
            sigma = video_sigma(vset.fps) if mode == "video" else 0.0
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*fewer than 4 distinct joints.*")
                if bodies is not None:
                    poses, seconds = lift_with_bodies(prior, vset, replace(config, temporal_sigma=sigma), bodies)
                else:
                    poses, seconds = lift_clips(prior, vset.clips, replace(config, temporal_sigma=sigma))
            result = score(vset.clips, poses)
            result.update(seconds=round(seconds, 2), temporal_sigma=sigma)
            entry["results"][mode] = result
            rows = [_row(vset.name, mode, result, seconds)]
            if vset.name.startswith("pose2sim"):  # the bar holds for every camera
                rows += [_row(f"  {g}", mode, r) for g, r in result["groups"].items()]
            for row in rows:
                progress(row)
            lines += rows
            sys.stdout.flush()
        report["sets"][vset.name] = entry
    report["table"] = [HEADER, *lines]
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prior", default=None, help="prior file (default: the shipped one)")
    parser.add_argument("--frames", type=int, default=300, help="frames per set (default 300; pose2sim always has 400)")
    parser.add_argument("--seed", type=int, default=0, help="draws frames, clips, cameras, conventions and noise")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="override a LiftConfig field (repeatable)"
    )
    parser.add_argument(
        "--noise", action="append", default=[], metavar="FIELD=VALUE",
        help="override a DetectorNoise field of the s8_noise set (repeatable), e.g. outlier_rate=0",
    )
    parser.add_argument("--video", action="store_true", help="clips, lifted frame by frame and in video mode")
    parser.add_argument(
        "--known-body", action="store_true",
        help="lift cmu and pose2sim* with a body measured from other footage of the same person (LiftConfig.bone_lengths)",
    )
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="clip length with --video (default 2 s)")
    parser.add_argument("--sets", nargs="+", choices=SET_NAMES, default=list(SET_NAMES), metavar="SET",
                        help=f"sets to run (default all: {' '.join(SET_NAMES)})")  # fmt: skip
    parser.add_argument("--subject", choices=TRAIN_SUBJECTS, default="S8",
                        help="Human3.6M subject of the s8* sets (a training subject; S9/S11 are for training.evaluate only)")  # fmt: skip
    parser.add_argument("--h36m", default=None, help="Human3.6M folder (default ../shared/data/h36m)")
    parser.add_argument("--cmu", default=None, help="CMU folder (default ../shared/data/cmu)")
    parser.add_argument(
        "--cmu-subjects", nargs="+", type=int, default=list(cmu.HELD_OUT_SUBJECTS),
        help=f"CMU subjects of the cmu set (default the held-out {' '.join(map(str, cmu.HELD_OUT_SUBJECTS))}; "
        "before session 8 every subject was used)",
    )
    parser.add_argument("--pose2sim", default=None, help="Pose2Sim folder (default ../shared/data/pose2sim)")
    parser.add_argument(
        "--pose2sim-layout", choices=POSE2SIM_LAYOUTS, default="coco",
        help="read the Pose2Sim detections as COCO-17 (BODY_25B's first 17; default) or as all 25 BODY_25B "
        "keypoints, the head top too (what the CLI reads from these files)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--json", type=Path, default=None, help="write the report here")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    if args.frames < 1:
        parser.error("--frames must be >= 1")
    if not args.clip_seconds > 0:
        parser.error("--clip-seconds must be > 0")
    try:
        report = run(args)
    except PriorLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
