"""Headless conversion: 2D keypoint files -> .blend (rig, camera, action) and optional BVH / FBX.

    blender -b --python zedo_blender/batch.py -- --input IN --output OUT.blend [--bvh OUT.bvh] [--fbx OUT.fbx]
    python -m zedo_blender.batch --input IN --output OUT.blend ...        (with the bpy module)

Calibrated footage: ``--camera FILE [--camera-name NAME]`` (Pose2Sim / anipose .toml, OpenCV .yml /
.xml) gives K, the image size and the lens distortion (the keypoints are undistorted before
lifting); it replaces ``--focal`` / ``--fov``, which cannot be given with it, and ``--image-size``
then names the footage's size when it was scaled from the calibrated one. ``--footage VIDEO``
makes the video the .blend's movie clip, behind the camera, and gives the frame rate.

Several ``--input`` groups convert one after another; the options after each ``--input`` belong
to it, options before the first ``--input`` apply to all. Every input is read and checked before
any conversion starts. Bad input exits with status 2 and one line naming the problem; outputs are
written to a temporary name and moved into place, so a failed run leaves existing files as they were.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script by Blender: import the package this file is in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = Path(__file__).resolve().parent.name
    importlib.import_module(__package__)

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from .engine import EstimateSettings, engine_module, estimate  # noqa: E402
from .result import apply_motion  # noqa: E402
from .clip_camera import clip_camera_values, set_clip_camera  # noqa: E402

class BatchError(Exception):
    """Bad input or arguments: reported as one line, exit status 2."""


@dataclass
class Job:
    input: Path
    output: Path
    bvh: Path | None
    fbx: Path | None
    layout: str | None
    focal: float | None
    fov: float | None
    image_size: tuple[int, int] | None
    actor_height: float | None
    camera: Path | None = None
    camera_name: str | None = None
    footage: Path | None = None
    fps: float | None = None


def _global_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zedo_blender.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hypotheses", type=int, default=1, help="start poses per frame (default 1)")
    parser.add_argument("--iterations", type=int, default=200, help="optimisation iterations (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--no-video", action="store_true", help="lift every frame on its own (default: video mode, frames help each other)"
    )
    parser.add_argument(
        "--no-foot-lock", action="store_true", help="keep the feet as lifted (default: planted feet are pinned, no sliding)"
    )
    _add_job_options(parser)
    return parser


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--layout", default=None,
        help="keypoint layout (h36m, coco, body25, body25b, coco18, mediapipe, mpii; default: from the file, 25 joints detected)",
    )
    parser.add_argument(
        "--camera", type=Path, default=None, metavar="FILE",
        help="calibration file (Pose2Sim/anipose .toml, OpenCV .yml/.xml): K, image size and lens distortion",
    )
    parser.add_argument(
        "--camera-name", default=None, metavar="NAME",
        help="which camera of --camera FILE (needed when it holds several whose names the input's name does not give)",
    )
    parser.add_argument("--focal", type=float, default=None, help="focal length in pixels when the input has no K")
    parser.add_argument(
        "--fov", type=float, default=None,
        help="horizontal field of view (degrees) when the input has no K (default: estimated from the actor's motion, else 60)",
    )
    parser.add_argument(
        "--image-size", type=int, nargs=2, metavar=("W", "H"), default=None,
        help="the keypoints' image size (default: from the input, --camera or --footage); with --camera, the "
        "calibration is scaled to it when the footage was scaled from the calibrated size",
    )
    parser.add_argument(
        "--fps", type=float, default=None,
        help="frame rate of the keypoints when the input does not say (default: the footage's; without either, "
        "video mode assumes 25)",
    )
    parser.add_argument("--actor-height", type=float, default=None, help="actor's standing height in metres")


def _job_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zedo_blender.batch --input", add_help=False)
    parser.add_argument("--input", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True, help=".blend to write")
    parser.add_argument(
        "--footage", type=Path, default=None, metavar="VIDEO",
        help="the video (or image sequence) the keypoints come from: the .blend's movie clip, shown behind the camera",
    )
    parser.add_argument("--bvh", type=Path, default=None)
    parser.add_argument("--fbx", type=Path, default=None)
    _add_job_options(parser)
    return parser


def parse_args(argv: list[str]) -> tuple[EstimateSettings, list[Job]]:
    """Split ``argv`` at each ``--input`` into a global part and one part per job."""
    starts = [i for i, token in enumerate(argv) if token == "--input"]
    if not starts:
        _global_parser().error("at least one --input is required")
    common = _global_parser().parse_args(argv[: starts[0]])
    for value, name in ((common.hypotheses, "--hypotheses"), (common.iterations, "--iterations")):
        if value < 1:
            raise BatchError(f"{name} must be at least 1, got {value}")
    settings = EstimateSettings(
        device=common.device, iterations=common.iterations, hypotheses=common.hypotheses, seed=common.seed,
        video=not common.no_video,
        lock_feet=not common.no_foot_lock,
    )
    jobs = []
    for start, end in zip(starts, starts[1:] + [len(argv)]):
        part = _job_parser().parse_args(argv[start:end])

        def pick(name: str):
            value = getattr(part, name)
            return value if value is not None else getattr(common, name)

        if part.output.suffix.lower() != ".blend":
            raise BatchError(f"--output {part.output}: must be a .blend file")
        jobs.append(
            Job(
                input=part.input, output=part.output, bvh=part.bvh, fbx=part.fbx, layout=pick("layout"),
                focal=pick("focal"), fov=pick("fov"), image_size=tuple(pick("image_size")) if pick("image_size") else None,
                actor_height=pick("actor_height"), camera=pick("camera"), camera_name=pick("camera_name"),
                footage=part.footage, fps=pick("fps"),
            )
        )
        job = jobs[-1]
        if job.camera_name is not None and job.camera is None:
            raise BatchError(f"--camera-name {job.camera_name}: needs --camera FILE")
        if job.camera is not None and (job.focal is not None or job.fov is not None):
            raise BatchError(f"--camera {job.camera} gives the focal length: drop --focal / --fov")
        if job.fps is not None and not (np.isfinite(job.fps) and job.fps > 0):
            raise BatchError(f"--fps must be positive, got {job.fps}")
    outputs = [p for job in jobs for p in (job.output, job.bvh, job.fbx) if p is not None]
    if len({p.resolve() for p in outputs}) != len(outputs):
        raise BatchError("two outputs have the same path")
    return settings, jobs


@dataclass
class PreparedInput:
    keypoints: np.ndarray
    confidence: np.ndarray
    K: np.ndarray
    image_size: tuple[int, int]
    fps: float | None
    camera: str = ""  # where K came from (printed)
    notes: tuple[str, ...] = ()  # what the readers decided (printed)


def prepare(job: Job) -> PreparedInput:
    """Read and check one input; raises :class:`BatchError` naming the file and the problem."""
    files = engine_module("keypoint_files")
    footage_size, footage_fps = _footage(job.footage) if job.footage is not None else (None, None)
    try:
        sequence = files.read_keypoints(job.input, job.layout)
        camera = "camera K from the input"
        if job.camera is not None:
            calibration = engine_module("camera_files").read_camera(job.camera, job.camera_name, hint=job.input.name)
            sequence = engine_module("camera_files").apply_camera(sequence, calibration, job.image_size or footage_size)
            camera = f"camera {calibration.name} of {job.camera.name}: focal length {sequence.K[0, 0]:.0f} px"
        sequence = sequence.to_h36m()
    except ValueError as error:
        raise BatchError(str(error)) from error
    image_size = job.image_size or sequence.image_size or footage_size
    if footage_size is not None and image_size is not None and tuple(image_size) != footage_size:
        raise BatchError(
            f"--footage {job.footage}: its frames are {footage_size[0]}x{footage_size[1]} but the keypoints' image is "
            f"{image_size[0]}x{image_size[1]}"
        )
    fps = job.fps or sequence.fps or footage_fps
    K = sequence.K
    if K is None:
        if image_size is None:
            raise BatchError(f"{job.input}: has no camera K and no image size: pass --image-size W H (and --focal PX if known)")
        intrinsics = engine_module("intrinsics")
        try:
            if job.focal is not None:
                K = intrinsics.intrinsics_from_focal(image_size, job.focal)
                camera = f"focal length {job.focal:.0f} px (--focal)"
            elif job.fov is not None:
                K = intrinsics.intrinsics_from_fov(image_size, job.fov)
                camera = f"focal length {K[0, 0]:.0f} px from a {job.fov:.0f}° field of view (--fov)"
            else:  # no calibration given: estimate it from the actor's motion, else the 60° guess
                found = intrinsics.estimate_focal(sequence.keypoints, sequence.confidence, image_size, fps=fps)
                K = found.intrinsics()
                camera = (
                    f"focal length {found.focal_px:.0f} px estimated from the actor's motion ({found.reason})"
                    if found.estimated
                    else f"focal length {found.focal_px:.0f} px guessed ({found.fov_deg:.0f}° field of view): {found.reason}"
                )
        except ValueError as error:
            raise BatchError(f"{job.input}: {error}") from error
    try:
        checked = engine_module("inputs").validate_inputs(sequence.keypoints, K, sequence.confidence)
    except ValueError as error:
        raise BatchError(f"{job.input}: {error}") from error
    if not checked.valid.any():
        raise BatchError(f"{job.input}: every frame has fewer than 4 joints with confidence > 0: nothing to animate")
    if image_size is None:  # principal point at the image centre
        K0 = K if K.ndim == 2 else K[0]
        image_size = (int(round(2 * K0[0, 2])), int(round(2 * K0[1, 2])))
    if job.actor_height is not None and not job.actor_height > 0:
        raise BatchError(f"--actor-height must be positive, got {job.actor_height}")
    return PreparedInput(
        sequence.keypoints, sequence.confidence, K, tuple(int(v) for v in image_size), fps, camera, sequence.notes
    )


def _footage(path: Path) -> tuple[tuple[int, int], float | None]:
    """The frame size and rate (None for a still or an image sequence) of footage Blender can
    read; BatchError otherwise."""
    if not path.is_file():
        raise BatchError(f"--footage {path}: no such file")
    clip = bpy.data.movieclips.load(str(path.resolve()))
    try:
        size, fps = (int(clip.size[0]), int(clip.size[1])), float(clip.fps)
    finally:
        bpy.data.movieclips.remove(clip)
    if size[0] <= 0 or size[1] <= 0:
        raise BatchError(f"--footage {path}: Blender cannot read frames from it")
    return size, (fps if fps > 0 else None)


def _atomic(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def convert(job: Job, prepared: PreparedInput, settings: EstimateSettings, log=print) -> None:
    """Lift one input and write its .blend (and BVH / FBX) files."""
    step = {"last": -1}
    for note in prepared.notes:
        log(f"  {job.input.name}: {note}")
    if prepared.camera:
        log(f"  {job.input.name}: {prepared.camera}")

    def progress(done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent // 10 != step["last"]:
            step["last"] = percent // 10
            log(f"  {job.input.name}: {percent}%")

    lifted = estimate(prepared.keypoints, prepared.K, prepared.confidence, settings, progress, fps=prepared.fps)
    skipped = np.flatnonzero(~lifted.valid)
    if len(skipped):
        log(f"  warning: {len(skipped)} frame(s) with fewer than 4 joints were not keyed (first: {skipped[0]})")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    clip = None
    if job.footage is not None:
        clip = bpy.data.movieclips.load(str(job.footage.resolve()))
        clip.frame_start = scene.frame_start
        K0 = prepared.K if prepared.K.ndim == 2 else prepared.K[0]
        set_clip_camera(clip, clip_camera_values(K0, prepared.image_size))
    if prepared.fps:
        scene.render.fps, scene.render.fps_base = max(1, round(prepared.fps)), round(prepared.fps) / prepared.fps
    result = apply_motion(
        bpy.context, lifted.poses3d, prepared.K, prepared.image_size, scene.frame_start,
        name=job.input.stem, actor_height=job.actor_height, clip=clip,
        lock_feet_fps=(prepared.fps or scene.render.fps / scene.render.fps_base) if settings.lock_feet else None,
    )
    scene.frame_end = scene.frame_start + len(prepared.keypoints) - 1
    scene.camera = result.camera
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == result.armature)
    bpy.context.view_layer.objects.active = result.armature
    _atomic(job.output, lambda p: bpy.ops.wm.save_as_mainfile(filepath=str(p), copy=True))
    if job.bvh:
        _atomic(job.bvh, lambda p: bpy.ops.export_anim.bvh(
            filepath=str(p), frame_start=scene.frame_start, frame_end=scene.frame_end, rotate_mode="NATIVE"))
    if job.fbx:
        _atomic(job.fbx, lambda p: bpy.ops.export_scene.fbx(
            filepath=str(p), use_selection=True, object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=True,
            bake_anim_use_nla_strips=False, bake_anim_use_all_actions=False))
    written = ", ".join(str(p) for p in (job.output, job.bvh, job.fbx) if p)
    log(f"  {job.input.name}: {result.keyed_frames} frames keyed, height {result.height_m:.2f} m -> {written}")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    try:
        settings, jobs = parse_args(argv)
        prepared = [prepare(job) for job in jobs]
        for i, (job, data) in enumerate(zip(jobs, prepared), 1):
            print(f"[{i}/{len(jobs)}] {job.input}", flush=True)
            convert(job, data, settings, log=lambda text: print(text, flush=True))
    except BatchError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
