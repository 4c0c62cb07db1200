"""Intrinsics for uncalibrated footage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from zedo_core import InputError
from zedo_core.intrinsics import DEFAULT_FOV_DEG, focal_from_fov, intrinsics_from_fov


def test_focal_from_field_of_view():
    assert focal_from_fov(1000, 90.0) == pytest.approx(500.0)
    # A 36 mm wide sensor behind a 26 mm lens (a phone's main camera) sees about 69 degrees.
    assert focal_from_fov(3600, 2 * math.degrees(math.atan(18 / 26))) == pytest.approx(2600.0)


def test_intrinsics_centre_the_principal_point():
    K = intrinsics_from_fov((1920, 1080))
    assert K[0, 2] == 960 and K[1, 2] == 540 and K[0, 0] == K[1, 1]
    half_width_angle = math.degrees(math.atan(960 / K[0, 0]))
    assert 2 * half_width_angle == pytest.approx(DEFAULT_FOV_DEG)
    np.testing.assert_array_equal(K[2], [0, 0, 1])


@pytest.mark.parametrize("size, fov", [((0, 100), 60.0), ((100, 100), 0.0), ((100, 100), 180.0)])
def test_bad_sizes_and_angles_are_rejected(size, fov):
    with pytest.raises(InputError):
        intrinsics_from_fov(size, fov)
