"""Command line: ``python -m zedo_core lift IN OUT.npz [options]``.

IN is an .npz holding ``keypoints`` (N,17,2) px, ``K`` (3,3) or (N,3,3) and optionally
``confidence`` (N,17). With ``--layout`` (or a ``layout`` string in IN) the keypoints may be
another detector's (N,J,2) and confidence (N,J): coco (17), body25 / body25b (25), coco18 (18),
mediapipe (33), mpii (16); they are adapted to the 17 joints first (zedo_core.layouts).
IN may also be a COCO keypoint JSON, an OpenPose JSON file or a folder of them (one per frame,
any names; 25 keypoints are told apart as BODY_25 or BODY_25B unless --layout says).
``--camera FILE`` takes K from a calibration file (Pose2Sim / anipose .toml, OpenCV .yml / .xml;
``--camera-name`` picks one of several cameras) instead of IN's ``K``, scaled to IN's
``image_size`` when the footage was scaled, and undistorts the keypoints when the calibration has
lens distortion.
OUT gets ``poses3d`` (N,17,3) metres (camera frame, translation included), ``hypotheses``
(N,S,17,3) and ``reprojection_error_px`` (N,S); a note on stderr names the frames whose
detections looked misplaced and were left to the prior (LiftConfig.ray_release). Bad input (also an OUT that is IN) exits with
status 2 and one line, a failed write or a missing device with 1, Ctrl-C with 130; OUT is written
whole or not at all.
With ``--video`` the frames are one clip and neighbouring frames help each other (video mode:
LiftConfig.temporal_sigma = 0.08 s x IN's ``fps``, 25 fps when IN has none); ``--temporal-sigma``
sets the width in frames instead. Without either, every frame is lifted on its own.
``--save-body BODY.json`` also writes the person's body, the median bone lengths of the lifted
frames (zedo_core.body); ``--body BODY.json`` lifts with a body measured before, e.g. over other
takes or cameras of the same person (LiftConfig.bone_lengths).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TextIO

import numpy as np

from .body import median_bone_lengths, read_body, write_body
from .camera_files import apply_camera, read_camera
from .inputs import InputError, listed_frames, real_array
from .keypoint_files import KeypointSequence, read_keypoints, stored_fps, stored_layout
from .layouts import LAYOUTS, check_keypoints, get_layout, to_h36m
from .lifting import LiftConfig, lift
from .prior import PriorLoadError, load_prior, resolve_device
from .safe_io import (
    Terminated,
    WriteError,
    check_output_paths,
    display,
    first_line,
    read_npz,
    termination_as_exception,
    write_outputs,
)
from .temporal import video_sigma

EXIT_BAD_INPUT = 2
REQUIRED_KEYS = ("keypoints", "K")


class ProgressBar:
    """A one-line progress bar on a stream, shown only once a run has lasted ``delay`` seconds."""

    def __init__(self, stream: TextIO = sys.stderr, delay: float = 1.0, width: int = 30) -> None:
        self.stream, self.delay, self.width = stream, delay, width
        self.started = time.monotonic()
        self.shown = False
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.started < self.delay or (now - self._last < 0.1 and done < total):
            return
        self._last, self.shown = now, True
        fraction = done / max(total, 1)
        filled = int(self.width * fraction)
        elapsed = now - self.started
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        self.stream.write(f"\rlifting [{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:5.1f}%  eta {eta:5.0f}s")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def read_input(path: Path, required: tuple[str, ...] = REQUIRED_KEYS) -> dict[str, np.ndarray]:
    """Read the input archive; raises InputError naming the file or key on any problem."""
    data = read_npz(path)
    for key in required:
        if key not in data:
            hint = " (or pass --camera FILE)" if key == "K" else ""
            raise InputError(f"{path}: missing key '{key}'{hint} (found: {', '.join(sorted(data)) or 'none'})")
    return data


def input_layout(path: Path, data: dict[str, np.ndarray], requested: str | None) -> str:
    """The layout of IN's keypoints: ``--layout``, else IN's ``layout`` key, else "h36m"."""
    if "layout" not in data:
        return requested or "h36m"
    stored = stored_layout(path, data["layout"])
    if requested is not None and requested != stored:
        raise InputError(f"{path}: the file's layout is {stored!r} but --layout {requested} was given")
    return stored


def _npz_sequence(path: Path, data: dict[str, np.ndarray], layout: str) -> KeypointSequence:
    """IN's arrays as a sequence, for --camera (which undistorts before adapting the layout)."""
    try:
        keypoints, confidence = check_keypoints(data["keypoints"], data.get("confidence"), get_layout(layout))
    except InputError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    size = None
    if "image_size" in data:
        size = real_array(data["image_size"], f"{path}: key 'image_size'").ravel()
        if size.shape != (2,) or not np.isfinite(size).all() or not (size > 0).all() or (size != np.round(size)).any():
            raise InputError(f"{path}: key 'image_size' must be two positive whole numbers (width, height), got {size}")
        size = (int(size[0]), int(size[1]))
    return KeypointSequence(keypoints, confidence, layout, size, None, data.get("K"), str(path))


