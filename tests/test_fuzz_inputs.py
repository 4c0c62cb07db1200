"""Bad, damaged and hostile inputs, faults and interruptions (issue 15), kept fixed.

Every reader and the CLI either succeed or fail with one line: InputError / exit status 2 for bad
input, exit status 1 for a failed write or a damaged prior, 130 for Ctrl-C, 143 for SIGTERM; no
output that is an input is ever written, and no partial file is left behind. Seeded and fast: the
CLI runs in-process with the tiny prior and a few iterations.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest

from zedo_core import cli
from zedo_core.inputs import InputError, LiftInputs, validate_inputs
from zedo_core.keypoint_files import KeypointSequence, read_keypoints
from zedo_core.lifting import LiftConfig, lift

from conftest import one_line_input_error, synthetic_camera_data

POSES, K, KP = synthetic_camera_data(3)
CONF = np.full((3, 17), 0.9)


# ------------------------------------------------------------------------------- crafted archives


def npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def lying_npy(shape: tuple[int, ...]) -> bytes:
    """An .npy whose header claims ``shape`` of float64 but which holds 160 bytes."""
    import io

    buffer = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + bytes(160)


def write_zip(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def good_members(**override: bytes) -> dict[str, bytes]:
    members = {"keypoints.npy": npy_bytes(KP), "K.npy": npy_bytes(K), "confidence.npy": npy_bytes(CONF)}
    members.update(override)
    return members


def data_offset(archive: bytes, info: zipfile.ZipInfo) -> int:
    """Where a member's (compressed) data starts: after its local header, name and extra field."""
    start = info.header_offset
    name_length, extra_length = np.frombuffer(archive[start + 26 : start + 30], dtype="<u2")
    return start + 30 + int(name_length) + int(extra_length)


def corrupt_deflate(path: Path) -> Path:
    """A compressed .npz whose keypoints' deflate stream starts with an invalid block type (zlib.error)."""
    rng = np.random.default_rng(1)
    np.savez_compressed(path, keypoints=rng.normal(size=(40, 17, 2)), K=K)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("keypoints.npy")
    data[data_offset(data, info)] = 0b111  # final block, type 3 (reserved)
    path.write_bytes(bytes(data))
    return path


def flip_stored_byte(path: Path) -> Path:
    """An uncompressed .npz with one bit flipped in the keypoints' data (the CRC no longer matches)."""
    np.savez(path, keypoints=KP, K=K)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("keypoints.npy")
    data[data_offset(data, info) + 200] ^= 0x10
    path.write_bytes(bytes(data))
    return path


# name -> (makes the file from a path ending .npz, words the one-line error contains)
BAD_NPZ = {
    "keypoints raw bytes": (lambda p: write_zip(p, good_members(**{"keypoints.npy": b"not an array"})), ["'keypoints'", "not a NumPy array"]),
    "keypoints member without .npy": (lambda p: write_zip(p, {"keypoints": b"\x00" * 80, "K.npy": npy_bytes(K)}), ["'keypoints'", "not a NumPy array"]),
    "layout raw bytes": (lambda p: write_zip(p, good_members(**{"layout.npy": b"coco"})), ["'layout'", "not a NumPy array"]),
    "corrupted deflate": (corrupt_deflate, ["in.npz", "cannot read"]),
    "flipped bit (CRC)": (flip_stored_byte, ["in.npz", "cannot read", "CRC"]),
    "header claims 25 GiB": (lambda p: write_zip(p, good_members(**{"keypoints.npy": lying_npy((10**8, 17, 2))})), ["'keypoints'", "damaged", "(100000000, 17, 2)"]),
    "header claims 247 TiB": (lambda p: write_zip(p, good_members(**{"keypoints.npy": lying_npy((10**12, 17, 2))})), ["'keypoints'", "damaged"]),
    "header claims 2**62 elements": (lambda p: write_zip(p, good_members(**{"K.npy": lying_npy((2**31, 2**31))})), ["'K'", "damaged"]),
    "object array": (lambda p: write_zip(p, good_members(**{"confidence.npy": _pickled_objects()})), ["'confidence'", "objects"]),
    "complex keypoints": (lambda p: (np.savez(p, keypoints=KP + 1j, K=K), p)[1], ["keypoints", "complex"]),
    "boolean keypoints": (lambda p: (np.savez(p, keypoints=KP > 500, K=K), p)[1], ["keypoints", "booleans"]),
    "text keypoints": (lambda p: (np.savez(p, keypoints=KP.astype(str), K=K), p)[1], ["keypoints", "numeric"]),
    "complex K": (lambda p: (np.savez(p, keypoints=KP, K=K.astype(complex)), p)[1], ["K", "complex"]),
    "boolean confidence": (lambda p: (np.savez(p, keypoints=KP, K=K, confidence=CONF > 0.5), p)[1], ["confidence", "booleans"]),
    "keypoints of 1e30": (lambda p: (np.savez(p, keypoints=np.where(np.arange(17)[:, None] == 4, 1e30, KP), K=K), p)[1],
                          ["frame 0 joint 4", "1e+30", "focal lengths"]),
    "K last row (0, 0, -1)": (lambda p: (np.savez(p, keypoints=KP, K=-K), p)[1], ["K's last row", "(0, 0, 1)"]),
    "K transposed": (lambda p: (np.savez(p, keypoints=KP, K=K.T), p)[1], ["K's last row", "transposed"]),
}  # fmt: skip


