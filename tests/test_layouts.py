"""Detector layouts -> the 17 joints: copies, derived joints and their confidences, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest

from zedo_core.inputs import InputError
from zedo_core.layouts import (
    LAYOUTS,
    NECK_NOSE_FROM_NOSE,
    PELVIS_FROM_HIPS,
    SPINE_FROM_PELVIS_AND_THORAX,
    THORAX_ABOVE_SHOULDERS,
    THORAX_FROM_SHOULDERS_AND_HIPS,
    LayoutError,
    detect_layout,
    get_layout,
    layout_for_joint_count,
    to_h36m,
)
from zedo_core.skeleton import JOINT_NAMES

from conftest import K_SYNTH, T_POSE, project_np, rotation_y

# (4,17,2): exact projections of the T-pose turned about the vertical, 4.5 m away (its pelvis is
# the midpoint of its hips, as in Human3.6M).
KP17 = project_np(np.stack([T_POSE @ rotation_y(a).T + [0.2, 0.1, 4.5] for a in (-40, -10, 20, 60)]), K_SYNTH)
J = {name: i for i, name in enumerate(JOINT_NAMES)}
PELVIS, SPINE, THORAX, NECK, HEAD = J["pelvis"], J["spine"], J["thorax"], J["neck"], J["head"]
LIMB_NAMES = ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")
LIMBS = [f"{side}_{limb}" for side in ("left", "right") for limb in LIMB_NAMES]


def from_h36m(kp17: np.ndarray, layout: str) -> np.ndarray:
    """A detector's keypoints built from Human3.6M ones: limbs copied, nose = neck/nose, MidHip =
    pelvis, OpenPose Neck = thorax, face and feet points placed near head and ankles."""
    spec = LAYOUTS[layout]
    out = np.zeros((kp17.shape[0], spec.num_joints, 2))
    for j, name in enumerate(spec.joint_names):
        key = name.lower()
        for prefix, side in (("l", "left"), ("r", "right")):
            if len(key) > 1 and key[0] == prefix and key[1] != "_" and not key.startswith(side):
                key = f"{side}_{key[1:]}"  # OpenPose "LShoulder" -> "left_shoulder"
            if key.startswith(prefix + "_"):
                key = f"{side}_{key[2:]}"  # MPII "l_hip"
        stand_in = {
            "nose": NECK, "midhip": PELVIS, "neck": THORAX, "upper_neck": THORAX, "head_top": HEAD, "upperneck": THORAX,
            "headtop": HEAD,
        }  # fmt: skip
        if key in stand_in:
            out[:, j] = kp17[:, stand_in[key]]
        elif key in J:
            out[:, j] = kp17[:, J[key]]
        elif "ankle" not in key and any(part in key for part in ("toe", "heel", "foot")):
            side = J["left_ankle"] if key.startswith("left") else J["right_ankle"]
            out[:, j] = kp17[:, side] + [0.0, 5.0]
        else:  # eyes, ears, mouth, hands: near the head or wrists, never used by the adapters
            out[:, j] = kp17[:, HEAD] + [3.0 * j, 0.0]
    return out


def test_every_layout_is_consistent():
    assert set(LAYOUTS) == {"h36m", "coco", "body25", "body25b", "coco18", "mediapipe", "mpii", "mpii_usual"}
    counts = {"h36m": 17, "coco": 17, "body25": 25, "body25b": 25, "coco18": 18, "mediapipe": 33, "mpii": 16, "mpii_usual": 16}
    for name, layout in LAYOUTS.items():
        assert layout.name == name and layout.num_joints == counts[name] and layout.description
        assert len(set(layout.joint_names)) == layout.num_joints
        targets = [joint for joint, _, _ in layout.direct]
        assert len(set(targets)) == len(targets)  # each of the 17 joints fed once at most
        for joint, source, factor in layout.direct:
            assert 0 <= joint < 17 and 0 <= source < layout.num_joints and 0 < factor <= 1
    assert LAYOUTS["coco"].joint_names[:3] == ("nose", "left_eye", "right_eye")
    assert LAYOUTS["body25"].joint_names[8] == "MidHip" and LAYOUTS["body25"].joint_names[24] == "RHeel"
    # BODY_25B: COCO's 17 in COCO's order, then upper neck, head top and BODY_25's feet.
    coco_as_openpose = tuple(
        n.title().replace("Left_", "L").replace("Right_", "R") for n in LAYOUTS["coco"].joint_names
    )
    assert LAYOUTS["body25b"].joint_names[:17] == coco_as_openpose
    assert LAYOUTS["body25b"].joint_names[17:19] == ("UpperNeck", "HeadTop")
    assert LAYOUTS["body25b"].joint_names[19:] == LAYOUTS["body25"].joint_names[19:]
    # Only BODY_25B's head top is aimed at (docs/validation.md); MPII's head top stays pinned.
    assert {name: layout.aimed for name, layout in LAYOUTS.items() if layout.aimed} == {"body25b": ("head",)}
    assert LAYOUTS["mediapipe"].joint_names[23:25] == ("left_hip", "right_hip")
    assert LAYOUTS["coco18"].joint_names == LAYOUTS["body25"].joint_names[:8] + LAYOUTS["body25"].joint_names[9:19]


def test_h36m_is_the_identity():
    conf = np.linspace(0.1, 1.0, 4 * 17).reshape(4, 17)
    kp, out_conf = to_h36m(KP17, conf)
    np.testing.assert_array_equal(kp, KP17)
    np.testing.assert_array_equal(out_conf, conf)
    assert kp.dtype == np.float64 and kp is not KP17


def test_missing_joints_are_nan_with_confidence_zero():
    kp = KP17.copy()
    kp[0, 3] = np.nan
    kp[1, 5, 1] = np.nan  # one coordinate is enough
    conf = np.ones((4, 17))
    conf[2, 7] = 0.0
    out, out_conf = to_h36m(kp, conf, "h36m")
    for frame, joint in ((0, 3), (1, 5), (2, 7)):
        assert np.isnan(out[frame, joint]).all() and out_conf[frame, joint] == 0.0
    assert (out_conf > 0).sum() == 4 * 17 - 3
    assert np.isfinite(out[out_conf > 0]).all()


@pytest.mark.parametrize("layout", ["coco", "body25", "body25b", "coco18", "mediapipe"])
def test_whole_body_layouts_copy_limbs_and_derive_the_torso(layout):
    kp, conf = to_h36m(from_h36m(KP17, layout), layout=layout)
    for name in LIMBS:
        np.testing.assert_array_equal(kp[:, J[name]], KP17[:, J[name]])
        np.testing.assert_array_equal(conf[:, J[name]], 1.0)
    # The T-pose's pelvis is the midpoint of its hips; in the image up to perspective (< 1 px here).
    np.testing.assert_allclose(kp[:, PELVIS], KP17[:, PELVIS], atol=1.0)
    np.testing.assert_array_equal(conf[:, PELVIS], PELVIS_FROM_HIPS)
    # Thorax 0.12 of the torso above the mid-shoulders: nearer the true thorax than mid-shoulders.
    mid_shoulders = 0.5 * (KP17[:, J["left_shoulder"]] + KP17[:, J["right_shoulder"]])
    mid_hips = 0.5 * (KP17[:, J["left_hip"]] + KP17[:, J["right_hip"]])
    assert THORAX_ABOVE_SHOULDERS == 0.12
    np.testing.assert_allclose(kp[:, THORAX], mid_shoulders + 0.12 * (mid_shoulders - mid_hips))
    error = np.linalg.norm(kp[:, THORAX] - KP17[:, THORAX], axis=-1)
    assert (error < np.linalg.norm(mid_shoulders - KP17[:, THORAX], axis=-1)).all()
    np.testing.assert_array_equal(conf[:, THORAX], THORAX_FROM_SHOULDERS_AND_HIPS)
    np.testing.assert_allclose(kp[:, SPINE], 0.5 * (kp[:, PELVIS] + kp[:, THORAX]))
    assert (np.linalg.norm(kp[:, SPINE] - KP17[:, SPINE], axis=-1) < 10).all()
    np.testing.assert_allclose(conf[:, SPINE], THORAX_FROM_SHOULDERS_AND_HIPS * SPINE_FROM_PELVIS_AND_THORAX)
    # Neck/nose from the nose, at a lower confidence; the head top only where the layout has one.
    np.testing.assert_array_equal(kp[:, NECK], KP17[:, NECK])
    np.testing.assert_array_equal(conf[:, NECK], NECK_NOSE_FROM_NOSE)
    if layout == "body25b":
        np.testing.assert_array_equal(kp[:, HEAD], KP17[:, HEAD])
        np.testing.assert_array_equal(conf[:, HEAD], 1.0)
    else:
        assert np.isnan(kp[:, HEAD]).all() and (conf[:, HEAD] == 0).all()


def test_derived_confidence_is_a_fraction_of_its_weakest_source():
    coco = from_h36m(KP17, "coco")
    conf = np.full((4, 17), 0.9)
    names = LAYOUTS["coco"].joint_names
    conf[:, names.index("left_hip")] = [0.5, 0.9, 0.9, 0.9]
    conf[:, names.index("right_shoulder")] = [0.9, 0.3, 0.9, 0.9]
    conf[:, names.index("nose")] = [0.9, 0.9, 0.2, 0.9]
    _, out = to_h36m(coco, conf, "coco")
    np.testing.assert_allclose(out[:, PELVIS], [0.5, 0.9, 0.9, 0.9])
    np.testing.assert_allclose(out[:, THORAX], 0.8 * np.array([0.5, 0.3, 0.9, 0.9]))
    np.testing.assert_allclose(out[:, SPINE], 0.6 * 0.8 * np.array([0.5, 0.3, 0.9, 0.9]))
    np.testing.assert_allclose(out[:, NECK], 0.7 * np.array([0.9, 0.9, 0.2, 0.9]))


def test_derived_joints_need_all_their_sources():
    coco = from_h36m(KP17, "coco")
    names = LAYOUTS["coco"].joint_names
    coco[0, names.index("right_hip")] = np.nan  # no pelvis, thorax or spine
    conf = np.ones((4, 17))
    conf[1, names.index("left_shoulder")] = 0.0  # pelvis, but no thorax or spine
    kp, out = to_h36m(coco, conf, "coco")
    assert out[0, PELVIS] == out[0, THORAX] == out[0, SPINE] == 0 and np.isnan(kp[0, [PELVIS, THORAX, SPINE]]).all()
    assert out[1, PELVIS] == 1.0 and out[1, THORAX] == out[1, SPINE] == 0 and np.isnan(kp[1, [THORAX, SPINE]]).all()
    assert (out[2:, [PELVIS, THORAX, SPINE]] > 0).all()
    assert np.isnan(kp[0, J["right_hip"]]).all() and np.isfinite(kp[0, J["left_hip"]]).all()


def test_body25_takes_midhip_and_falls_back_to_the_hips():
    body = from_h36m(KP17, "body25")
    body[:, 8] += [2.0, 1.0]  # MidHip, a little off the hips' midpoint
    conf = np.ones((4, 25))
    conf[:, 8] = 0.7
    conf[1, 8] = 0.0  # MidHip missing on frame 1: derived from the hips
    kp, out = to_h36m(body, conf, "body25")
    np.testing.assert_allclose(kp[[0, 2, 3], PELVIS], KP17[[0, 2, 3], PELVIS] + [2.0, 1.0])
    np.testing.assert_allclose(out[:, PELVIS], [0.7, 1.0, 0.7, 0.7])
    np.testing.assert_allclose(kp[1, PELVIS], KP17[1, PELVIS], atol=1.0)
    # OpenPose's "Neck" (the mid-shoulders) is not taken as the thorax: the rule's thorax is nearer.
    np.testing.assert_allclose(out[:, THORAX], 0.8)


# The Stacked-Hourglass mapping training.evaluate used before the layouts existed (None = missing).
OLD_MPII = {
    "mpii": (6, 2, 1, 0, 3, 4, 5, None, 7, None, 9, 13, 14, 15, 12, 11, 10),
    "mpii_usual": (6, 2, 1, 0, 3, 4, 5, 7, 8, None, 9, 13, 14, 15, 12, 11, 10),
}


@pytest.mark.parametrize("layout", sorted(OLD_MPII))
def test_mpii_layouts_reproduce_the_evaluation_mapping(layout):
    mpii = np.random.default_rng(0).uniform(50, 950, size=(5, 16, 2))
    kp, conf = to_h36m(mpii, layout=layout)
    for joint, source in enumerate(OLD_MPII[layout]):
        if source is None:
            assert np.isnan(kp[:, joint]).all() and (conf[:, joint] == 0).all()
        else:
            np.testing.assert_array_equal(kp[:, joint], mpii[:, source])
            np.testing.assert_array_equal(conf[:, joint], 1.0)


def test_layout_for_joint_count():
    counts = (16, 17, 18, 25, 33)
    assert [layout_for_joint_count(n) for n in counts] == ["mpii", "h36m", "coco18", "body25", "mediapipe"]
    with pytest.raises(LayoutError) as info:
        layout_for_joint_count(20)
    message = str(info.value)
    assert message.startswith("20 keypoints per frame match no layout (known: ")
    for part in ("17 h36m/coco", "25 body25", "33 mediapipe", "16 mpii", "18 coco18"):
        assert part in message
    assert "mpii_usual" not in message


def _body25_and_body25b(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same frames as BODY_25 (neck and mid-hip a few pixels off the midpoints, as a detector
    puts them) and as BODY_25B."""
    body25 = from_h36m(frames, "body25")
    names = LAYOUTS["body25"].joint_names
    body25[:, names.index("Neck")] = 0.5 * (body25[:, names.index("LShoulder")] + body25[:, names.index("RShoulder")]) + [2.0, -3.0]
    body25[:, names.index("MidHip")] += [-2.0, 2.0]
    body25b = from_h36m(frames, "body25b")
    names = LAYOUTS["body25b"].joint_names
    for eye, dx in (("LEye", 6.0), ("REye", -6.0)):  # eyes beside the nose, a little above it
        body25b[:, names.index(eye)] = body25b[:, names.index("Nose")] + [dx, -4.0]
    return body25, body25b