def _read_lift_input(
    args: argparse.Namespace,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray, float | None, tuple[str, ...], tuple[str, ...]]:
    """(keypoints (N,17,2), confidence, K, fps, notes, joints to aim at) from IN and --camera."""
    if args.camera_name is not None and args.camera is None:
        raise InputError(f"--camera-name {args.camera_name}: needs --camera FILE")
    if args.input.is_dir() or args.input.suffix.lower() == ".json":
        sequence, fps = read_keypoints(args.input, args.layout), None
    else:
        data = read_input(args.input, ("keypoints",) if args.camera is not None else REQUIRED_KEYS)
        layout = input_layout(args.input, data, args.layout)
        fps = stored_fps(args.input, data["fps"]) if "fps" in data else None
        if args.camera is None:
            keypoints, confidence = data["keypoints"], data.get("confidence")
            if layout != "h36m":
                keypoints, confidence = to_h36m(keypoints, confidence, layout)
            return keypoints, confidence, data["K"], fps, (), get_layout(layout).aimed
        sequence = _npz_sequence(args.input, data, layout)
    if args.camera is not None:
        camera = read_camera(args.camera, args.camera_name, hint=args.input.name)
        sequence = apply_camera(sequence, camera)
        sequence = replace(sequence, notes=sequence.notes + (f"K from camera {camera.name} of {args.camera.name}",))
    if sequence.K is None:
        raise InputError(f"{args.input}: has no camera K: pass --camera FILE (a calibration file)")
    sequence = sequence.to_h36m()
    return sequence.keypoints, sequence.confidence, sequence.K, fps, sequence.notes, sequence.aimed


