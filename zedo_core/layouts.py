"""Detector keypoint layouts adapted to the prior's 17 Human3.6M joints, with honest confidences.

    >>> kp17, conf17 = to_h36m(keypoints, confidence, layout="coco")   # (N,17,2) px, (N,17)

A joint the layout names the same anatomical point as Human3.6M is copied with its confidence. A
joint it lacks is derived from others only where that is sound, and a derived joint's confidence
is the minimum of its sources' times a factor below 1 that says how approximate the rule is; the
rest are missing (NaN keypoint, confidence 0) and the prior fills them in. Keep guesses out: the
lifting loop puts every joint with confidence > 0 on its ray, whatever the confidence, so a
guessed joint would be enforced as if it were seen (confidence only weights the translation).

The numbers behind each rule (one-off measurements on ``../shared/data/h36m``, median / p90).
Constants come from the mocap of the training subjects S1-S8 only (every 50th frame); the pixel
figures are a check on the Stacked-Hourglass detections of S9/S11 (MPII shoulders and hips, drawn
like COCO's), every 20th frame, against the projected 3D joints:

- pelvis = midpoint of the hips: Human3.6M's pelvis *is* the midpoint of its hips (0.0 mm). On the
  detections it lies 7.9 / 16.0 px from the projected pelvis, as close as the detector's own pelvis
  (8.1 / 16.4 px). Factor 1.
- thorax = mid-shoulders + 0.12 * (mid-shoulders - mid-hips): Human3.6M's thorax sits above its
  shoulders, at a median 0.13 of the hips-to-shoulders vector beyond them. Plain mid-shoulders are
  59 / 72 mm off on the mocap and 10.8 / 16.8 px on the detections; the rule gives 23 / 36 mm and
  6.1 / 13.4 px, nearer than the detector's own thorax (11.2 / 17.7 px). It needs both shoulders
  and both hips; without hips the thorax stays missing (mid-shoulders alone are too far off to be
  enforced). Factor 0.8: a calibrated rule, not a seen point.
- spine = midpoint of pelvis and thorax: Human3.6M's spine joint sits 0.47 of the way up that line
  but bends off it, 38 / 81 mm on the mocap; 5.6 / 14.1 px on the detections with the two rules
  above. Factor 0.6: derived from derived joints, and the spine bends.
- neck/nose <- a detector's nose: Human3.6M's 'Neck/Nose' marker sits 12 cm above the thorax and
  in front of the head's axis, about at the nose; a detector's nose tip is a stand-in a few cm off
  (not measurable here: MPII has no nose). Factor 0.7.
- head (top of head): COCO, BODY_25 and MediaPipe have none. Eyes and ears lie 8-12 cm below the
  crown in a direction that depends on the head's pitch, which 2D eyes and ears do not give: a
  guess, so it stays missing. BODY_25B and MPII detect a head top (BODY_25B learnt its HeadTop and
  UpperNeck from MPII's labels); it is taken as the head, as in the "mpii" mapping (MPII's head
  top lies about 20 px from the projected head on the Stacked-Hourglass detections, data README).
  BODY_25B's head top is *aimed at* (``Layout.aimed``, ``LiftConfig.aimed_joints``): on the
  Pose2Sim footage it sits far above the prior's head (295 mm above the thorax against about 236),
  so pinning its ray bent the whole pose; the pose is lifted without it and the head then turned
  onto its ray (Pose2Sim in video mode 85.6 / 59.5 -> 81.6 / 56.5 mm; docs/validation.md).

End to end (S9/S11 ground-truth 2D, every 640th frame, S = 1, the shipped prior): the same frames
given as COCO keypoints (nose = neck/nose) lift to 65.4 / 41.6 mm MPJPE / PA-MPJPE against 65.3 /
39.2 with all 17 joints; leaving pelvis, thorax and spine missing instead gives 71.8 / 42.4. On
the detections, deriving thorax and spine from MPII shoulders and hips instead of taking MPII's
thorax changes nothing (118.6 / 76.5 against 118.2 / 76.5 mm), so "mpii" keeps the measured mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .inputs import InputError, real_array
from .skeleton import JOINT_NAMES, NUM_JOINTS

# Confidence factors of the rules above (derived confidence = factor * weakest source).
PELVIS_FROM_HIPS = 1.0
THORAX_FROM_SHOULDERS_AND_HIPS = 0.8
SPINE_FROM_PELVIS_AND_THORAX = 0.6
NECK_NOSE_FROM_NOSE = 0.7
# The thorax lies this fraction of the mid-hips -> mid-shoulders vector beyond the mid-shoulders.
THORAX_ABOVE_SHOULDERS = 0.12

_H36M_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
_PELVIS, _SPINE, _THORAX = _H36M_INDEX["pelvis"], _H36M_INDEX["spine"], _H36M_INDEX["thorax"]
_R_HIP, _L_HIP = _H36M_INDEX["right_hip"], _H36M_INDEX["left_hip"]
_R_SHOULDER, _L_SHOULDER = _H36M_INDEX["right_shoulder"], _H36M_INDEX["left_shoulder"]


class LayoutError(InputError):
    """An unknown layout name, or keypoints whose joint count does not fit the layout."""


@dataclass(frozen=True)
class Layout:
    """A detector's keypoint layout and how it feeds the 17 joints.

    ``direct`` holds ``(h36m_joint, layout_joint, factor)``: the layout joint is taken as the
    Human3.6M joint with its confidence times ``factor``. ``derive`` says whether pelvis, thorax
    and spine missing after that are derived from hips and shoulders (see the module docstring).
    ``aimed`` names the Human3.6M joints this layout marks elsewhere than the prior does, to be
    aimed at rather than pinned (``LiftConfig.aimed_joints``)."""

    name: str
    joint_names: tuple[str, ...]
    description: str
    direct: tuple[tuple[int, int, float], ...] = ()
    derive: bool = False
    aimed: tuple[str, ...] = ()

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)


def _layout(
    name: str,
    joint_names: tuple[str, ...],
    description: str,
    direct: dict[str, str | tuple[str, float]],
    derive: bool,
    aimed: tuple[str, ...] = (),
) -> Layout:
    """Build a layout from ``{h36m joint name: layout joint name or (name, factor)}``."""
    index = {n: i for i, n in enumerate(joint_names)}
    entries = []
    for h36m_name, source in direct.items():
        source_name, factor = source if isinstance(source, tuple) else (source, 1.0)
        entries.append((_H36M_INDEX[h36m_name], index[source_name], factor))
    return Layout(name, joint_names, description, tuple(sorted(entries)), derive, aimed)


# The limbs every whole-body detector shares, by Human3.6M name -> the detector's name.
_LIMBS = ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")


def _limbs(spell: Callable[[str, str], str]) -> dict[str, str]:
    """``spell(side, limb)`` names the detector's joint; side is "left" or "right"."""
    return {f"{side}_{limb}": spell(side, limb) for side in ("right", "left") for limb in _LIMBS}


