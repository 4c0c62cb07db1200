"""Lifting 2D keypoints to 3D poses: initial pose search, then the ZeDO optimisation loop."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import numpy as np

from .arrays import (
    Array,
    as_dtype,
    asarray_like,
    copy,
    dtype_name,
    full_like_shape,
    namespace,
    nanmedian,
    norm,
    to_numpy,
)
from .geometry import (
    nearest_on_rays,
    project_onto_rays,
    refine_translation_px,
    reprojection_error_px,
    rotation_grid,
    solve_translation,
    turn_onto_rays,
    unit_rays,
)
from .initialization import adam_reference_start, grid_search_start
from .inputs import InputError, LiftInputs, listed_frames, validate_inputs
from .prior import PRIOR_MODES, PosePrior
from .scale import steady_size_factors
from .skeleton import JOINT_NAMES, NUM_BONES, NUM_JOINTS, PARENTS, bone_lengths, pull_bone_lengths
from .temporal import (
    apply_filter,
    local_polynomial_coefficients,
    robust_fit,
    smooth_keypoints,
    window_radius,
    window_step,
)

ProgressCallback = Callable[[int, int], None]
CancelCheck = Callable[[], bool]


SELECTION_METHODS = ("prior", "reprojection", "medoid", "mean")
ENSEMBLE_STEPS = ("alternate", "mean")
PRIOR_NETWORKS = ("auto", *PRIOR_MODES, "all")
# Joints LiftConfig.aimed_joints may name: those no other joint hangs from.
AIMABLE_JOINTS = tuple(name for j, name in enumerate(JOINT_NAMES) if j not in PARENTS)


class LiftCancelled(Exception):
    """Raised by :func:`lift` when ``should_cancel`` returned True between iterations."""


@dataclass(frozen=True)
class LiftConfig:
    """Settings of :func:`lift`. Defaults are the ones the accuracy figures (README, docs/research.md) use."""

    hypotheses: int = 1
    iterations: int = 200
    # The loop itself is deterministic; the seed draws the start poses when no shipped K-Means
    # codebook has exactly ``hypotheses`` centres (1, 10, 50 and 200 are shipped).
    seed: int = 0
    # With one hypothesis, the grid search also picks the start pose among this many K-Means
    # centres (a codebook size of the prior; 1 = the mean pose only, as in the paper). The loop
    # only refines its start locally, so a start closer in shape pays off: held-out S8 (ensemble
    # trained on S1 S5 S6 S7, 1672 frames) 53.3 mm with 50 centres, 52.5 with 100, 52.2 with 200,
    # 51.9 with 400, 52.1 with 800; unchanged with 4 px of 2D noise. 200 costs 1.2x the run with
    # 50 (docs/research.md "How it works", "Speed"). The "adam" reference always starts from the paper's
    # centres.
    start_pool: int = 200
    # Loop schedule (method.md section 4): the translation stays at the initial estimate for the
    # first warmup_fraction of iterations; diffusion time falls linearly from t_max to t_min.
    # The reference runs t from 0.1 to 0.01 with Euler steps of 1 / iterations (1e-3 at 1000).
    # Ours starts a little noisier and lets the prior pull less in all (step_budget: the sum of
    # the steps): chosen on held-out S8 (prior trained on S1 S5 S6 S7; docs/research.md "How it works"),
    # 58.2 -> 55.3 mm MPJPE at equal PA-MPJPE, and 80.7 -> 74.3 mm with 4 px of 2D noise.
    warmup_fraction: float = 0.2
    t_max: float = 0.12
    t_min: float = 0.01
    step_budget: float = 0.7
    # Euler step of each denoising call; None means step_budget / iterations.
    step_size: float | None = None
    # Initial pose optimiser: "grid" (ours) or "adam" (the authors' reference; see initialization.py).
    initial_search: str = "grid"
    # Grid search: full turns about the body axis in yaw_steps, times these pitches and rolls.
    yaw_steps: int = 24
    pitch_deg: tuple[float, ...] = (-15.0, 0.0, 15.0)
    roll_deg: tuple[float, ...] = (0.0,)
    # Focal-length continuation (ours, not in the paper): the loop's rays start from a camera whose
    # focal length is this fraction of the true one and reach the true camera at the last
    # iteration. Measured on held-out S8 (docs/research.md): 72.5 -> 61.8 mm MPJPE, and it removes most of
    # the depth bias; 1.0 turns it off. The initial pose search always uses the true camera.
    focal_anneal_start: float = 0.6
    # Gauss-Newton steps on the pixel error after each closed-form translation in the loop (the
    # closed form alone pulls the person towards the camera); 0 = the paper's closed form only.
    translation_refinement: int = 1
    # After the loop, move joints onto their rays (exact 2D fit); off keeps the prior's last word.
    final_ray_projection: bool = False
    # How several hypotheses become one answer without ground truth: "medoid" (the hypothesis
    # closest to all others), "prior" (the pose the prior finds most plausible), "reprojection"
    # (lowest confidence-weighted reprojection error) or "mean" (the joint-wise mean). Measured on
    # the held-out subject S8 (S = 10): medoid 69.5 mm, mean 73.4, prior 109.0, reprojection 119.4;
    # the prior's choice only wins on people it was trained on. One hypothesis (62.6) beats all.
    selection: str = "medoid"
    # Diffusion time at which the prior scores plausibility for selection="prior".
    selection_t: float = 0.05
    # Rows (frames x hypotheses) optimised together; bounds memory on long clips.
    chunk_size: int = 4096
    # Video mode (zedo_core.temporal): the frames are one clip (or several, see lift's segments)
    # and neighbouring frames help each other. 0 = every frame on its own, as for unrelated
    # images. Otherwise the width (Gaussian sigma, in frames) of the temporal coupling inside the
    # loop: after every denoising step each joint's pelvis-relative trajectory is replaced by a
    # local quadratic fit over neighbouring frames, and the rays and the prior then repair the
    # smoothed poses. temporal.video_sigma(fps) gives the tuned value, 0.08 s (2 frames at 25 fps);
    # on held-out S8 clips at 25 fps video mode takes ground-truth 2D from 67.1 to 65.4 mm MPJPE
    # and the acceleration error from 5.1 to 1.7 mm/frame^2, detector-like 2D from 108.7 to 71.1 mm
    # (reports/temporal_ablation_*.txt).
    temporal_sigma: float = 0.0
    # Coupling of the translation, local linear (frames; None = temporal_sigma / 2, 0 = none).
    temporal_translation_sigma: float | None = None
    # Robust smoothing of the 2D keypoints before lifting (frames; None = 1.5 x temporal_sigma,
    # 0 = off): a detection farther than temporal_outlier (a fraction of the person's size in the
    # image) from its neighbours' estimate is replaced by that estimate. Without it the coupling
    # spreads bad detections to their neighbours.
    temporal_keypoint_sigma: float | None = None
    temporal_outlier: float = 0.05
    # Local polynomial of the poses' coupling and of the 2D smoothing: 2 (parabola: keeps
    # accelerations, so fast motion is not flattened; measured on a synthetic 30 fps walk: 49.9 mm
    # against 56.2 with lines and 52.6 frame by frame) or 1 (line; equal on Human3.6M).
    temporal_degree: int = 2
    temporal_keypoint_degree: int = 2
    # Video mode's last step: every frame scaled about the camera centre to its clip's median body
    # size (zedo_core.scale.steady_size; the factor smoothed over 2 x temporal_sigma frames). The
    # 2D fit and the poses' shapes stay; the distance to the camera stops following the small size
    # drifts of the lifted poses, which made a clip's last frames lurch (docs/validation.md).
    steady_size: bool = True
    # Video mode: one body per clip. After every coupling step each bone's length moves this
    # fraction of the way to its median over the clip (per hypothesis), its direction kept; over
    # the loop's iterations the clip's bones converge to common lengths while the rays and the prior
    # keep repairing the poses. A small pull per step, not a hard constraint: hard per-clip lengths
    # bent noisy clips (docs/validation.md). 0 = off.
    bone_length_pull: float = 0.1
    # A known body: the person's 16 bone lengths in metres (skeleton.BONE_NAMES order), e.g.
    # zedo_core.body.median_bone_lengths of earlier footage of the same person (docs/validation.md:
    # a body pooled over more footage than one clip). Video mode pulls towards them instead of
    # each clip's median; frame by frame, every frame is pulled towards them by bone_length_pull
    # per iteration from the warm-up's end. None: no known body.
    bone_lengths: tuple[float, ...] | None = None
    # Joints whose keypoints are aimed at, not pinned: the loop lifts the pose without them (where
    # at least 4 other joints are seen), then each one's bone from its parent, its length kept, is
    # turned onto its ray. For a keypoint a detector marks where the prior's joint is not, e.g.
    # BODY_25B's head top given as the head: a head top sits above the prior's head, and pinning its
    # ray bends the pose (docs/validation.md). End joints only: "head", the wrists, the ankles.
    aimed_joints: tuple[str, ...] = ()
    # Detections the prior keeps fighting are let go. From the end of the warm-up to this
    # fraction of the iterations, every joint's tension is summed: the angle by which each
    # denoising step moves it off its ray. A joint whose tension exceeds ray_release times its
    # frame's median stops being put on its ray and leaves the translation's fit; the prior places
    # it. A misdetected joint (a far outlier) keeps being pulled back towards the body; a seen
    # one settles. 0 = every detection is kept (docs/validation.md).
    ray_release: float = 4.0
    ray_release_at: float = 0.5
    # Which networks of an ensemble prior each denoising step asks. "alternate": one per step, in
    # turn; the loop's steps are small, so consecutive steps average them as the ensemble's mean
    # does, at the cost of one network (validation sets within 0.1 mm of "mean"). "mean": all of
    # them at every step (the loop before session 12). One network: the same either way.
    ensemble_steps: str = "alternate"
    # From this fraction of the iterations on, every other turn of the networks sees the pose's
    # mirror image (skeleton.mirror) and its answer is mirrored back: the prior learnt mirrored
    # poses too, so the turns average out the networks' left/right asymmetries. From the start it
    # also turns the body's orientation less well (docs/validation.md). 1 = never.
    mirror_from: float = 0.5
    # Which of the prior's networks lift: "auto" the ones the prior file names for this lifting
    # (PosePrior.for_mode: "video" in video mode and with a known body, whose bone lengths come
    # from outside the frame, else "frame"); "frame" or "video" that mode's whatever the lifting;
    # "all" every network. A prior that names no modes uses all of them (docs/validation.md).
    prior_networks: str = "auto"

    def __post_init__(self) -> None:
        if self.hypotheses < 1:
            raise ValueError(f"hypotheses must be >= 1, got {self.hypotheses}")
        if self.start_pool < 1:
            raise ValueError(f"start_pool must be >= 1 (1 = the mean pose only), got {self.start_pool}")
        if self.iterations < 0:
            raise ValueError(f"iterations must be >= 0, got {self.iterations}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")
        if self.selection not in SELECTION_METHODS:
            raise ValueError(f"selection must be one of {SELECTION_METHODS}, got {self.selection!r}")
        if self.initial_search not in ("grid", "adam"):
            raise ValueError(f"initial_search must be 'grid' or 'adam', got {self.initial_search!r}")
        if not (self.step_budget > 0 and (self.step_size is None or self.step_size > 0)):
            raise ValueError(f"step_budget and step_size must be > 0, got {self.step_budget}, {self.step_size}")
        if not 0.0 < self.t_min <= self.t_max <= 1.0:
            raise ValueError(f"need 0 < t_min <= t_max <= 1, got t_min={self.t_min}, t_max={self.t_max}")
        if not 0.0 <= self.warmup_fraction <= 1.0:
            raise ValueError(f"warmup_fraction must lie in [0, 1], got {self.warmup_fraction}")
        if not self.focal_anneal_start > 0.0:
            raise ValueError(f"focal_anneal_start must be > 0, got {self.focal_anneal_start}")
        if self.translation_refinement < 0:
            raise ValueError(f"translation_refinement must be >= 0, got {self.translation_refinement}")
        if self.temporal_degree not in (1, 2) or self.temporal_keypoint_degree not in (1, 2):
            raise ValueError("temporal_degree and temporal_keypoint_degree must be 1 or 2")
        if not (self.ray_release == 0.0 or self.ray_release >= 1.0) or not 0.0 <= self.ray_release_at <= 1.0:
            raise ValueError(f"need ray_release 0 (off) or >= 1 and ray_release_at in [0, 1], got {self.ray_release}, {self.ray_release_at}")
        if self.ensemble_steps not in ENSEMBLE_STEPS:
            raise ValueError(f"ensemble_steps must be one of {ENSEMBLE_STEPS}, got {self.ensemble_steps!r}")
        if self.prior_networks not in PRIOR_NETWORKS:
            raise ValueError(f"prior_networks must be one of {PRIOR_NETWORKS}, got {self.prior_networks!r}")
        if not 0.0 <= self.mirror_from <= 1.0:
            raise ValueError(f"mirror_from must lie in [0, 1], got {self.mirror_from}")
        if not 0.0 <= self.bone_length_pull <= 1.0:
            raise ValueError(f"bone_length_pull must lie in [0, 1], got {self.bone_length_pull}")
        if self.bone_lengths is not None:
            try:
                lengths = tuple(float(x) for x in np.ravel(np.asarray(self.bone_lengths, dtype=float)))
            except (TypeError, ValueError):
                lengths = ()
            if len(lengths) != NUM_BONES or not all(math.isfinite(x) and x > 0 for x in lengths):
                raise ValueError(f"bone_lengths must be {NUM_BONES} finite lengths > 0 (metres), got {self.bone_lengths!r}")
            object.__setattr__(self, "bone_lengths", lengths)
        aimed = (self.aimed_joints,) if isinstance(self.aimed_joints, str) else tuple(self.aimed_joints)
        for name in aimed:
            if name not in AIMABLE_JOINTS:
                raise ValueError(f"aimed_joints: {name!r} is not an end joint (use {', '.join(AIMABLE_JOINTS)})")
        object.__setattr__(self, "aimed_joints", aimed)
        for name in ("temporal_sigma", "temporal_translation_sigma", "temporal_keypoint_sigma", "temporal_outlier"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")

    @property
    def video(self) -> bool:
        """True when frames are coupled in time (``temporal_sigma > 0``)."""
        return self.temporal_sigma > 0

    @property
    def prior_mode(self) -> str | None:
        """The prior mode whose networks lift (``prior_networks`` resolved): ``"frame"``,
        ``"video"``, or None for every network."""
        if self.prior_networks == "auto":
            return "video" if self.video or self.bone_lengths is not None else "frame"
        return None if self.prior_networks == "all" else self.prior_networks

    @property
    def translation_sigma(self) -> float:
        """The translation's coupling width in frames (``temporal_translation_sigma`` resolved)."""
        if self.temporal_translation_sigma is None:
            return 0.5 * self.temporal_sigma
        return self.temporal_translation_sigma

    @property
    def keypoint_sigma(self) -> float:
        """The 2D smoothing width in frames (``temporal_keypoint_sigma`` resolved)."""
        if self.temporal_keypoint_sigma is None:
            return 1.5 * self.temporal_sigma
        return self.temporal_keypoint_sigma