def _pickled_objects() -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    return buffer.getvalue()


READER_ONLY = {"keypoints of 1e30", "K last row (0, 0, -1)", "K transposed"}  # the reader passes K and values on


@pytest.mark.parametrize("case", [c for c in BAD_NPZ if c not in READER_ONLY])
def test_bad_npz_is_one_input_error_in_read_keypoints(tmp_path, case):
    make, words = BAD_NPZ[case]
    message = one_line_input_error(read_keypoints, make(tmp_path / "in.npz"))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("case", list(BAD_NPZ))
def test_bad_npz_exits_2_with_one_line_from_the_cli(tmp_path, tiny_prior_file, capsys, case):
    make, words = BAD_NPZ[case]
    src = make(tmp_path / "in.npz")
    before = src.read_bytes()
    code = cli.main(["lift", str(src), str(tmp_path / "out.npz"), "--prior", str(tiny_prior_file), "--iterations", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    for word in words:
        assert word in err[0], err[0]
    assert src.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.npz", "tiny_prior.npz"]


# ------------------------------------------------------------------------------------------- JSON


def coco_results(frames: int = 3) -> list[dict]:
    conf = np.ones((17, 1))
    return [{"image_id": i, "keypoints": np.concatenate([KP[i], conf], 1).ravel().tolist(), "score": 0.9} for i in range(frames)]


def with_value(index: int, value: object) -> str:
    """COCO results JSON text with keypoints value ``index`` of frame 1 replaced by ``value`` (as JSON text)."""
    entries = coco_results()
    entries[1]["keypoints"][index] = "@@"
    return json.dumps(entries).replace('"@@"', value)


BAD_JSON = {
    "integer 10**400": (with_value(0, str(10**400)), ["[1].keypoints", "too large"]),
    "integer of 5000 digits": (with_value(0, "9" * 5000), ["cannot read the JSON"]),
    "score 10**400": (json.dumps(coco_results()).replace("0.9", str(10**400), 1), ["in.json", "cannot read"]),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, ["nested too deeply"]),
    "nested in an entry": (json.dumps([{"image_id": 0, "keypoints": [[[[1]]]] * 51}]), ["numbers only"]),
    "boolean keypoint": (with_value(3, "true"), ["numbers only", "true"]),
    "text keypoint": (with_value(3, '"812.5"'), ["numbers only", "812.5"]),
    "null keypoint": (with_value(3, "null"), ["numbers only", "null"]),
    "NaN keypoint": (with_value(3, "NaN"), ["NaN or infinite"]),
    "unhashable image id": (json.dumps([{"image_id": [1], "keypoints": [1.0, 2.0, 1.0] * 17}]), []),
    "image width a list": (json.dumps({"images": [{"id": 0, "width": [1], "height": 2}], "annotations": coco_results(1)}), ["in.json"]),
}


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_bad_json_is_one_input_error(tmp_path, case):
    text, words = BAD_JSON[case]
    path = tmp_path / "in.json"
    path.write_text(text)
    try:
        result = read_keypoints(path)
    except InputError as error:
        message = str(error)
        assert "\n" not in message
        for word in words:
            assert word in message, message
    else:  # a few odd but harmless values are readable; then the result must be well-formed
        assert not words, f"expected an InputError naming {words}"
        assert_well_formed(result)


def assert_well_formed(seq: KeypointSequence) -> None:
    n, j = seq.keypoints.shape[:2]
    assert seq.keypoints.shape == (n, j, 2) and seq.confidence.shape == (n, j) and n > 0
    assert seq.keypoints.dtype == np.float64 and seq.confidence.dtype == np.float64
    assert ((seq.confidence >= 0) & (seq.confidence <= 1)).all()
    seen = seq.confidence > 0
    assert np.isfinite(seq.keypoints[seen]).all() and np.isnan(seq.keypoints[~seen]).all()


ODD_JSON_VALUES = [10**400, -(10**400), 1e308, -1e308, True, False, None, "12", "", [], {}, [[1]], {"id": 1}, 0, -1, 2**63, 1.5, float("nan")]


def _mutated(value: object, rng: np.random.Generator, rate: float) -> object:
    """``value`` with each node replaced, with probability ``rate``, by an odd JSON value."""
    if rng.random() < rate:
        return ODD_JSON_VALUES[rng.integers(len(ODD_JSON_VALUES))]
    if isinstance(value, list):
        return [_mutated(v, rng, rate) for v in value]
    if isinstance(value, dict):
        return {k: _mutated(v, rng, rate) for k, v in value.items()}
    return value


def _openpose_frame(frame: int) -> dict:
    triplets = np.concatenate([KP[frame % 3], np.full((17, 1), 0.8)], 1).ravel().tolist()
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": triplets}]}


def test_random_json_mutations_read_or_fail_with_one_line(tmp_path):
    rng = np.random.default_rng(15)
    dataset = {"images": [{"id": i, "file_name": f"f{i}.jpg", "width": 1000, "height": 1000} for i in range(3)],
               "annotations": coco_results()}  # fmt: skip
    sources = [coco_results(), dataset, _openpose_frame(0)]
    outcomes = {"read": 0, "refused": 0}
    for trial in range(240):
        data = _mutated(sources[trial % 3], rng, rate=[0.002, 0.01, 0.05][trial % 3 == 0 and 2 or trial % 2])
        path = tmp_path / f"case{trial}.json"
        path.write_text(json.dumps(data))
        try:
            assert_well_formed(read_keypoints(path))
            outcomes["read"] += 1
        except InputError as error:
            assert "\n" not in str(error) and str(path) in str(error), str(error)
            outcomes["refused"] += 1
    assert outcomes["read"] > 20 and outcomes["refused"] > 20, outcomes  # both paths exercised


def test_random_openpose_folders_read_or_fail_with_one_line(tmp_path):
    rng = np.random.default_rng(16)
    for trial in range(30):
        folder = tmp_path / f"clip{trial}"
        folder.mkdir()
        for frame in range(4):
            (folder / f"v_{frame:012d}_keypoints.json").write_text(json.dumps(_mutated(_openpose_frame(frame), rng, 0.02)))
        try:
            assert_well_formed(read_keypoints(folder))
        except InputError as error:
            assert "\n" not in str(error)


def test_random_npz_damage_reads_or_fails_with_one_line(tmp_path):
    rng = np.random.default_rng(17)
    clean = tmp_path / "clean.npz"
    np.savez_compressed(clean, keypoints=KP, K=K, confidence=CONF, fps=np.array(25.0), layout="h36m")
    original = clean.read_bytes()
    for trial in range(150):
        data = bytearray(original)
        kind = trial % 3
        if kind == 0:  # flip a few bytes
            for i in rng.integers(0, len(data), size=rng.integers(1, 4)):
                data[i] ^= int(rng.integers(1, 256))
        elif kind == 1:  # truncate
            data = data[: int(rng.integers(0, len(data)))]
        else:  # overwrite a run with random bytes
            start = int(rng.integers(0, len(data) - 16))
            data[start : start + 16] = rng.bytes(16)
        path = tmp_path / f"case{trial}.npz"
        path.write_bytes(bytes(data))
        for reader in (read_keypoints, cli.read_input):
            try:
                result = reader(path)
            except InputError as error:
                assert "\n" not in str(error), str(error)
            else:
                if reader is read_keypoints:
                    assert_well_formed(result)


# ---------------------------------------------------------------------------------- validate_inputs


def test_complex_boolean_and_text_arrays_are_refused():
    for name, args in {
        "keypoints": (KP + 0.5j, K, None),
        "K": (KP, K + 0j, None),
        "confidence": (KP, K, CONF + 0j),
    }.items():
        assert name in one_line_input_error(validate_inputs, *args) and "complex" in one_line_input_error(validate_inputs, *args)
    assert "booleans" in one_line_input_error(validate_inputs, KP > 400, K)
    assert "booleans" in one_line_input_error(validate_inputs, KP, K, CONF > 0.5)
    assert "numeric" in one_line_input_error(validate_inputs, KP.astype(str), K)
    assert "too large" in one_line_input_error(validate_inputs, [[[10**400, 1]] * 17], K)
    assert "real numbers" in one_line_input_error(validate_inputs, [[[None, 1]] * 17], K)
    # Integer arrays are numbers: accepted as they are.
    checked = validate_inputs(np.round(KP).astype(np.int32), K.astype(np.int64), (CONF > 0).astype(np.uint8))
    np.testing.assert_array_equal(checked.keypoints, np.round(KP))


def test_K_is_normalised_when_its_last_row_is_a_positive_multiple():
    base = validate_inputs(KP, K)
    for factor in (2.0, 1e-3, 1e3):
        scaled = validate_inputs(KP, factor * K)
        np.testing.assert_allclose(scaled.K, base.K, rtol=1e-12)
        np.testing.assert_array_equal(scaled.K[:, 2], [[0.0, 0.0, 1.0]] * 3)
    per_frame = np.stack([K, 2 * K, 5 * K])
    np.testing.assert_allclose(validate_inputs(KP, per_frame).K, base.K, rtol=1e-12)


@pytest.mark.parametrize(
    "last_row, words",
    [((0, 0, -1), ["(0, 0, 1)", "frame 0"]), ((0, 0, 0), ["not invertible"]), ((1e-3, 0, 1), ["(0, 0, 1)", "0.001"]),
     ((0, 2e-6, 1), ["(0, 0, 1)"])],
)  # fmt: skip
def test_K_whose_last_row_is_not_0_0_1_is_refused(last_row, words):
    bad = K.copy()
    bad[2] = last_row
    message = one_line_input_error(validate_inputs, KP, bad)
    for word in words:
        assert word in message, message


def test_K_lower_triangle_and_absurd_intrinsics_are_refused():
    bad = K.copy()
    bad[1, 0] = 50.0
    assert "K[1, 0]" in one_line_input_error(validate_inputs, KP, bad)
    assert "1e+07 px" in one_line_input_error(validate_inputs, KP, np.diag([1e8, 1e8, 1.0]))


def test_skewed_K_lifts_the_same_as_the_camera_without_skew(tiny_prior):
    """A skew (K[0,1]) is removed exactly: the same rays, so the same 3D poses as the unskewed
    camera that sees the same scene (today's loop ignored it: 92 m instead of 6.3 m in the issue)."""
    skewed = K.copy()
    skewed[0, 1] = 300.0
    uvw = POSES @ skewed.T
    kp_skewed = uvw[..., :2] / uvw[..., 2:]
    checked = validate_inputs(kp_skewed, skewed)
    np.testing.assert_allclose(checked.keypoints, KP, atol=1e-9)
    np.testing.assert_array_equal(checked.K[:, 0, 1], 0.0)
    config = LiftConfig(iterations=3)
    expected = lift(tiny_prior, KP, K, config=config)
    result = lift(tiny_prior, kp_skewed, skewed, config=config)
    np.testing.assert_allclose(result.poses3d, expected.poses3d, atol=1e-5)
    np.testing.assert_allclose(lift(tiny_prior, KP, 2 * K, config=config).poses3d, expected.poses3d, atol=1e-5)


def test_absurd_keypoints_are_refused_when_seen_and_dropped_when_missing():
    kp = KP.copy()
    kp[2, 5] = [1e30, 3.0]
    message = one_line_input_error(validate_inputs, kp, K)
    assert "frame 2 joint 5" in message and "1e+30" in message
    conf = CONF.copy()
    conf[2, 5] = 0.0  # the same value at a missing joint: ignored like a NaN
    checked = validate_inputs(kp, K, conf)
    assert checked.valid.all() and np.isfinite(checked.keypoints).all() and (checked.keypoints[2, 5] == 0).all()
    # A person far off-centre but inside any real image is accepted.
    assert validate_inputs(KP + 20_000.0, K).valid.all()


def test_random_arrays_validate_or_fail_with_one_line():
    rng = np.random.default_rng(18)
    specials = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 0.0, 1e12])

    def array(shape: tuple[int, ...], centre: float, spread: float) -> object:
        values = rng.normal(centre, spread, size=shape)
        holes = rng.random(shape) < (0.01 if rng.random() < 0.3 else 0.0)
        values[holes] = rng.choice(specials, size=int(holes.sum()))
        kind = rng.integers(8)
        if kind == 0:
            return values.astype(np.float32)
        if kind == 1:
            return values.astype(complex)
        if kind == 2:
            return values > centre
        if kind == 3:
            return np.round(values).astype(np.int64) if (np.abs(values) < 1e9).all() else values
        if kind == 4:
            return values.tolist()
        return values

    accepted = 0
    for trial in range(400):
        n = int(rng.integers(0, 4))
        kp_shape = (n, 17, 2) if rng.random() < 0.8 else (n, int(rng.integers(15, 19)), int(rng.integers(1, 4)))
        keypoints = array(kp_shape, 500.0, 200.0)
        camera = K.copy() if rng.random() < 0.5 else np.broadcast_to(K, (max(n, 1), 3, 3)).copy()
        camera = camera * rng.choice([1.0, 1.0, 2.0, -1.0, 1e-6])
        if rng.random() < 0.3:
            camera[..., int(rng.integers(3)), int(rng.integers(3))] = rng.choice(specials)
        confidence = None if rng.random() < 0.3 else np.clip(array((n, 17), 0.7, 0.4), -0.2, 1.2)
        try:
            checked = validate_inputs(keypoints, camera, confidence)
        except InputError as error:
            assert "\n" not in str(error)
            continue
        accepted += 1
        assert isinstance(checked, LiftInputs)
        assert np.isfinite(checked.keypoints).all() and np.isfinite(checked.K).all()
        np.testing.assert_array_equal(checked.K[:, 2], np.broadcast_to([0.0, 0.0, 1.0], (len(checked.K), 3)))
        assert ((checked.confidence >= 0) & (checked.confidence <= 1)).all()
        seen = checked.confidence > 0
        tangent = np.abs(checked.keypoints - checked.K[:, None, :2, 2]) / np.abs(checked.K[:, None, [0, 1], [0, 1]])
        assert (tangent[seen] <= 1000).all()
        assert (seen.sum(axis=1)[checked.valid] >= 4).all()
    assert accepted > 30


