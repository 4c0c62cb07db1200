"""Headless conversion: 2D keypoint files -> .blend (rig, camera, action) and optional BVH / FBX.

    blender -b --python zedo_blender/batch.py -- --input IN --output OUT.blend [--bvh OUT.bvh] [--fbx OUT.fbx]
    python -m zedo_blender.batch --input IN --output OUT.blend ...        (with the bpy module)
    ... --retarget-to RIG.blend [--retarget-armature NAME] [--bone-map MAP.json]

``--retarget-to`` appends the user's armature (with the objects it deforms) from RIG.blend into
the output and bakes the motion onto it as a new action (see ``zedo_blender.retarget``); the
armature is found by the built-in bone maps (Rigify, Mixamo, Unreal) unless named. The BVH is
written Y up (``--bvh-up z`` for Blender's Z up); the FBX's first key is at time 0, so Blender's
FBX import puts it back on the first frame.

Calibrated footage: ``--camera FILE [--camera-name NAME]`` (Pose2Sim / anipose .toml, OpenCV .yml /
.xml) gives K, the image size and the lens distortion (the keypoints are undistorted before
lifting); it replaces ``--focal`` / ``--fov``, which cannot be given with it, and ``--image-size``
then names the footage's size when it was scaled from the calibrated one. ``--footage VIDEO``
makes the video the .blend's movie clip, behind the camera, and gives the frame rate.

One person in many clips (takes, or the cameras of one take): ``--one-body`` measures their body
(the median bone lengths over every input, a first pass) and lifts every input with it, which is
more accurate than each clip's own (docs/validation.md) and takes twice the time; ``--body
BODY.json`` lifts with a body measured before (``python -m zedo_core lift --save-body``).

Several ``--input`` groups convert one after another; the options after each ``--input`` belong
to it, options before the first ``--input`` apply to all. Every input is read and checked before
any conversion starts, and no output may be an input. Bad input exits with status 2 and one line
naming the problem; a failed write or a missing device with 1, Ctrl-C with 130. Outputs are written
to temporary names and moved into place together, so a failed or interrupted run leaves existing
files as they were.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script by Blender: import the package this file is in
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = Path(__file__).resolve().parent.name
    importlib.import_module(__package__)

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from . import bone_maps, retarget  # noqa: E402
from .bvh import write_bvh  # noqa: E402
from .clip_camera import clip_camera_values, set_clip_camera  # noqa: E402
from .engine import EstimateSettings, engine_module, estimate  # noqa: E402
from .result import apply_motion  # noqa: E402


class BatchError(Exception):
    """Bad input or arguments: reported as one line, exit status 2."""


class RunError(Exception):
    """The engine could not run (no such device, PyTorch missing): one line, exit status 1."""


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
    retarget_to: Path | None = None
    retarget_armature: str | None = None
    bone_map: Path | None = None
    bvh_up: str = "Y"
    camera: Path | None = None
    camera_name: str | None = None
    footage: Path | None = None
    fps: float | None = None
    body: Path | None = None
    one_body: bool = False


def _global_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zedo_blender.batch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--hypotheses", type=int, default=1, help="start poses per frame (default 1)")
    parser.add_argument("--iterations", type=int, default=200, help="optimisation iterations (default 200)")
    parser.add_argument("--seed", type=engine_module("cli").non_negative_int, default=0)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--no-video", action="store_true", help="lift every frame on its own (default: video mode, frames help each other)"
    )
    parser.add_argument(
        "--no-foot-lock", action="store_true", help="keep the feet as lifted (default: planted feet are pinned, no sliding)"
    )
    parser.add_argument(
        "--one-body", action="store_true",
        help="the inputs show one person: measure their body over all inputs first, then lift each with it (twice the time)",
    )
    parser.add_argument(
        "--bvh-up", choices=("y", "z"), default="y",
        help="up axis of the BVH (default y: what Blender's BVH import and most tools expect; z: Blender's axes)",
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
    parser.add_argument(
        "--body", type=Path, default=None, metavar="BODY.json",
        help="the person's body (bone lengths, from python -m zedo_core lift --save-body): lift with it",
    )
    parser.add_argument(
        "--retarget-to", type=Path, default=None, metavar="RIG.blend",
        help="also bake the motion onto the armature in this .blend (appended into the output)",
    )
    parser.add_argument(
        "--retarget-armature", default=None, metavar="NAME", help="the armature in --retarget-to (when it holds several)"
    )
    parser.add_argument(
        "--bone-map", type=Path, default=None, metavar="MAP.json",
        help="JSON bone map for --retarget-to (default: the built-in map that fits: Rigify, Mixamo or Unreal names)",
    )


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
                actor_height=pick("actor_height"), retarget_to=pick("retarget_to"),
                retarget_armature=pick("retarget_armature"), bone_map=pick("bone_map"), bvh_up=common.bvh_up.upper(),
                camera=pick("camera"), camera_name=pick("camera_name"), footage=part.footage, fps=pick("fps"),
                body=pick("body"), one_body=common.one_body,
            )
        )
        job = jobs[-1]
        if job.one_body and job.body is not None:
            raise BatchError(f"--one-body measures the body from the inputs: drop --body {job.body}")
        if job.camera_name is not None and job.camera is None:
            raise BatchError(f"--camera-name {job.camera_name}: needs --camera FILE")
        if job.camera is not None and (job.focal is not None or job.fov is not None):
            raise BatchError(f"--camera {job.camera} gives the focal length: drop --focal / --fov")
        if job.fps is not None and not (np.isfinite(job.fps) and job.fps > 0):
            raise BatchError(f"--fps must be positive, got {job.fps}")
    outputs = [p for job in jobs for p in (job.output, job.bvh, job.fbx) if p is not None]
    inputs = [
        path for job in jobs
        for path in (job.input, job.camera, job.footage, job.retarget_to, job.bone_map, job.body) if path is not None
    ]  # fmt: skip
    try:  # before any work: no output may be an input (or a frame in an input folder), a folder or unwritable
        engine_module("safe_io").check_output_paths(inputs, outputs)
    except ValueError as error:
        raise BatchError(str(error)) from None
    return settings, jobs


@dataclass
class RetargetTarget:
    """The armature to retarget onto, found in a .blend before any conversion starts."""

    path: Path
    armature: str
    objects: list[str]  # the armature first, then the objects it moves (parented or deformed)
    bone_map: bone_maps.BoneMap


@dataclass
class PreparedInput:
    keypoints: np.ndarray
    confidence: np.ndarray
    K: np.ndarray
    image_size: tuple[int, int]
    fps: float | None
    camera: str = ""  # where K came from (printed)
    target: RetargetTarget | None = None
    notes: tuple[str, ...] = ()  # what the readers decided (printed)
    body: tuple[float, ...] | None = None  # the person's bone lengths (LiftConfig.bone_lengths)
    aimed: tuple[str, ...] = ()  # joints aimed at, not pinned (LiftConfig.aimed_joints; from the layout)


def _read_bone_map(path: Path) -> bone_maps.BoneMap:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BatchError(f"--bone-map {path}: cannot be read ({error.strerror or error})") from None
    try:
        return bone_maps.parse_bone_map(text, str(path))
    except bone_maps.BoneMapError as error:
        raise BatchError(str(error)) from None


def find_target(job: Job) -> RetargetTarget:
    """The armature of ``job.retarget_to`` to retarget onto, with its bone map; raises
    :class:`BatchError` naming the file and what is wrong. Reads the file by linking it, then
    removes the link again."""
    path = job.retarget_to
    if path.suffix.lower() != ".blend":
        raise BatchError(f"--retarget-to {path}: must be a .blend file")
    if not path.is_file():
        raise BatchError(f"--retarget-to {path}: no such file")
    user_map = _read_bone_map(job.bone_map) if job.bone_map is not None else None
    before = set(bpy.data.libraries)
    try:
        with bpy.data.libraries.load(str(path), link=True) as (source, linked):
            linked.objects = list(source.objects)
    except (OSError, RuntimeError) as error:
        raise BatchError(f"--retarget-to {path}: cannot be read as a .blend file ({error})") from None
    try:
        objects = [o for o in linked.objects if o is not None]
        armatures = {o.name: o for o in objects if o.type == "ARMATURE"}
        if not armatures:
            raise BatchError(f"--retarget-to {path}: has no armature")
        listed = ", ".join(sorted(armatures))
        if job.retarget_armature is not None:
            if job.retarget_armature not in armatures:
                raise BatchError(f"--retarget-armature {job.retarget_armature}: no armature of that name in {path} (armatures: {listed})")
            names = [job.retarget_armature]
        else:
            names = sorted(armatures)
        fits: dict[str, bone_maps.BoneMap] = {}
        problems = []
        for name in names:
            bones = armatures[name].data.bones.keys()
            if user_map is not None:
                try:
                    user_map.check(bones, name)
                    fits[name] = user_map
                except bone_maps.BoneMapError as error:
                    problems.append(str(error))
            else:
                found = bone_maps.detect(bones)
                if found is not None:
                    fits[name] = found
        if not fits:
            if user_map is not None:
                raise BatchError(f"--retarget-to {path}: {problems[0]}")
            raise BatchError(
                f"--retarget-to {path}: no built-in bone map (Rigify, Mixamo, Unreal) fits armature(s) {', '.join(names)}: "
                "pass --bone-map MAP.json"
            )
        if len(fits) > 1:
            raise BatchError(f"--retarget-to {path}: {len(fits)} armatures fit ({', '.join(fits)}): pass --retarget-armature NAME")
        (name, found_map), = fits.items()
        rig = armatures[name]

        def moved_by_rig(obj) -> bool:
            parent = obj.parent
            while parent is not None:
                if parent == rig:
                    return True
                parent = parent.parent
            return any(m.type == "ARMATURE" and m.object == rig for m in getattr(obj, "modifiers", ()))

        children = [o.name for o in objects if o != rig and moved_by_rig(o)]
        return RetargetTarget(path, name, [name] + children, found_map)
    finally:
        for library in set(bpy.data.libraries) - before:
            bpy.data.libraries.remove(library)


def append_target(target: RetargetTarget, scene: bpy.types.Scene) -> bpy.types.Object:
    """Append the armature (and the objects it moves) into ``scene``, in a collection of its own."""
    with bpy.data.libraries.load(str(target.path), link=False) as (_, appended):
        appended.objects = list(target.objects)
    collection = bpy.data.collections.new(target.armature)
    scene.collection.children.link(collection)
    for obj in appended.objects:
        collection.objects.link(obj)
    return appended.objects[0]


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
        K0 = checked.K[0]  # last row (0, 0, 1)
        image_size = (int(round(2 * K0[0, 2])), int(round(2 * K0[1, 2])))
    if job.actor_height is not None and not job.actor_height > 0:
        raise BatchError(f"--actor-height must be positive, got {job.actor_height}")
    if job.retarget_to is None and (job.retarget_armature is not None or job.bone_map is not None):
        raise BatchError("--retarget-armature and --bone-map need --retarget-to RIG.blend")
    target = find_target(job) if job.retarget_to is not None else None
    body = None
    if job.body is not None:
        try:
            body = engine_module("body").read_body(job.body)
        except ValueError as error:
            raise BatchError(f"--body {error}") from None
    return PreparedInput(
        sequence.keypoints, sequence.confidence, K, tuple(int(v) for v in image_size), fps, camera,
        target=target, notes=sequence.notes, body=body, aimed=sequence.aimed,
    )


def _footage(path: Path) -> tuple[tuple[int, int], float | None]:
    """The frame size and rate (None for a still or an image sequence) of footage Blender can
    read; BatchError otherwise."""
    if not path.is_file():
        raise BatchError(f"--footage {path}: no such file")
    try:
        clip = bpy.data.movieclips.load(str(path.resolve()))
    except (RuntimeError, UnicodeError) as error:
        raise BatchError(f"--footage {_display(path)}: Blender cannot read it ({_display(error)})") from None
    try:
        size, fps = (int(clip.size[0]), int(clip.size[1])), float(clip.fps)
    finally:
        bpy.data.movieclips.remove(clip)
    if size[0] <= 0 or size[1] <= 0:
        raise BatchError(f"--footage {path}: Blender cannot read frames from it")
    return size, (fps if fps > 0 else None)


@contextlib.contextmanager
def _blender_output_hidden():
    """Blender prints its operators' reports straight to file descriptors 1 and 2, and an exporter's
    traceback to sys.stderr: send both to the null device, so that a failed write is one line of
    ours (the reason is in the RuntimeError) and no temporary file name is shown."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                    yield
            finally:
                _flush_c_streams()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)