@dataclass(frozen=True)
class LiftResult:
    """Output of :func:`lift`; metres, camera frame (x right, y down, z forward).

    ``poses3d`` ``(N,17,3)`` is the oracle-free answer (translation included), chosen per frame by
    ``LiftConfig.selection`` (by default the medoid: the hypothesis closest to all others); the
    chosen index is in ``selected``. ``hypotheses`` ``(N,S,17,3)`` holds every hypothesis,
    ``reprojection_error_px`` ``(N,S)`` their confidence-weighted reprojection errors and
    ``implausibility`` ``(N,S)`` the prior's score (lower is more plausible). Frames with fewer
    than 4 visible joints, or whose optimisation diverged, are NaN and ``valid`` is False there.
    ``released`` ``(N,S,17)`` marks the detections the loop let go of (``LiftConfig.ray_release``):
    the prior placed those joints, not their rays.
    """

    poses3d: np.ndarray
    hypotheses: np.ndarray
    reprojection_error_px: np.ndarray
    implausibility: np.ndarray
    selected: np.ndarray
    valid: np.ndarray
    released: np.ndarray

    @property
    def released_in_answer(self) -> np.ndarray:
        """``(N, 17)`` the detections let go of in ``poses3d`` (the selected hypothesis); False on
        frames not lifted."""
        frames = self.poses3d.shape[0]
        return self.released[np.arange(frames), self.selected] & self.valid[:, None]


