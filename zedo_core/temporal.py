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

Torch and numpy only (no scipy), so it runs inside the lifting loop on the loop's device.
"""

import math

import numpy as np
import torch

# Video mode's coupling width in seconds: LiftConfig.temporal_sigma = VIDEO_SIGMA_SECONDS x frame
# rate. Tuned on training subjects only (training.temporal_ablation; README "Video").
VIDEO_SIGMA_SECONDS = 0.08
# The frame rate assumed when a clip does not say (typical footage is 24-30 fps).
DEFAULT_FPS = 25.0


def video_sigma(fps: float | None = None) -> float:
    """``LiftConfig.temporal_sigma`` (frames) for a clip at ``fps`` frames per second."""
    fps = DEFAULT_FPS if fps is None else float(fps)
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive number, got {fps}")
    return VIDEO_SIGMA_SECONDS * fps


def _shift(x: torch.Tensor, k: int, fill: float) -> torch.Tensor:
    """``y[t] = x[t + k]`` along dim 0, ``fill`` where ``t + k`` lies outside."""
    if k == 0:
        return x
    out = torch.full_like(x, fill)
    if abs(k) >= x.shape[0]:
        return out
    if k > 0:
        out[:-k] = x[k:]
    else:
        out[-k:] = x[:k]
    return out


def _segment_mask(segments: torch.Tensor | None, k: int, T: int, device: torch.device) -> torch.Tensor:
    """``(T,)`` True where frame ``t + k`` exists and belongs to the same segment as ``t``."""
    t = torch.arange(T, device=device)
    inside = (t + k >= 0) & (t + k < T)
    if segments is None:
        return inside
    return inside & (_shift(segments, k, -1) == segments)


def running_median(x: torch.Tensor, radius: int, segments: torch.Tensor | None = None) -> torch.Tensor:
    """Median over frames ``t - radius .. t + radius`` (dim 0) ignoring NaN, within ``segments``.
    Frames whose window holds no finite value are NaN."""
    if radius <= 0:
        return x.clone()
    T = x.shape[0]
    stack = []
    for k in range(-radius, radius + 1):
        shifted = _shift(x, k, float("nan"))
        mask = _segment_mask(segments, k, T, x.device).reshape(T, *([1] * (x.dim() - 1)))
        stack.append(torch.where(mask, shifted, torch.full_like(shifted, float("nan"))))
    return torch.stack(stack, dim=-1).nanmedian(dim=-1).values


def _local_polynomial_fit(
    x: torch.Tensor, weights: torch.Tensor, sigma: float, radius: int, segments: torch.Tensor | None, degree: int = 1
) -> torch.Tensor:
    """Gaussian-weighted local polynomial fit (``degree`` 1: linear, 2: quadratic) of ``x``
    ``(T, J, D)`` with per-sample weights ``(T, J)``; where the window has too few distinct frames
    for the degree, the next lower degree is used (down to the weighted mean)."""
    T = x.shape[0]
    x0 = torch.nan_to_num(x, nan=0.0)
    S = [torch.zeros_like(weights) for _ in range(2 * degree + 1)]
    X = [torch.zeros_like(x0) for _ in range(degree + 1)]
    for k in range(-radius, radius + 1):
        g = math.exp(-0.5 * (k / sigma) ** 2)
        mask = _segment_mask(segments, k, T, x.device).to(x.dtype)[:, None]
        w = g * mask * _shift(weights, k, 0.0)
        xs = _shift(x0, k, 0.0)
        for p in range(2 * degree + 1):
            S[p] += w * float(k) ** p
        for p in range(degree + 1):
            X[p] += (w * float(k) ** p)[..., None] * xs
    S0, S1, S2 = S[0], S[1], S[2]
    X0, X1 = X[0], X[1]
    det = S0 * S2 - S1 * S1
    # Fewer than two distinct frames with weight: fall back to the weighted mean (local constant).
    linear = det > 1e-9 * S0.clamp_min(1e-30) ** 2
    safe_det = torch.where(linear, det, torch.ones_like(det))
    fit_linear = (S2[..., None] * X0 - S1[..., None] * X1) / safe_det[..., None]
    fit_const = X0 / S0.clamp_min(1e-30)[..., None]
    fit = torch.where(linear[..., None], fit_linear, fit_const)
    if degree >= 2:
        S3, S4, X2 = S[3], S[4], X[2]
        M = torch.stack([torch.stack([S0, S1, S2], -1), torch.stack([S1, S2, S3], -1), torch.stack([S2, S3, S4], -1)], -2)
        quadratic = torch.linalg.det(M) > 1e-9 * S0.clamp_min(1e-30) ** 3
        eye = torch.eye(3, dtype=x.dtype, device=x.device)
        first_row = torch.linalg.inv(torch.where(quadratic[..., None, None], M, eye))[..., 0, :]  # row 0 of M^-1
        fit_quadratic = first_row[..., 0:1] * X0 + first_row[..., 1:2] * X1 + first_row[..., 2:3] * X2
        fit = torch.where(quadratic[..., None], fit_quadratic, fit)
    return torch.where((S0 > 0)[..., None], fit, torch.full_like(fit, float("nan")))


def _bisquare(residual: torch.Tensor, threshold: float) -> torch.Tensor:
    u = (residual / threshold).clamp(max=1.0)
    return (1.0 - u * u) ** 2


def robust_fit(
    x: torch.Tensor,
    sigma: float,
    segments: torch.Tensor | None = None,
    outlier_threshold: float | None = 0.15,
    median_radius: int | None = None,
    robust_iterations: int = 2,
    degree: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fit of :func:`smooth_trajectories` for ``x`` ``(T, J, D)`` (float64 tensor), every frame
    estimated (NaN only where a window has nothing), and the final per-sample weights ``(T, J)`` in
    [0, 1] (0 for missing samples and rejected outliers)."""
    radius = max(1, math.ceil(3 * sigma))
    present = torch.isfinite(x).all(dim=-1)  # (T, J)
    x = torch.where(present[..., None], x, torch.full_like(x, float("nan")))
    weights = present.to(x.dtype)
    if outlier_threshold is not None and median_radius != 0:
        reference = running_median(x, median_radius if median_radius is not None else max(1, math.ceil(sigma)), segments)
        residual = torch.nan_to_num((x - reference).norm(dim=-1), nan=0.0)
        weights = weights * _bisquare(residual, outlier_threshold)
    fit = _local_polynomial_fit(x, weights, sigma, radius, segments, degree)
    if outlier_threshold is not None:
        for _ in range(robust_iterations):
            residual = torch.nan_to_num((x - fit).norm(dim=-1), nan=0.0)
            robust = present.to(x.dtype) * _bisquare(residual, outlier_threshold)
            refit = _local_polynomial_fit(x, robust, sigma, radius, segments, degree)
            # A joint whose every neighbour was rejected keeps the previous fit rather than none.
            fit = torch.where(torch.isfinite(refit), refit, fit)
            weights = robust
    # Every sample of the window was rejected: keep the frame's own value.
    fit = torch.where(torch.isfinite(fit) | ~present[..., None], fit, x)
    return fit, weights