def test_detect_layout_tells_body25_from_body25b():
    body25, body25b = _body25_and_body25b(KP17)
    layout, note = detect_layout(body25)
    assert layout == "body25" and note.startswith("25 keypoints per person read as BODY_25: joint 1 lies midway")
    assert "in 4 frame(s)" in note and "--layout body25b" in note
    layout, note = detect_layout(body25b)
    assert layout == "body25b" and note.startswith("25 keypoints per person read as BODY_25B:") and "--layout body25" in note
    # A back view (no nose): BODY_25's residual alone decides.
    back = np.ones((4, 25))
    back[:, 0] = 0.0
    assert detect_layout(body25, back)[0] == "body25" and detect_layout(body25b, back)[0] == "body25b"
    # Other joint counts: decided by the count, no note.
    assert detect_layout(np.zeros((2, 18, 2))) == ("coco18", "")
    assert detect_layout(np.zeros((2, 17, 2))) == ("h36m", "")
    with pytest.raises(LayoutError, match="20 keypoints per frame match no layout"):
        detect_layout(np.zeros((2, 20, 2)))


def test_detect_layout_says_when_it_cannot_tell():
    layout, note = detect_layout(np.full((3, 25, 2), np.nan))
    assert layout == "body25" and "too few joints seen" in note and "--layout body25b" in note
    # Joint 1 as far from the shoulders' midpoint (BODY_25's claim) as from joint 0 (BODY_25B's),
    # joint 2 on joint 0: neither layout fits better.
    body25, _ = _body25_and_body25b(KP17)
    tie = body25.copy()
    tie[:, 0] = tie[:, 2]
    tie[:, 1] = 0.5 * (tie[:, 2] + 0.5 * (tie[:, 2] + tie[:, 5]))
    tie[:, 8] = 0.5 * (tie[:, 9] + tie[:, 12])
    layout, note = detect_layout(tie)
    assert layout == "body25" and "could not tell it from BODY_25B" in note, note