def initial_poses(prior: PosePrior, count: int, seed: int) -> Array:
    """``(count, 17, 3)`` start poses: the shipped K-Means centres when ``count`` has a codebook,
    otherwise a seeded draw from the largest codebook."""
    if count in prior.initial_poses:
        return prior.initial_poses[count]
    largest = prior.initial_poses[max(prior.initial_poses)]
    rng = np.random.default_rng(seed)
    index = rng.choice(largest.shape[0], size=count, replace=count > largest.shape[0])
    return largest[asarray_like(index, largest, "int64")]


def start_pool_poses(prior: PosePrior, size: int) -> Array:
    """The start poses ``(M, 17, 3)`` searched for a single hypothesis: the prior's codebook of
    ``size`` centres, or (with a warning) its largest smaller codebook, e.g. in priors built before
    the codebook of that size was shipped."""
    if size in prior.initial_poses:
        return prior.initial_poses[size]
    smaller = [count for count in prior.initial_poses if count <= size]
    if not smaller:
        raise ValueError(f"start_pool={size} is smaller than every codebook of the prior {sorted(prior.initial_poses)}")
    chosen = max(smaller)
    warnings.warn(
        f"the prior has no codebook of {size} start poses (it has {sorted(prior.initial_poses)}); "
        f"searching its {chosen} instead (python -m training.build_assets --codebooks ... adds one)",
        stacklevel=3,
    )
    return prior.initial_poses[chosen]