def _flush_c_streams() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle (Windows): stdio unbuffered there
        pass


def _blender_reason(error: RuntimeError) -> str:
    """The line that says why, from Blender's report or an exporter's traceback."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    named = [line for line in lines if re.match(r"[A-Za-z]*Error: ", line) and "Traceback" not in line]
    return (named or lines or ["Blender could not write the file"])[-1].removeprefix("Error: ")


def _blender_write(operator, path: Path, **options) -> None:
    """Run a Blender operator that writes ``path``; its failure becomes one OSError line."""
    try:
        with _blender_output_hidden():
            result = operator(filepath=str(path), **options)
    except RuntimeError as error:
        raise OSError(_blender_reason(error)) from None
    finally:
        Path(f"{path}@").unlink(missing_ok=True)  # Blender's own temporary file when saving a .blend
    if "FINISHED" not in result:
        raise OSError("Blender cancelled the write")


def _save_blend(path: Path, objects: list[str]) -> None:
    """Save a copy of the session as ``path`` and check that the file reads back with ``objects``:
    Blender's writer does not notice a short write (a full disk, a file-size limit)."""
    _blender_write(bpy.ops.wm.save_as_mainfile, path, copy=True)
    try:
        with bpy.data.libraries.load(str(path)) as (stored, _):
            found = set(stored.objects)
    except OSError:
        found = set()
    if not set(objects) <= found:
        raise OSError("the file Blender wrote is incomplete (is the disk full?)")


