"""A person's body: measuring it from lifted poses, its file, and the bone-length pull."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import T_POSE, one_line_input_error

from zedo_core.body import median_bone_lengths, read_body, write_body
from zedo_core.skeleton import BONE_CHILDREN, BONE_NAMES, BONE_PARENTS, NUM_BONES, bone_lengths, pull_bone_lengths


def test_median_bone_lengths_over_finite_poses_of_any_leading_shape():
    rng = np.random.default_rng(0)
    poses = T_POSE[None, None] * rng.uniform(0.9, 1.1, size=(6, 2, 1, 1))
    poses[2, 1, 5] = np.nan  # a pose with a missing joint is left out whole
    lengths = median_bone_lengths(poses)
    finite = np.delete(poses.reshape(12, 17, 3), 5, axis=0)
    np.testing.assert_allclose(lengths, np.median(bone_lengths(finite), axis=0), rtol=1e-12)
    assert lengths.shape == (NUM_BONES,)
    assert "no finite pose" in one_line_input_error(median_bone_lengths, np.full((3, 17, 3), np.nan))
    assert "(..., 17, 3)" in one_line_input_error(median_bone_lengths, np.zeros((3, 16, 3)))


def test_a_body_file_round_trips_with_named_bones(tmp_path):
    lengths = bone_lengths(T_POSE)
    path = tmp_path / "actor.json"
    write_body(path, lengths)
    document = json.loads(path.read_text())
    assert document["format"] == "zedo-body" and document["unit"] == "m"
    assert list(document["bone_lengths"]) == list(BONE_NAMES) and "pelvis-right_hip" in document["bone_lengths"]
    np.testing.assert_allclose(read_body(path), lengths, atol=5e-6)


def _body_file(tmp_path, **changes):
    document = {"format": "zedo-body", "version": 1, "unit": "m", "bone_lengths": dict(zip(BONE_NAMES, [0.2] * NUM_BONES))}
    for key, value in changes.items():
        if key in document:
            document[key] = value
        else:
            document["bone_lengths"][key.replace("__", "-")] = value
    path = tmp_path / "body.json"
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(format="something"), ["not a body file"]),
        (dict(version=7), ["version 7"]),
        (dict(unit="mm"), ['"unit"']),
        (dict(bone_lengths=[0.2] * 16), ['"bone_lengths"']),
        (dict(pelvis__right_hip=-0.1), ["'pelvis-right_hip'", "-0.1"]),
        (dict(spine__thorax="long"), ["'spine-thorax'"]),
        (dict(spine__thorax=True), ["'spine-thorax'"]),
        (dict(spine__thorax=float("inf")), ["'spine-thorax'"]),
        (dict(tail__tip=0.1), ["unknown bone", "'tail-tip'"]),
    ],
)
def test_a_bad_body_file_is_one_error_naming_the_file_and_key(tmp_path, changes, words):
    path = _body_file(tmp_path, **changes)
    message = one_line_input_error(read_body, path)
    for word in [str(path), *words]:
        assert word in message, message


def test_a_body_file_missing_a_bone_or_unreadable(tmp_path):
    path = _body_file(tmp_path)
    document = json.loads(path.read_text())
    del document["bone_lengths"]["neck-head"]
    path.write_text(json.dumps(document))
    assert "missing 'neck-head'" in one_line_input_error(read_body, path)
    path.write_text("{ not json")
    assert "not a readable JSON body file" in one_line_input_error(read_body, path)
    assert "no such body file" in one_line_input_error(read_body, tmp_path / "absent.json")


def test_pull_keeps_directions_and_root_and_skips_nan_targets():
    rng = np.random.default_rng(1)
    pose = (T_POSE + rng.normal(scale=0.02, size=(4, 17, 3))) + [0.1, 0.2, 3.0]
    target = np.full(NUM_BONES, 0.3)
    target[4] = np.nan
    full = pull_bone_lengths(pose, target, 1.0)
    lengths = bone_lengths(full)
    np.testing.assert_allclose(np.delete(lengths, 4, axis=1), 0.3, rtol=1e-12)
    np.testing.assert_allclose(lengths[:, 4], bone_lengths(pose)[:, 4], rtol=1e-12)  # NaN: kept
    np.testing.assert_array_equal(full[:, 0], pose[:, 0])

    def unit(p):
        b = p[:, BONE_CHILDREN] - p[:, BONE_PARENTS]
        return b / np.linalg.norm(b, axis=-1, keepdims=True)

    np.testing.assert_allclose(unit(full), unit(pose), atol=1e-12)
    half = bone_lengths(pull_bone_lengths(pose, target, 0.5))
    np.testing.assert_allclose(half[:, 0], 0.5 * (bone_lengths(pose)[:, 0] + 0.3), rtol=1e-12)


def test_pull_is_the_same_on_torch():
    torch = pytest.importorskip("torch")
    pose = T_POSE[None] * np.array([1.0, 1.1])[:, None, None]
    target = bone_lengths(T_POSE) * 0.9
    expected = pull_bone_lengths(pose, target, 0.4)
    got = pull_bone_lengths(torch.from_numpy(pose), torch.from_numpy(target), 0.4)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