def _with_focal_scaled(K: Array, scale: float) -> Array:
    """``K`` with both focal lengths multiplied by ``scale`` (principal point unchanged)."""
    scaled = copy(K)
    scaled[..., 0, 0] *= scale
    scaled[..., 1, 1] *= scale
    return scaled


# Video mode: a chunk of a long clip is optimised with this many sigmas of neighbouring frames on
# each side that are lifted only as context and then discarded. Through 200 iterations the coupling
# reaches far beyond one smoothing window. Measured on a 300-frame S8 clip (3 px noise) against
# one-window lifting: with the default quadratic coupling at sigma 2, 16 sigmas differ by 0.006 mm
# on average (0.15 at most) and 32 by 0.001 mm; with lines at sigma 1 the influence reaches
# further (12 sigmas: 1.8 mm, 24: 0.11, 32: 0.02, 48: 0.003). 32 sigmas cost 3% more work at the
# default chunk size and 25 fps.
HALO_SIGMAS = 32.0
# Width of steady_size's smoothing of the size correction, in temporal_sigma.
STEADY_SIZE_SIGMAS = 2.0


@dataclass
class _TimeAxis:
    """Where the rows of a chunk lie in time: row r is frame ``slot[r] // S`` (local, gaps
    included) and hypothesis ``slot[r] % S``; ``segments`` ``(F,)`` labels the local frames."""

    slot: Array
    frames: int
    S: int
    segments: Array

    filters: dict = field(default_factory=dict, init=False, repr=False)

    def smooth(self, x: Array, sigma: float, degree: int = 1) -> Array:
        """Each hypothesis's trajectory of ``x`` ``(R, J, D)`` replaced by its Gaussian local
        polynomial fit over neighbouring frames of the same segment."""
        if sigma <= 0:
            return x
        xp = namespace(x)
        dense = full_like_shape(x, (self.frames * self.S, *x.shape[1:]), float("nan"), "float64")
        dense[self.slot] = as_dtype(x, "float64")
        if bool(xp.isfinite(x).all()):
            # The rows present never change within a chunk: the fit is one linear filter, built once.
            fit = apply_filter(dense.reshape(self.frames, self.S, *x.shape[1:]), *self._filter(sigma, degree))
        else:  # a diverged row: robust_fit treats its joints as missing
            dense = dense.reshape(self.frames, self.S * x.shape[1], x.shape[2])
            fit, _ = robust_fit(dense, sigma, self.segments, outlier_threshold=None, degree=degree)
        fit = as_dtype(fit.reshape(self.frames * self.S, *x.shape[1:])[self.slot], dtype_name(x))
        return xp.where(xp.isfinite(fit), fit, x)

    def _filter(self, sigma: float, degree: int) -> tuple[list[int], list[Array]]:
        """:func:`zedo_core.temporal.local_polynomial_coefficients` for the rows present, ``(F, S, 1)``."""
        if (sigma, degree) not in self.filters:
            present = full_like_shape(self.slot, (self.frames * self.S,), 0.0, "float64")
            present[self.slot] = 1.0
            self.filters[sigma, degree] = local_polynomial_coefficients(
                present.reshape(self.frames, self.S, 1), sigma, window_radius(sigma), self.segments, degree, window_step(sigma)
            )
        return self.filters[sigma, degree]

    @cached_property
    def segment_frames(self) -> list[Array]:
        """The local frames of each segment, as index arrays of the loop's kind."""
        labels = to_numpy(self.segments)
        return [asarray_like(np.flatnonzero(labels == label), self.slot, "int64") for label in np.unique(labels)]

    def clip_bone_lengths(self, pose: Array) -> Array:
        """``(R, 16)`` each row's bone lengths' median over the frames of its segment and hypothesis."""
        xp = namespace(pose)
        length = bone_lengths(pose)
        dense = full_like_shape(length, (self.frames * self.S, length.shape[1]), float("nan"))
        dense[self.slot] = length
        dense = dense.reshape(self.frames, self.S, length.shape[1])
        median = xp.zeros_like(dense)
        for frames in self.segment_frames:
            median[frames] = nanmedian(dense[frames], axis=0)[None]
        return median.reshape(self.frames * self.S, length.shape[1])[self.slot]


