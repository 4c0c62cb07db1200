"""The prior file format, device selection, the score network and the shipped asset.

Numpy throughout (no PyTorch needed); reading the PyTorch files of formats 1 and 2 is tested where
torch is installed, and tests/test_backends.py checks the torch backend gives the same answers."""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import replace

import numpy as np
import pytest

import zedo_core.prior as prior_module
from zedo_core.lifting import LiftConfig
from zedo_core.network import NetworkConfig, ScoreNetwork, ensemble_noise, sinusoidal_embedding
from zedo_core.prior import (
    DEFAULT_PRIOR_PATH,
    PosePrior,
    PriorLoadError,
    checksum_path,
    file_sha256,
    load_prior,
    resolve_device,
)
from zedo_core.skeleton import LEFT_HIP, NUM_JOINTS, PARENTS, RIGHT_HIP, mirror

from conftest import TINY_NETWORK, random_network


def _noise_inputs(batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=0.3, size=(batch, 17, 3)).astype(np.float32)
    return x, np.linspace(0.01, 0.5, batch).astype(np.float32)


def _assert_same_arrays(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def _write_npz(path, state: dict) -> None:
    with open(path, "wb") as handle:  # np.savez(str) would append ".npz" to other names
        np.savez(handle, **state)


# ---------------------------------------------------------------- the .npz format (3)


def test_state_round_trip(tiny_prior, tiny_prior_file):
    loaded = load_prior(tiny_prior_file, device="cpu")
    assert loaded.backend == "numpy" and loaded.device == "cpu"
    assert loaded.sde == tiny_prior.sde
    assert [m.config for m in loaded.members] == [m.config for m in tiny_prior.members] == [TINY_NETWORK]
    assert loaded.metadata == {"note": "test prior"}
    assert set(loaded.initial_poses) == {1, 10, 50, 200}
    # Bit-identical arrays: weights, codebooks, and therefore every answer.
    _assert_same_arrays(loaded.initial_poses, tiny_prior.initial_poses)
    _assert_same_arrays(loaded.members[0].params, tiny_prior.members[0].params)
    _assert_same_arrays(loaded.state(), tiny_prior.state())
    x, t = _noise_inputs(4, 0)
    np.testing.assert_array_equal(loaded.predict_noise(x, t), tiny_prior.predict_noise(x, t))
    np.testing.assert_array_equal(loaded.denoise(x, 0.05, 0.01), tiny_prior.denoise(x, 0.05, 0.01))


def test_saved_file_is_deterministic_and_pickle_free(tiny_prior, tiny_prior_file, tmp_path):
    """Saving the same prior again, or a loaded copy of it, gives the same bytes (rebuilt assets
    keep their checksum); the file reads without pickle and the save leaves no partial file."""
    again = tiny_prior.save(tmp_path / "again.npz")
    resaved = load_prior(tiny_prior_file, device="cpu").save(tmp_path / "resaved.npz")
    assert tiny_prior_file.read_bytes() == again.read_bytes() == resaved.read_bytes()
    assert file_sha256(again) == file_sha256(tiny_prior_file)
    with np.load(again, allow_pickle=False) as data:
        header = json.loads(str(data["header"]))
        assert header["format"] == 3 and header["initial_poses"] == [1, 10, 50, 200]
        assert data["network0/input.weight"].dtype == np.float32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.npz", "resaved.npz", "tiny_prior.npz"]


def _ensemble_prior(tiny_prior) -> PosePrior:
    other = random_network(NetworkConfig(width=32, num_blocks=2, time_embedding_dim=16, groups=4), seed=1)
    return PosePrior(members=[tiny_prior.members[0], other], sde=tiny_prior.sde, initial_poses=tiny_prior.initial_poses)


def test_ensemble_predicts_the_mean_noise_and_round_trips(tiny_prior, tmp_path):
    ensemble = _ensemble_prior(tiny_prior)
    x, t = _noise_inputs(6, 3)
    first, second = ensemble.members
    expected = (first(x.reshape(6, 51), t) + second(x.reshape(6, 51), t)).reshape(6, 17, 3) / 2
    np.testing.assert_allclose(ensemble.predict_noise(x, t), expected, rtol=1e-6, atol=1e-7)
    assert not np.allclose(ensemble.predict_noise(x, t), tiny_prior.predict_noise(x, t))
    loaded = load_prior(ensemble.save(tmp_path / "ensemble.npz"), device="cpu")
    assert [m.config for m in loaded.members] == [first.config, second.config]
    np.testing.assert_array_equal(loaded.predict_noise(x, t), ensemble.predict_noise(x, t))
    with pytest.raises(ValueError, match="at least one"):
        ensemble_noise([], x.reshape(6, 51), t)


def test_one_member_of_an_ensemble_and_the_mirror_image(tiny_prior):
    ensemble = _ensemble_prior(tiny_prior)
    x, t = _noise_inputs(6, 4)
    for k, member in enumerate(ensemble.members):
        np.testing.assert_allclose(ensemble.predict_noise(x, t, member=k), member(x.reshape(6, 51), t).reshape(6, 17, 3), rtol=1e-6, atol=1e-7)
    mean = (ensemble.predict_noise(x, t, member=0) + ensemble.predict_noise(x, t, member=1)) / 2
    np.testing.assert_allclose(ensemble.predict_noise(x, t), mean, rtol=1e-6, atol=1e-7)
    # Mirrored: the network asked about the mirror image, its answer mirrored back.
    mirrored = ensemble.predict_noise(x, t, member=1, mirrored=True)
    np.testing.assert_allclose(mirrored, mirror(ensemble.predict_noise(mirror(x), t, member=1)), rtol=1e-6, atol=1e-7)
    assert not np.allclose(mirrored, ensemble.predict_noise(x, t, member=1))  # random weights: not symmetric
    expected = ensemble.sde.reverse_euler_step(x, np.full(6, 0.07, np.float32), ensemble.predict_noise(x, np.full(6, 0.07, np.float32), 0, True), 0.02)
    np.testing.assert_allclose(ensemble.denoise(x, 0.07, 0.02, member=0, mirrored=True), expected, rtol=1e-6, atol=1e-7)
    with pytest.raises(IndexError):
        ensemble.predict_noise(x, t, member=2)


def test_mirror_swaps_left_and_right_in_the_camera_s_y_z_plane():
    x, _ = _noise_inputs(4, 5)
    m = mirror(x)
    np.testing.assert_array_equal(mirror(m), x)
    np.testing.assert_array_equal(m[:, LEFT_HIP], x[:, RIGHT_HIP] * np.array([-1, 1, 1], np.float32))
    np.testing.assert_array_equal(m[:, 0], x[:, 0] * np.array([-1, 1, 1], np.float32))  # the pelvis has no twin


def test_denoise_is_one_reverse_step_with_the_network_noise(tiny_prior):
    x, _ = _noise_inputs(3, 1)
    t = np.full((3,), 0.07, dtype=np.float32)
    expected = tiny_prior.sde.reverse_euler_step(x, t, tiny_prior.predict_noise(x, t), 0.02)
    out = tiny_prior.denoise(x, 0.07, 0.02)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


def test_load_errors(tiny_prior, tmp_path):
    with pytest.raises(PriorLoadError, match="not found"):
        load_prior(tmp_path / "missing.npz", device="cpu")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00not a prior file" * 10)
    with pytest.raises(PriorLoadError, match="cannot read"):
        load_prior(garbage, device="cpu")
    good = tiny_prior.save(tmp_path / "good.npz").read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(PriorLoadError, match="truncated.npz"):
        load_prior(truncated, device="cpu")
    foreign = tmp_path / "foreign.npz"
    _write_npz(foreign, {"weights": np.zeros(3)})
    with pytest.raises(PriorLoadError, match="not a ZeDO prior"):
        load_prior(foreign, device="cpu")
    other_format = tmp_path / "format99.npz"
    _write_npz(other_format, {**tiny_prior.state(), "header": np.array(json.dumps({"format": 99}))})
    with pytest.raises(PriorLoadError, match="not a ZeDO prior file of format 3"):
        load_prior(other_format, device="cpu")
    empty = tmp_path / "empty.npz"
    header = json.loads(str(tiny_prior.state()["header"]))
    _write_npz(empty, {**tiny_prior.state(), "header": np.array(json.dumps({**header, "networks": []}))})
    with pytest.raises(PriorLoadError, match="no score network"):
        load_prior(empty, device="cpu")


@pytest.mark.parametrize(
    "breakage",
    [
        "wrong network shape", "unknown network field", "missing weight", "missing sde", "missing codebook",
        "header not JSON",
    ],
)
def test_damaged_files_are_refused(tiny_prior, tmp_path, breakage):
    state = tiny_prior.state()
    header = json.loads(str(state["header"]))
    if breakage == "wrong network shape":
        header["networks"] = [{**header["networks"][0], "width": 128}]
    elif breakage == "unknown network field":
        header["networks"] = [{**header["networks"][0], "depth": 3}]
    elif breakage == "missing weight":
        del state["network0/blocks.0.fc1.weight"]
    elif breakage == "missing sde":
        header["sde"] = None
    elif breakage == "missing codebook":
        del state["initial_poses/50"]
    if breakage == "header not JSON":
        state["header"] = np.array("{format: 3")
    else:
        state["header"] = np.array(json.dumps(header))
    path = tmp_path / "damaged.npz"
    _write_npz(path, state)
    with pytest.raises(PriorLoadError, match=r"damaged\.npz.*damaged"):
        load_prior(path, device="cpu")


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_weights_are_refused_naming_the_weight(tiny_prior, tmp_path, value):
    state = tiny_prior.state()
    state["network0/blocks.0.fc1.weight"] = state["network0/blocks.0.fc1.weight"].copy()
    state["network0/blocks.0.fc1.weight"][3, 5] = value
    path = tmp_path / "nan_weight.npz"
    _write_npz(path, state)
    message = r"nan_weight\.npz is damaged: network 0 weight blocks\.0\.fc1\.weight holds NaN or infinity"
    with pytest.raises(PriorLoadError, match=message):
        load_prior(path, device="cpu")
    state = tiny_prior.state()
    state["initial_poses/10"] = state["initial_poses/10"].copy()
    state["initial_poses/10"][2, 4, 1] = value
    _write_npz(path, state)
    with pytest.raises(PriorLoadError, match="its 10 initial poses are not finite"):
        load_prior(path, device="cpu")


# ---------------------------------------------------------------- PyTorch files (formats 1 and 2)


def _torch_file_state(prior: PosePrior, file_format: int) -> dict:
    """The dict older versions wrote with ``torch.save`` (asset formats 1 and 2)."""
    import torch

    networks = [
        {
            "network_config": m.config.to_dict(),
            "state_dict": {k: torch.from_numpy(v.copy()) for k, v in m.params.items()},
        }
        for m in prior.members
    ]
    common = {
        "sde": {"beta_min": prior.sde.beta_min, "beta_max": prior.sde.beta_max},
        "initial_poses": {str(k): torch.from_numpy(v.copy()) for k, v in prior.initial_poses.items()},
        "metadata": dict(prior.metadata),
    }
    if file_format == 1:
        (network,) = networks
        return {**common, **network, "format": 1}
    return {**common, "networks": networks, "format": 2}


def test_reads_pytorch_files_of_formats_1_and_2(tiny_prior, tmp_path):
    torch = pytest.importorskip("torch")
    x, t = _noise_inputs(2, 4)
    for file_format, prior in ((1, tiny_prior), (2, _ensemble_prior(tiny_prior))):
        path = tmp_path / f"format{file_format}.pt"
        torch.save(_torch_file_state(prior, file_format), path)
        loaded = load_prior(path, device="cpu")
        assert loaded.backend == "numpy" and len(loaded.members) == len(prior.members)
        for a, b in zip(loaded.members, prior.members):
            _assert_same_arrays(a.params, b.params)
        _assert_same_arrays(loaded.initial_poses, prior.initial_poses)
        np.testing.assert_array_equal(loaded.predict_noise(x, t), prior.predict_noise(x, t))
        # Converted to the .npz format, it is the same prior.
        converted = load_prior(loaded.save(tmp_path / f"format{file_format}.npz"), device="cpu")
        _assert_same_arrays(converted.state(), prior.state())


def test_pytorch_file_load_errors(tiny_prior, tmp_path):
    torch = pytest.importorskip("torch")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a torch file" * 10)
    with pytest.raises(PriorLoadError, match="cannot read"):
        load_prior(garbage, device="cpu")
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": 99, "weights": torch.zeros(3)}, foreign)
    with pytest.raises(PriorLoadError, match="not a ZeDO prior"):
        load_prior(foreign, device="cpu")
    damaged = tmp_path / "damaged.pt"
    for broken in ({"networks": [{"network_config": {"width": 64}}]}, {"sde": None}, {"initial_poses": None}):
        state = _torch_file_state(tiny_prior, 2)
        state.update(broken)
        torch.save(state, damaged)
        with pytest.raises(PriorLoadError, match="damaged"):
            load_prior(damaged, device="cpu")
    torch.save({**_torch_file_state(tiny_prior, 2), "networks": []}, damaged)
    with pytest.raises(PriorLoadError, match="damaged.pt holds no score network"):
        load_prior(damaged, device="cpu")
    state = _torch_file_state(tiny_prior, 2)
    state["networks"][0]["state_dict"]["output.bias"][7] = float("nan")
    torch.save(state, damaged)
    with pytest.raises(PriorLoadError, match="network 0 weight output.bias holds NaN"):
        load_prior(damaged, device="cpu")


def _fake_torch_archive(path) -> None:
    """A zip laid out like ``torch.save`` output (a pickle in ``archive/data.pkl``)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
        archive.writestr("archive/version", b"3\n")


@pytest.mark.parametrize("name", ["old_prior.pt", "renamed_torch_file.npz"])
def test_pytorch_file_without_pytorch_says_how_to_convert_it(tmp_path, monkeypatch, name):
    monkeypatch.setattr(prior_module, "torch_available", lambda: False)
    path = tmp_path / name
    _fake_torch_archive(path)
    message = rf"{name} is a PyTorch prior file and PyTorch is not installed: "
    with pytest.raises(PriorLoadError, match=message + r"convert it with 'python -m training\.build_assets --convert"):
        load_prior(path, device="cpu")


# ---------------------------------------------------------------- devices and backends


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert isinstance(resolve_device("auto"), str)
    for bad in ("tpu", "gpu", "cuda0"):
        with pytest.raises(ValueError, match="unknown device"):
            resolve_device(bad)


def test_resolve_device_without_pytorch(monkeypatch):
    monkeypatch.setattr(prior_module, "torch_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    for device in ("cuda", "cuda:1"):
        message = rf"device '{device}' needs PyTorch with CUDA, and PyTorch is not installed"
        with pytest.raises(RuntimeError, match=message):
            resolve_device(device)


def test_resolve_device_with_pytorch_but_no_cuda(monkeypatch):
    torch = pytest.importorskip("torch")
    assert resolve_device(torch.device("cpu")) == "cpu"  # torch's device objects are accepted too
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda") == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(RuntimeError, match="no CUDA"):
        resolve_device("cuda")


def test_prior_backend_choices(tiny_prior, monkeypatch):
    assert tiny_prior.backend == "numpy" and tiny_prior.device == "cpu"
    moved = tiny_prior.to("cpu")
    assert moved is not tiny_prior and moved.backend == "numpy"
    _assert_same_arrays(moved.state(), tiny_prior.state())
    with pytest.raises(ValueError, match="backend must be 'numpy' or 'torch'"):
        tiny_prior.to("cpu", backend="jax")
    monkeypatch.setattr(prior_module, "torch_available", lambda: False)
    with pytest.raises(RuntimeError, match="backend 'torch' needs PyTorch"):
        tiny_prior.to("cpu", backend="torch")


# ---------------------------------------------------------------- the score network


def test_network_shapes_and_time_dependence(tiny_prior):
    net: ScoreNetwork = tiny_prior.members[0]
    assert not net.on_torch
    x = np.random.default_rng(2).normal(size=(5, NUM_JOINTS * 3)).astype(np.float32)
    out = net(x, np.full((5,), 0.1, dtype=np.float32))
    assert out.shape == (5, 51) and out.dtype == np.float32 and np.isfinite(out).all()
    assert not np.allclose(out, net(x, np.full((5,), 0.5, dtype=np.float32)))
    # Rows are independent (GroupNorm normalises each sample): batch size does not matter.
    np.testing.assert_allclose(net(x[:1], np.full((1,), 0.1, dtype=np.float32)), out[:1], rtol=1e-5, atol=1e-6)
    emb = sinusoidal_embedding(np.array([0.0, 0.3]), 32)
    assert emb.shape == (2, 32)
    np.testing.assert_allclose(emb[0], np.concatenate([np.zeros(16), np.ones(16)]), rtol=0, atol=1e-15)


def test_network_weights_are_checked(tiny_prior):
    params = dict(tiny_prior.members[0].params)
    with pytest.raises(KeyError, match="missing network weights: blocks.0.fc2.bias"):
        ScoreNetwork(TINY_NETWORK, {k: v for k, v in params.items() if k != "blocks.0.fc2.bias"})
    with pytest.raises(ValueError, match=r"network weight input.weight has shape \(64, 50\), expected \(64, 51\)"):
        ScoreNetwork(TINY_NETWORK, {**params, "input.weight": params["input.weight"][:, :50]})
    kept = ScoreNetwork(TINY_NETWORK, {**params, "optimizer.step": np.zeros(1)})
    assert set(kept.params) == set(TINY_NETWORK.parameter_shapes()) == set(params)


# ---------------------------------------------------------------- the shipped asset


def test_shipped_prior_asset(shipped_prior):
    assert DEFAULT_PRIOR_PATH.is_file() and DEFAULT_PRIOR_PATH.suffix == ".npz"
    assert file_sha256(DEFAULT_PRIOR_PATH) == checksum_path(DEFAULT_PRIOR_PATH).read_text().split()[0]
    assert shipped_prior.backend == "numpy" and shipped_prior.device == "cpu"
    assert {1, 10, 50, LiftConfig().start_pool} <= set(shipped_prior.initial_poses)
    for count, poses in shipped_prior.initial_poses.items():
        assert isinstance(poses, np.ndarray) and poses.dtype == np.float32
        assert poses.shape == (count, 17, 3) and np.isfinite(poses).all()
        assert np.abs(poses[:, 0]).max() < 1e-6  # pelvis-relative
        # Canonical orientation: the hips lie along +x (right hip on the image's left), level in depth.
        hips = poses[:, LEFT_HIP] - poses[:, RIGHT_HIP]
        assert (hips[:, 0] > 0).all() and np.abs(hips[:, 2]).max() < 1e-4
        bones = np.linalg.norm(poses[:, 1:] - poses[:, list(PARENTS[1:])], axis=-1)
        assert (bones > 0.02).all() and (bones < 0.6).all()  # metres, human-sized
    mean_pose = shipped_prior.initial_poses[1][0]
    assert mean_pose[10, 1] < -0.4 and mean_pose[3, 1] > 0.6  # head up, ankles down (y points down)
    # Frame by frame the narrow-proportion pair lifts; in video mode the wide pair joins it.
    assert shipped_prior.modes == {"frame": (0, 1), "video": (0, 1, 2, 3)}
    assert [m["train_config"]["bone_scale"] for m in shipped_prior.metadata["members"]] == [0.1, 0.1, 0.2, 0.2]
    assert [m["train_config"]["part_swap"] for m in shipped_prior.metadata["members"]] == [0.0, 0.5, 0.0, 0.5]


def test_shipped_network_predicts_the_noise(shipped_prior):
    """Noised codebook poses: every network's estimate points along the true noise (a random
    network: ~0)."""
    x0 = shipped_prior.initial_poses[50]
    rng = np.random.default_rng(0)
    cosines = []
    for t in (0.05, 0.1):
        z = rng.standard_normal(x0.shape).astype(np.float32)
        times = np.full((x0.shape[0],), t, dtype=np.float32)
        for member in range(len(shipped_prior.members)):
            z_hat = shipped_prior.predict_noise(shipped_prior.sde.perturb(x0, times, z), times, member)
            a, b = z_hat.reshape(len(z), -1), z.reshape(len(z), -1)
            cosines.append(((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)).mean())
    assert min(cosines) > 0.2, cosines


@pytest.fixture
def shipped_copy(tmp_path, monkeypatch):
    """A copy of the shipped prior and its checksum file, installed as the default prior."""
    path = tmp_path / "assets" / DEFAULT_PRIOR_PATH.name
    path.parent.mkdir()
    shutil.copyfile(DEFAULT_PRIOR_PATH, path)
    shutil.copyfile(checksum_path(DEFAULT_PRIOR_PATH), checksum_path(path))
    monkeypatch.setattr(prior_module, "DEFAULT_PRIOR_PATH", path)
    return path


def test_the_default_prior_is_checked_against_its_recorded_sha256(shipped_prior, shipped_copy):
    _assert_same_arrays(load_prior(device="cpu").state(), shipped_prior.state())  # the intact copy loads
    data = bytearray(shipped_copy.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one weight
    shipped_copy.write_bytes(bytes(data))
    message = r"prior\.npz is damaged \(its SHA-256 differs from prior\.npz\.sha256\): reinstall"
    with pytest.raises(PriorLoadError, match=message):
        load_prior(device="cpu")
    checksum_path(shipped_copy).unlink()
    with pytest.raises(PriorLoadError, match="checksum file is missing"):
        load_prior(device="cpu")


def test_a_prior_given_by_path_needs_no_checksum_file(shipped_prior, shipped_copy):
    checksum_path(shipped_copy).unlink()
    _assert_same_arrays(load_prior(shipped_copy, device="cpu").state(), shipped_prior.state())


def test_networks_named_for_a_mode_lift_that_mode_and_round_trip(tiny_prior, tmp_path):
    ensemble = _ensemble_prior(tiny_prior)
    x, t = _noise_inputs(5, 6)
    assert ensemble.members_for("frame") == ensemble.members_for("video") == (0, 1)
    assert ensemble.for_mode("video") is ensemble  # no modes named: every network, nothing copied
    moded = PosePrior(ensemble.members, ensemble.sde, ensemble.initial_poses, modes={"frame": [0], "video": [1]})
    video = moded.for_mode("video")
    assert video.members == [ensemble.members[1]] and video.modes == {}
    assert video.members[0].params is ensemble.members[1].params  # shared, not copied
    np.testing.assert_array_equal(video.predict_noise(x, t), ensemble.predict_noise(x, t, member=1))
    np.testing.assert_array_equal(moded.for_mode("frame").predict_noise(x, t), ensemble.predict_noise(x, t, member=0))
    loaded = load_prior(moded.save(tmp_path / "moded.npz"), device="cpu")
    assert loaded.modes == {"frame": (0,), "video": (1,)}
    np.testing.assert_array_equal(loaded.for_mode("video").predict_noise(x, t), video.predict_noise(x, t))
    assert load_prior(ensemble.save(tmp_path / "plain.npz"), device="cpu").modes == {}
    with pytest.raises(ValueError, match="unknown prior mode 'single'"):
        moded.members_for("single")
    with pytest.raises(ValueError, match=r"names networks \(2,\), but the prior has 2"):
        PosePrior(ensemble.members, ensemble.sde, ensemble.initial_poses, modes={"video": [2]})
    with pytest.raises(ValueError, match="unknown prior mode"):
        PosePrior(ensemble.members, ensemble.sde, ensemble.initial_poses, modes={"clip": [0]})


@pytest.mark.parametrize("modes", [{"video": [5]}, {"video": []}, {"clip": [0]}, ["video"]])
def test_a_file_with_bad_modes_is_refused(tiny_prior, tmp_path, modes):
    state = tiny_prior.state()
    header = json.loads(str(state["header"]))
    state["header"] = np.array(json.dumps({**header, "modes": modes}))
    path = tmp_path / "bad_modes.npz"
    _write_npz(path, state)
    with pytest.raises(PriorLoadError, match=r"bad_modes\.npz.*damaged"):
        load_prior(path, device="cpu")


def test_weight_matrices_stored_at_half_precision_load_as_float32(tiny_prior, tmp_path):
    half = tiny_prior.save(tmp_path / "half.npz", matrix_dtype="float16")
    with np.load(half) as stored, np.load(tiny_prior.save(tmp_path / "full.npz")) as full:
        networks = [k for k in full.files if k.startswith("network0/")]
        assert sum(stored[k].nbytes for k in networks) < 0.6 * sum(full[k].nbytes for k in networks)
        assert stored["network0/blocks.0.fc1.weight"].dtype == np.float16
        assert stored["network0/blocks.0.fc1.bias"].dtype == stored["network0/input_std"].dtype == np.float32
    loaded = load_prior(half, device="cpu")
    assert all(v.dtype == np.float32 for v in loaded.members[0].params.values())
    x, t = _noise_inputs(8, 9)
    expected = tiny_prior.predict_noise(x, t)
    got = loaded.predict_noise(x, t)
    assert not np.array_equal(got, expected)  # rounded...
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-3 * np.abs(expected).max())  # ...to half precision
    huge = replace(tiny_prior.members[0], params={**tiny_prior.members[0].params})
    huge.params["output.weight"] = huge.params["output.weight"] * 1e6
    with pytest.raises(ValueError, match="output.weight does not fit in float16"):
        replace(tiny_prior, members=[huge]).save(tmp_path / "overflow.npz", matrix_dtype="float16")
    assert not (tmp_path / "overflow.npz").exists()
