"""Video mode: neighbouring frames help each other (``LiftConfig.temporal_sigma > 0``).

What :func:`zedo_core.lift` does with a clip in video mode:

1. The 2D tracks are smoothed robustly (:func:`smooth_keypoints`, width 1.5 x temporal_sigma,
   local quadratic): a detection far from what its neighbours say (a jump, a swapped limb) is
   replaced by their estimate. The coupling below would otherwise spread it to the neighbouring
   frames.
2. Inside the loop, after every denoising step, each joint's pelvis-relative trajectory is
   replaced by its Gaussian local quadratic fit over neighbouring frames (and, after each
   closed-form solve, the translation by a local linear fit at half the width); the next ray
   projection and denoising step then repair the smoothed poses, so the answer both fits its own
   frame's rays and agrees with its neighbours.
   Each bone's length is also pulled a little towards its median over the clip
   (``LiftConfig.bone_length_pull``): one body per clip.
3. Every frame is scaled about the camera centre to its clip's median body size
   (:func:`zedo_core.scale.steady_size`): the 2D fit stays, the distance to the camera no longer
   follows the lifted poses' small size drifts.

Measured on clips of training subjects only (``training.temporal_ablation``; the held-out S8 prior
on S8): coupling inside the loop beats smoothing the frame-by-frame result (the alternative, kept
as :func:`smooth_trajectories`), which lowers the jitter but leaves each frame's error where it
was; a vote on the start orientation was not pursued because frames facing the wrong way are
0.0% (ground-truth 2D) to 0.5% (corrupted 2D) of the frame-by-frame results with the grid search.
Local parabolas rather than lines: equal on Human3.6M, and they do not flatten fast motion (a
synthetic 30 fps walk: 49.9 mm against 56.2 with lines, 52.6 frame by frame).

The core is a robust temporal smoother of trajectories (:func:`smooth_trajectories`): a
Gaussian-weighted local line (or parabola) fitted around every frame (so constant and linear
motion pass unchanged, also at the ends of a clip and across gaps), whose per-joint weights come
from a bisquare on the distance to a running median and then to the fit itself, so that isolated
wrong frames get no say in their neighbours' result and are replaced by what the neighbours say.
Missing frames (NaN) are skipped; ``segments`` keeps unrelated clips apart.

Written over numpy arrays or torch tensors (``zedo_core.arrays``; no scipy), so it runs inside the
lifting loop on the loop's arrays.
"""

import math
from collections.abc import Iterator

import numpy as np

from .arrays import Array, as_dtype, asarray_like, copy, dtype_name, eye_like, namespace, nanmedian, norm

# Video mode's coupling width in seconds: LiftConfig.temporal_sigma = VIDEO_SIGMA_SECONDS x frame
# rate. Tuned on training subjects only (training.temporal_ablation; docs/research.md "Video").
VIDEO_SIGMA_SECONDS = 0.08
# The frame rate assumed when a clip does not say (typical footage is 24-30 fps).
DEFAULT_FPS = 25.0


def video_sigma(fps: float | None = None) -> float:
    """``LiftConfig.temporal_sigma`` (frames) for a clip at ``fps`` frames per second."""
    fps = DEFAULT_FPS if fps is None else float(fps)
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return VIDEO_SIGMA_SECONDS * fps


def _shift(x: Array, k: int, fill: float) -> Array:
    """``y[t] = x[t + k]`` along axis 0, ``fill`` where ``t + k`` lies outside."""
    if k == 0:
        return x
    out = namespace(x).full_like(x, fill)
    if abs(k) >= x.shape[0]:
        return out
    if k > 0:
        out[:-k] = x[k:]
    else:
        out[-k:] = x[:k]
    return out


def _segment_mask(segments: Array | None, k: int, T: int, like: Array) -> Array:
    """``(T,)`` True where frame ``t + k`` exists and belongs to the same segment as ``t``."""
    inside = np.zeros(T, dtype=bool)
    inside[max(0, -k) : max(0, min(T, T - k))] = True
    inside = asarray_like(inside, like, "bool")
    if segments is None:
        return inside
    return inside & (_shift(segments, k, -1) == segments)


def window_radius(sigma: float) -> int:
    """How far (frames) a Gaussian window of ``sigma`` reaches: 3 sigmas, at least one frame."""
    return max(1, math.ceil(3 * sigma))