# --------------------------------------------------------------------------------------- the CLI


@pytest.fixture
def clip(tmp_path) -> Path:
    path = tmp_path / "in.npz"
    np.savez(path, keypoints=KP, K=K, confidence=CONF)
    return path


def run_main(capsys, *args: object) -> tuple[int, list[str]]:
    code = cli.main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


def no_work(*args, **kwargs):
    raise AssertionError("the run started although the arguments were refused")


def refused_same_path(capsys, monkeypatch, src: Path, out: Path, prior: Path) -> str:
    monkeypatch.setattr(cli, "lift", no_work)
    monkeypatch.setattr(cli, "read_input", no_work)
    before = src.read_bytes()
    code, err = run_main(capsys, "lift", src, out, "--prior", prior)
    assert code == 2 and len(err) == 1 and "refusing to overwrite" in err[0], err
    assert src.read_bytes() == before
    return err[0]


def test_output_that_is_the_input_is_refused_before_any_work(tmp_path, clip, tiny_prior_file, capsys, monkeypatch):
    refused_same_path(capsys, monkeypatch, clip, clip, tiny_prior_file)
    refused_same_path(capsys, monkeypatch, clip, tmp_path / "sub" / ".." / "in.npz", tiny_prior_file)
    (tmp_path / "link.npz").symlink_to(clip)
    refused_same_path(capsys, monkeypatch, clip, tmp_path / "link.npz", tiny_prior_file)
    refused_same_path(capsys, monkeypatch, tmp_path / "link.npz", clip, tiny_prior_file)
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
    refused_same_path(capsys, monkeypatch, clip, tmp_path / "alias" / "in.npz", tiny_prior_file)
    os.link(clip, tmp_path / "hard.npz")
    refused_same_path(capsys, monkeypatch, clip, tmp_path / "hard.npz", tiny_prior_file)
    refused_same_path(capsys, monkeypatch, clip, tiny_prior_file, tiny_prior_file)  # nor the prior