COCO_JOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
BODY25_JOINTS = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
    "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
    "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
COCO18_JOINTS = BODY25_JOINTS[:8] + BODY25_JOINTS[9:19]  # OpenPose COCO: BODY_25 without MidHip and feet
# OpenPose's experimental BODY_25B (openpose_train experimental_models): COCO-17 order, then MPII's
# upper neck and head top, then the feet of BODY_25.
BODY25B_JOINTS = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow", "LWrist",
    "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "UpperNeck", "HeadTop", "LBigToe",
    "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
MEDIAPIPE_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)  # fmt: skip
MPII_JOINTS = (
    "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax", "upper_neck",
    "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder", "l_elbow", "l_wrist",
)  # fmt: skip

_COCO_STYLE = _limbs(lambda side, limb: f"{side}_{limb}")
_OPENPOSE_STYLE = _limbs(lambda side, limb: f"{side[0].upper()}{limb.capitalize()}")
_MPII_STYLE = _limbs(lambda side, limb: f"{side[0]}_{limb}")
_NOSE = {"neck": ("nose", NECK_NOSE_FROM_NOSE)}
_OPENPOSE_NOSE = {"neck": ("Nose", NECK_NOSE_FROM_NOSE)}
_DERIVED = "pelvis, thorax and spine derived from hips and shoulders, head top missing"