def _lift_command(args: argparse.Namespace) -> int:
    # Before any work: OUT (and --save-body's file) must not be an input (IN, the calibration
    # file, the prior, --body's file), and must be writable.
    inputs = [args.input] + [path for path in (args.camera, args.prior, args.body) if path is not None]
    check_output_paths(inputs, [args.output] + ([args.save_body] if args.save_body is not None else []))
    body = read_body(args.body) if args.body is not None else None
    keypoints, confidence, K, fps, notes, aimed = _read_lift_input(args)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    temporal_sigma = 0.0
    if args.temporal_sigma is not None:
        temporal_sigma = args.temporal_sigma
    elif args.video:
        temporal_sigma = video_sigma(fps)
    config = LiftConfig(
        hypotheses=args.hypotheses, iterations=args.iterations, seed=args.seed, temporal_sigma=temporal_sigma,
        bone_lengths=body, aimed_joints=aimed,
    )
    prior = load_prior(args.prior, device=resolve_device(args.device))
    bar = ProgressBar()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = lift(prior, keypoints, K, confidence, config, progress=bar)
        finally:
            bar.close()
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as file:
            np.savez(
                file,
                poses3d=result.poses3d,
                hypotheses=result.hypotheses,
                reprojection_error_px=result.reprojection_error_px,
            )

    writers = [(args.output, write)]
    if args.save_body is not None:
        if not result.valid.any():
            raise InputError(f"--save-body {display(args.save_body)}: no frame could be lifted, so there is no body to write")
        body_lengths = median_bone_lengths(result.poses3d[result.valid])
        writers.append((args.save_body, lambda tmp: write_body(tmp, body_lengths)))
    write_outputs(writers)
    mode = f", video mode (temporal sigma {config.temporal_sigma:g} frames)" if config.video else ""
    mode += f", the body of {display(args.body)}" if args.body is not None else ""
    frames = result.poses3d.shape[0]
    print(f"wrote {display(args.output)}: {frames} frames, {config.hypotheses} hypotheses{mode}", file=sys.stderr)
    if args.save_body is not None:
        lifted = int(result.valid.sum())
        print(f"wrote {display(args.save_body)}: the body (median bone lengths) of {lifted} lifted frames", file=sys.stderr)
    released = result.released_in_answer
    if released.any():
        where = np.flatnonzero(released.any(axis=1))
        print(
            f"note: {int(released.sum())} detection(s) in {len(where)} frame(s) looked misplaced and were placed by the "
            f"prior instead of their keypoint (frames {listed_frames(where)})",
            file=sys.stderr,
        )
    return 0


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0 (the command lines' --seed)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def _prior_error(exc: PriorLoadError) -> str:
    """PriorLoadError's message on one line, without PyTorch's advice to load untrusted pickles."""
    text = first_line(exc)
    for marker in ("Weights only load failed", "This is an internal miniz error"):
        if marker in text:
            text = text[: text.index(marker)].rstrip(" .:") + ": the file is damaged or not a ZeDO prior"
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m zedo_core", description="Lift 2D keypoints to 3D poses with ZeDO.")
    commands = parser.add_subparsers(dest="command", required=True)
    lift_parser = commands.add_parser("lift", help="lift keypoints from IN, write OUT.npz", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    lift_parser.add_argument("input", type=Path, metavar="IN", help=".npz, COCO / OpenPose JSON, or a folder of OpenPose JSON")
    lift_parser.add_argument("output", type=Path, metavar="OUT.npz")
    lift_parser.add_argument("--hypotheses", type=int, default=LiftConfig.hypotheses, metavar="S")
    lift_parser.add_argument("--iterations", type=int, default=LiftConfig.iterations, metavar="N")
    lift_parser.add_argument("--seed", type=non_negative_int, default=LiftConfig.seed, metavar="K")
    lift_parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    lift_parser.add_argument(
        "--layout", choices=list(LAYOUTS), default=None,
        help="keypoint layout of IN (default: IN's 'layout' key, else h36m; JSON: from the joint count, 25 detected)",
    )
    lift_parser.add_argument(
        "--camera", type=Path, default=None, metavar="FILE",
        help="calibration file (Pose2Sim/anipose .toml, OpenCV .yml/.xml): K instead of IN's, lens distortion undone",
    )
    lift_parser.add_argument(
        "--camera-name", default=None, metavar="NAME", help="which camera of --camera FILE when it holds several",
    )
    lift_parser.add_argument(
        "--video", action="store_true",
        help="the frames are one clip: neighbouring frames help each other (width 0.08 s at IN's fps, else 25 fps)",
    )
    lift_parser.add_argument(
        "--temporal-sigma", type=float, default=None, metavar="FRAMES",
        help="video mode with this coupling width in frames (0 = frame by frame)",
    )
    lift_parser.add_argument(
        "--body", type=Path, default=None, metavar="BODY.json",
        help="lift with this person's body (bone lengths), e.g. written by --save-body from other footage of them",
    )
    lift_parser.add_argument(
        "--save-body", type=Path, default=None, metavar="BODY.json",
        help="also write the lifted person's body: the median bone lengths of the lifted frames",
    )
    lift_parser.add_argument("--prior", type=Path, default=None, help=argparse.SUPPRESS)
    lift_parser.set_defaults(handler=_lift_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "hypotheses", 1) < 1 or getattr(args, "iterations", 0) < 0:
        parser.error("--hypotheses must be >= 1 and --iterations >= 0")
    sigma = getattr(args, "temporal_sigma", None)
    if sigma is not None and not (np.isfinite(sigma) and sigma >= 0):
        parser.error("--temporal-sigma must be a number >= 0")
    try:
        with termination_as_exception():
            return args.handler(args)
    except InputError as exc:
        print(f"error: {first_line(exc, 1000)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PriorLoadError as exc:
        print(f"error: {_prior_error(exc)}", file=sys.stderr)
        return 1
    except (WriteError, RuntimeError) as exc:
        print(f"error: {first_line(exc, 1000)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncancelled", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"\n{exc}", file=sys.stderr)
        return exc.exit_status


if __name__ == "__main__":
    sys.exit(main())
