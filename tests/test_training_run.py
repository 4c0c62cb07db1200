"""training.train end to end on a tiny network: the CMU mix, resuming, and the built prior's record."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")  # training needs PyTorch (the engine does not): imports below follow the skip

from training import build_assets, cmu  # noqa: E402
from training.train import TrainConfig, train  # noqa: E402
from zedo_core.network import NetworkConfig  # noqa: E402
from zedo_core.prior import load_prior  # noqa: E402

from conftest import REPO_ROOT  # noqa: E402

CMU_DIR = REPO_ROOT.parent / "shared" / "data" / "cmu"


def test_a_cmu_mixed_run_resumes_and_its_prior_credits_cmu(h36m_dir, tmp_path: Path):
    if not (CMU_DIR / cmu.POSES_FILE).is_file():
        pytest.skip(f"CMU data not found: {CMU_DIR / cmu.POSES_FILE}")
    tiny = NetworkConfig(width=32, num_blocks=1, time_embedding_dim=16, groups=4)
    config = TrainConfig(steps=4, batch_size=16, warmup_steps=1, checkpoint_every=2, cmu_fraction=0.25)
    out = tmp_path / "run"
    train(str(h36m_dir), out, TrainConfig(**{**config.__dict__, "steps": 2}), tiny, ("S1",), str(CMU_DIR), (1, 2))
    train(str(h36m_dir), out, config, tiny, ("S1",), str(CMU_DIR), (1, 2))  # resumes at step 2
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4 and state["cmu_subjects"] == [1, 2] and state["train_config"]["cmu_fraction"] == 0.25
    assert len((out / "log.csv").read_text().splitlines()) == 1  # header only: no 100-step mark reached
    with pytest.raises(ValueError, match="held out for validation"):
        train(str(h36m_dir), tmp_path / "bad", config, tiny, ("S1",), str(CMU_DIR), (1, 131))
    prior_file = tmp_path / "prior.npz"
    build_assets.build([out / "checkpoint.pt"], str(h36m_dir), prior_file, subjects=("S1",), codebooks=(1, 4))
    trained_on = load_prior(prior_file, device="cpu").metadata["trained_on"]
    assert "Human3.6M S1" in trained_on and "CMU mocap subjects 1 2" in trained_on
    # A prior file's networks are a source too: here the frame-by-frame networks of a moded prior,
    # which a checkpoint's network joins in video mode.
    moded_file = tmp_path / "moded.npz"
    build_assets.build(
        [prior_file], str(h36m_dir), moded_file, subjects=("S1",), codebooks=(1, 4),
        video_checkpoints=(out / "checkpoint.pt",), matrix_dtype="float16",
    )  # fmt: skip
    moded = load_prior(moded_file, device="cpu")
    assert moded.modes == {"frame": (0,), "video": (0, 1)}
    assert [m["run"] for m in moded.metadata["members"]] == ["run", "run"]
    assert moded.metadata["members"][0]["cmu_subjects"] == [1, 2] and "CMU mocap subjects 1 2" in moded.metadata["trained_on"]
    assert moded_file.stat().st_size < prior_file.stat().st_size * 2
    # A moded prior file as the source keeps its modes; an asset without frame networks is refused.
    rebuilt_file = tmp_path / "rebuilt.npz"
    build_assets.build([moded_file], str(h36m_dir), rebuilt_file, subjects=("S1",), codebooks=(1, 4))
    assert load_prior(rebuilt_file, device="cpu").modes == {"frame": (0,), "video": (0, 1)}
    with pytest.raises(SystemExit, match="no network for the 'frame' mode"):
        build_assets.build([], str(h36m_dir), tmp_path / "video_only.npz", video_checkpoints=(moded_file,))
    assert not (tmp_path / "video_only.npz").exists()


def test_build_assets_names_a_missing_or_damaged_source_and_writes_nothing(tmp_path: Path):
    out = tmp_path / "out" / "prior.npz"
    with pytest.raises(SystemExit, match=r"network source not found: .*missing\.pt"):
        build_assets.build([tmp_path / "missing.pt"], None, out)
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"PK\x03\x04 not a prior")
    with pytest.raises(SystemExit, match=r"damaged\.npz"):
        build_assets.build([damaged], None, out)
    assert not out.parent.exists()


def _tiny_run(h36m_dir, out: Path, device: str = "cpu", steps: int = 2) -> None:
    tiny = NetworkConfig(width=32, num_blocks=1, time_embedding_dim=16, groups=4)
    config = TrainConfig(steps=steps, batch_size=16, warmup_steps=1, checkpoint_every=1, part_swap=0.5)
    train(str(h36m_dir), out, config, tiny, ("S1",), device=device)


def test_a_run_goes_on_only_on_the_device_it_started_on(h36m_dir, tmp_path: Path):
    out = tmp_path / "run"
    _tiny_run(h36m_dir, out)
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["device"] == "cpu"
    state["device"] = "cuda"
    torch.save(state, out / "checkpoint.pt")
    with pytest.raises(SystemExit, match=r"trained on cuda: go on with --device cuda"):
        _tiny_run(h36m_dir, out, steps=3)
    with pytest.raises(SystemExit):  # an unknown device is a usage error, before any data is read
        from training.train import main

        main(["--device", "tpu", "--out", str(tmp_path / "never")])
    assert not (tmp_path / "never").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_run_on_cuda_builds_a_prior_that_loads_on_the_cpu(h36m_dir, tmp_path: Path):
    out = tmp_path / "run"
    _tiny_run(h36m_dir, out, device="cuda")
    _tiny_run(h36m_dir, out, device="cuda", steps=3)  # resumes on the GPU
    assert torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)["step"] == 3
    prior_file = tmp_path / "prior.npz"
    build_assets.build([out / "checkpoint.pt"], str(h36m_dir), prior_file, subjects=("S1",), codebooks=(1, 4))
    assert len(load_prior(prior_file, device="cpu").members) == 1