# OpenPose's "Neck" is not taken as the thorax: it is trained on the midpoint of the shoulders,
# which is the 59 mm-off point the thorax rule corrects. Its "MidHip" is the midpoint of the hips,
# Human3.6M's pelvis by definition; the rule fills in for it when it is missing. MediaPipe gives
# landmarks in [0, 1] of the image: multiply by the image size first.
_ALL_LAYOUTS = (
    _layout("h36m", JOINT_NAMES, "Human3.6M 17 joints, the prior's own order", {n: n for n in JOINT_NAMES}, False),
    _layout("coco", COCO_JOINTS, f"COCO 17 keypoints; {_DERIVED}", _COCO_STYLE | _NOSE, True),
    _layout(
        "body25", BODY25_JOINTS, f"OpenPose BODY_25; pelvis = MidHip, {_DERIVED}",
        _OPENPOSE_STYLE | _OPENPOSE_NOSE | {"pelvis": "MidHip"}, True,
    ),
    _layout(
        "body25b", BODY25B_JOINTS, "OpenPose BODY_25B (first 17 in COCO order); head = HeadTop (aimed at), "
        "pelvis, thorax and spine derived from hips and shoulders",
        _OPENPOSE_STYLE | _OPENPOSE_NOSE | {"head": "HeadTop"}, True, aimed=("head",),
    ),
    _layout("coco18", COCO18_JOINTS, f"OpenPose COCO 18 keypoints; {_DERIVED}", _OPENPOSE_STYLE | _OPENPOSE_NOSE, True),
    _layout("mediapipe", MEDIAPIPE_JOINTS, f"MediaPipe Pose 33 landmarks; {_DERIVED}", _COCO_STYLE | _NOSE, True),
    # The Stacked-Hourglass detections' MPII joints as training.evaluate's default ("thorax")
    # mapping: MPII thorax on the Human3.6M thorax (the data README measures them ~10 px apart),
    # head top on head, spine and neck/nose missing; nothing derived, so the published evaluation
    # numbers stay reproducible.
    _layout(
        "mpii", MPII_JOINTS, "MPII 16 joints; thorax -> thorax, spine and neck/nose missing",
        _MPII_STYLE | {"pelvis": "pelvis", "thorax": "thorax", "head": "head_top"}, False,
    ),
    # The lifting literature's mapping (MPII thorax -> spine, upper neck -> thorax), kept for
    # comparison (training.evaluate --mapping usual). Its spine lies ~40 px from Human3.6M's (data
    # README), yet confidences are not lowered, so it reproduces the literature's protocol.
    _layout(
        "mpii_usual", MPII_JOINTS, "MPII 16 joints, the literature's mapping: thorax -> spine, upper neck -> thorax",
        _MPII_STYLE | {"pelvis": "pelvis", "spine": "thorax", "thorax": "upper_neck", "head": "head_top"}, False,
    ),
)
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in _ALL_LAYOUTS}

# The layout a joint count means when the caller does not say (17 is also COCO: callers must say;
# 25 is BODY_25 or BODY_25B: detect_layout tells them apart).
_DEFAULT_FOR_COUNT = {17: "h36m", 18: "coco18", 25: "body25", 33: "mediapipe", 16: "mpii"}
_ALSO_FOR_COUNT = {17: "coco", 25: "body25b"}


def _known_counts() -> str:
    by_count: dict[int, list[str]] = {}
    for layout in LAYOUTS.values():
        if layout.name != "mpii_usual":  # the same joints as "mpii"
            by_count.setdefault(layout.num_joints, []).append(layout.name)
    return ", ".join(f"{n} {'/'.join(names)}" for n, names in sorted(by_count.items()))


def get_layout(layout: str | Layout) -> Layout:
    """The :class:`Layout` named ``layout`` (a Layout passes through); LayoutError when unknown."""
    if isinstance(layout, Layout):
        return layout
    if layout not in LAYOUTS:
        raise LayoutError(f"unknown layout {layout!r} (known: {', '.join(LAYOUTS)})")
    return LAYOUTS[layout]


def layout_for_joint_count(n: int) -> str:
    """The default layout for ``n`` keypoints per frame (17 -> "h36m": COCO callers must say)."""
    if n not in _DEFAULT_FOR_COUNT:
        raise LayoutError(f"{n} keypoints per frame match no layout (known: {_known_counts()})")
    return _DEFAULT_FOR_COUNT[n]


# BODY_25 vs BODY_25B, by what each layout says of its own joints. A frame's residual for a layout
# is its largest offset below, over the diagonal of the box around the person's seen joints:
# BODY_25's joint 1 (Neck) lies midway between its shoulders (2, 5) and joint 8 (MidHip) midway
# between its hips (9, 12), by definition of its labels; BODY_25B's joints 1 and 2 (eyes) lie next
# to the nose (0). Real BODY_25B gives residuals an order of magnitude apart (docs/formats.md).
# The layout whose median residual is smaller by LAYOUT_25_MARGIN wins. Where no frame shows the
# face (a back view), BODY_25's residual alone decides: below / above these bounds.
LAYOUT_25_MARGIN = 2.0
BODY25_MAX_RESIDUAL = 0.05
BODY25B_MIN_RESIDUAL = 0.15


