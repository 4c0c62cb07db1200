"""Lens distortion (OpenCV's pinhole and fisheye models): forward values, inverse round trips, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zedo_core.distortion import distort_points, undistort_points
from zedo_core.inputs import InputError

K = np.array([[1681.2, 0.0, 533.0], [0.0, 1681.1, 948.1], [0.0, 0.0, 1.0]])
POINTS = np.random.default_rng(0).uniform([0.0, 0.0], [1088.0, 1920.0], size=(400, 2))

# name -> (coefficients, fisheye); strengths from a phone's mild barrel to an action camera's.
MODELS = {
    "pose2sim k1 k2 p1 p2": ([-0.000721609375, 0.002187234375, 9.5e-06, 1.078125e-05], False),
    "barrel k1..k3": ([-0.30, 0.12, 0.001, -0.002, -0.02], False),
    "rational k1..k6": ([0.10, -0.05, 0.001, 0.002, 0.01, 0.05, -0.01, 0.002], False),
    "thin prism s1..s4": ([-0.25, 0.08, 0.001, -0.001, 0.0, 0.0, 0.0, 0.0, 0.001, -0.0005, 0.002, 0.0001], False),
    "zero tilt (14)": ([-0.2, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], False),
    "fisheye k1..k4": ([0.05, -0.01, 0.003, -0.001], True),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_undistort_inverts_distort(name):
    coefficients, fisheye = MODELS[name]
    observed = distort_points(POINTS, K, coefficients, fisheye)
    assert np.abs(observed - POINTS).max() > 0.05  # the lens does move the points
    back = undistort_points(observed, K, coefficients, fisheye)
    np.testing.assert_allclose(back, POINTS, atol=1e-5)
    # And the other way round: distorting what undistort gives returns the observation.
    np.testing.assert_allclose(distort_points(undistort_points(POINTS, K, coefficients, fisheye), K, coefficients, fisheye),
                               POINTS, atol=1e-5)  # fmt: skip


def test_forward_model_is_opencvs():
    """One point by hand with OpenCV's formulas (docs of cv::projectPoints and cv::fisheye)."""
    k1, k2, p1, p2, k3 = -0.3, 0.12, 0.001, -0.002, -0.02
    x, y = 0.2, -0.1  # normalised
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    pixel = [K[0, 0] * x + K[0, 2], K[1, 1] * y + K[1, 2]]
    np.testing.assert_allclose(distort_points(pixel, K, [k1, k2, p1, p2, k3]), [K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]])
    f1, f2, f3, f4 = 0.05, -0.01, 0.003, -0.001
    theta = math.atan(math.hypot(x, y))
    theta_d = theta * (1 + f1 * theta**2 + f2 * theta**4 + f3 * theta**6 + f4 * theta**8)
    scale = theta_d / math.hypot(x, y)
    np.testing.assert_allclose(distort_points(pixel, K, [f1, f2, f3, f4], fisheye=True),
                               [K[0, 0] * x * scale + K[0, 2], K[1, 1] * y * scale + K[1, 2]])  # fmt: skip


def test_shapes_nan_and_no_distortion():
    kp = POINTS[:30].reshape(3, 10, 2).copy()
    kp[1, 4] = np.nan
    out = undistort_points(kp, K, MODELS["barrel k1..k3"][0])
    assert out.shape == (3, 10, 2) and np.isnan(out[1, 4]).all() and np.isfinite(np.delete(out.reshape(-1, 2), 14, 0)).all()
    np.testing.assert_array_equal(undistort_points(kp, K, []), kp)
    np.testing.assert_array_equal(undistort_points(kp, K, np.zeros(5)), kp)


def test_points_the_model_cannot_invert_are_nan():
    """Strong barrel distortion folds back beyond a radius: points past the fold have no inverse."""
    coefficients = [-0.5, 0.0, 0.0, 0.0]
    # Radius where d/dr [r (1 + k1 r^2)] = 0: r = 1 / sqrt(3 * 0.5); the lens map's largest radius.
    r_max = 1 / math.sqrt(1.5) * (1 - 0.5 / 1.5)
    inside = [K[0, 2] + 0.8 * r_max * K[0, 0], K[1, 2]]
    beyond = [K[0, 2] + 1.2 * r_max * K[0, 0], K[1, 2]]
    out = undistort_points([inside, beyond], K, coefficients)
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()


@pytest.mark.parametrize(
    "coefficients, fisheye, words",
    [
        ([0.1, 0.2, 0.3], False, ["4, 5, 8, 12 or 14 coefficients", "got 3"]),
        ([0.1] * 5, True, ["fisheye", "4 coefficients", "got 5"]),
        ([0.0] * 12 + [0.01, 0.0], False, ["tilted-sensor", "not supported"]),
        ([0.1, np.nan, 0.0, 0.0], False, ["NaN"]),
        (["a", "b", "c", "d"], False, ["numbers"]),
    ],
)
def test_bad_coefficients(coefficients, fisheye, words):
    with pytest.raises(InputError) as info:
        undistort_points(POINTS, K, coefficients, fisheye)
    for word in words:
        assert word in str(info.value)
