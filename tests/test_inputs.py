"""Input validation: one InputError naming the problem; NaN keypoints become missing joints."""

from __future__ import annotations

import numpy as np
import pytest

from zedo_core.inputs import InputError, validate_inputs

from conftest import synthetic_camera_data

_, K, KP = synthetic_camera_data(3)


def _with(array: np.ndarray, index, value) -> np.ndarray:
    out = np.array(array, dtype=np.float64, copy=True)
    out[index] = value
    return out


def test_valid_inputs_are_normalised():
    out = validate_inputs(KP, K)
    assert out.keypoints.shape == (3, 17, 2)
    assert out.K.shape == (3, 3, 3) and not out.K.flags.writeable  # one camera shared by every frame
    np.testing.assert_array_equal(out.K, np.broadcast_to(K, (3, 3, 3)))
    np.testing.assert_array_equal(out.confidence, np.ones((3, 17)))
    np.testing.assert_array_equal(out.valid, [True, True, True])
    per_frame = validate_inputs(KP, np.stack([K] * 3))
    assert per_frame.K.flags.c_contiguous and per_frame.K.flags.writeable


def test_a_long_float32_clip_is_not_copied_and_never_written():
    kp, conf = KP.astype(np.float32), np.full((3, 17), 0.5, dtype=np.float32)
    out = validate_inputs(kp, K, conf)
    assert out.keypoints is kp and out.confidence is conf  # nothing to change: no copy
    assert validate_inputs(KP, K).keypoints.dtype == np.float64
    holed = _with(KP, (1, 4), np.nan).astype(np.float32)
    before = holed.copy()
    out = validate_inputs(holed, K, conf)
    assert out.keypoints.dtype == np.float32 and out.keypoints[1, 4].tolist() == [0.0, 0.0] and out.confidence[1, 4] == 0
    np.testing.assert_array_equal(holed, before)  # the caller's arrays are left alone
    assert conf[1, 4] == 0.5


def test_nan_keypoints_become_missing_joints():
    kp = _with(KP, (1, 4), np.nan)
    kp[2, 7, 0] = np.nan  # one coordinate is enough
    out = validate_inputs(kp, K, np.full((3, 17), 0.8))
    assert out.confidence[1, 4] == 0.0 and out.confidence[2, 7] == 0.0
    assert (out.confidence > 0).sum() == 3 * 17 - 2
    assert np.isfinite(out.keypoints).all()


def test_frames_with_fewer_than_four_joints_are_invalid():
    conf = np.ones((3, 17))
    conf[0, 3:] = 0.0  # 3 joints
    conf[1, 4:] = 0.0  # 4 joints: enough
    kp = _with(KP, (2, slice(3, None)), np.nan)  # 3 finite joints
    np.testing.assert_array_equal(validate_inputs(kp, K, conf).valid, [False, True, False])


BAD_INPUTS = [
    ("keypoints shape", dict(keypoints=np.zeros((3, 17, 3))), ["keypoints", "shape", "(3, 17, 3)"]),
    ("keypoints 2d", dict(keypoints=np.zeros((17, 2))), ["keypoints", "shape"]),
    ("keypoints joints", dict(keypoints=np.zeros((3, 16, 2))), ["keypoints", "(3, 16, 2)"]),
    ("zero frames", dict(keypoints=np.zeros((0, 17, 2))), ["zero frames"]),
    ("inf keypoints", dict(keypoints=_with(KP, (1, 3, 0), np.inf)), ["infinite", "frame 1"]),
    ("-inf keypoints", dict(keypoints=_with(KP, (2, 0, 1), -np.inf)), ["infinite", "frame 2"]),
    ("text keypoints", dict(keypoints=[["a"]]), ["keypoints", "numeric"]),
    ("NaN K", dict(K=_with(K, (0, 2), np.nan)), ["K", "NaN"]),
    ("NaN per-frame K", dict(K=_with(np.broadcast_to(K, (3, 3, 3)), (2, 0, 0), np.nan)), ["K", "NaN", "frame 2"]),
    ("inf K", dict(K=_with(K, (1, 1), np.inf)), ["K", "infinite"]),
    ("singular K", dict(K=np.array([[1100.0, 0, 500], [0, 1100, 500], [0, 0, 0]])), ["K", "not invertible"]),
    ("zero K", dict(K=np.zeros((3, 3))), ["K", "not invertible"]),
    ("singular frame", dict(K=_with(np.broadcast_to(K, (3, 3, 3)), (1, 1, 1), 0.0)), ["not invertible", "frame 1"]),
    ("K shape", dict(K=np.eye(4)), ["K", "shape", "(4, 4)"]),
    ("K frames", dict(K=np.broadcast_to(K, (2, 3, 3))), ["K", "shape", "(2, 3, 3)"]),
    ("confidence shape", dict(confidence=np.ones((3, 16))), ["confidence", "shape", "(3, 16)"]),
    ("confidence frames", dict(confidence=np.ones(17)), ["confidence", "shape"]),
    ("confidence < 0", dict(confidence=_with(np.ones((3, 17)), (1, 5), -0.1)), ["confidence", "[0, 1]", "frame 1", "joint 5", "-0.1"]),
    ("confidence > 1", dict(confidence=_with(np.ones((3, 17)), (2, 16), 1.5)), ["confidence", "frame 2", "joint 16", "1.5"]),
    ("confidence inf", dict(confidence=_with(np.ones((3, 17)), (0, 2), np.inf)), ["confidence", "frame 0", "joint 2"]),
    ("NaN confidence", dict(confidence=_with(np.ones((3, 17)), (2, 3), np.nan)), ["confidence", "NaN", "frame 2"]),
]


@pytest.mark.parametrize("override, expected", [b[1:] for b in BAD_INPUTS], ids=[b[0] for b in BAD_INPUTS])
def test_bad_inputs_raise_input_error_naming_the_problem(override, expected):
    args = dict(keypoints=KP, K=K, confidence=None) | override
    with pytest.raises(InputError) as info:
        validate_inputs(args["keypoints"], args["K"], args["confidence"])
    for part in expected:
        assert part in str(info.value)


def test_input_error_is_a_value_error():
    assert issubclass(InputError, ValueError)


def test_checks_of_a_long_clip_name_the_frame_in_a_later_block():
    """The per-frame checks run in blocks of frames: what they find past the first block is
    reported with its own frame and joint, and the results equal a clip checked whole."""
    n = 10_000
    kp = np.tile(KP, (n // 3 + 1, 1, 1))[:n].astype(np.float32)
    conf = np.ones((n, 17), dtype=np.float32)
    bad_conf = conf.copy()
    bad_conf[9001, 3] = 1.5
    with pytest.raises(InputError, match="frame 9001 joint 3"):
        validate_inputs(kp, K, bad_conf)
    far = kp.copy()
    far[5000, 6] = (1e9, 0.0)
    with pytest.raises(InputError, match="frame 5000 joint 6"):
        validate_inputs(far, K, conf)
    holes = kp.copy()
    holes[7000, :14] = np.nan  # 3 joints left: too few
    holes[8000, 2] = np.nan
    out = validate_inputs(holes, K, conf)
    assert np.flatnonzero(~out.valid).tolist() == [7000]
    assert out.confidence[8000, 2] == 0 and out.keypoints[8000, 2].tolist() == [0.0, 0.0]
    short = validate_inputs(holes[6990:8010], K, conf[6990:8010])
    np.testing.assert_array_equal(short.keypoints, out.keypoints[6990:8010])
    np.testing.assert_array_equal(short.valid, out.valid[6990:8010])