def test_negative_seed_is_a_usage_error(clip, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["lift", str(clip), str(clip.with_name("o.npz")), "--seed", "-1", "--hypotheses", "3"])
    assert info.value.code == 2 and "--seed" in capsys.readouterr().err


def test_output_that_is_a_folder_or_in_a_read_only_folder_is_refused(tmp_path, clip, tiny_prior_file, capsys, monkeypatch):
    folder = tmp_path / "x.npz"
    folder.mkdir()
    code, err = run_main(capsys, "lift", clip, folder, "--prior", tiny_prior_file)
    assert code == 2 and len(err) == 1 and "is a folder" in err[0], err
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores the mode: check what the run does with a denied folder
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
        code, err = run_main(capsys, "lift", clip, locked / "out.npz", "--prior", tiny_prior_file)
        assert code == 2 and len(err) == 1 and "not writable" in err[0], err
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def write_fault(monkeypatch, fault) -> None:
    """np.savez writes part of the file, then ``fault()`` happens (before it finishes)."""
    real_savez = np.savez

    def savez(file, **arrays):
        file.write(b"PK\x03\x04 part of an archive")
        file.flush()
        fault()
        real_savez(file, **arrays)

    monkeypatch.setattr(np, "savez", savez)


def raise_oserror(code: int):
    def fault():
        raise OSError(code, os.strerror(code))

    return fault