def smooth_trajectories(
    x: torch.Tensor | np.ndarray,
    sigma: float,
    segments: torch.Tensor | np.ndarray | None = None,
    outlier_threshold: float | None = 0.15,
    median_radius: int | None = None,
    robust_iterations: int = 2,
    fill_missing: bool = False,
    degree: int = 1,
) -> torch.Tensor | np.ndarray:
    """Robustly smooth trajectories ``x`` ``(T, J, D)`` along time (dim 0).

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
    as_numpy = isinstance(x, np.ndarray)
    xt = torch.as_tensor(x)
    dtype = xt.dtype
    if sigma <= 0 or xt.shape[0] == 0:
        return x.copy() if as_numpy else xt.clone()
    if xt.dim() != 3:
        raise ValueError(f"trajectories must have shape (T, J, D), got {tuple(xt.shape)}")
    xt = xt.double()
    seg = None
    if segments is not None:
        seg = torch.as_tensor(np.asarray(segments) if not torch.is_tensor(segments) else segments, device=xt.device)
        if seg.shape != (xt.shape[0],):
            raise ValueError(f"segments must have shape ({xt.shape[0]},), got {tuple(seg.shape)}")
    if degree not in (1, 2):
        raise ValueError(f"degree must be 1 or 2, got {degree}")
    fit, _ = robust_fit(xt, sigma, seg, outlier_threshold, median_radius, robust_iterations, degree)
    if not fill_missing:
        present = torch.isfinite(xt).all(dim=-1)
        fit = torch.where(present[..., None], fit, torch.full_like(fit, float("nan")))
    fit = fit.to(dtype)
    return fit.numpy() if as_numpy else fit


def person_height_px(keypoints: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Per frame, the larger side of the visible joints' bounding box ``(T,)`` px (NaN when no joint)."""
    visible = confidence > 0
    with np.errstate(invalid="ignore"):
        high = np.where(visible[..., None], keypoints, -np.inf).max(axis=1)
        low = np.where(visible[..., None], keypoints, np.inf).min(axis=1)
        extent = (high - low).max(axis=1)
    return np.where(visible.any(axis=1), extent, np.nan)


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
    treated as an outlier and replaced by that estimate."""
    keypoints = np.asarray(keypoints, dtype=np.float64)
    out = keypoints.copy()
    if sigma <= 0 or len(keypoints) == 0:
        return out
    visible = np.asarray(confidence) > 0
    labels = np.zeros(len(keypoints), dtype=np.int64) if segments is None else np.asarray(segments)
    height = person_height_px(keypoints, confidence)
    tracks = torch.as_tensor(np.where(visible[..., None], keypoints, np.nan))
    for label in np.unique(labels):
        frames = np.flatnonzero(labels == label)
        scale = np.nanmedian(height[frames]) if np.isfinite(height[frames]).any() else np.nan
        if not np.isfinite(scale) or scale <= 0:
            continue
        # Frames of one label need not be contiguous: smooth over the span they cover.
        span = slice(frames[0], frames[-1] + 1)
        span_labels = torch.as_tensor(labels[span])
        fit, _ = robust_fit(tracks[span], sigma, span_labels, outlier_fraction * scale, degree=degree)
        fit = fit.numpy()
        own = (labels[span] == label)[:, None] & visible[span] & np.isfinite(fit).all(-1)
        out[span] = np.where(own[..., None], fit, out[span])
    return out
