"""Gather the inputs of an estimate from the scene, and apply the engine's answer to it."""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .engine import EstimateSettings, estimate, load_prior
from .result import SceneResult, apply_motion
from .skeleton import JOINT_LABELS
from .engine import engine_module
from .tracks import clip_camera_is_default, clip_intrinsics, read_keypoints

MIN_JOINTS = 4
# Custom property of an estimated rig: the lifted actor's 16 bone lengths (zedo_core.body).
BODY_PROPERTY = "zedo_body_m"


class NotReady(Exception):
    """The scene is not ready for an estimate; the message tells the user what to do."""


@dataclass
class EstimateRequest:
    """Everything one run needs, read from the scene on the main thread."""

    clip: bpy.types.MovieClip
    tracking_object: str
    keypoints: np.ndarray  # (N, 17, 2) pixels, origin top-left
    confidence: np.ndarray  # (N, 17)
    K: np.ndarray
    image_size: tuple[int, int]
    frame_start: int
    actor_height: float | None
    settings: EstimateSettings
    fps: float  # the footage's frame rate (the clip's, else the scene's)
    bone_lengths: tuple[float, ...] | None = None  # the actor's body from the Body file
    aimed_joints: tuple[str, ...] = ()  # joints aimed at, not pinned (LiftConfig.aimed_joints)

    def run(self, progress=None, should_cancel=None):
        """The engine run (safe on a worker thread: touches no Blender data). ``progress`` is
        called as ``progress(done, total, phase)``."""
        lifting = None
        if progress is not None:
            progress(0, 1, "Loading the pose prior")
            load_prior(self.settings.device)  # once per session; estimate() reuses it
            progress(0, 1, "Lifting to 3D")

            def lifting(done: int, total: int) -> None:
                progress(done, total, "Lifting to 3D")

        return estimate(
            self.keypoints, self.K, self.confidence, self.settings, lifting, should_cancel, self.fps, self.bone_lengths,
            self.aimed_joints,
        )


class Blocker(str):
    """Why the Estimate button cannot run: the message, with ``error`` True for something wrong
    to fix (shown with an error icon) and False for a step not taken yet."""

    error: bool

    def __new__(cls, text: str, error: bool = False) -> "Blocker":
        blocker = super().__new__(cls, text)
        blocker.error = error
        return blocker


def readiness(settings) -> Blocker | None:
    """Why the Estimate button cannot run yet (cheap enough for every redraw), or None."""
    if settings.clip is None:
        return Blocker("Choose the movie clip with the person's tracks")
    if settings.clip.size[0] <= 0:
        return Blocker(f"Blender cannot read the frames of clip '{settings.clip.name}'", error=True)
    tracking_object = settings.tracking_object_data()
    if tracking_object is None:
        return Blocker("The clip has no tracking object: import 2D keypoints or track the person")
    names = settings.track_names()
    unknown = [JOINT_LABELS[j] for j, name in enumerate(names) if name and tracking_object.tracks.get(name) is None]
    if unknown:
        return Blocker(f"No track named as mapped for: {', '.join(unknown)}", error=True)
    mapped = sum(1 for name in names if name)
    if mapped < MIN_JOINTS:
        if len(tracking_object.tracks) == 0:
            return Blocker("No tracks yet: import 2D keypoints, or track the joints and map them below")
        return Blocker(f"Map at least {MIN_JOINTS} joints to tracks ({mapped} mapped): use Auto-Map or pick tracks")
    if settings.frame_end < settings.frame_start:
        return Blocker("The frame range is empty (End is before Start)", error=True)
    return None


@dataclass(frozen=True)
class CameraChoice:
    """The intrinsics a run will use, and how they were found (shown in the panel)."""

    K: np.ndarray
    image_size: tuple[int, int]
    calibrated: bool
    description: str
    estimated: bool = False  # focal length estimated from the actor's motion (not calibrated)
    # "file" (the imported file's K), "clip" (the clip camera), "estimated", "fov" (the user's
    # field of view) or "guess" (the field-of-view fallback).
    source: str = "clip"

    @property
    def uses_field_of_view(self) -> bool:
        return self.source in ("fov", "guess")


# Custom properties the import leaves on a clip whose camera it set from a keypoint file.
CAMERA_FROM_FILE, CAMERA_FILE_FOCAL = "zedo_camera_from", "zedo_camera_focal_px"
# Custom property the import leaves on a clip: {tracking object: "track,track"}, the tracks of
# keypoints its layout marks elsewhere than the prior (a BODY_25B head top), aimed at, not pinned.
AIMED_TRACKS = "zedo_aimed_tracks"


def aimed_joints(clip: bpy.types.MovieClip, tracking_object: str, track_names: list[str]) -> tuple[str, ...]:
    """The joints (``LiftConfig.aimed_joints``) whose mapped track the import marked as aimed at."""
    marked = clip.get(AIMED_TRACKS)
    tracks = set(str(marked.get(tracking_object, "")).split(",")) - {""} if marked is not None else set()
    aimable = engine_module("lifting").AIMABLE_JOINTS
    return tuple(
        joint for joint, name in zip(engine_module("skeleton").JOINT_NAMES, track_names) if name in tracks and joint in aimable
    )