@pytest.mark.parametrize("fault, status, words", [
    (raise_oserror(errno.EFBIG), 1, ["error:", "cannot write the output", "File too large"]),
    (raise_oserror(errno.ENOSPC), 1, ["error:", "No space left on device"]),
    (lambda: os.kill(os.getpid(), signal.SIGTERM), 143, ["terminated"]),
    (lambda: os.kill(os.getpid(), signal.SIGINT), 130, ["cancelled"]),
])  # fmt: skip
def test_a_write_that_fails_or_is_interrupted_leaves_nothing(tmp_path, clip, tiny_prior_file, capsys, monkeypatch, fault, status, words):
    out = tmp_path / "out.npz"
    out.write_bytes(b"the user's earlier result")
    write_fault(monkeypatch, fault)
    # Ctrl-C as in a terminal, also when the suite itself runs in the background (SIGINT ignored).
    sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        code, err = run_main(capsys, "lift", clip, out, "--prior", tiny_prior_file, "--iterations", "2")
    finally:
        signal.signal(signal.SIGINT, sigint)
    assert code == status and len(err) == 1, err
    for word in words:
        assert word in err[0], err[0]
    assert out.read_bytes() == b"the user's earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz", "out.npz", "tiny_prior.npz"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "pickled code"])
def test_damaged_prior_is_one_line_without_pytorchs_advice(tmp_path, clip, tiny_prior_file, capsys, damage):
    prior = tmp_path / "damaged.pt"
    data = tiny_prior_file.read_bytes()
    if damage == "truncated":
        prior.write_bytes(data[: len(data) // 2])
    elif damage == "random bytes":
        prior.write_bytes(np.random.default_rng(0).bytes(4000))
    else:
        import pickle

        prior.write_bytes(pickle.dumps(os.system))  # what weights-only loading refuses
    code, err = run_main(capsys, "lift", clip, tmp_path / "out.npz", "--prior", prior, "--iterations", "2")
    assert code == 1 and len(err) == 1 and err[0].startswith("error:") and "damaged.pt" in err[0], err
    assert "weights_only" not in err[0] and "trust" not in err[0], err[0]
    assert not (tmp_path / "out.npz").exists()


def test_non_utf8_file_names(tmp_path, tiny_prior_file, capsys):
    src = Path(os.fsdecode(bytes(tmp_path) + b"/in\xff.npz"))
    out = Path(os.fsdecode(bytes(tmp_path) + b"/out\xfe.npz"))
    np.savez(src, keypoints=KP, K=K)
    code, err = run_main(capsys, "lift", src, out, "--prior", tiny_prior_file, "--iterations", "2")
    assert code == 0 and "out\\xfe.npz" in err[-1], err
    with np.load(out) as data:
        assert data["poses3d"].shape == (3, 17, 3)
    code, err = run_main(capsys, "lift", src, src, "--prior", tiny_prior_file)
    assert code == 2 and len(err) == 1 and "in\\xff.npz" in err[0], err