# A frame keeps at least this many joints on their rays: ray release never lets go of more.
MIN_PINNED_JOINTS = 6


def _off_ray_angle(absolute: Array, rays: Array) -> Array:
    """``(R, 17)`` each joint's distance from its ray over its depth (radians, small angles)."""
    xp = namespace(absolute)
    return norm(absolute - nearest_on_rays(absolute, rays)) / xp.clip(absolute[..., 2], 1e-3, None)


def _joints_to_release(tension: Array, visible: Array, threshold: float) -> Array:
    """``(R, 17)`` True for the visible joints whose tension exceeds ``threshold`` times the
    median tension of their frame's visible joints, in frames that keep ``MIN_PINNED_JOINTS``."""
    xp = namespace(tension)
    seen = xp.where(visible, tension, xp.full_like(tension, float("nan")))
    median = nanmedian(seen, axis=1)[:, None]
    release = visible & (tension > threshold * median) & (median > 0)
    kept = visible.sum(1) - release.sum(1)
    return release & (kept >= MIN_PINNED_JOINTS)[:, None]


def denoiser_turns(config: LiftConfig, members: int) -> list[tuple[int | None, bool]]:
    """``(member, mirrored)`` of every iteration's denoising step (see ``LiftConfig.ensemble_steps``
    and ``mirror_from``): ``member`` None asks every network. A turn is one step per network;
    from ``mirror_from`` on, every other turn is mirrored."""
    n = config.iterations
    mirror_start = math.ceil(config.mirror_from * n) if config.mirror_from < 1.0 else n
    per_turn = members if config.ensemble_steps == "alternate" else 1
    turns = []
    for i in range(n):
        member = i % members if config.ensemble_steps == "alternate" else None
        turns.append((member, i >= mirror_start and (i - mirror_start) // per_turn % 2 == 1))
    return turns


def _joint_weights(confidence: Array) -> Array:
    """The data term's per-joint weights: squared confidence, 0 for missing joints."""
    xp = namespace(confidence)
    return xp.where(confidence > 0, xp.clip(confidence, 1e-4, 1.0) ** 2, xp.zeros_like(confidence))


def _optimise_chunk(
    prior: PosePrior,
    templates: Array,
    keypoints: Array,
    K: Array,
    confidence: Array,
    config: LiftConfig,
    rotations: Array,
    on_iteration: Callable[[], None],
    on_search: Callable[[int, int], None],
    time_axis: _TimeAxis | None = None,
) -> tuple[Array, Array, Array]:
    """Run the initial search and the loop on one chunk of rows (coupled in time when a
    ``time_axis`` is given: video mode).

    Returns absolute poses, their reprojection errors (px, against every detection) and the
    joints released from their rays."""
    xp = namespace(keypoints)
    visible = confidence > 0
    weights = _joint_weights(confidence)
    rays = unit_rays(keypoints, xp.linalg.inv(K))
    if config.initial_search == "grid":
        pose, translation = grid_search_start(templates, keypoints, K, rays, weights, rotations, on_batch=on_search)
    else:
        pose, translation = adam_reference_start(templates, keypoints, K, rays, weights)
        on_search(1, 1)
    n = config.iterations
    warmup = int(round(config.warmup_fraction * n))
    dt = config.step_size if config.step_size is not None else config.step_budget / max(n, 1)
    times = np.linspace(config.t_max, config.t_min, n) if n > 1 else np.full(n, config.t_max)
    focal_scales = np.linspace(config.focal_anneal_start, 1.0, n) if n > 1 else np.ones(n)
    # Video mode: the coupling of neighbouring frames (zedo_core.temporal).
    pose_sigma = config.temporal_sigma if time_axis is not None else 0.0
    translation_sigma = config.translation_sigma if time_axis is not None else 0.0

    def new_translation(pose: Array, rays: Array, K: Array) -> Array:
        translation = solve_translation(pose, rays, weights)
        if config.translation_refinement:
            translation = refine_translation_px(pose, translation, keypoints, K, weights, config.translation_refinement)
        if translation_sigma > 0:
            translation = time_axis.smooth(translation[:, None], translation_sigma)[:, 0]
        return translation

    body = None if config.bone_lengths is None else asarray_like(config.bone_lengths, keypoints)
    release_at = int(round(config.ray_release_at * n)) if config.ray_release > 0 else -1
    tension = xp.zeros_like(confidence)
    released = xp.zeros_like(visible)
    loop_K, loop_rays = K, rays
    turns = denoiser_turns(config, len(prior.members))
    for i in range(n):
        if i == release_at:
            released = _joints_to_release(tension, visible, config.ray_release)
            visible = visible & ~released
            weights = xp.where(released, xp.zeros_like(weights), weights)
        if focal_scales[i] != 1.0:
            loop_K = _with_focal_scaled(K, float(focal_scales[i]))
            loop_rays = unit_rays(keypoints, xp.linalg.inv(loop_K))
        else:
            loop_K, loop_rays = K, rays
        if i >= warmup:
            translation = new_translation(pose, loop_rays, loop_K)
        pose = project_onto_rays(pose, translation, loop_rays, visible)
        # Keep the prior's input pelvis-relative; the pelvis offset moves into the translation.
        translation = translation + pose[:, 0]
        pose = prior.denoise(pose - pose[:, :1], float(times[i]), dt, *turns[i])
        if warmup <= i < release_at:
            tension = tension + _off_ray_angle(pose + translation[:, None, :], loop_rays)
        pose = pose - pose[:, :1]
        if pose_sigma > 0:
            # Neighbouring frames vote; the next ray projection and denoising step repair what
            # the smoothing bent.
            pose = time_axis.smooth(pose, pose_sigma, config.temporal_degree)
            pose = pose - pose[:, :1]
            if config.bone_length_pull > 0:
                target = body if body is not None else time_axis.clip_bone_lengths(pose)
                pose = pull_bone_lengths(pose, target, config.bone_length_pull)
        elif body is not None and i >= warmup:
            pose = pull_bone_lengths(pose, body, config.bone_length_pull)
        on_iteration()
    if n > warmup:
        translation = new_translation(pose, rays, K)
    if config.final_ray_projection:
        pose = project_onto_rays(pose, translation, rays, visible)
    absolute = pose + translation[:, None, :]
    return absolute, reprojection_error_px(absolute, keypoints, K, _joint_weights(confidence)), released


def _implausibility(prior: PosePrior, hypotheses: np.ndarray, config: LiftConfig) -> np.ndarray:
    """The prior's implausibility ``(N, S)`` of the lifted ``hypotheses`` ``(N, S, 17, 3)``, scored
    ``chunk_size`` rows at a time; NaN where a hypothesis is NaN."""
    poses = hypotheses.reshape(-1, NUM_JOINTS, 3)
    scores = np.full(len(poses), np.nan, dtype=np.float32)
    rows = np.flatnonzero(np.isfinite(poses).all(axis=(1, 2)))
    for a in range(0, len(rows), config.chunk_size):
        chunk = rows[a : a + config.chunk_size]
        scores[chunk] = to_numpy(prior.implausibility(prior.array(poses[chunk]), config.selection_t))
    return scores.reshape(hypotheses.shape[:2])


def combine_hypotheses(
    hypotheses: np.ndarray, errors: np.ndarray, implausibility: np.ndarray, method: str
) -> tuple[np.ndarray, np.ndarray]:
    """One pose per frame from ``(N,S,17,3)`` hypotheses without ground truth.

    ``errors`` and ``implausibility`` are ``(N,S)``. Returns the index of the chosen hypothesis
    ``(N,)`` (for "mean": the one nearest the mean) and the poses ``(N,17,3)``. Frames whose
    hypotheses are NaN stay NaN.
    """
    n, S = hypotheses.shape[:2]
    valid = np.isfinite(errors).all(axis=1)
    selected = np.zeros(n, dtype=np.int64)
    if method in ("reprojection", "prior"):
        score = errors if method == "reprojection" else implausibility
        selected[valid] = np.argmin(score[valid], axis=1)
        return selected, np.take_along_axis(hypotheses, selected[:, None, None, None], axis=1)[:, 0]
    if method == "medoid":
        # Frames in blocks: the pairwise distances are (frames, S, S, 17, 3).
        block = max(1, (1 << 22) // max(1, S * S * NUM_JOINTS * 3))
        for a in range(0, n, block):
            r = hypotheses[a : a + block] - hypotheses[a : a + block, :, :1]
            distance = np.linalg.norm(r[:, :, None] - r[:, None, :], axis=-1).mean(-1).sum(-1)  # (n,S)
            ok = valid[a : a + block]
            selected[a : a + block][ok] = np.argmin(distance[ok], axis=1)
        return selected, np.take_along_axis(hypotheses, selected[:, None, None, None], axis=1)[:, 0]
    relative = hypotheses - hypotheses[:, :, :1]
    mean = relative.mean(axis=1) + hypotheses[:, :, :1].mean(axis=1)
    distance = np.linalg.norm(relative - (mean - mean[:, :1])[:, None], axis=-1).mean(-1)
    selected[valid] = np.argmin(distance[valid], axis=1)
    return selected, mean


def _row_passes(rows: int, chunk_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Frame by frame: consecutive chunks of rows, each kept whole."""
    return [(np.arange(a, min(a + chunk_size, rows)), np.ones(min(chunk_size, rows - a), dtype=bool)) for a in range(0, rows, chunk_size)]


def _video_passes(n_frames: int, S: int, config: LiftConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Video mode: the rows lifted together ``(window frames, hypotheses)`` and which of them are kept.

    A clip longer than a window is lifted in overlapping windows of frames, each with
    ``HALO_SIGMAS`` sigmas of context on either side that is discarded; hypotheses never influence
    each other in time, so they are split into groups too. A window spans at least 8 halos, so
    at most a quarter of its frames on either side is context (work at most 2x, less on long
    windows), whatever the frame rate and hypothesis count; a pass holds about ``chunk_size`` rows
    (more only when 8 halos are longer than that), which bounds memory.
    """
    halo = math.ceil(HALO_SIGMAS * max(config.temporal_sigma, config.translation_sigma))
    span = min(n_frames, max(config.chunk_size // S, 8 * halo, 1))
    if span >= n_frames:
        windows = [(0, n_frames, 0, n_frames)]
    else:
        core = span - 2 * halo
        windows = [(max(0, a - halo), min(n_frames, a + core + halo), a, min(n_frames, a + core)) for a in range(0, n_frames, core)]
    group = max(1, min(S, config.chunk_size // span))
    passes = []
    for first, stop, keep_first, keep_stop in windows:
        window = np.arange(first, stop)
        kept_frames = (window >= keep_first) & (window < keep_stop)
        for s0 in range(0, S, group):
            hyps = np.arange(s0, min(S, s0 + group))
            passes.append((window[:, None] * S + hyps[None, :], np.repeat(kept_frames[:, None], len(hyps), axis=1)))
    return passes


def _float32(x: np.ndarray) -> np.ndarray:
    """``x`` as float32; an array broadcast along its first axis (one K shared by every frame) stays a view."""
    if x.ndim and x.shape[0] > 1 and x.strides[0] == 0:
        return np.broadcast_to(x[0].astype(np.float32), x.shape)
    return x.astype(np.float32, copy=False)


def _segment_labels(segments: np.ndarray | None, n_frames: int) -> np.ndarray:
    if segments is None:
        return np.zeros(n_frames, dtype=np.int64)
    labels = np.asarray(segments)
    if labels.shape != (n_frames,):
        raise InputError(f"segments must have shape ({n_frames},), got {labels.shape}")
    if labels.dtype.kind not in "iub" and not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise InputError("segments must hold integer labels")
    return labels.astype(np.int64)


def lift(
    prior: PosePrior,
    keypoints: np.ndarray,
    K: np.ndarray,
    confidence: np.ndarray | None = None,
    config: LiftConfig = LiftConfig(),
    progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    segments: np.ndarray | None = None,
) -> LiftResult:
    """Lift 2D keypoints to absolute 3D poses in metres (camera frame).

    Args:
        prior: the pose prior, e.g. ``load_prior()``; its networks for this lifting lift
            (``config.prior_networks``, :meth:`PosePrior.for_mode`).
        keypoints: ``(N, 17, 2)`` pixels, Human3.6M joint order, origin top-left; NaN = missing.
        K: intrinsics ``(3, 3)`` or per frame ``(N, 3, 3)``.
        confidence: ``(N, 17)`` in [0, 1]; 0 marks a missing joint. Default: all 1.
        config: hypotheses, iterations, seed and the loop's schedule.
        progress: called as ``progress(done, total)`` after every iteration of every chunk.
        should_cancel: polled between iterations; returning True raises :class:`LiftCancelled`.
        segments: video mode only (``config.temporal_sigma > 0``): ``(N,)`` integer labels of
            the clip each frame belongs to; frames of different labels never influence each
            other (several clips in one call, scene cuts). Default: all frames are one clip, in
            order, equally spaced in time.

    In video mode the keypoints are first smoothed robustly along time
    (:func:`zedo_core.temporal.smooth_keypoints`) and the loop couples neighbouring frames. A clip
    longer than ``chunk_size // hypotheses`` frames (or 8 x ``HALO_SIGMAS`` sigmas) is lifted in
    overlapping windows (each with ``HALO_SIGMAS`` sigmas of context frames on either side, which
    are discarded) and groups of hypotheses, so memory stays bounded and the cost is linear in
    frames and hypotheses at any frame rate; results then differ from one-window lifting by
    hundredths of a millimetre.
    ``reprojection_error_px`` is measured against the keypoints as given.

    Raises:
        InputError: on malformed inputs (the message names the key, shape, frame or joint).
    """
    inputs: LiftInputs = validate_inputs(keypoints, K, confidence)
    if config.prior_mode is not None:
        prior = prior.for_mode(config.prior_mode)
    n_frames, S = inputs.keypoints.shape[0], config.hypotheses
    labels = _segment_labels(segments, n_frames)
    frames = np.flatnonzero(inputs.valid)
    if len(frames) < n_frames:
        bad = np.flatnonzero(~inputs.valid)
        warnings.warn(
            f"{len(bad)} frame(s) have fewer than 4 distinct joints with confidence > 0 and come back as NaN: {listed_frames(bad)}",
            stacklevel=2,
        )
    # Start poses: one per hypothesis (S, 17, 3), or with one hypothesis a pool searched for every
    # frame, shaped (1, M, 17, 3) so that the search shares it across rows.
    pooled = S == 1 and config.start_pool > 1 and config.initial_search == "grid"
    if pooled:
        templates_all = start_pool_poses(prior, config.start_pool)[None]
    else:
        templates_all = initial_poses(prior, S, config.seed)
    templates_all = prior.array(templates_all)
    rotations = rotation_grid(config.yaw_steps, config.pitch_deg, config.roll_deg, like=templates_all)

    rows = len(frames) * S
    passes = _video_passes(len(frames), S, config) if config.video else _row_passes(rows, config.chunk_size)
    # Progress counts the start search of a window as half its iterations (about its share of the time).
    search_units = max(1, config.iterations // 2)
    total, done = len(passes) * (search_units + config.iterations), 0

    def check_cancel() -> None:
        if should_cancel is not None and should_cancel():
            raise LiftCancelled("lifting was cancelled")

    def on_iteration() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)
        check_cancel()

    def on_search(rows_done: int, rows_total: int) -> None:
        nonlocal done
        if progress is not None:
            progress(done + search_units * rows_done // rows_total, total)
        if rows_done >= rows_total:
            done += search_units
        check_cancel()

    check_cancel()
    # The clip is held once, in float32 (the loop's precision), so memory grows little with its length.
    valid_input = inputs.valid
    kp_given, conf_given, K_given = _float32(inputs.keypoints), _float32(inputs.confidence), _float32(inputs.K)
    del inputs
    smoothed = config.video and config.keypoint_sigma > 0
    kp_lifted = kp_given
    if smoothed:
        kp_lifted = smooth_keypoints(
            kp_given, conf_given, config.keypoint_sigma, config.temporal_outlier, labels, config.temporal_keypoint_degree
        )
    if len(frames) < n_frames:
        kp_given, kp_lifted, conf_given, K_given = (x[frames] for x in (kp_given, kp_lifted, conf_given, K_given))
    # Aimed joints: left out of the loop where 4 other joints are seen, turned onto their rays after it.
    aimed = np.zeros(kp_lifted.shape[:2], dtype=bool)
    for name in config.aimed_joints:
        j = JOINT_NAMES.index(name)
        aimed[:, j] = (conf_given[:, j] > 0) & ((conf_given > 0).sum(1) - 1 >= 4)
    kp_loop, conf_loop = kp_lifted, conf_given
    if aimed.any():
        kp_loop, conf_loop = np.where(aimed[..., None], 0.0, kp_lifted), np.where(aimed, 0.0, conf_given)
    hypotheses = np.full((n_frames, S, NUM_JOINTS, 3), np.nan, dtype=np.float32)
    reproj = np.full((n_frames, S), np.nan, dtype=np.float32)
    # Row r of the lifted frames (frame r // S of `frames`, hypothesis r % S) in the outputs' rows.
    released = np.zeros((n_frames, S, NUM_JOINTS), dtype=bool)
    hypothesis_rows, reproj_rows, released_rows = hypotheses.reshape(-1, NUM_JOINTS, 3), reproj.reshape(-1), released.reshape(-1, NUM_JOINTS)
    for lifted, kept in passes:
        # Rows are frame-major: frame f, hypothesis s -> row f * S + s.
        row = lifted.ravel()
        f, s = row // S, row % S
        time_axis = None
        if config.video:
            window_frames, group = lifted.shape
            local = frames[f[::group]] - frames[f[0]]
            time_axis = _TimeAxis(
                slot=prior.array(np.repeat(local * group, group) + np.tile(np.arange(group), window_frames), "int64"),
                frames=int(local[-1]) + 1,
                S=group,
                segments=prior.array(labels[frames[f[0]] : frames[f[-1]] + 1], "int64"),
            )
        K_rows = prior.array(K_given[f])
        absolute, err, let_go = _optimise_chunk(
            prior,
            templates_all if pooled else templates_all[prior.array(s, "int64")],
            prior.array(kp_loop[f]),
            K_rows,
            prior.array(conf_loop[f]),
            config,
            rotations,
            on_iteration,
            on_search,
            time_axis,
        )
        if aimed[f].any():
            rays = unit_rays(prior.array(kp_lifted[f]), namespace(K_rows).linalg.inv(K_rows))
            for j in np.flatnonzero(aimed[f].any(0)):
                absolute = turn_onto_rays(absolute, int(j), PARENTS[j], rays[:, j], prior.array(aimed[f, j], "bool"))
        if smoothed or aimed.any():  # report the fit to the keypoints as given
            err = reprojection_error_px(absolute, prior.array(kp_given[f]), K_rows, _joint_weights(prior.array(conf_given[f])))
        keep = kept.ravel()
        out = frames[f[keep]] * S + s[keep]
        hypothesis_rows[out], reproj_rows[out] = to_numpy(absolute)[keep], to_numpy(err)[keep]
        released_rows[out] = to_numpy(let_go)[keep]
    del kp_given, kp_lifted, conf_given, K_given, kp_loop, conf_loop
    if config.video and config.steady_size:
        hypotheses *= steady_size_factors(hypotheses, STEADY_SIZE_SIGMAS * config.temporal_sigma, labels)[:, :, None, None]
    # Scored once, on the poses returned (after steady size, which rescales them).
    implausibility = _implausibility(prior, hypotheses, config)

    selected, poses3d = combine_hypotheses(hypotheses, reproj, implausibility, config.selection)
    valid = valid_input & np.isfinite(poses3d).all(axis=(1, 2))
    failed = np.flatnonzero(valid_input & ~valid)
    if len(failed):
        warnings.warn(
            f"{len(failed)} frame(s) could not be lifted (the optimisation diverged) and come back as NaN: {listed_frames(failed)}",
            stacklevel=2,
        )
    return LiftResult(
        poses3d=poses3d,
        hypotheses=hypotheses,
        reprojection_error_px=reproj,
        implausibility=implausibility,
        selected=selected,
        valid=valid,
        released=released,
    )