def window_step(sigma: float) -> int:
    """Spacing of the frames a window samples: every frame up to sigma 8 (footage up to ~100 fps at
    the video-mode width), then every ``sigma // 4``-th, so the cost per frame does not grow with
    the frame rate (a Gaussian sampled at a quarter of its width still weighs its window evenly)."""
    return max(1, int(sigma // 4))


def running_median(x: Array, radius: int, segments: Array | None = None, step: int = 1) -> Array:
    """Median over frames ``t - radius .. t + radius`` (every ``step``-th; axis 0) ignoring NaN,
    within ``segments``. Frames whose window holds no finite value are NaN."""
    xp = namespace(x)
    if radius <= 0:
        return copy(x)
    T = x.shape[0]
    stack = []
    for k in range(-(radius // step) * step, radius + 1, step):
        shifted = _shift(x, k, float("nan"))
        mask = _segment_mask(segments, k, T, x).reshape(T, *([1] * (x.ndim - 1)))
        stack.append(xp.where(mask, shifted, xp.full_like(shifted, float("nan"))))
    return nanmedian(xp.stack(stack, axis=-1), axis=-1)


def local_polynomial_coefficients(
    weights: Array, sigma: float, radius: int, segments: Array | None, degree: int = 1, step: int = 1
) -> tuple[list[int], list[Array]]:
    """The Gaussian-weighted local polynomial fit (``degree`` 1: linear, 2: quadratic) as a linear
    filter: frame offsets ``k`` and coefficients ``c_k`` (each shaped like ``weights`` ``(T, ...)``,
    the per-sample weights) such that the fit at ``t`` is ``sum_k c_k[t] * x[t + k]``. Where the
    window has too few distinct frames for the degree, the next lower degree is used (down to the
    weighted mean); where it has no weight at all, every coefficient is NaN."""
    xp = namespace(weights)
    T = weights.shape[0]
    offsets = list(range(-(radius // step) * step, radius + 1, step))
    windowed = []
    for k in offsets:
        mask = as_dtype(_segment_mask(segments, k, T, weights), dtype_name(weights)).reshape(T, *([1] * (weights.ndim - 1)))
        windowed.append(math.exp(-0.5 * (k / sigma) ** 2) * mask * _shift(weights, k, 0.0))
    S = [sum(w * float(k) ** p for k, w in zip(offsets, windowed)) for p in range(2 * degree + 1)]
    S0, S1, S2 = S[0], S[1], S[2]
    det = S0 * S2 - S1 * S1
    S0_safe = xp.clip(S0, 1e-30, None)
    # Fewer than two distinct frames with weight: the weighted mean (local constant).
    linear = det > 1e-9 * S0_safe**2
    safe_det = xp.where(linear, det, xp.ones_like(det))
    base = xp.where(linear, S2 / safe_det, 1.0 / S0_safe)  # c_k = w_k * (base + slope * k [+ curve * k^2])
    slope = xp.where(linear, -S1 / safe_det, xp.zeros_like(S1))
    curve = xp.zeros_like(S1)
    if degree >= 2:
        S3, S4 = S[3], S[4]
        M = xp.stack([xp.stack([S0, S1, S2], axis=-1), xp.stack([S1, S2, S3], axis=-1), xp.stack([S2, S3, S4], axis=-1)], axis=-2)
        quadratic = xp.linalg.det(M) > 1e-9 * S0_safe**3
        first_row = xp.linalg.inv(xp.where(quadratic[..., None, None], M, eye_like(M, 3)))[..., 0, :]  # row 0 of M^-1
        base = xp.where(quadratic, first_row[..., 0], base)
        slope = xp.where(quadratic, first_row[..., 1], slope)
        curve = xp.where(quadratic, first_row[..., 2], curve)
    empty = xp.where(S0 > 0, xp.zeros_like(S0), xp.full_like(S0, float("nan")))
    return offsets, [w * (base + slope * float(k) + curve * float(k * k)) + empty for k, w in zip(offsets, windowed)]


def apply_filter(x: Array, offsets: list[int], coefficients: list[Array]) -> Array:
    """``sum_k coefficients[k][t] * x[t + k]`` for ``x`` ``(T, ..., D)``; a missing (NaN) sample
    must have coefficient 0 wherever it is reached."""
    x0 = namespace(x).nan_to_num(x, nan=0.0)
    return sum(c[..., None] * _shift(x0, k, 0.0) for k, c in zip(offsets, coefficients))


def _local_polynomial_fit(
    x: Array, weights: Array, sigma: float, radius: int, segments: Array | None, degree: int = 1, step: int = 1
) -> Array:
    """Gaussian-weighted local polynomial fit of ``x`` ``(T, J, D)`` with per-sample weights
    ``(T, J)`` (:func:`local_polynomial_coefficients`)."""
    return apply_filter(x, *local_polynomial_coefficients(weights, sigma, radius, segments, degree, step))


def _bisquare(residual: Array, threshold: float) -> Array:
    u = namespace(residual).clip(residual / threshold, None, 1.0)
    return (1.0 - u * u) ** 2


def robust_fit(
    x: Array,
    sigma: float,
    segments: Array | None = None,
    outlier_threshold: float | None = 0.15,
    median_radius: int | None = None,
    robust_iterations: int = 2,
    degree: int = 1,
) -> tuple[Array, Array]:
    """The fit of :func:`smooth_trajectories` for ``x`` ``(T, J, D)`` (float64), every frame
    estimated (NaN only where a window has nothing), and the final per-sample weights ``(T, J)`` in
    [0, 1] (0 for missing samples and rejected outliers)."""
    xp = namespace(x)
    dtype = dtype_name(x)
    radius = window_radius(sigma)
    step = window_step(sigma)
    present = xp.isfinite(x).all(-1)  # (T, J)
    x = xp.where(present[..., None], x, xp.full_like(x, float("nan")))
    weights = as_dtype(present, dtype)
    if outlier_threshold is not None and median_radius != 0:
        reference = running_median(x, median_radius if median_radius is not None else max(1, math.ceil(sigma)), segments, step)
        residual = xp.nan_to_num(norm(x - reference), nan=0.0)
        weights = weights * _bisquare(residual, outlier_threshold)
    fit = _local_polynomial_fit(x, weights, sigma, radius, segments, degree, step)
    if outlier_threshold is not None:
        for _ in range(robust_iterations):
            residual = xp.nan_to_num(norm(x - fit), nan=0.0)
            robust = as_dtype(present, dtype) * _bisquare(residual, outlier_threshold)
            refit = _local_polynomial_fit(x, robust, sigma, radius, segments, degree, step)
            # A joint whose every neighbour was rejected keeps the previous fit rather than none.
            fit = xp.where(xp.isfinite(refit), refit, fit)
            weights = robust
    # Every sample of the window was rejected: keep the frame's own value.
    fit = xp.where(xp.isfinite(fit) | ~present[..., None], fit, x)
    return fit, weights


def fit_in_blocks(
    x: np.ndarray,
    sigma: float,
    segments: np.ndarray | None,
    outlier_threshold: float | None,
    degree: int = 1,
    block: int = 2048,
    robust_iterations: int = 2,
    present: np.ndarray | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """:func:`robust_fit`'s fit of a long ``(T, J, D)`` numpy trajectory as ``(start, stop, fit)``
    for consecutive blocks of ``block`` frames, each computed in float64 with enough context on
    either side to be exactly the whole trajectory's fit there, so memory stays bounded on clips of
    any length. ``present`` ``(T, J)``: False marks samples as missing (as NaN in ``x`` would)."""
    radius, median_radius = window_radius(sigma), max(1, math.ceil(sigma))
    # A fit reaches `radius` frames; the running median `median_radius`; each robust pass refits.
    reach = (1 + robust_iterations) * radius + median_radius
    T = x.shape[0]
    if T <= block + 2 * reach:
        block = max(T, 1)
    for start in range(0, T, block):
        stop = min(T, start + block)
        lo, hi = max(0, start - reach), min(T, stop + reach)
        values = np.asarray(x[lo:hi], dtype=np.float64)
        if present is not None:
            values = np.where(present[lo:hi, :, None], values, np.nan)
        part = None if segments is None else segments[lo:hi]
        fit = robust_fit(values, sigma, part, outlier_threshold, robust_iterations=robust_iterations, degree=degree)[0]
        yield start, stop, fit[start - lo : stop - lo]


def smooth_trajectories(
    x: Array,
    sigma: float,
    segments: Array | None = None,
    outlier_threshold: float | None = 0.15,
    median_radius: int | None = None,
    robust_iterations: int = 2,
    fill_missing: bool = False,
    degree: int = 1,
) -> Array:
    """Robustly smooth trajectories ``x`` ``(T, J, D)`` along time (axis 0).

    Args:
        x: e.g. absolute poses ``(T, 17, 3)`` metres; a NaN anywhere in a joint marks it missing
            in that frame.
        sigma: standard deviation of the Gaussian window, in frames (0 returns ``x`` unchanged).
            The window reaches ``ceil(3 sigma)`` frames each way.
        segments: optional ``(T,)`` integer labels; frames of different labels never see each
            other (separate clips, scene cuts).
        outlier_threshold: distance (``x``'s unit) from the robust estimate at which a joint's
            sample stops counting (bisquare weights, full weight at 0). None: plain Gaussian
            local linear fit, no robustness.
        median_radius: half-width of the running median that gives the first robust estimate
            (default ``ceil(sigma)``; 0: start from the plain fit instead).
        robust_iterations: refits with weights from the distance to the previous fit.
        fill_missing: also estimate frames that are missing (NaN) from their neighbours; by
            default they stay NaN.
        degree: 1 fits a line in every window, 2 a parabola (keeps accelerations; smooths less
            at the same sigma).

    A constant or linear trajectory (with degree 2 also a parabola) comes back unchanged (any
    weights fit it exactly), an
    isolated outlying frame is replaced by its neighbours' fit. Returns the type it was given.
    """
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    xp = namespace(x)
    dtype = dtype_name(x)
    if sigma <= 0 or x.shape[0] == 0:
        return copy(x)
    if x.ndim != 3:
        raise ValueError(f"trajectories must have shape (T, J, D), got {tuple(x.shape)}")
    xd = as_dtype(x, "float64")
    seg = None
    if segments is not None:
        seg = asarray_like(segments, x, "int64")
        if tuple(seg.shape) != (x.shape[0],):
            raise ValueError(f"segments must have shape ({x.shape[0]},), got {tuple(seg.shape)}")
    if degree not in (1, 2):
        raise ValueError(f"degree must be 1 or 2, got {degree}")
    fit, _ = robust_fit(xd, sigma, seg, outlier_threshold, median_radius, robust_iterations, degree)
    if not fill_missing:
        present = xp.isfinite(xd).all(-1)
        fit = xp.where(present[..., None], fit, xp.full_like(fit, float("nan")))
    return as_dtype(fit, dtype)


def person_height_px(keypoints: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Per frame, the larger side of the visible joints' bounding box ``(T,)`` px (NaN when no joint)."""
    visible = np.asarray(confidence) > 0
    extent = np.full(len(visible), np.nan)
    block = 4096  # frames at a time: small temporaries on long clips
    for a in range(0, len(visible), block):
        shown, part = visible[a : a + block, :, None], keypoints[a : a + block]
        with np.errstate(invalid="ignore"):
            side = (np.where(shown, part, -np.inf).max(axis=1) - np.where(shown, part, np.inf).min(axis=1)).max(axis=1)
        extent[a : a + block] = np.where(shown.any(axis=(1, 2)), side, np.nan)
    return extent


def smooth_keypoints(
    keypoints: np.ndarray,
    confidence: np.ndarray,
    sigma: float,
    outlier_fraction: float = 0.05,
    segments: np.ndarray | None = None,
    degree: int = 1,
) -> np.ndarray:
    """Robustly smoothed 2D tracks ``(T, 17, 2)`` px of the visible joints (confidence > 0);
    missing joints keep their values. A detection farther than ``outlier_fraction`` of the
    person's height (the median bounding box of the segment) from its neighbours' estimate is
    treated as an outlier and replaced by that estimate. Float32 keypoints come back as float32
    (fitted in float64 a block of frames at a time), others as float64."""
    keypoints = np.asarray(keypoints)
    if keypoints.dtype != np.float32:
        keypoints = keypoints.astype(np.float64, copy=False)
    out = keypoints.copy()
    if sigma <= 0 or len(keypoints) == 0:
        return out
    visible = np.asarray(confidence) > 0
    labels = np.zeros(len(keypoints), dtype=np.int64) if segments is None else np.asarray(segments)
    height = person_height_px(keypoints, confidence)
    for label in np.unique(labels):
        frames = np.flatnonzero(labels == label)
        scale = np.nanmedian(height[frames]) if np.isfinite(height[frames]).any() else np.nan
        if not np.isfinite(scale) or scale <= 0:
            continue
        # Frames of one label need not be contiguous: smooth over the span they cover.
        span = slice(frames[0], frames[-1] + 1)
        # Written block by block: no fit of the whole clip is held (or freed) at once.
        blocks = fit_in_blocks(
            keypoints[span], sigma, labels[span], outlier_fraction * scale, degree=degree, present=visible[span]
        )
        for a, b, fit in blocks:
            a, b = a + span.start, b + span.start
            own = (labels[a:b] == label)[:, None] & visible[a:b] & np.isfinite(fit).all(-1)
            np.copyto(out[a:b], fit, where=own[..., None], casting="same_kind")
    return out