def test_detect_layout_on_real_body25b(pose2sim_dir):
    """All four cameras of the Pose2Sim clip are BODY_25B; BODY_25 made from them is not."""
    from zedo_core.keypoint_files import read_keypoints

    for camera in ("cam01", "cam02", "cam03", "cam04"):
        seq = read_keypoints(pose2sim_dir / "openpose_main_person" / f"{camera}_json", layout="body25b")
        assert detect_layout(seq.keypoints, seq.confidence)[0] == "body25b", camera
        b25b = LAYOUTS["body25b"].joint_names
        body25 = np.stack([seq.keypoints[:, b25b.index(n)] if n in b25b else np.full((seq.num_frames, 2), np.nan)
                           for n in LAYOUTS["body25"].joint_names], axis=1)  # fmt: skip
        names = LAYOUTS["body25"].joint_names
        body25[:, names.index("Neck")] = 0.5 * (body25[:, names.index("LShoulder")] + body25[:, names.index("RShoulder")])
        body25[:, names.index("MidHip")] = 0.5 * (body25[:, names.index("LHip")] + body25[:, names.index("RHip")])
        assert detect_layout(body25)[0] == "body25", camera
        lifted = read_keypoints(pose2sim_dir / "openpose_main_person" / f"{camera}_json").to_h36m()
        assert lifted.aimed == ("head",) and (lifted.confidence[:, JOINT_NAMES.index("head")] > 0).any()