def camera_from_file(clip: bpy.types.MovieClip) -> str | None:
    """The keypoint file the clip camera was set from, if it still has that file's focal length."""
    name = clip.get(CAMERA_FROM_FILE)
    focal = clip.get(CAMERA_FILE_FOCAL)
    if name is None or focal is None:
        return None
    return name if abs(clip.tracking.camera.focal_length_pixels - focal) < 1e-3 * max(1.0, focal) else None


_ESTIMATES: dict[tuple, object] = {}  # recent focal-length estimates, keyed by the tracks' content
_MAX_ESTIMATES = 8


def _scene_fps(settings, clip: bpy.types.MovieClip) -> float | None:
    scene = getattr(settings, "id_data", None)
    if isinstance(scene, bpy.types.Scene):
        return _frame_rate(scene, clip)
    return float(clip.fps) if clip.fps > 0 else None


def _remember(key: tuple, value) -> None:
    if len(_ESTIMATES) >= _MAX_ESTIMATES:
        _ESTIMATES.pop(next(iter(_ESTIMATES)))
    _ESTIMATES[key] = value


def estimate_focal_from_tracks(settings, image_size: tuple[int, int], exact: bool = True):
    """The engine's :class:`FocalEstimate` from the mapped tracks over the frame range, cached by
    the markers' content. ``exact=False`` (the panel's redraws) first looks it up by a cheap key
    (tracks, their marker counts and end markers, frames, size, rate) without reading every marker."""
    intrinsics = engine_module("intrinsics")
    clip, tracking_object = settings.clip, settings.tracking_object_data()
    if tracking_object is None or settings.frame_end < settings.frame_start:
        return intrinsics.estimate_focal(np.full((1, 17, 2), np.nan), None, image_size)  # a fallback with its reason
    fps = _scene_fps(settings, clip)
    names = settings.track_names()
    tracks = [tracking_object.tracks.get(name) if name else None for name in names]
    cheap = (
        "cheap", clip.name, tracking_object.name, settings.frame_start, settings.frame_end, tuple(image_size), fps,
        tuple(
            (name, len(t.markers), tuple(t.markers[0].co), tuple(t.markers[-1].co), t.weight) if t is not None and len(t.markers) else name
            for name, t in zip(names, tracks)
        ),
    )
    if not exact and cheap in _ESTIMATES:
        return _ESTIMATES[cheap]
    keypoints, confidence = read_keypoints(clip, tracking_object.tracks, names, settings.frame_start, settings.frame_end)
    key = (hash(keypoints.tobytes()), hash(confidence.tobytes()), tuple(image_size), fps)
    if key not in _ESTIMATES:
        _remember(key, intrinsics.estimate_focal(keypoints, confidence, image_size, fps=fps))
    _remember(cheap, _ESTIMATES[key])
    return _ESTIMATES[key]


def choose_camera(settings, exact: bool = True) -> CameraChoice:
    """The clip camera's intrinsics; else (Auto) a focal length estimated from the actor's motion,
    falling back to the field-of-view guess; or (Field of View) the user's field of view.
    ``exact=False``: the panel's cheap lookup (see :func:`estimate_focal_from_tracks`)."""
    K, image_size = clip_intrinsics(settings.clip)
    use_clip = settings.camera_source == "CLIP" or (
        settings.camera_source == "AUTO" and not clip_camera_is_default(settings.clip)
    )
    if use_clip:
        source_file = camera_from_file(settings.clip)
        if source_file is not None:
            return CameraChoice(K, image_size, True, f"From the file ({source_file}): focal length {K[0, 0]:.0f} px", source="file")
        return CameraChoice(K, image_size, True, f"Calibrated clip camera: focal length {K[0, 0]:.0f} px", source="clip")
    intrinsics = engine_module("intrinsics")
    fov_deg = float(np.degrees(settings.field_of_view))
    guessed = intrinsics.intrinsics_from_fov(image_size, fov_deg)
    if settings.camera_source != "AUTO":
        text = f"Field of view {fov_deg:.0f}° (chosen): focal length {guessed[0, 0]:.0f} px"
        return CameraChoice(guessed, image_size, False, text, source="fov")
    found = estimate_focal_from_tracks(settings, image_size, exact=exact)
    if found.estimated:
        K = intrinsics.intrinsics_from_focal(image_size, found.focal_px)
        text = f"Estimated from the actor's motion: {found.focal_px:.0f} px ({found.fov_deg:.0f}° field of view)"
        return CameraChoice(K, image_size, False, text, estimated=True, source="estimated")
    return CameraChoice(guessed, image_size, False, f"Guessed ({fov_deg:.0f}° field of view): {found.reason}", source="guess")