def _camera_intrinsics(K: np.ndarray) -> np.ndarray:
    """``K`` (checked) with last row (0, 0, 1), as the engine reads it: the Blender camera's."""
    K = np.asarray(K, dtype=np.float64)
    return engine_module("inputs").normalized_intrinsics(K.reshape(-1, 3, 3)).reshape(K.shape)


def _display(path: object) -> str:
    return engine_module("safe_io").display(path)


def _lift(prepared: PreparedInput, settings: EstimateSettings, progress=None):
    """The engine's ``LiftResult`` for one prepared input (with its body, if any)."""
    try:
        return estimate(
            prepared.keypoints, prepared.K, prepared.confidence, settings, progress, fps=prepared.fps,
            bone_lengths=prepared.body, aimed_joints=prepared.aimed,
        )
    except RuntimeError as error:  # e.g. --device cuda without CUDA (also EngineUnavailable, PriorLoadError)
        raise RunError(engine_module("safe_io").first_line(error)) from None


def measure_one_body(jobs: list[Job], prepared: list[PreparedInput], settings: EstimateSettings, log=print) -> tuple[float, ...]:
    """``--one-body``: the median bone lengths over every input's lifted frames (a first pass)."""
    poses = []
    for i, (job, data) in enumerate(zip(jobs, prepared), 1):
        log(f"  body, pass 1 [{i}/{len(jobs)}]: {_display(job.input.name)}")
        lifted = _lift(data, settings)
        poses.append(lifted.poses3d[lifted.valid])
    try:
        lengths = engine_module("body").median_bone_lengths(np.concatenate(poses))
    except ValueError as error:
        raise BatchError(f"--one-body: {error}") from None
    frames = sum(len(p) for p in poses)
    log(f"  one body over {frames} frames of {len(jobs)} input(s): legs {lengths[1] + lengths[2]:.2f} m, "
        f"spine {lengths[6] + lengths[7]:.2f} m")  # fmt: skip
    return tuple(float(x) for x in lengths)