def test_layout_error_is_an_input_error():
    assert issubclass(LayoutError, InputError) and issubclass(LayoutError, ValueError)
    assert get_layout(LAYOUTS["coco"]) is LAYOUTS["coco"]


BAD = [
    ("unknown layout", dict(layout="foo"), ["unknown layout 'foo'", "known: h36m, coco, body25"]),
    ("wrong joint count", dict(keypoints=np.zeros((2, 25, 2)), layout="coco"),
     ["(N, 17, 2)", "'coco'", "(2, 25, 2)", "'body25'"]),
    ("17 for body25", dict(keypoints=np.zeros((2, 17, 2)), layout="body25"), ["(N, 25, 2)", "'h36m' or 'coco'"]),
    ("25 for coco", dict(keypoints=np.zeros((2, 25, 2)), layout="coco"), ["(N, 17, 2)", "'body25' or 'body25b'"]),
    ("not 2D", dict(keypoints=np.zeros((2, 17, 3))), ["(N, 17, 2)", "(2, 17, 3)"]),
    ("one frame unbatched", dict(keypoints=np.zeros((17, 2))), ["(N, 17, 2)", "(17, 2)"]),
    ("zero frames", dict(keypoints=np.zeros((0, 17, 2))), ["zero frames"]),
    ("text", dict(keypoints=[["a"]]), ["keypoints", "numeric"]),
    ("infinite", dict(keypoints=np.where(np.arange(4)[:, None, None] == 2, np.inf, KP17)), ["infinite", "frame 2"]),
    ("confidence shape", dict(confidence=np.ones((4, 16))), ["confidence", "(4, 17)", "(4, 16)"]),
    ("confidence NaN", dict(confidence=np.where(np.arange(17) == 3, np.nan, np.ones((4, 17)))), ["NaN", "frame 0"]),
    ("confidence > 1", dict(confidence=np.where(np.arange(17) == 5, 1.5, np.ones((4, 17)))),
     ["[0, 1]", "frame 0 joint 5", "1.5"]),
]  # fmt: skip