def _residual(kp: np.ndarray, pairs: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """Per frame, the largest |kp[a] - midpoint(kp[b], kp[c])| over ``pairs`` (b == c: kp[b]
    itself) over the diagonal of the box around the seen joints; NaN where no pair is seen."""
    off = np.stack([np.linalg.norm(kp[:, a] - 0.5 * (kp[:, b] + kp[:, c]), axis=-1) for a, b, c in pairs], axis=1)
    worst = np.fmax.reduce(off, axis=1)  # NaN only where no pair is seen
    seen = np.isfinite(kp[..., 0])
    low = np.where(seen[..., None], kp, np.inf).min(axis=1)
    high = np.where(seen[..., None], kp, -np.inf).max(axis=1)
    with np.errstate(invalid="ignore"):
        diagonal = np.linalg.norm(high - low, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(diagonal) & (diagonal > 0), worst / diagonal, np.nan)


def detect_layout(keypoints: object, confidence: object | None = None) -> tuple[str, str]:
    """The layout of ``(N,J,2)`` keypoints whose file does not name it, and a note saying how it
    was decided ("" when the joint count alone decides). 25 joints are BODY_25 or BODY_25B, told
    apart by geometry (see :data:`LAYOUT_25_MARGIN`); when the frames cannot tell, "body25" with a
    note saying so. Raises LayoutError for a joint count no layout has."""
    kp = np.array(keypoints, dtype=np.float64)
    if kp.ndim != 3 or kp.shape[2] != 2:
        raise LayoutError(f"keypoints must have shape (N, J, 2), got {kp.shape}")
    layout = layout_for_joint_count(kp.shape[1])
    if kp.shape[1] != 25:
        return layout, ""
    if confidence is not None:
        kp[np.asarray(confidence, dtype=np.float64) <= 0] = np.nan
    body25 = _residual(kp, ((1, 2, 5), (8, 9, 12)))
    body25b = _residual(kp, ((1, 0, 0), (2, 0, 0)))
    both = np.isfinite(body25) & np.isfinite(body25b)
    as_b = "joint 1 is not midway between the shoulders nor joint 8 between the hips"
    as_25 = "joint 1 lies midway between the shoulders and joint 8 between the hips"
    if both.any():
        # A floor (a fraction of a pixel on most people) keeps exact synthetic midpoints finite.
        floor = 1e-3
        ratio = float(np.exp(np.median(np.log((body25[both] + floor) / (body25b[both] + floor)))))
        if ratio >= LAYOUT_25_MARGIN:
            why = f"{as_b}, and joints 1 and 2 sit by the nose (eyes), in {int(both.sum())} frame(s)"
            return "body25b", f"25 keypoints per person read as BODY_25B: {why}; pass --layout body25 if this is wrong"
        if ratio <= 1.0 / LAYOUT_25_MARGIN:
            why = f"{as_25}, in {int(both.sum())} frame(s)"
            return "body25", f"25 keypoints per person read as BODY_25: {why}; pass --layout body25b if this is wrong"
    elif np.isfinite(body25).any():
        median = float(np.nanmedian(body25))
        frames = int(np.isfinite(body25).sum())
        if median >= BODY25B_MIN_RESIDUAL:
            return "body25b", f"25 keypoints per person read as BODY_25B: {as_b}, in {frames} frame(s); pass --layout body25 if this is wrong"
        if median <= BODY25_MAX_RESIDUAL:
            return "body25", f"25 keypoints per person read as BODY_25: {as_25}, in {frames} frame(s); pass --layout body25b if this is wrong"
    else:
        return "body25", "25 keypoints per person read as BODY_25: too few joints seen to tell it from BODY_25B; pass --layout body25b if this is wrong"
    return "body25", (
        "25 keypoints per person read as BODY_25, but the joints' positions could not tell it from BODY_25B; "
        "pass --layout body25b if this is wrong"
    )


def check_keypoints(keypoints: object, confidence: object | None, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """``(keypoints (N,J,2), confidence (N,J))`` as float64 for ``layout``; missing joints (NaN
    keypoint or confidence 0) come back as NaN with confidence 0. Raises InputError / LayoutError."""
    kp = real_array(keypoints, "keypoints", copy=True)
    J = layout.num_joints
    if kp.ndim != 3 or kp.shape[2] != 2 or kp.shape[1] != J:
        hint = ""
        if kp.ndim == 3 and kp.shape[2] == 2 and kp.shape[1] in _DEFAULT_FOR_COUNT:
            hint = f"; {kp.shape[1]} joints is layout '{_DEFAULT_FOR_COUNT[kp.shape[1]]}'"
            if kp.shape[1] in _ALSO_FOR_COUNT:
                hint += f" or '{_ALSO_FOR_COUNT[kp.shape[1]]}'"
        raise LayoutError(f"keypoints must have shape (N, {J}, 2) for layout '{layout.name}', got {kp.shape}{hint}")
    n = kp.shape[0]
    if n == 0:
        raise InputError("keypoints has zero frames")
    if np.isinf(kp).any():
        raise InputError(f"keypoints contain infinite values (first at frame {int(np.argwhere(np.isinf(kp))[0, 0])})")
    if confidence is None:
        conf = np.ones((n, J))
    else:
        conf = real_array(confidence, "confidence", copy=True)
        if conf.shape != (n, J):
            raise InputError(f"confidence must have shape ({n}, {J}), got {conf.shape}")
        if np.isnan(conf).any():
            raise InputError(f"confidence contains NaN (first at frame {int(np.argwhere(np.isnan(conf))[0, 0])})")
        outside = (conf < 0) | (conf > 1)
        if outside.any():
            frame, joint = (int(i) for i in np.argwhere(outside)[0])
            raise InputError(
                f"confidence must lie in [0, 1]; frame {frame} joint {joint} has {conf[frame, joint]:g}"
            )
    missing = np.isnan(kp).any(axis=-1) | (conf <= 0)
    kp[missing] = np.nan
    conf[missing] = 0.0
    return kp, conf


def _derive(
    kp: np.ndarray, conf: np.ndarray, joint: int, point: np.ndarray, source_conf: np.ndarray, factor: float
) -> None:
    """Fill ``joint`` with ``point`` (confidence ``factor * source_conf``) in the frames where it is
    missing and every source is present (``source_conf`` is the sources' minimum)."""
    fill = (conf[:, joint] <= 0) & (source_conf > 0)
    kp[fill, joint] = point[fill]
    conf[fill, joint] = factor * source_conf[fill]


def to_h36m(
    keypoints: object, confidence: object | None = None, layout: str | Layout = "h36m"
) -> tuple[np.ndarray, np.ndarray]:
    """Adapt ``(N,J,2)`` pixel keypoints of ``layout`` (NaN = missing) and their ``(N,J)``
    confidences in [0, 1] (None = 1 where finite) to the 17 joints.

    Returns ``(keypoints (N,17,2), confidence (N,17))``; missing joints are NaN with confidence 0.
    Derived joints and their confidences follow the module docstring."""
    spec = get_layout(layout)
    kp, conf = check_keypoints(keypoints, confidence, spec)
    n = kp.shape[0]
    out_kp = np.full((n, NUM_JOINTS, 2), np.nan)
    out_conf = np.zeros((n, NUM_JOINTS))
    for joint, source, factor in spec.direct:
        out_kp[:, joint] = kp[:, source]
        out_conf[:, joint] = factor * conf[:, source]
    if spec.derive:
        hips_conf = np.minimum(out_conf[:, _R_HIP], out_conf[:, _L_HIP])
        shoulders_conf = np.minimum(out_conf[:, _R_SHOULDER], out_conf[:, _L_SHOULDER])
        # NaN where a source is missing; _derive only fills where every source is present.
        mid_hips = 0.5 * (out_kp[:, _R_HIP] + out_kp[:, _L_HIP])
        mid_shoulders = 0.5 * (out_kp[:, _R_SHOULDER] + out_kp[:, _L_SHOULDER])
        thorax = mid_shoulders + THORAX_ABOVE_SHOULDERS * (mid_shoulders - mid_hips)
        _derive(out_kp, out_conf, _PELVIS, mid_hips, hips_conf, PELVIS_FROM_HIPS)
        torso_conf = np.minimum(hips_conf, shoulders_conf)
        _derive(out_kp, out_conf, _THORAX, thorax, torso_conf, THORAX_FROM_SHOULDERS_AND_HIPS)
        spine = 0.5 * (out_kp[:, _PELVIS] + out_kp[:, _THORAX])
        spine_conf = np.minimum(out_conf[:, _PELVIS], out_conf[:, _THORAX])
        _derive(out_kp, out_conf, _SPINE, spine, spine_conf, SPINE_FROM_PELVIS_AND_THORAX)
    out_kp[out_conf <= 0] = np.nan
    return out_kp, out_conf