def convert(job: Job, prepared: PreparedInput, settings: EstimateSettings, log=print) -> None:
    """Lift one input and write its .blend (and BVH / FBX) files."""
    step = {"last": -1}
    label = _display(job.input.name)
    for note in prepared.notes:
        log(f"  {label}: {note}")
    if prepared.camera:
        log(f"  {label}: {prepared.camera}")
    if prepared.body is not None:
        log(f"  {label}: lifted with {'the one body of all inputs' if job.one_body else f'the body of {_display(job.body)}'}")

    def progress(done: int, total: int) -> None:
        percent = 100 * done // max(total, 1)
        if percent // 10 != step["last"]:
            step["last"] = percent // 10
            log(f"  {label}: {percent}%")

    lifted = _lift(prepared, settings, progress)
    skipped = np.flatnonzero(~lifted.valid)
    if len(skipped):
        log(f"  warning: {len(skipped)} frame(s) with fewer than 4 joints were not keyed (first: {skipped[0]})")
    released = np.flatnonzero(lifted.released_in_answer.any(axis=1))
    if len(released):
        log(f"  {label}: detections in {len(released)} frame(s) looked misplaced and were placed by the prior (first: {released[0]})")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    clip = None
    if job.footage is not None:
        clip = bpy.data.movieclips.load(str(job.footage.resolve()))
        clip.frame_start = scene.frame_start
        K = _camera_intrinsics(prepared.K)
        K0 = K if K.ndim == 2 else K[0]
        set_clip_camera(clip, clip_camera_values(K0, prepared.image_size))
    if prepared.fps:
        scene.render.fps, scene.render.fps_base = max(1, round(prepared.fps)), round(prepared.fps) / prepared.fps
    name = job.input.stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # Blender names are UTF-8
    result = apply_motion(
        bpy.context, lifted.poses3d, _camera_intrinsics(prepared.K), prepared.image_size, scene.frame_start,
        name=name, actor_height=job.actor_height, clip=clip,
        lock_feet_fps=(prepared.fps or scene.render.fps / scene.render.fps_base) if settings.lock_feet else None,
    )
    scene.frame_end = scene.frame_start + len(prepared.keypoints) - 1
    scene.camera = result.camera
    # The FBX take runs over the action's (manual) frame range, from time 0: Blender's FBX import
    # puts time 0 on frame 1, so the keys come back on the frames they were keyed on.
    result.action.use_frame_range = True
    result.action.frame_start, result.action.frame_end = scene.frame_start, scene.frame_end
    fps = scene.render.fps / scene.render.fps_base
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == result.armature)
    bpy.context.view_layer.objects.active = result.armature
    # All or nothing: every file goes to a temporary name first; existing ones are replaced only
    # once all were written. The FBX is written before the retarget, so it holds the ZeDO rig alone.
    retargeted = []

    def save_blend(path: Path) -> None:
        if prepared.target is not None:
            target = append_target(prepared.target, scene)
            try:
                done = retarget.retarget(bpy.context, result.armature, target, prepared.target.bone_map)
            except (retarget.RetargetError, bone_maps.BoneMapError) as error:
                raise BatchError(f"--retarget-to {prepared.target.path}: {error}") from None
            retargeted.append(f", retargeted onto '{target.name}' ({done.bone_map.name} map, scale {done.scale:.2f})")
        _save_blend(path, [result.armature.name, result.camera.name])

    writers = []
    if job.bvh:
        writers.append((job.bvh, lambda p: write_bvh(p, result.armature, fps, job.bvh_up, (scene.frame_start, scene.frame_end))))
    if job.fbx:
        # Every key as keyed: the exporter's default curve simplification moved joints by up to 3 mm.
        writers.append((job.fbx, lambda p: _blender_write(
            bpy.ops.export_scene.fbx, p, use_selection=True, object_types={"ARMATURE"}, add_leaf_bones=False,
            bake_anim=True, bake_anim_use_nla_strips=False, bake_anim_use_all_actions=True,
            bake_anim_force_startend_keying=True, bake_anim_simplify_factor=0.0)))
    writers.append((job.output, save_blend))
    engine_module("safe_io").write_outputs(writers, utf8_paths=True)
    written = ", ".join(_display(p) for p in (job.output, job.bvh, job.fbx) if p)
    log(f"  {label}: {result.keyed_frames} frames keyed, height {result.height_m:.2f} m{''.join(retargeted)} -> {written}")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[sys.argv.index("--") + 1 :] if "--" in sys.argv else sys.argv[1:]
    safe_io = engine_module("safe_io")
    try:
        with safe_io.termination_as_exception():  # SIGTERM: clean up as for Ctrl-C
            settings, jobs = parse_args(argv)
            prepared = [prepare(job) for job in jobs]
            if jobs[0].one_body:
                body = measure_one_body(jobs, prepared, settings, log=lambda text: print(text, flush=True))
                for data in prepared:
                    data.body = body
            for i, (job, data) in enumerate(zip(jobs, prepared), 1):
                print(f"[{i}/{len(jobs)}] {_display(job.input)}", flush=True)
                convert(job, data, settings, log=lambda text: print(text, flush=True))
    except BatchError as error:
        print(f"error: {safe_io.first_line(error, 1000)}", file=sys.stderr)
        return 2
    except (RunError, safe_io.WriteError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncancelled", file=sys.stderr)
        return 130
    except safe_io.Terminated as error:
        print(f"\n{error}", file=sys.stderr)
        return error.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