@pytest.mark.parametrize("args, words", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_inputs_raise_one_clear_error(args, words):
    args = dict(keypoints=KP17, confidence=None, layout="h36m") | args
    with pytest.raises(InputError) as info:
        to_h36m(args["keypoints"], args["confidence"], args["layout"])
    assert "\n" not in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_derivations_on_real_detections(h36m_dir):
    """The module docstring's numbers: on the Stacked-Hourglass detections (MPII shoulders and hips,
    drawn like COCO's), the derived thorax lies nearer the projected Human3.6M thorax than MPII's
    own thorax or the mid-shoulders, and the derived pelvis as near as MPII's pelvis."""
    from training.h36m import load_cameras, load_detections, load_poses, project

    poses = load_poses(h36m_dir, ("S9",))
    cameras = load_cameras(h36m_dir)["S9"]
    detections = load_detections(h36m_dir)
    truth, mpii = [], []
    for key, world in poses.items():
        for cam_id, cam in cameras.items():
            det = detections.get(f"{key}/{cam_id}")
            if det is not None:
                idx = np.arange(0, min(len(det), len(world)), 400)
                truth.append(project(cam.world_to_camera_m(world[idx]), cam.K))
                mpii.append(det[idx])
    truth, mpii = np.concatenate(truth), np.concatenate(mpii)
    assert len(truth) > 200
    # The MPII detections as COCO keypoints (limbs only; the face is not needed for the torso).
    coco = np.full((len(mpii), 17, 2), np.nan)
    names = LAYOUTS["coco"].joint_names
    legs = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle")
    arms = ("right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist")
    for name, source in zip(legs + arms, [*range(6), *range(10, 16)]):
        coco[:, names.index(name)] = mpii[:, source]
    kp, _ = to_h36m(coco, layout="coco")

    def median_px(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.median(np.linalg.norm(a - b, axis=-1)))

    mid_shoulders = 0.5 * (mpii[:, 12] + mpii[:, 13])
    thorax = median_px(kp[:, THORAX], truth[:, THORAX])
    assert thorax < 0.75 * median_px(mpii[:, 7], truth[:, THORAX])
    assert thorax < 0.75 * median_px(mid_shoulders, truth[:, THORAX])
    assert median_px(kp[:, PELVIS], truth[:, PELVIS]) < 1.1 * median_px(mpii[:, 6], truth[:, PELVIS])
    assert median_px(kp[:, SPINE], truth[:, SPINE]) < 0.25 * median_px(mpii[:, 7], truth[:, SPINE])
