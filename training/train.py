"""Train the pose prior on Human3.6M S1, S5, S6, S7, S8 (3D poses only), optionally mixed with
CMU mocap of its training subjects (``--cmu-fraction``; ``training.cmu.TRAIN_SUBJECTS``).

Resumable: re-running with the same ``--out`` continues from ``checkpoint.pt`` (on the kind of
device it started on). Logs the loss to ``log.csv``. ``python -m training.train --help`` lists the recipe's knobs; the
defaults are the recipe the shipped prior was trained with (see docs/research.md). ``--device
cuda`` trains on a GPU: batches are then drawn there, from a CUDA generator, so the run is
reproducible on that device but not draw for draw the CPU run.
"""

from __future__ import annotations

import argparse
import csv
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from training import cmu
from training.augment import augmented_batch
from training.h36m import TRAIN_SUBJECTS, load_poses
from training.score_module import ScoreModule
from zedo_core.network import NetworkConfig
from zedo_core.prior import resolve_device
from zedo_core.sde import SubVPSDE


@dataclass
class TrainConfig:
    steps: int = 24_000
    batch_size: int = 1024
    lr: float = 1e-3
    warmup_steps: int = 1_000
    grad_clip: float = 1.0
    ema_decay: float = 0.9995
    # The lifting loop only queries the prior at t <= 0.1, so most samples are drawn there.
    focus_fraction: float = 0.8
    focus_t_max: float = 0.15
    eps: float = 1e-5
    # Random per-bone length factor in [1 - bone_scale, 1 + bone_scale]: unseen body proportions.
    # Held-out S8 (prior trained on S1 S5 S6 S7): PA-MPJPE 39.8 -> 36.9 mm, MPJPE unchanged.
    bone_scale: float = 0.1
    # Probability that a sample gets one limb (an arm, the head or both legs) of another training
    # pose (training.augment.random_part_swap): pose combinations beyond the 5 subjects'.
    part_swap: float = 0.0
    # Probability that each entry of training.augment.JOINT_OFFSETS re-draws a sample's joints
    # (hips, ankles, shoulders, neck, head, spine, thorax, wrists) alone, as other datasets and
    # detectors mark them; and an isotropic Gaussian (metres) on every joint after that.
    joint_offset: float = 0.0
    joint_jitter: float = 0.0
    # Share of every batch drawn from CMU mocap (training.cmu.TRAIN_SUBJECTS; other people, motions
    # and joint conventions), augmented the same way; the rest from Human3.6M.
    cmu_fraction: float = 0.0
    seed: int = 0
    checkpoint_every: int = 1_000


def training_poses(data_dir: str | None, subjects: tuple[str, ...] = TRAIN_SUBJECTS) -> torch.Tensor:
    """All frames of the given subjects, pelvis-relative world poses in metres ``(M, 17, 3)``."""
    if set(subjects) - set(TRAIN_SUBJECTS):
        raise ValueError(f"the prior may only be trained on {TRAIN_SUBJECTS}, got {subjects}")
    poses = torch.cat([torch.from_numpy(p) for p in load_poses(data_dir, subjects).values()])
    poses = poses / 1000.0
    return (poses - poses[:, :1]).float()


def sample_times(n: int, cfg: TrainConfig, generator: torch.Generator) -> torch.Tensor:
    device = generator.device
    u = torch.rand(n, generator=generator, device=device)
    focus = torch.rand(n, generator=generator, device=device) < cfg.focus_fraction
    t_max = torch.where(focus, torch.tensor(cfg.focus_t_max, device=device), torch.tensor(1.0, device=device))
    return cfg.eps + u * (t_max - cfg.eps)


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def training_batch(
    world_rel: torch.Tensor, cmu_world_rel: torch.Tensor | None, cfg: TrainConfig, generator: torch.Generator
) -> torch.Tensor:
    """One augmented batch ``(B, 51)``: ``cfg.cmu_fraction`` of it from the CMU poses, the rest
    from Human3.6M's (without CMU poses, the draws of the Human3.6M-only recipe)."""
    n_cmu = round(cfg.cmu_fraction * cfg.batch_size) if cmu_world_rel is not None else 0
    options = (cfg.bone_scale, cfg.part_swap, cfg.joint_offset, cfg.joint_jitter)
    batch = augmented_batch(world_rel, cfg.batch_size - n_cmu, generator, *options)
    if n_cmu == 0:
        return batch
    return torch.cat([batch, augmented_batch(cmu_world_rel, n_cmu, generator, *options)])


