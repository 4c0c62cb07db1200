"""The prior file format, device selection, the score network and the shipped asset."""

from __future__ import annotations

import pytest
import torch

from zedo_core.lifting import LiftConfig
from zedo_core.network import NetworkConfig, ScoreEnsemble, ScoreNetwork, sinusoidal_embedding
from zedo_core.prior import DEFAULT_PRIOR_PATH, PosePrior, PriorLoadError, load_prior, resolve_device
from zedo_core.skeleton import LEFT_HIP, NUM_JOINTS, PARENTS, RIGHT_HIP


def test_state_round_trip(tiny_prior, tiny_prior_file):
    loaded = load_prior(tiny_prior_file, device="cpu")
    assert loaded.device == torch.device("cpu")
    assert loaded.sde == tiny_prior.sde
    assert loaded.network.config == tiny_prior.network.config
    assert loaded.metadata == {"note": "test prior"}
    assert set(loaded.initial_poses) == {1, 10, 50, 200}
    for k, v in tiny_prior.initial_poses.items():
        torch.testing.assert_close(loaded.initial_poses[k], v)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 17, 3, generator=g)
    t = torch.tensor([0.01, 0.05, 0.1, 0.5])
    torch.testing.assert_close(loaded.predict_noise(x, t), tiny_prior.predict_noise(x, t))
    torch.testing.assert_close(loaded.denoise(x, 0.05, 0.01), tiny_prior.denoise(x, 0.05, 0.01))


def _ensemble_prior(tiny_prior) -> PosePrior:
    torch.manual_seed(1)
    other = ScoreNetwork(NetworkConfig(width=32, num_blocks=2, time_embedding_dim=16, groups=4))
    network = ScoreEnsemble([tiny_prior.network, other.eval().requires_grad_(False)])
    return PosePrior(network=network, sde=tiny_prior.sde, initial_poses=tiny_prior.initial_poses)


def test_ensemble_predicts_the_mean_noise_and_round_trips(tiny_prior, tmp_path):
    ensemble = _ensemble_prior(tiny_prior)
    x = torch.randn(6, 17, 3, generator=torch.Generator().manual_seed(3))
    t = torch.linspace(0.01, 0.5, 6)
    first, second = ensemble.members
    expected = (first(x.reshape(6, 51), t) + second(x.reshape(6, 51), t)).reshape(6, 17, 3) / 2
    torch.testing.assert_close(ensemble.predict_noise(x, t), expected)
    assert not torch.allclose(ensemble.predict_noise(x, t), tiny_prior.predict_noise(x, t))
    path = tmp_path / "ensemble.pt"
    torch.save(ensemble.state(), path)
    loaded = load_prior(path, device="cpu")
    assert [m.config for m in loaded.members] == [first.config, second.config]
    torch.testing.assert_close(loaded.predict_noise(x, t), ensemble.predict_noise(x, t))
    with pytest.raises(ValueError, match="at least one"):
        ScoreEnsemble([])


def test_reads_single_network_files_of_format_1(tiny_prior, tmp_path):
    state = tiny_prior.state()
    (member,) = state.pop("networks")
    path = tmp_path / "format1.pt"
    torch.save({**state, **member, "format": 1}, path)
    loaded = load_prior(path, device="cpu")
    assert isinstance(loaded.network, ScoreNetwork) and len(loaded.members) == 1
    x = torch.randn(2, 17, 3, generator=torch.Generator().manual_seed(4))
    t = torch.tensor([0.02, 0.2])
    torch.testing.assert_close(loaded.predict_noise(x, t), tiny_prior.predict_noise(x, t))


def test_denoise_is_one_reverse_step_with_the_network_noise(tiny_prior):
    x = torch.randn(3, 17, 3, generator=torch.Generator().manual_seed(1))
    t = torch.full((3,), 0.07)
    expected = tiny_prior.sde.reverse_euler_step(x, t, tiny_prior.predict_noise(x, t), 0.02)
    torch.testing.assert_close(tiny_prior.denoise(x, 0.07, 0.02), expected)


def test_load_errors(tiny_prior, tmp_path):
    with pytest.raises(PriorLoadError, match="not found"):
        load_prior(tmp_path / "missing.pt", device="cpu")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a torch file" * 10)
    with pytest.raises(PriorLoadError, match="cannot read"):
        load_prior(garbage, device="cpu")
    foreign = tmp_path / "foreign.pt"
    torch.save({"format": 99, "weights": torch.zeros(3)}, foreign)
    with pytest.raises(PriorLoadError, match="not a ZeDO prior"):
        load_prior(foreign, device="cpu")
    damaged = tmp_path / "damaged.pt"
    for broken in ({"networks": []}, {"networks": [{"network_config": {"width": 64}}]}, {"sde": None}):
        state = tiny_prior.state()
        state.update(broken)
        torch.save(state, damaged)
        with pytest.raises(PriorLoadError, match="damaged"):
            load_prior(damaged, device="cpu")


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            resolve_device("cuda")


def test_network_shapes_and_time_dependence(tiny_prior):
    net: ScoreNetwork = tiny_prior.network
    x = torch.randn(5, NUM_JOINTS * 3, generator=torch.Generator().manual_seed(2))
    out = net(x, torch.full((5,), 0.1))
    assert out.shape == (5, 51) and torch.isfinite(out).all()
    assert not torch.allclose(out, net(x, torch.full((5,), 0.5)))
    # Rows are independent (GroupNorm normalises each sample): batch size does not matter.
    torch.testing.assert_close(net(x[:1], torch.full((1,), 0.1)), out[:1], rtol=1e-5, atol=1e-6)
    emb = sinusoidal_embedding(torch.tensor([0.0, 0.3]), 32)
    assert emb.shape == (2, 32)
    torch.testing.assert_close(emb[0], torch.cat([torch.zeros(16), torch.ones(16)]))


def test_shipped_prior_asset(shipped_prior):
    assert DEFAULT_PRIOR_PATH.is_file()
    assert shipped_prior.device == torch.device("cpu")
    assert {1, 10, 50, LiftConfig().start_pool} <= set(shipped_prior.initial_poses)
    for count, poses in shipped_prior.initial_poses.items():
        assert poses.shape == (count, 17, 3) and torch.isfinite(poses).all()
        assert poses[:, 0].abs().max() < 1e-6  # pelvis-relative
        # Canonical orientation: the hips lie along +x (right hip on the image's left), level in depth.
        hips = poses[:, LEFT_HIP] - poses[:, RIGHT_HIP]
        assert (hips[:, 0] > 0).all() and hips[:, 2].abs().max() < 1e-4
        bones = (poses[:, 1:] - poses[:, list(PARENTS[1:])]).norm(dim=-1)
        assert (bones > 0.02).all() and (bones < 0.6).all()  # metres, human-sized
    mean_pose = shipped_prior.initial_poses[1][0]
    assert mean_pose[10, 1] < -0.4 and mean_pose[3, 1] > 0.6  # head up, ankles down (y points down)


def test_shipped_network_predicts_the_noise(shipped_prior):
    """Noised codebook poses: the estimate points along the true noise (a random network: ~0)."""
    x0 = shipped_prior.initial_poses[50]
    g = torch.Generator().manual_seed(0)
    cosines = []
    for t in (0.05, 0.1):
        z = torch.randn(x0.shape, generator=g)
        times = torch.full((x0.shape[0],), t)
        z_hat = shipped_prior.predict_noise(shipped_prior.sde.perturb(x0, times, z), times)
        cosines.append(torch.nn.functional.cosine_similarity(z_hat.flatten(1), z.flatten(1)).mean())
    assert min(cosines) > 0.2, cosines