def gather_request(context: bpy.types.Context, settings, engine_settings: EstimateSettings) -> EstimateRequest:
    """Read markers and the camera from the scene; raises :class:`NotReady` with the reason."""
    reason = readiness(settings)
    if reason:
        raise NotReady(reason)
    clip = settings.clip
    tracking_object = settings.tracking_object_data()
    camera = choose_camera(settings)
    K, image_size = camera.K, camera.image_size
    keypoints, confidence = read_keypoints(
        clip, tracking_object.tracks, settings.track_names(), settings.frame_start, settings.frame_end
    )
    bone_lengths = None
    if settings.body_file:
        try:
            bone_lengths = engine_module("body").read_body(bpy.path.abspath(settings.body_file))
        except ValueError as error:
            raise NotReady(f"Body file: {error}") from None
    if camera.calibrated:
        keypoints = undistorted(clip, keypoints, K)
    visible = (confidence > 0).sum(axis=1)
    if (visible < MIN_JOINTS).all():
        raise NotReady(
            f"No frame in {settings.frame_start}-{settings.frame_end} has markers on {MIN_JOINTS} or more mapped "
            "joints: check the frame range and that the tracks have markers there"
        )
    return EstimateRequest(
        clip=clip,
        tracking_object=tracking_object.name,
        keypoints=keypoints,
        confidence=confidence,
        K=K,
        image_size=image_size,
        frame_start=settings.frame_start,
        actor_height=settings.actor_height if settings.use_actor_height else None,
        settings=engine_settings,
        fps=_frame_rate(context.scene, clip),
        bone_lengths=bone_lengths,
        aimed_joints=aimed_joints(clip, tracking_object.name, settings.track_names()),
    )


def undistorted(clip: bpy.types.MovieClip, keypoints: np.ndarray, K: np.ndarray) -> np.ndarray:
    """The tracks' pixels with the clip camera's lens distortion removed (Blender's Polynomial
    model: OpenCV's radial k1, k2, k3, which a calibration file's import sets), so that the engine
    sees an ideal pinhole camera. Other models are left alone: they are not set by the import."""
    camera = clip.tracking.camera
    if camera.distortion_model != "POLYNOMIAL" or not any((camera.k1, camera.k2, camera.k3)):
        return keypoints
    coefficients = [camera.k1, camera.k2, 0.0, 0.0, camera.k3]
    return engine_module("distortion").undistort_points(keypoints, K, coefficients)


def _frame_rate(scene: bpy.types.Scene, clip: bpy.types.MovieClip) -> float:
    """The footage's frame rate: the clip's own when it has one, else the scene's."""
    if clip.fps > 0:
        return float(clip.fps)
    return scene.render.fps / scene.render.fps_base


def apply_request(context: bpy.types.Context, request: EstimateRequest, lift_result) -> SceneResult:
    """Put the engine's answer for ``request`` into the scene (main thread only): the rig, its
    action and camera; the camera becomes the scene camera and the scene's frame range the
    estimated frames; the rig becomes the panel's retarget source."""
    result = apply_motion(
        context,
        lift_result.poses3d,
        request.K,
        request.image_size,
        request.frame_start,
        name=f"ZeDO {request.clip.name}",
        actor_height=request.actor_height,
        clip=request.clip,
        lock_feet_fps=request.fps if request.settings.lock_feet else None,
    )
    scene = context.scene
    scene.camera = result.camera
    scene.frame_start = request.frame_start
    scene.frame_end = request.frame_start + len(request.keypoints) - 1
    scene.zedo.retarget_source = result.armature
    # The actor's body as lifted (metres, before any actor-height scaling), for Save Body.
    lifted = np.asarray(lift_result.poses3d)[np.asarray(lift_result.valid)]
    if len(lifted):
        result.armature[BODY_PROPERTY] = [float(x) for x in engine_module("body").median_bone_lengths(lifted)]
    return result


def released_markers_message(request: EstimateRequest, lift_result) -> str | None:
    """A note naming the frames whose track markers looked misplaced and were placed by the prior
    instead (the engine's ray release), or None."""
    released = np.asarray(lift_result.released_in_answer)
    frames = np.flatnonzero(released.any(axis=1)) + request.frame_start
    if len(frames) == 0:
        return None
    return f"{int(released.sum())} marker(s) looked misplaced and were placed by the prior instead (check those tracks): frames {_listed(frames)}"


def skipped_frames_message(request: EstimateRequest, lift_result) -> str | None:
    """A warning naming the frames that got no pose (fewer than 4 joints), or None."""
    skipped = np.flatnonzero(~np.asarray(lift_result.valid)) + request.frame_start
    if len(skipped) == 0:
        return None
    return f"{len(skipped)} frame(s) had fewer than {MIN_JOINTS} joints with markers and were not keyed: {_listed(skipped)}"


def _listed(frames: np.ndarray) -> str:
    """The first 10 frame numbers for a report, then " ..." if there are more."""
    return ", ".join(str(f) for f in frames[:10]) + (" ..." if len(frames) > 10 else "")

