"""Camera intrinsics when the footage's camera is not calibrated: estimated from the actor's motion
over the ground, else guessed from a field of view.

One body in one frame constrains the focal length only through perspective inside the body, which
is weak (measured in docs/research.md: after the loop the reprojection error and the prior's
plausibility barely change between half and twice the true focal length). A clip of a person
standing upright while moving over a ground plane does constrain it (after Lv, Zhao & Nevatia,
"camera calibration from video of a walking human"; the code here is our own):

- Model: principal point at the image centre, square pixels, focal length ``f``; the world's up
  direction ``n`` in the camera frame (pitch and roll); the camera ``h`` above the ground. In each
  upright frame the *foot point* (mid-ankles) lies on the ground and the *upper point*
  (mid-shoulders) lies a constant height ``L = 1`` above it along ``n``. Intersecting the foot's ray
  with the ground and stepping ``n`` up predicts where the upper point must appear; in normalised
  image coordinates that map is the planar homology ``x -> (I - m m^T) x`` with ``m = n / sqrt(h)``
  (vertex: the vertical vanishing point; axis: the horizon). The foot -> upper lines meeting at the
  vanishing point fix the camera's tilt and the way the person's image height changes with the
  foot's image height fixes the horizon; with the principal point known, the two give ``f``.
- Lean: a person accelerating leans by ``a / g`` (walking a curve, into the curve), which tilts the
  foot -> upper lines the way a flatter camera would: on Human3.6M's circular walks ignoring it
  made ``f`` 40-100% too long. With ``fps`` the fit takes each frame's acceleration along the
  ground (second derivative over 1 s of the feet's ground positions under the current camera) and
  moves the predicted upper point :data:`LEAN_LEVER_M` ``* a / g`` ahead; that brought the same
  clips within about 5%.
- Fit: robust (soft-L1) least squares over ``(log f, m)`` on the residuals between predicted and
  observed upper points, each divided by the person's image height in that frame; a multi-start
  fit on 80 frames, refined on at most 400. Only frames where the person plausibly stands upright
  are used (2D heuristics, thresholds chosen on the training subjects, see :data:`UPRIGHT_RULES`).
- The clip does not determine ``f`` when the camera looks level (the vanishing point is at
  infinity and every ``f`` fits), when the person does not move in depth, or when few frames are
  upright. Those cases, and any fit whose uncertainty (leave-one-block-out spread of ``log f``
  over 5 blocks of time) is above :data:`MAX_LOG_UNCERTAINTY`, fall back to :data:`DEFAULT_FOV_DEG`
  and say why.
- Chosen on the training subjects S1 S5 S6 S7 S8 (every whole sequence x 4 cameras, ground-truth
  2D + 3 px noise, 50 fps; 584 clips): the gates answer 14% of the clips (walking ones, mostly),
  with a median focal error of 7% (mean 8%, 90th percentile 16%); the rest fall back. Held-out
  figures (S9/S11, ground truth and real detections) are in ``reports/eval_focal.txt``.

The fallback, :data:`DEFAULT_FOV_DEG`: a guess that is too long costs more than one too short, so
uncalibrated footage that does not determine ``f`` gets a focal length from a 60 degree horizontal
field of view (chosen on training subjects, wider than most lenses' true view), the principal point
at the image centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .inputs import InputError

DEFAULT_FOV_DEG = 60.0

# Joint indices (Human3.6M 17-joint order).
_R_HIP, _R_KNEE, _R_ANKLE, _L_HIP, _L_KNEE, _L_ANKLE = 1, 2, 3, 4, 5, 6
_L_SHOULDER, _R_SHOULDER = 11, 14
_NEEDED = (_R_HIP, _R_ANKLE, _L_HIP, _L_ANKLE, _L_SHOULDER, _R_SHOULDER)

# Upright-frame heuristics (2D), chosen on the training subjects (ground-truth 2D + 3 px noise, every
# 10th frame of every sequence and camera: 91% of the frames they keep stand upright in 3D, and they
# keep 96% of those).
MAX_TORSO_TILT_DEG = 20.0  # mid-hips -> mid-shoulders, from the image vertical
MAX_LEG_TILT_DEG = 15.0  # mid-ankles -> mid-hips, from the image vertical
MIN_STRAIGHTNESS = 0.97  # |foot -> upper| / (|foot -> hips| + |hips -> upper|)
MIN_KNEE_STRAIGHTNESS = 0.85  # per leg |hip -> ankle| / (|hip -> knee| + |knee -> ankle|)
LEG_TORSO_RATIO = (1.5, 2.5)  # image length of the legs (feet -> hips) over the torso's (hips -> shoulders)
# Standing on one leg: a foot is raised when its ankle is RAISED_FOOT of the other leg's image
# length above the other ankle and its leg is bent (knee below MIN_KNEE_STRAIGHTNESS) or, bent
# towards the camera, shorter than RAISED_LEG_LENGTH of the other in the image. The other,
# straight leg carries the body and its ankle is the foot point (a balanced body stands over it).
# Without the bend or shortening, a far foot only looks higher in perspective (a stride seen from
# above): those frames stay two-footed. On the training subjects' ground-truth 2D the rule mostly
# adds walking's swing phase; its effect on the estimate is in docs/formats.md.
RAISED_FOOT = 0.15
RAISED_LEG_LENGTH = 0.75
UPRIGHT_RULES = (
    f"torso within {MAX_TORSO_TILT_DEG:.0f} deg and legs within {MAX_LEG_TILT_DEG:.0f} deg of the image vertical, "
    f"straightness >= {MIN_STRAIGHTNESS}, knees >= {MIN_KNEE_STRAIGHTNESS} (the standing leg's when the other foot is "
    f"raised), legs / torso in {LEG_TORSO_RATIO}; arms are free"
)

MIN_FRAMES = 30  # upright frames needed
MIN_DEPTH_SPREAD = 0.25  # log ratio of the person's image height, 90th / 10th percentile of the fitted frames
MAX_FRAMES_FIT = 400  # upright frames fitted (evenly spaced): speed
COARSE_FRAMES = 80  # frames of the first, multi-start fit
RESIDUAL_SCALE = 0.03  # soft-L1 scale, in person heights
MIN_PITCH_DEG = 3.0  # a camera looking closer to level than this does not determine f
MAX_PITCH_DEG = 60.0  # nor one looking down more steeply (the upright model breaks down)
MAX_LOG_UNCERTAINTY = 0.10  # largest accepted leave-one-block-out spread of log f
FOCAL_BOUNDS = (0.15, 8.0)  # focal length over image width: fields of view from about 7 to 146 deg
JACKKNIFE_BLOCKS = 5
# A person accelerating at a leans by a/g: the upper point moves LEAN_LEVER_M * a/g ahead of the feet
# (walking a curve, into the curve). Chosen on the training subjects.
LEAN_LEVER_M = 1.0
LEAN_WINDOW_S = 1.0  # accelerations from a quadratic over this long a window
GRAVITY = 9.81


@dataclass(frozen=True)
class FocalEstimate:
    """A focal length for uncalibrated footage and how it was found.

    ``estimated`` is False when the clip did not determine the focal length; ``focal_px`` is then
    the :data:`DEFAULT_FOV_DEG` guess and ``reason`` says why. ``pitch_deg`` (camera looking down
    > 0) and ``roll_deg`` come with an estimate; ``uncertainty`` is the spread of ``log f`` (about
    the relative error)."""

    focal_px: float
    fov_deg: float
    estimated: bool
    reason: str
    frames_used: int
    image_size: tuple[float, float]
    pitch_deg: float | None = None
    roll_deg: float | None = None
    uncertainty: float | None = None
    depth_spread: float | None = None

    def intrinsics(self) -> np.ndarray:
        """``K`` (3x3): this focal length, square pixels, principal point at the image centre."""
        return intrinsics_from_focal(self.image_size, self.focal_px)


def _check_size(image_size: object) -> tuple[float, float]:
    try:
        width, height = (float(v) for v in image_size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"image size must be (width, height) in pixels, got {image_size!r}") from None
    if not (math.isfinite(width) and math.isfinite(height) and width > 0 and height > 0):
        raise InputError(f"image size must be positive, got {image_size}")
    return width, height


def focal_from_fov(width: float, fov_deg: float) -> float:
    """Focal length in pixels of a pinhole whose horizontal field of view over ``width`` px is ``fov_deg``."""
    if not 1.0 <= fov_deg <= 170.0:
        raise InputError(f"field of view must be between 1 and 170 degrees, got {fov_deg}")
    return 0.5 * width / math.tan(math.radians(fov_deg) / 2.0)


def fov_from_focal(width: float, focal_px: float) -> float:
    """Horizontal field of view in degrees of a focal length of ``focal_px`` over ``width`` px."""
    return math.degrees(2.0 * math.atan(0.5 * width / focal_px))


def intrinsics_from_focal(image_size: tuple[float, float], focal_px: float) -> np.ndarray:
    """``K`` (3x3) for an image ``(width, height)``: square pixels, principal point at the centre."""
    width, height = _check_size(image_size)
    if not (math.isfinite(focal_px) and focal_px > 0):
        raise InputError(f"focal length must be positive, got {focal_px}")
    return np.array([[focal_px, 0.0, width / 2.0], [0.0, focal_px, height / 2.0], [0.0, 0.0, 1.0]])


def intrinsics_from_fov(image_size: tuple[float, float], fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """``K`` (3x3) for an image ``(width, height)`` in pixels: square pixels, principal point at the
    centre, focal length from the horizontal field of view."""
    width, _ = _check_size(image_size)
    return intrinsics_from_focal(image_size, focal_from_fov(width, fov_deg))


def _mid(kp: np.ndarray, a: int, b: int) -> np.ndarray:
    return 0.5 * (kp[:, a] + kp[:, b])


def _tilt_deg(vectors: np.ndarray) -> np.ndarray:
    """Angle of 2D image vectors pointing up (``-y``) from the image vertical."""
    return np.degrees(np.arctan2(np.abs(vectors[:, 0]), -vectors[:, 1]))


# What each upright rule checks, for the fallback's reason (frames failing it, of those seen).
_RULE_TEXT = {
    "order": "the ankles are not below the hips and the hips below the shoulders",
    "torso": f"the torso leans more than {MAX_TORSO_TILT_DEG:.0f} deg off the image vertical",
    "legs": f"the standing leg(s) lean more than {MAX_LEG_TILT_DEG:.0f} deg off the image vertical",
    "straight": "the body bends at the hips",
    "knees": "a standing leg's knee is bent",
    "ratio": (
        f"the legs are not {LEG_TORSO_RATIO[0]:g}-{LEG_TORSO_RATIO[1]:g} torso lengths long in the image "
        "(bent knees, or a camera close and looking down)"
    ),
}


def _upright_rules(keypoints: np.ndarray, confidence: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Per frame: whether the joints the rules need are seen ``(N,)``, whether each rule passes
    (``{name: (N,)}``), and the foot point ``(N, 2)``: the mid-ankles, or the standing ankle when
    the other foot is raised (:data:`RAISED_FOOT`)."""
    seen = np.all(confidence[:, _NEEDED] > 0, axis=1) & np.all(np.isfinite(keypoints[:, _NEEDED]), axis=(1, 2))
    kp = np.where(np.isfinite(keypoints), keypoints, 0.0)
    hips, upper = _mid(kp, _R_HIP, _L_HIP), _mid(kp, _L_SHOULDER, _R_SHOULDER)
    straight_leg = {}
    for hip, knee, ankle in ((_R_HIP, _R_KNEE, _R_ANKLE), (_L_HIP, _L_KNEE, _L_ANKLE)):
        knee_seen = (confidence[:, knee] > 0) & np.all(np.isfinite(keypoints[:, knee]), axis=1)
        chain = np.linalg.norm(kp[:, knee] - kp[:, hip], axis=1) + np.linalg.norm(kp[:, ankle] - kp[:, knee], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            straight_leg[ankle] = ~knee_seen | (np.linalg.norm(kp[:, ankle] - kp[:, hip], axis=1) / chain >= MIN_KNEE_STRAIGHTNESS)
    foot = _mid(kp, _R_ANKLE, _L_ANKLE)
    stance_right, stance_left = np.zeros(len(kp), bool), np.zeros(len(kp), bool)
    for ankle, other, stance in ((_R_ANKLE, _L_ANKLE, stance_left), (_L_ANKLE, _R_ANKLE, stance_right)):
        other_leg = np.linalg.norm(hips - kp[:, other], axis=1)
        short = np.linalg.norm(hips - kp[:, ankle], axis=1) < RAISED_LEG_LENGTH * other_leg  # bent towards the camera
        raised = (kp[:, ankle, 1] < kp[:, other, 1] - RAISED_FOOT * other_leg) & (~straight_leg[ankle] | short)
        stance |= raised & straight_leg[other]
    foot = np.where(stance_left[:, None], kp[:, _L_ANKLE], np.where(stance_right[:, None], kp[:, _R_ANKLE], foot))
    legs, torso = np.linalg.norm(hips - foot, axis=1), np.linalg.norm(upper - hips, axis=1)
    whole = np.linalg.norm(upper - foot, axis=1)
    below = {_R_ANKLE: kp[:, _R_ANKLE, 1] > hips[:, 1], _L_ANKLE: kp[:, _L_ANKLE, 1] > hips[:, 1]}
    with np.errstate(divide="ignore", invalid="ignore"):
        rules = {
            "order": (hips[:, 1] > upper[:, 1]) & np.where(stance_left, below[_L_ANKLE], True)
            & np.where(stance_right, below[_R_ANKLE], True) & ((stance_left | stance_right) | (below[_R_ANKLE] & below[_L_ANKLE])),
            "torso": _tilt_deg(upper - hips) <= MAX_TORSO_TILT_DEG,
            "legs": _tilt_deg(hips - foot) <= MAX_LEG_TILT_DEG,
            "straight": whole / (legs + torso) >= MIN_STRAIGHTNESS,
            "knees": np.where(stance_left, straight_leg[_L_ANKLE], np.where(stance_right, straight_leg[_R_ANKLE],
                                                                                straight_leg[_R_ANKLE] & straight_leg[_L_ANKLE])),
            "ratio": (torso > 0) & (legs >= LEG_TORSO_RATIO[0] * torso) & (legs <= LEG_TORSO_RATIO[1] * torso),
        }  # fmt: skip
    return seen, rules, foot


def upright_frames(keypoints: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Boolean mask of frames in which the person plausibly stands upright, on both feet or on
    one (2D heuristics, :data:`UPRIGHT_RULES`)."""
    seen, rules, _ = _upright_rules(np.asarray(keypoints, dtype=np.float64), np.asarray(confidence, dtype=np.float64))
    return seen & np.logical_and.reduce(list(rules.values()))


def _why_not_upright(seen: np.ndarray, rules: dict[str, np.ndarray], frames: int) -> str:
    """The rules that reject the most seen frames, e.g. "the torso leans ... in 72 of 99 frames"."""
    if not seen.any():
        return f"hips, ankles and shoulders are never all seen (0 of {frames} frames)"
    failing = sorted(((int((seen & ~ok).sum()), name) for name, ok in rules.items()), key=lambda item: -item[0])
    parts = [f"{_RULE_TEXT[name]} in {count}" for count, name in failing[:2] if count]
    return f"of {int(seen.sum())} frames with hips, ankles and shoulders seen, " + " and ".join(parts)


class _RowOperator:
    """A sparse linear operator in compressed-row layout (numpy only): row ``i`` holds
    ``data[indptr[i]:indptr[i + 1]]`` at columns ``indices[indptr[i]:indptr[i + 1]]``."""

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, columns: int):
        self.indptr, self.indices, self.data, self.columns = indptr, indices, data, columns

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.columns

    @property
    def nnz(self) -> int:
        return len(self.data)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """The product with ``x`` ``(columns, ...)``: ``(rows, ...)``."""
        out = np.zeros((self.shape[0],) + x.shape[1:])
        starts = self.indptr[:-1]
        filled = self.indptr[1:] > starts
        if filled.any():
            terms = self.data.reshape((-1,) + (1,) * (x.ndim - 1)) * x[self.indices]
            out[filled] = np.add.reduceat(terms, starts[filled], axis=0)
        return out

    def __getitem__(self, keep: np.ndarray) -> "_RowOperator":
        """The rows ``keep`` (a boolean mask or indices), in that order."""
        rows = np.arange(self.shape[0])[keep]
        counts = self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.concatenate([[0], np.cumsum(counts)])
        gather = np.repeat(self.indptr[rows] - indptr[:-1], counts) + np.arange(indptr[-1])
        return _RowOperator(indptr, self.indices[gather], self.data[gather], self.columns)


def _acceleration_operator(index: np.ndarray, seen: np.ndarray, fps: float | None) -> tuple[_RowOperator, np.ndarray]:
    """A sparse ``(len(index), len(support))`` operator giving each fitted frame's acceleration
    (per s^2) from the positions of the ``support`` frames (sorted; the fitted frames and those
    their windows use): the second derivative of a quadratic fitted over :data:`LEAN_WINDOW_S`
    around the frame. Rows are zero without ``fps`` or where the window is too sparsely seen."""
    counts, frame_lists, coefs = np.zeros(len(index), dtype=np.int64), [], []
    if fps is not None:
        half = max(2, int(round(0.5 * LEAN_WINDOW_S * fps)))
        for row, t in enumerate(index):
            frames = np.arange(max(0, t - half), min(len(seen), t + half + 1))
            frames = frames[seen[frames]]
            if len(frames) < 0.6 * (2 * half + 1) or frames[0] > t - half // 2 or frames[-1] < t + half // 2:
                continue
            tau = (frames - t) / fps
            V = np.column_stack([np.ones_like(tau), tau, tau**2])
            coefs.append(2.0 * np.linalg.pinv(V)[2])
            frame_lists.append(frames)
            counts[row] = len(frames)
    frames = np.concatenate(frame_lists) if frame_lists else np.zeros(0, dtype=np.int64)
    # Only the frames some row uses (and the fitted ones) are kept: long clips stay cheap to evaluate.
    support = np.union1d(index, frames).astype(np.int64)
    data = np.concatenate(coefs) if coefs else np.zeros(0)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return _RowOperator(indptr, np.searchsorted(support, frames), data, len(support)), support


@dataclass(eq=False)
class _Problem:
    """Centred pixels of the fitted frames' foot and upper points, and the acceleration operator."""

    foot: np.ndarray  # (n, 2) fitted frames
    upper: np.ndarray  # (n, 2)
    scale: np.ndarray  # (n,) image length foot -> upper
    support_foot: np.ndarray  # (m, 2) frames the accelerations are taken from
    fit_in_support: np.ndarray  # (n,) row of each fitted frame in the support
    acceleration: _RowOperator  # (n, m)

    def subset(self, keep: np.ndarray) -> "_Problem":
        """The fitted frames ``keep``, with only the support frames they use (fewer to evaluate)."""
        fit, acceleration = self.fit_in_support[keep], self.acceleration[keep]
        used = np.union1d(fit, acceleration.indices)
        acceleration = _RowOperator(acceleration.indptr, np.searchsorted(used, acceleration.indices), acceleration.data, len(used))
        return _Problem(self.foot[keep], self.upper[keep], self.scale[keep], self.support_foot[used], np.searchsorted(used, fit), acceleration)


def _model(params: np.ndarray, problem: _Problem, jacobian: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Observed minus predicted upper points, in person heights (image length foot -> upper),
    flattened ``(2n,)``; with ``jacobian`` also their derivatives ``(2n, 4)`` by the parameters
    ``(log f, m)`` (forward mode: each quantity carries its 4 derivatives in a last axis)."""
    f = math.exp(params[0])
    m = np.asarray(params[1:], dtype=np.float64)
    norm2 = float(m @ m)
    norm = math.sqrt(norm2)
    n, h = m / norm, 1.0 / norm2
    foot = problem.support_foot
    rays = np.column_stack([foot / f, np.ones(len(foot))])
    raw_down = rays @ n
    down = np.minimum(raw_down, -1e-3)  # feet below the horizon
    ground = -h * rays / down[:, None]  # foot points on the ground, units of L
    if jacobian:
        # rays depend on log f only (d rays = e_z - rays), so each derivative of ground is the ray
        # over down times a per-frame factor, plus -h e_z / down in log f's.
        dn = (np.eye(3) - np.outer(n, n)) / norm  # d n / d m
        ddown = np.column_stack([n[2] - raw_down, rays @ dn])
        ddown[raw_down > -1e-3] = 0.0
        factor = h * ddown / down[:, None]
        factor[:, 0] += h
        factor[:, 1:] += 2.0 * m / norm2**2  # - d h / d m
        dground = (rays / down[:, None])[:, :, None] * factor[:, None, :]
        dground[:, 2, 0] -= h / down
        stacked = np.concatenate([ground[:, :, None], dground], axis=2)  # (m, 3, 1 + 4)
        offset = np.concatenate([n[:, None], np.zeros((3, 1)), dn], axis=1)
    else:
        stacked, offset = ground[:, :, None], n[:, None]
    upper = stacked[problem.fit_in_support] + offset
    if problem.acceleration.nnz:
        upper = upper + (LEAN_LEVER_M / GRAVITY) * (problem.acceleration @ stacked)
    value = upper[:, :, 0]
    z = np.maximum(value[:, 2], 1e-3)
    predicted = f * value[:, :2] / z[:, None]
    residuals = ((predicted - problem.upper) / problem.scale[:, None]).ravel()
    if not jacobian:
        return residuals, None
    du = upper[:, :, 1:]
    dz = np.where((value[:, 2] > 1e-3)[:, None], du[:, 2], 0.0)
    dpredicted = f * du[:, :2] / z[:, None, None] - (predicted / z[:, None])[:, :, None] * dz[:, None, :]
    dpredicted[:, :, 0] += predicted  # d f / d log f = f
    return residuals, (dpredicted / problem.scale[:, None, None]).reshape(-1, 4)


def _residuals(params: np.ndarray, problem: _Problem) -> np.ndarray:
    """Observed minus predicted upper points, in person heights (image length foot -> upper)."""
    return _model(params, problem)[0]


def _log_focal_bounds(width: float) -> tuple[float, float]:
    return math.log(FOCAL_BOUNDS[0] * width), math.log(FOCAL_BOUNDS[1] * width)


class _Fit(NamedTuple):
    x: np.ndarray  # (log f, m)
    cost: float  # 0.5 * RESIDUAL_SCALE^2 * sum(rho((r / RESIDUAL_SCALE)^2)), rho(z) = 2 (sqrt(1 + z) - 1)


def _soft_l1(residuals: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The robust cost, its gradient's weights ``rho'(z)`` (gradient ``J^T (rho' r)``) and its
    curvature's ``rho' + 2 z rho'' = (1 + z)^-3/2`` (Gauss-Newton Hessian ``J^T diag(.) J``)."""
    root = np.sqrt(1.0 + (residuals / RESIDUAL_SCALE) ** 2)
    return float(RESIDUAL_SCALE**2 * np.sum(root - 1.0)), 1.0 / root, root**-3


def _trust_region_step(gradient: np.ndarray, hessian: np.ndarray, radius: float) -> np.ndarray:
    """The minimiser of ``g.s + s.H.s / 2`` over ``|s| <= radius`` (``H`` small, symmetric, positive
    semi-definite): the Gauss-Newton step if it fits, else ``-(H + lam I)^-1 g`` with ``lam`` found
    by safeguarded Newton steps on the secular equation so that ``|s|`` is within 1% of ``radius``."""
    if not np.any(gradient):
        return np.zeros_like(gradient)
    eigenvalues, vectors = np.linalg.eigh(hessian)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    b = vectors.T @ gradient
    if eigenvalues[0] > 1e-12 * eigenvalues[-1]:
        step = -vectors @ (b / eigenvalues)
        if np.linalg.norm(step) <= radius:
            return step
    low, high = 0.0, float(np.linalg.norm(gradient)) / radius  # |s(high)| <= radius
    lam = high
    for _ in range(50):
        norm = math.sqrt(float(np.sum((b / (eigenvalues + lam)) ** 2)))
        if abs(norm - radius) <= 0.01 * radius:
            break
        if norm > radius:
            low = lam
        else:
            high = lam
        slope = float(np.sum(b**2 / (eigenvalues + lam) ** 3))  # -d|s|^2/dlam / 2
        lam += (norm - radius) / radius * norm**2 / slope if slope > 0 else 0.0
        if not low < lam < high:
            lam = 0.5 * (low + high) if low > 0 else math.sqrt(max(low, 1e-12 * high) * high)
    return -vectors @ (b / (eigenvalues + lam))


def _bounded_step(
    x: np.ndarray, gradient: np.ndarray, hessian: np.ndarray, radius: float, lower: np.ndarray, upper: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """A trust-region step that stays strictly inside the bounds: the best, by the quadratic model,
    of the step cut at 99.5% of the way to the first bound it meets and the steps with the
    variables that block it held where they are (``held``: held from the start)."""
    candidates = []
    while (~held).any():
        step = np.zeros_like(x)
        step[~held] = _trust_region_step(gradient[~held], hessian[np.ix_(~held, ~held)], radius)
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.where(step > 0, (upper - x) / step, np.where(step < 0, (lower - x) / step, np.inf))
        if reach.min() >= 1.0:
            candidates.append(step)
            break
        candidates.append(step * (0.995 * reach.min()))
        held = held | (reach < 1.0)
    if not candidates:
        return np.zeros_like(x)
    return min(candidates, key=lambda s: float(gradient @ s + 0.5 * s @ hessian @ s))


def _least_squares(
    problem: _Problem, x0: np.ndarray, lower: np.ndarray, upper: np.ndarray, tol: float, max_evaluations: int = 400
) -> _Fit:
    """Minimise the soft-L1 cost within bounds, the way scipy's ``least_squares`` (trust region
    reflective) does, in numpy: Gauss-Newton models with the loss's own curvature, an exact
    trust-region step (radius from ``|x0|`` like scipy's with a uniform ``x_scale``, updated by the
    same rules) kept strictly inside the bounds (:func:`_bounded_step`). Stops as scipy's does
    with ``ftol = xtol = gtol = tol``: a relative cost decrease below ``tol`` on a well-predicted
    step, a step below ``tol`` relative to ``|x|``, or a gradient scaled by the room to the
    bounds below ``tol``."""
    x = np.clip(x0, lower, upper)
    r, J = _model(x, problem, jacobian=True)
    cost, weight, curvature = _soft_l1(r)
    if not math.isfinite(cost):
        return _Fit(x, math.inf)
    radius = float(np.linalg.norm(x)) or 1.0
    evaluations = 1
    while evaluations < max_evaluations:
        gradient = J.T @ (weight * r)
        # scipy's first-order optimality with bounds: the gradient scaled by the distance to the
        # bound it points away from.
        room = np.where(gradient > 0, x - lower, np.where(gradient < 0, upper - x, 1.0))
        if np.max(np.abs(gradient * room)) < tol:
            break
        hessian = J.T @ (curvature[:, None] * J)
        step = _bounded_step(x, gradient, hessian, radius, lower, upper, held=room <= 1e-10 * np.maximum(1.0, np.abs(x)))
        candidate = np.clip(x + step, lower, upper)
        step = candidate - x
        step_norm = float(np.linalg.norm(step))
        if step_norm < tol * (tol + float(np.linalg.norm(x))):
            break
        predicted = -float(gradient @ step + 0.5 * step @ hessian @ step)
        r_new, J_new = _model(candidate, problem, jacobian=True)
        evaluations += 1
        cost_new, weight_new, curvature_new = _soft_l1(r_new)
        decrease = cost - cost_new if math.isfinite(cost_new) else -math.inf
        ratio = decrease / predicted if predicted > 0 else (1.0 if predicted == decrease == 0 else 0.0)
        if ratio < 0.25:
            radius = 0.25 * step_norm
        elif ratio > 0.75 and step_norm > 0.95 * radius:
            radius *= 2.0
        if decrease > 0:
            x, r, J, weight, curvature = candidate, r_new, J_new, weight_new, curvature_new
            cost = cost_new
            if decrease < tol * cost and ratio > 0.25:
                break
    return _Fit(x, cost)


def _fit(problem: _Problem, width: float, starts: list[np.ndarray], tol: float = 1e-8) -> _Fit:
    lo, hi = _log_focal_bounds(width)
    lower, upper = np.array([lo, -10.0, -10.0, -10.0]), np.array([hi, 10.0, 10.0, 10.0])
    best = None
    for x0 in starts:
        x0 = x0.copy()
        x0[0] = min(max(x0[0], lo + 1e-6), hi - 1e-6)
        result = _least_squares(problem, x0, lower, upper, tol)
        if best is None or result.cost < best.cost:
            best = result
    return best


def _fallback(width: float, height: float, reason: str, frames: int, **extra) -> FocalEstimate:
    focal = focal_from_fov(width, DEFAULT_FOV_DEG)
    return FocalEstimate(focal, DEFAULT_FOV_DEG, False, reason, frames, (width, height), **extra)


def estimate_focal(
    keypoints: object,
    confidence: object | None = None,
    image_size: tuple[float, float] | None = None,
    fps: float | None = None,
) -> FocalEstimate:
    """Estimate the focal length (pixels) of the camera that filmed ``keypoints`` ``(N,17,2)``
    (pixels, Human3.6M order, NaN = missing) with ``confidence`` ``(N,17)`` (None = 1 where
    finite) in an image of ``image_size`` ``(width, height)``; fall back to the
    :data:`DEFAULT_FOV_DEG` guess, with the reason, when the clip does not determine it.

    ``fps``: the frames' rate when they are consecutive video frames; it lets the fit allow for
    the lean of a person walking a curve (without it, such clips come out with too long a focal
    length)."""
    if image_size is None:
        raise InputError("estimate_focal needs the image size (width, height) in pixels")
    width, height = _check_size(image_size)
    try:
        kp = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"keypoints must be numeric: {exc}") from None
    if kp.ndim != 3 or kp.shape[1:] != (17, 2) or kp.shape[0] == 0:
        raise InputError(f"keypoints must have shape (N, 17, 2) with N >= 1, got {kp.shape}")
    if confidence is None:
        conf = np.all(np.isfinite(kp), axis=2).astype(np.float64)
    else:
        try:
            conf = np.asarray(confidence, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"confidence must be numeric: {exc}") from None
        if conf.shape != kp.shape[:2]:
            raise InputError(f"confidence must have shape {kp.shape[:2]}, got {conf.shape}")
        conf = np.where(np.isfinite(conf), conf, 0.0)
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise InputError(f"fps must be positive, got {fps}")

    seen, rules, feet = _upright_rules(kp, conf)
    upright = seen & np.logical_and.reduce(list(rules.values()))
    count = int(upright.sum())
    if count < MIN_FRAMES:
        why = _why_not_upright(seen, rules, len(kp))
        return _fallback(
            width, height, f"too few frames with the person upright ({count} of {len(kp)}, need {MIN_FRAMES}): {why}", count
        )
    index = np.flatnonzero(upright)
    if count > MAX_FRAMES_FIT:
        index = index[np.linspace(0, count - 1, MAX_FRAMES_FIT).round().astype(int)]
    centre = np.array([width / 2.0, height / 2.0])
    feet_seen = np.all(conf[:, (_R_ANKLE, _L_ANKLE)] > 0, axis=1) & np.all(np.isfinite(kp[:, (_R_ANKLE, _L_ANKLE)]), axis=(1, 2))
    acceleration, support = _acceleration_operator(index, feet_seen, fps)
    all_feet = feet - centre  # the mid-ankles, or the standing ankle on one leg
    foot = all_feet[index]
    upper = _mid(kp[index], _L_SHOULDER, _R_SHOULDER) - centre
    scale = np.linalg.norm(upper - foot, axis=1)
    # Upright frames have both feet seen, so every fitted frame is in the (sorted) support.
    problem = _Problem(foot, upper, scale, all_feet[support], np.searchsorted(support, index), acceleration)
    spread = float(np.log(np.percentile(scale, 90) / np.percentile(scale, 10)))
    if spread < MIN_DEPTH_SPREAD:
        return _fallback(
            width, height, f"the person does not move in depth (image height varies by {100 * (math.exp(spread) - 1):.0f}%)", count,
            depth_spread=round(spread, 4),
        )

    starts = []
    for fov in (30.0, 50.0, 75.0, 110.0):
        for pitch in (8.0, 25.0):
            t = math.radians(pitch)
            starts.append(np.array([math.log(focal_from_fov(width, fov)), 0.0, -math.cos(t), -math.sin(t)]) / np.array([1, 1.1, 1.1, 1.1]))
    coarse = problem.subset(np.linspace(0, len(index) - 1, min(len(index), COARSE_FRAMES)).round().astype(int))
    fit = _fit(problem, width, [_fit(coarse, width, starts, tol=1e-4).x])
    log_f, m = fit.x[0], fit.x[1:]
    n = m / np.linalg.norm(m)
    if n[1] > 0:
        n = -n
    pitch = math.degrees(math.asin(float(np.clip(-n[2], -1.0, 1.0))))
    roll = math.degrees(math.atan2(n[0], -n[1]))
    focal = math.exp(log_f)
    extra = {"pitch_deg": round(pitch, 2), "roll_deg": round(roll, 2), "depth_spread": round(spread, 4)}
    lo, hi = _log_focal_bounds(width)
    if not MIN_PITCH_DEG <= pitch <= MAX_PITCH_DEG:
        why = "looks level or up" if pitch < MIN_PITCH_DEG else "looks steeply down"
        return _fallback(
            width, height, f"the camera {why} (pitch {pitch:.1f} deg): the focal length is not determined", count, **extra
        )
    if not lo + 0.01 < log_f < hi - 0.01:
        return _fallback(width, height, "the fit ran to the limit of plausible focal lengths", count, **extra)

    # Uncertainty: leave one block of frames out at a time.
    blocks = np.array_split(np.arange(len(index)), JACKKNIFE_BLOCKS)
    logs = []
    for block in blocks:
        keep = np.ones(len(index), dtype=bool)
        keep[block] = False
        logs.append(_fit(problem.subset(keep), width, [fit.x], tol=1e-5).x[0])
    logs = np.array(logs)
    uncertainty = float(math.sqrt((JACKKNIFE_BLOCKS - 1) / JACKKNIFE_BLOCKS * np.sum((logs - logs.mean()) ** 2)))
    extra["uncertainty"] = round(uncertainty, 4)
    if uncertainty > MAX_LOG_UNCERTAINTY:
        return _fallback(width, height, f"the fit is ill-conditioned (focal length uncertain by {100 * uncertainty:.0f}%)", count, **extra)
    return FocalEstimate(
        focal, fov_from_focal(width, focal), True, f"estimated from {count} upright frames", count, (width, height), **extra
    )