def input_statistics(world_rel: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    sample = torch.cat([augmented_batch(world_rel, 8192, generator) for _ in range(8)])
    return sample.mean(0), sample.std(0).clamp_min(1e-3)


def train(
    data_dir: str | None,
    out: Path,
    cfg: TrainConfig,
    net_cfg: NetworkConfig,
    subjects: tuple[str, ...] = TRAIN_SUBJECTS,
    cmu_dir: str | None = None,
    cmu_subjects: tuple[int, ...] = cmu.TRAIN_SUBJECTS,
    device: str = "cpu",
) -> None:
    """Train (or go on training) one score network into ``out`` (``checkpoint.pt``, ``log.csv``)
    on ``device`` ("cpu", "cuda", "cuda:1" or "auto")."""
    if not 0.0 <= cfg.cmu_fraction < 1.0:
        raise ValueError(f"cmu_fraction must lie in [0, 1), got {cfg.cmu_fraction}")
    device = resolve_device(device)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"
    state = torch.load(ckpt_path, map_location="cpu", weights_only=True) if ckpt_path.exists() else None
    if state is not None and state.get("device", "cpu").split(":")[0] != device.split(":")[0]:
        started_on = state.get("device", "cpu")
        raise SystemExit(f"error: {ckpt_path} was trained on {started_on}: go on with --device {started_on}")
    torch.manual_seed(cfg.seed)
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    world_rel = training_poses(data_dir, subjects).to(device)
    cmu_world_rel = None
    if cfg.cmu_fraction > 0:
        cmu_world_rel = torch.from_numpy(cmu.training_poses(cmu_dir, cmu_subjects)).float().to(device)
    sde = SubVPSDE()
    net = ScoreModule(net_cfg)  # initialised on the CPU: the same start on every device
    ema = ScoreModule(net_cfg)
    step = 0
    if state is not None:
        net.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
    net.to(device)
    ema.to(device)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
        print(f"resumed from {ckpt_path} at step {step}", flush=True)
    else:
        mean, std = input_statistics(world_rel, generator)
        net.input_mean.copy_(mean)
        net.input_std.copy_(std)
        ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    log_file = (out / "log.csv").open("a", newline="")
    log = csv.writer(log_file)
    if step == 0:
        log.writerow(["step", "loss", "lr", "seconds"])
    net.train()
    started, running = time.time(), 0.0
    while step < cfg.steps:
        x0 = training_batch(world_rel, cmu_world_rel, cfg, generator)
        t = sample_times(cfg.batch_size, cfg, generator)
        noise = torch.randn(x0.shape, generator=generator, device=device)
        xt = sde.perturb(x0, t, noise)
        loss = ((net(xt, t) - noise) ** 2).sum(1).mean() * 0.5
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), net.parameters()):
                pe.lerp_(p, 1.0 - cfg.ema_decay)
        step += 1
        running += loss.item()
        if step % 100 == 0:
            log.writerow([step, f"{running / 100:.5f}", f"{lr_at(step, cfg):.3e}", f"{time.time() - started:.1f}"])
            log_file.flush()
            print(f"step {step}/{cfg.steps} loss {running / 100:.4f} ({time.time() - started:.0f}s)", flush=True)
            running = 0.0
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            state = {
                "model": net.state_dict(),
                "ema": ema.state_dict(),
                "optimizer": opt.state_dict(),
                "generator": generator.get_state(),
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "train_config": asdict(cfg),
                "cmu_subjects": list(cmu_subjects) if cmu_world_rel is not None else [],
                "network_config": net_cfg.to_dict(),
                "device": device,
            }
            tmp = ckpt_path.with_suffix(".tmp")
            torch.save(state, tmp)
            tmp.replace(ckpt_path)
    log_file.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="Human3.6M folder (default ../shared/data/h36m)")
    parser.add_argument("--out", type=Path, default=Path("runs/prior"), help="checkpoint/log folder")
    for field, value in asdict(TrainConfig()).items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    for field, value in asdict(NetworkConfig()).items():
        parser.add_argument(f"--net-{field.replace('_', '-')}", type=type(value), default=value)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--device", default="cpu",
        help="cpu (default: the shipped runs), cuda, cuda:N or auto; a run goes on on the device it started on",
    )
    parser.add_argument(
        "--subjects", nargs="+", default=list(TRAIN_SUBJECTS),
        help="training subjects (a subset holds one out for validation, e.g. S1 S5 S6 S7)",
    )
    parser.add_argument("--cmu", default=None, help="CMU folder (default ../shared/data/cmu; used with --cmu-fraction)")
    parser.add_argument(
        "--cmu-subjects", nargs="+", type=int, default=list(cmu.TRAIN_SUBJECTS),
        help=f"CMU subjects mixed in with --cmu-fraction ({' '.join(map(str, cmu.HELD_OUT_SUBJECTS))} are held out)",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = TrainConfig(**{f: getattr(args, f) for f in asdict(TrainConfig())})
    net_cfg = NetworkConfig(**{f: getattr(args, "net_" + f) for f in asdict(NetworkConfig())})
    try:
        device = resolve_device(args.device)
    except (RuntimeError, ValueError) as exc:
        parser.error(str(exc))
    train(args.data, args.out, cfg, net_cfg, tuple(args.subjects), args.cmu, tuple(args.cmu_subjects), device)


if __name__ == "__main__":
    main()
